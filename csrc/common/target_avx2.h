/* Include first in a kernel file written for AVX2 + FMA: the rest of the file is compiled for
 * that target only.  The build never passes -m flags, so the library still loads on any
 * x86-64; dispatch.c installs these kernels only when cpuid reports the features. */
#pragma GCC target("avx2,fma")
#include <immintrin.h>

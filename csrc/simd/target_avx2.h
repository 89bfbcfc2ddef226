/* Include first in a kernel file written for AVX2 + FMA: the rest of the file is compiled for
 * that target only.  The build never passes -m flags, so the library still loads on any
 * x86-64; dispatch.c installs these kernels only when cpuid reports the features.  setup.py
 * compiles *-avx2-* files for x86-64 only; anywhere else this is an error, not a silent
 * miscompile. */
#if !defined(__x86_64__)
#error "an AVX2 kernel file is compiled for a target that is not x86-64 (see setup.py)"
#endif
#pragma GCC target("avx2,fma")
#include <immintrin.h>

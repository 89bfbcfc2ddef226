/* Include first in a kernel file written for AVX-512 (F, VL, BW, DQ; Skylake-SP and later):
 * the rest of the file is compiled for that target only.  See target_avx2.h. */
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#include <immintrin.h>

/* Include first in a kernel file written for AVX-512 (F, VL, BW, DQ; Skylake-SP and later):
 * the rest of the file is compiled for that target only.  See target_avx2.h. */
#if !defined(__x86_64__)
#error "an AVX-512 kernel file is compiled for a target that is not x86-64 (see setup.py)"
#endif
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#include <immintrin.h>

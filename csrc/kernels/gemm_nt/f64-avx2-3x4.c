/* 3x4 as the f32 member (f32-avx2-3x4.c), 4 double lanes. */
#include "common/target_avx2.h"
#include "kernels/gemm_nt/gemm_nt.h"

#define FC_REAL double
#define FC_V __m256d
#define FC_VLEN 4
#define FC_V_LOAD(p) _mm256_loadu_pd(p)
#define FC_V_STORE(p, v) _mm256_storeu_pd((p), (v))
#define FC_V_FMA(a, b, c) _mm256_fmadd_pd((a), (b), (c))
#define FC_V_ZERO() _mm256_setzero_pd()
#define FC_NT_NAME fc_f64_gemm_nt_ukernel_3x4__avx2
#define FC_NT_MR 3
#define FC_NT_NR 4
#include "kernels/gemm_nt/simd.tmpl.h"

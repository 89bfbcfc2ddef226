/* 6x4 as the f32 member (f32-avx512-6x4.c), 8 double lanes. */
#include "common/target_avx512.h"
#include "kernels/gemm_nt/gemm_nt.h"

#define FC_REAL double
#define FC_V __m512d
#define FC_VLEN 8
#define FC_V_LOAD(p) _mm512_loadu_pd(p)
#define FC_V_STORE(p, v) _mm512_storeu_pd((p), (v))
#define FC_V_FMA(a, b, c) _mm512_fmadd_pd((a), (b), (c))
#define FC_V_ZERO() _mm512_setzero_pd()
#define FC_NT_NAME fc_f64_gemm_nt_ukernel_6x4__avx512
#define FC_NT_MR 6
#define FC_NT_NR 4
#include "kernels/gemm_nt/simd.tmpl.h"

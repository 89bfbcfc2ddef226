/* 6x4: 24 accumulators + 4 B vectors + 1 A vector of the 32 zmm registers; 6 rows cover
 * LeNet's 6 and 16 filters with no (6) or little (18 for 16) padding. */
#include "common/target_avx512.h"
#include "kernels/gemm_nt/gemm_nt.h"

#define FC_REAL float
#define FC_V __m512
#define FC_VLEN 16
#define FC_V_LOAD(p) _mm512_loadu_ps(p)
#define FC_V_STORE(p, v) _mm512_storeu_ps((p), (v))
#define FC_V_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define FC_V_ZERO() _mm512_setzero_ps()
#define FC_NT_NAME fc_f32_gemm_nt_ukernel_6x4__avx512
#define FC_NT_MR 6
#define FC_NT_NR 4
#include "kernels/gemm_nt/simd.tmpl.h"

/* 3x4: 12 accumulators + 4 B vectors of the 16 ymm registers (A is a memory operand). */
#include "common/target_avx2.h"
#include "kernels/gemm_nt/gemm_nt.h"

#define FC_REAL float
#define FC_V __m256
#define FC_VLEN 8
#define FC_V_LOAD(p) _mm256_loadu_ps(p)
#define FC_V_STORE(p, v) _mm256_storeu_ps((p), (v))
#define FC_V_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define FC_V_ZERO() _mm256_setzero_ps()
#define FC_NT_NAME fc_f32_gemm_nt_ukernel_3x4__avx2
#define FC_NT_MR 3
#define FC_NT_NR 4
#include "kernels/gemm_nt/simd.tmpl.h"

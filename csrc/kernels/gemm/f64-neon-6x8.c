/* 6x8: 24 accumulators of 2 doubles + 4 B vectors + the broadcast A values within the 32 q
 * registers (not measured here: no aarch64 machine in CI). */
#include "simd/target_neon.h"
#include "kernels/gemm/gemm.h"

#include "simd/dtype_f64.h"
#include "simd/vec_neon_f64.h"

#define FC_GEMM_NAME fc_f64_gemm_ukernel_6x8__neon
#define FC_GEMM_ROWS_NAME fc_f64_gemm_rows_ukernel_6x8__neon
#define FC_GEMM_BODY fc_f64_gemm_body_6x8__neon
#define FC_GEMM_MR 6
#define FC_GEMM_A_BY_LANE 1
#define FC_GEMM_NRV 4
#include "kernels/gemm/simd.tmpl.h"

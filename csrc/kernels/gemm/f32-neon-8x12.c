/* 8x12: 24 accumulators + 3 B vectors + the broadcast A values within the 32 q registers
 * (XNNPACK's and BLIS's aarch64 tile shape; not measured here: no aarch64 machine in CI). */
#include "simd/target_neon.h"
#include "kernels/gemm/gemm.h"

#include "simd/dtype_f32.h"
#include "simd/vec_neon_f32.h"

#define FC_GEMM_NAME fc_f32_gemm_ukernel_8x12__neon
#define FC_GEMM_ROWS_NAME fc_f32_gemm_rows_ukernel_8x12__neon
#define FC_GEMM_IM2COL_NAME fc_f32_gemm_im2col_run_8x12__neon
#define FC_GEMM_BODY fc_f32_gemm_body_8x12__neon
#define FC_GEMM_MR 8
#define FC_GEMM_A_BY_LANE 1
#define FC_GEMM_NRV 3
#include "kernels/gemm/simd.tmpl.h"

#include "simd/target_avx2.h"
#include "kernels/gemm/gemm.h"

#include "simd/dtype_f32.h"
#include "simd/vec_avx2_f32.h"

#define FC_GEMM_NAME fc_f32_gemm_ukernel_6x16__avx2
#define FC_GEMM_ROWS_NAME fc_f32_gemm_rows_ukernel_6x16__avx2
#define FC_GEMM_IM2COL_NAME fc_f32_gemm_im2col_run_6x16__avx2
#define FC_GEMM_BODY fc_f32_gemm_body_6x16__avx2
#define FC_GEMM_MR 6
#define FC_GEMM_NRV 2
#include "kernels/gemm/simd.tmpl.h"

#define FC_GEMM_NHWC_PACK_NAME fc_f32_gemm_nhwc_pack_6x16__avx2
#include "kernels/gemm/nhwc_pack_x86.tmpl.h"

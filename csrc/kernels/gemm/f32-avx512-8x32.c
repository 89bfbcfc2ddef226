#include "simd/target_avx512.h"
#include "kernels/gemm/gemm.h"

#include "simd/dtype_f32.h"
#include "simd/vec_avx512_f32.h"

#define FC_GEMM_NAME fc_f32_gemm_ukernel_8x32__avx512
#define FC_GEMM_ROWS_NAME fc_f32_gemm_rows_ukernel_8x32__avx512
#define FC_GEMM_IM2COL_NAME fc_f32_gemm_im2col_run_8x32__avx512
#define FC_GEMM_BODY fc_f32_gemm_body_8x32__avx512
#define FC_GEMM_MR 8
#define FC_GEMM_NRV 2
#include "kernels/gemm/simd.tmpl.h"

#define FC_GEMM_NHWC_PACK_NAME fc_f32_gemm_nhwc_pack_8x32__avx512
#include "kernels/gemm/nhwc_pack_x86.tmpl.h"

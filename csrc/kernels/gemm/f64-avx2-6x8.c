#include "simd/target_avx2.h"
#include "kernels/gemm/gemm.h"

#include "simd/dtype_f64.h"
#include "simd/vec_avx2_f64.h"

#define FC_GEMM_NAME fc_f64_gemm_ukernel_6x8__avx2
#define FC_GEMM_ROWS_NAME fc_f64_gemm_rows_ukernel_6x8__avx2
#define FC_GEMM_BODY fc_f64_gemm_body_6x8__avx2
#define FC_GEMM_MR 6
#define FC_GEMM_NRV 2
#include "kernels/gemm/simd.tmpl.h"

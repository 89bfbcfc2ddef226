#include "simd/target_avx512.h"
#include "kernels/gemm/gemm.h"

#include "simd/dtype_f64.h"
#include "simd/vec_avx512_f64.h"

#define FC_GEMM_NAME fc_f64_gemm_ukernel_8x16__avx512
#define FC_GEMM_ROWS_NAME fc_f64_gemm_rows_ukernel_8x16__avx512
#define FC_GEMM_BODY fc_f64_gemm_body_8x16__avx512
#define FC_GEMM_MR 8
#define FC_GEMM_NRV 2
#include "kernels/gemm/simd.tmpl.h"

/* 3x4 as the f32 member (f32-avx2-3x4.c), 4 double lanes. */
#include "simd/target_avx2.h"
#include "kernels/gemm_nt/gemm_nt.h"

#include "simd/dtype_f64.h"
#include "simd/vec_avx2_f64.h"

#define FC_NT_NAME fc_f64_gemm_nt_ukernel_3x4__avx2
#define FC_NT_MR 3
#define FC_NT_NR 4
#include "kernels/gemm_nt/simd.tmpl.h"

/* 6x4 as the f32 member (f32-avx512-6x4.c), 8 double lanes. */
#include "simd/target_avx512.h"
#include "kernels/gemm_nt/gemm_nt.h"

#include "simd/dtype_f64.h"
#include "simd/vec_avx512_f64.h"

#define FC_NT_NAME fc_f64_gemm_nt_ukernel_6x4__avx512
#define FC_NT_MR 6
#define FC_NT_NR 4
#include "kernels/gemm_nt/simd.tmpl.h"

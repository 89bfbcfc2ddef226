/* 3x4: 12 accumulators + 4 B vectors of the 16 ymm registers (A is a memory operand). */
#include "simd/target_avx2.h"
#include "kernels/gemm_nt/gemm_nt.h"

#include "simd/dtype_f32.h"
#include "simd/vec_avx2_f32.h"

#define FC_NT_NAME fc_f32_gemm_nt_ukernel_3x4__avx2
#define FC_NT_MR 3
#define FC_NT_NR 4
#include "kernels/gemm_nt/simd.tmpl.h"

/* 6x4: 24 accumulators + 4 B vectors + 1 A vector of the 32 zmm registers; 6 rows cover
 * LeNet's 6 and 16 filters with no (6) or little (18 for 16) padding. */
#include "simd/target_avx512.h"
#include "kernels/gemm_nt/gemm_nt.h"

#include "simd/dtype_f32.h"
#include "simd/vec_avx512_f32.h"

#define FC_NT_NAME fc_f32_gemm_nt_ukernel_6x4__avx512
#define FC_NT_MR 6
#define FC_NT_NR 4
#include "kernels/gemm_nt/simd.tmpl.h"

/* The NT GEMM family's members (kernels/members.h); lanes = FC_LANES of the ISA and dtype. */
#include "kernels/gemm_nt/gemm_nt.h"
#include "kernels/members.h"

#define F32 fc_f32_gemm_nt_ukernel_fn
#define F64 fc_f64_gemm_nt_ukernel_fn

const fc_member fc_gemm_nt_members[] = {
    {FC_FAMILY_GEMM_NT, "f32", FC_ISA_SCALAR, "f32-gemm-nt 4x4 scalar",
     FC_SYMBOL(F32, fc_f32_gemm_nt_ukernel_4x4__scalar), .mr = 4, .nr = 4, .lanes = 1},
    {FC_FAMILY_GEMM_NT, "f64", FC_ISA_SCALAR, "f64-gemm-nt 4x4 scalar",
     FC_SYMBOL(F64, fc_f64_gemm_nt_ukernel_4x4__scalar), .mr = 4, .nr = 4, .lanes = 1},
#if FC_ARCH_X86_64
    {FC_FAMILY_GEMM_NT, "f32", FC_ISA_AVX2, "f32-gemm-nt 3x4 avx2",
     FC_SYMBOL(F32, fc_f32_gemm_nt_ukernel_3x4__avx2), .mr = 3, .nr = 4, .lanes = 8},
    {FC_FAMILY_GEMM_NT, "f64", FC_ISA_AVX2, "f64-gemm-nt 3x4 avx2",
     FC_SYMBOL(F64, fc_f64_gemm_nt_ukernel_3x4__avx2), .mr = 3, .nr = 4, .lanes = 4},
    {FC_FAMILY_GEMM_NT, "f32", FC_ISA_AVX512, "f32-gemm-nt 6x4 avx512",
     FC_SYMBOL(F32, fc_f32_gemm_nt_ukernel_6x4__avx512), .mr = 6, .nr = 4, .lanes = 16},
    {FC_FAMILY_GEMM_NT, "f64", FC_ISA_AVX512, "f64-gemm-nt 6x4 avx512",
     FC_SYMBOL(F64, fc_f64_gemm_nt_ukernel_6x4__avx512), .mr = 6, .nr = 4, .lanes = 8},
#endif
};
const size_t fc_gemm_nt_member_count = sizeof fc_gemm_nt_members / sizeof fc_gemm_nt_members[0];

/* The vadd family's members (kernels/members.h). */
#include "kernels/vadd/vadd.h"
#include "kernels/members.h"

const fc_member fc_vadd_members[] = {
    {FC_FAMILY_VADD, "f32", FC_ISA_SCALAR, "f32-vadd scalar",
     FC_SYMBOL(fc_f32_vadd_ukernel_fn, fc_f32_vadd_ukernel__scalar), .mr = 1, .nr = 1},
    {FC_FAMILY_VADD, "f64", FC_ISA_SCALAR, "f64-vadd scalar",
     FC_SYMBOL(fc_f64_vadd_ukernel_fn, fc_f64_vadd_ukernel__scalar), .mr = 1, .nr = 1},
#if FC_ARCH_X86_64
    {FC_FAMILY_VADD, "f32", FC_ISA_AVX2, "f32-vadd 8 avx2",
     FC_SYMBOL(fc_f32_vadd_ukernel_fn, fc_f32_vadd_ukernel__avx2), .mr = 1, .nr = 8},
    {FC_FAMILY_VADD, "f64", FC_ISA_AVX2, "f64-vadd 4 avx2",
     FC_SYMBOL(fc_f64_vadd_ukernel_fn, fc_f64_vadd_ukernel__avx2), .mr = 1, .nr = 4},
    {FC_FAMILY_VADD, "f32", FC_ISA_AVX512, "f32-vadd 16 avx512",
     FC_SYMBOL(fc_f32_vadd_ukernel_fn, fc_f32_vadd_ukernel__avx512), .mr = 1, .nr = 16},
    {FC_FAMILY_VADD, "f64", FC_ISA_AVX512, "f64-vadd 8 avx512",
     FC_SYMBOL(fc_f64_vadd_ukernel_fn, fc_f64_vadd_ukernel__avx512), .mr = 1, .nr = 8},
#elif FC_ARCH_AARCH64
    {FC_FAMILY_VADD, "f32", FC_ISA_NEON, "f32-vadd 4 neon",
     FC_SYMBOL(fc_f32_vadd_ukernel_fn, fc_f32_vadd_ukernel__neon), .mr = 1, .nr = 4},
    {FC_FAMILY_VADD, "f64", FC_ISA_NEON, "f64-vadd 2 neon",
     FC_SYMBOL(fc_f64_vadd_ukernel_fn, fc_f64_vadd_ukernel__neon), .mr = 1, .nr = 2},
#endif
};
const size_t fc_vadd_member_count = sizeof fc_vadd_members / sizeof fc_vadd_members[0];

/* The direct-convolution family's members (kernels/members.h): mr = KB, the output channels
 * of one call (the packed weight panel's width); nr = the columns of one register block. */
#include "kernels/dconv/dconv.h"
#include "kernels/members.h"

#define F32 fc_f32_dconv_ukernel_fn
#define F64 fc_f64_dconv_ukernel_fn

const fc_member fc_dconv_members[] = {
    {FC_FAMILY_DCONV, "f32", FC_ISA_SCALAR, "f32-dconv 4 scalar",
     FC_SYMBOL(F32, fc_f32_dconv_ukernel_4__scalar), .mr = 4, .nr = 1},
    {FC_FAMILY_DCONV, "f64", FC_ISA_SCALAR, "f64-dconv 4 scalar",
     FC_SYMBOL(F64, fc_f64_dconv_ukernel_4__scalar), .mr = 4, .nr = 1},
#if FC_ARCH_X86_64
    {FC_FAMILY_DCONV, "f32", FC_ISA_AVX2, "f32-dconv 4x24 avx2",
     FC_SYMBOL(F32, fc_f32_dconv_ukernel_4x24__avx2), .mr = 4, .nr = 24},
    {FC_FAMILY_DCONV, "f32", FC_ISA_AVX512, "f32-dconv 8x32 avx512",
     FC_SYMBOL(F32, fc_f32_dconv_ukernel_8x32__avx512), .mr = 8, .nr = 32},
#elif FC_ARCH_AARCH64
    {FC_FAMILY_DCONV, "f32", FC_ISA_NEON, "f32-dconv 8x12 neon",
     FC_SYMBOL(F32, fc_f32_dconv_ukernel_8x12__neon), .mr = 8, .nr = 12},
#endif
};
const size_t fc_dconv_member_count = sizeof fc_dconv_members / sizeof fc_dconv_members[0];

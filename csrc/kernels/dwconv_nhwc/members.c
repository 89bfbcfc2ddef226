/* The channels-last depthwise family's members (kernels/members.h): nr the channels per
 * vector (4 vectors per step); fn2 the weight gradient. */
#include "kernels/dwconv_nhwc/dwconv_nhwc.h"
#include "kernels/members.h"

#define FC_DWCONV_NHWC_MEMBERS(isa_tag, isa, name, lanes32)                                   \
    {FC_FAMILY_DWCONV_NHWC, "f32", isa, name,                                                 \
     FC_SYMBOL(fc_f32_dwconv_nhwc_ukernel_fn, fc_f32_dwconv_nhwc_ukernel__##isa_tag),         \
     .fn2 = FC_MEMBER_FN(fc_f32_dwconv_nhwc_gw_ukernel_fn, fc_f32_dwconv_nhwc_gw_ukernel__##isa_tag), \
     .mr = 1, .nr = (lanes32)},                                                               \
    {FC_FAMILY_DWCONV_NHWC, "f64", isa, name,                                                 \
     FC_SYMBOL(fc_f64_dwconv_nhwc_ukernel_fn, fc_f64_dwconv_nhwc_ukernel__##isa_tag),         \
     .fn2 = FC_MEMBER_FN(fc_f64_dwconv_nhwc_gw_ukernel_fn, fc_f64_dwconv_nhwc_gw_ukernel__##isa_tag), \
     .mr = 1, .nr = (lanes32) > 1 ? (lanes32) / 2 : 1}

const fc_member fc_dwconv_nhwc_members[] = {
    FC_DWCONV_NHWC_MEMBERS(scalar, FC_ISA_SCALAR, "dwconv nhwc scalar", 1),
#if FC_ARCH_X86_64
    FC_DWCONV_NHWC_MEMBERS(avx2, FC_ISA_AVX2, "dwconv nhwc avx2", 8),
    FC_DWCONV_NHWC_MEMBERS(avx512, FC_ISA_AVX512, "dwconv nhwc avx512", 16),
#elif FC_ARCH_AARCH64
    FC_DWCONV_NHWC_MEMBERS(neon, FC_ISA_NEON, "dwconv nhwc neon", 4),
#endif
};
const size_t fc_dwconv_nhwc_member_count =
    sizeof fc_dwconv_nhwc_members / sizeof fc_dwconv_nhwc_members[0];

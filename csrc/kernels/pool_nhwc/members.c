/* The channels-last pooling family's members (kernels/members.h): fn max pooling, fn2 average
 * pooling, nr the channels per vector.  One name per ISA for both dtypes. */
#include "kernels/pool_nhwc/pool_nhwc.h"
#include "kernels/members.h"

#define MAX32 fc_f32_maxpool_nhwc_ukernel_fn
#define MAX64 fc_f64_maxpool_nhwc_ukernel_fn
#define AVG32 fc_f32_avgpool_nhwc_ukernel_fn
#define AVG64 fc_f64_avgpool_nhwc_ukernel_fn
#define FC_POOL_NHWC_MEMBERS(isa_tag, isa, name, lanes32)                                     \
    {FC_FAMILY_POOL_NHWC, "f32", isa, name,                                                   \
     FC_SYMBOL(MAX32, fc_f32_maxpool_nhwc_ukernel__##isa_tag),                                \
     FC_MEMBER_FN(AVG32, fc_f32_avgpool_nhwc_ukernel__##isa_tag), .mr = 1, .nr = (lanes32)}, \
    {FC_FAMILY_POOL_NHWC, "f64", isa, name,                                                   \
     FC_SYMBOL(MAX64, fc_f64_maxpool_nhwc_ukernel__##isa_tag),                                \
     FC_MEMBER_FN(AVG64, fc_f64_avgpool_nhwc_ukernel__##isa_tag), .mr = 1,                    \
     .nr = (lanes32) > 1 ? (lanes32) / 2 : 1}

const fc_member fc_pool_nhwc_members[] = {
    FC_POOL_NHWC_MEMBERS(scalar, FC_ISA_SCALAR, "pool nhwc scalar", 1),
#if FC_ARCH_X86_64
    FC_POOL_NHWC_MEMBERS(avx2, FC_ISA_AVX2, "pool nhwc avx2", 8),
    FC_POOL_NHWC_MEMBERS(avx512, FC_ISA_AVX512, "pool nhwc avx512", 16),
#elif FC_ARCH_AARCH64
    FC_POOL_NHWC_MEMBERS(neon, FC_ISA_NEON, "pool nhwc neon", 4),
#endif
};
const size_t fc_pool_nhwc_member_count =
    sizeof fc_pool_nhwc_members / sizeof fc_pool_nhwc_members[0];

/* The ReLU backward family's members (kernels/members.h). */
#include "kernels/relu_backward/relu_backward.h"
#include "kernels/members.h"

const fc_member fc_relu_backward_members[] = {
    {FC_FAMILY_RELU_BACKWARD, "f32", FC_ISA_SCALAR, "f32-relu-backward scalar",
     FC_SYMBOL(fc_f32_relu_backward_ukernel_fn, fc_f32_relu_backward_ukernel__scalar), .mr = 1,
     .nr = 1},
    {FC_FAMILY_RELU_BACKWARD, "f64", FC_ISA_SCALAR, "f64-relu-backward scalar",
     FC_SYMBOL(fc_f64_relu_backward_ukernel_fn, fc_f64_relu_backward_ukernel__scalar), .mr = 1,
     .nr = 1},
#define FC_RELU_BACKWARD_MEMBERS(isa_tag, isa, lanes32, lanes64)                             \
    {FC_FAMILY_RELU_BACKWARD, "f32", isa, "f32-relu-backward " #lanes32 " " #isa_tag,         \
     FC_SYMBOL(fc_f32_relu_backward_ukernel_fn, fc_f32_relu_backward_ukernel__##isa_tag),     \
     .mr = 1, .nr = (lanes32)},                                                              \
    {FC_FAMILY_RELU_BACKWARD, "f64", isa, "f64-relu-backward " #lanes64 " " #isa_tag,         \
     FC_SYMBOL(fc_f64_relu_backward_ukernel_fn, fc_f64_relu_backward_ukernel__##isa_tag),     \
     .mr = 1, .nr = (lanes64)}
#if FC_ARCH_X86_64
    FC_RELU_BACKWARD_MEMBERS(avx2, FC_ISA_AVX2, 8, 4),
    FC_RELU_BACKWARD_MEMBERS(avx512, FC_ISA_AVX512, 16, 8),
#elif FC_ARCH_AARCH64
    FC_RELU_BACKWARD_MEMBERS(neon, FC_ISA_NEON, 4, 2),
#endif
};
const size_t fc_relu_backward_member_count =
    sizeof fc_relu_backward_members / sizeof fc_relu_backward_members[0];

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
};
const size_t fc_relu_backward_member_count =
    sizeof fc_relu_backward_members / sizeof fc_relu_backward_members[0];

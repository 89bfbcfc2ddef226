/* The ReLU family's members (kernels/members.h): fn in place or out of place, fn2 the same
 * with streaming stores (y != x; the driver takes it for outputs larger than the last-level
 * cache), nr the elements of one step of the vector loop (4 vectors). */
#include "kernels/relu/relu.h"
#include "kernels/members.h"

#define F32 fc_f32_relu_ukernel_fn
#define F64 fc_f64_relu_ukernel_fn

const fc_member fc_relu_members[] = {
    {FC_FAMILY_RELU, "f32", FC_ISA_SCALAR, "relu scalar",
     FC_SYMBOL(F32, fc_f32_relu_ukernel__scalar),
     FC_MEMBER_FN(F32, fc_f32_relu_ukernel__scalar), .mr = 1, .nr = 1},
    {FC_FAMILY_RELU, "f64", FC_ISA_SCALAR, "relu scalar",
     FC_SYMBOL(F64, fc_f64_relu_ukernel__scalar),
     FC_MEMBER_FN(F64, fc_f64_relu_ukernel__scalar), .mr = 1, .nr = 1},
#if FC_ARCH_X86_64
    {FC_FAMILY_RELU, "f32", FC_ISA_AVX2, "relu avx2", FC_SYMBOL(F32, fc_f32_relu_ukernel__avx2),
     FC_MEMBER_FN(F32, fc_f32_relu_stream_ukernel__avx2), .mr = 1, .nr = 32},
    {FC_FAMILY_RELU, "f64", FC_ISA_AVX2, "relu avx2", FC_SYMBOL(F64, fc_f64_relu_ukernel__avx2),
     FC_MEMBER_FN(F64, fc_f64_relu_stream_ukernel__avx2), .mr = 1, .nr = 16},
    {FC_FAMILY_RELU, "f32", FC_ISA_AVX512, "relu avx512",
     FC_SYMBOL(F32, fc_f32_relu_ukernel__avx512),
     FC_MEMBER_FN(F32, fc_f32_relu_stream_ukernel__avx512), .mr = 1, .nr = 64},
    {FC_FAMILY_RELU, "f64", FC_ISA_AVX512, "relu avx512",
     FC_SYMBOL(F64, fc_f64_relu_ukernel__avx512),
     FC_MEMBER_FN(F64, fc_f64_relu_stream_ukernel__avx512), .mr = 1, .nr = 32},
#elif FC_ARCH_AARCH64
    {FC_FAMILY_RELU, "f32", FC_ISA_NEON, "relu neon", FC_SYMBOL(F32, fc_f32_relu_ukernel__neon),
     FC_MEMBER_FN(F32, fc_f32_relu_ukernel__neon), .mr = 1, .nr = 16},
    {FC_FAMILY_RELU, "f64", FC_ISA_NEON, "relu neon", FC_SYMBOL(F64, fc_f64_relu_ukernel__neon),
     FC_MEMBER_FN(F64, fc_f64_relu_ukernel__neon), .mr = 1, .nr = 8},
#endif
};
const size_t fc_relu_member_count = sizeof fc_relu_members / sizeof fc_relu_members[0];

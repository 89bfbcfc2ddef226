/* The Winograd family's members (kernels/members.h): fn the input transform, fn2 the output
 * transform, fn3 the filter transform; nr = tiles per step (winograd.h). */
#include "kernels/members.h"
#include "kernels/winograd/winograd.h"

#define IN fc_f32_winograd_input_fn
#define OUT fc_f32_winograd_output_fn
#define FILT fc_f32_winograd_filter_fn
#define WINOGRAD_MEMBER(isa_enum, label, isa, lanes)                                      \
    {FC_FAMILY_WINOGRAD, "f32", isa_enum, "f32-winograd 4x4 " label,                        \
     FC_SYMBOL(IN, fc_f32_winograd_input_4x4__##isa),                                       \
     FC_MEMBER_FN(OUT, fc_f32_winograd_output_4x4__##isa), .mr = 1, .nr = lanes,            \
     .fn3 = FC_MEMBER_FN(FILT, fc_f32_winograd_filter_4x4__##isa)}

const fc_member fc_winograd_members[] = {
    WINOGRAD_MEMBER(FC_ISA_SCALAR, "scalar", scalar, 1),
#if FC_ARCH_X86_64
    WINOGRAD_MEMBER(FC_ISA_AVX2, "avx2", avx2, 8),
    WINOGRAD_MEMBER(FC_ISA_AVX512, "avx512", avx512, 16),
#elif FC_ARCH_AARCH64
    WINOGRAD_MEMBER(FC_ISA_NEON, "neon", neon, 4),
#endif
};
const size_t fc_winograd_member_count =
    sizeof fc_winograd_members / sizeof fc_winograd_members[0];

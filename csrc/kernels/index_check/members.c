/* The index_check family's members (kernels/members.h). */
#include "kernels/index_check/index_check.h"
#include "kernels/members.h"

const fc_member fc_index_check_members[] = {
    {FC_FAMILY_INDEX_CHECK, "i64", FC_ISA_SCALAR, "i64-index-check scalar",
     FC_SYMBOL(fc_index_check_ukernel_fn, fc_index_check_ukernel__scalar), .mr = 1, .nr = 1},
#if FC_ARCH_X86_64
    {FC_FAMILY_INDEX_CHECK, "i64", FC_ISA_AVX2, "i64-index-check 4 avx2",
     FC_SYMBOL(fc_index_check_ukernel_fn, fc_index_check_ukernel__avx2), .mr = 1, .nr = 4},
    {FC_FAMILY_INDEX_CHECK, "i64", FC_ISA_AVX512, "i64-index-check 8 avx512",
     FC_SYMBOL(fc_index_check_ukernel_fn, fc_index_check_ukernel__avx512), .mr = 1, .nr = 8},
#elif FC_ARCH_AARCH64
    {FC_FAMILY_INDEX_CHECK, "i64", FC_ISA_NEON, "i64-index-check 2 neon",
     FC_SYMBOL(fc_index_check_ukernel_fn, fc_index_check_ukernel__neon), .mr = 1, .nr = 2},
#endif
};
const size_t fc_index_check_member_count =
    sizeof fc_index_check_members / sizeof fc_index_check_members[0];

/* The epilogue family's members (kernels/members.h): nr is the vector's width. */
#include "kernels/epilogue/epilogue.h"
#include "kernels/members.h"

#define F32 fc_f32_epilogue_ukernel_fn
#define F64 fc_f64_epilogue_ukernel_fn

const fc_member fc_epilogue_members[] = {
    {FC_FAMILY_EPILOGUE, "f32", FC_ISA_SCALAR, "f32-epilogue scalar",
     FC_SYMBOL(F32, fc_f32_epilogue_ukernel__scalar), .mr = 1, .nr = 1},
    {FC_FAMILY_EPILOGUE, "f64", FC_ISA_SCALAR, "f64-epilogue scalar",
     FC_SYMBOL(F64, fc_f64_epilogue_ukernel__scalar), .mr = 1, .nr = 1},
#if FC_ARCH_X86_64
    {FC_FAMILY_EPILOGUE, "f32", FC_ISA_AVX2, "f32-epilogue 8 avx2",
     FC_SYMBOL(F32, fc_f32_epilogue_ukernel_8__avx2), .mr = 1, .nr = 8},
    {FC_FAMILY_EPILOGUE, "f64", FC_ISA_AVX2, "f64-epilogue 4 avx2",
     FC_SYMBOL(F64, fc_f64_epilogue_ukernel_4__avx2), .mr = 1, .nr = 4},
    {FC_FAMILY_EPILOGUE, "f32", FC_ISA_AVX512, "f32-epilogue 16 avx512",
     FC_SYMBOL(F32, fc_f32_epilogue_ukernel_16__avx512), .mr = 1, .nr = 16},
    {FC_FAMILY_EPILOGUE, "f64", FC_ISA_AVX512, "f64-epilogue 8 avx512",
     FC_SYMBOL(F64, fc_f64_epilogue_ukernel_8__avx512), .mr = 1, .nr = 8},
#endif
};
const size_t fc_epilogue_member_count =
    sizeof fc_epilogue_members / sizeof fc_epilogue_members[0];

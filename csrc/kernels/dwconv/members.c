/* The depthwise family's members (kernels/members.h): mr x nr output rows x columns of the
 * register tile; item_rows the driver's output rows per work item (the padded-row buffer
 * holds the input rows they read, so it also sets the per-thread scratch).  fn2: the weight
 * gradient's kernel on the same buffer (one row by one vector of columns, up to 9 taps per
 * pass); fn3: fn reading the input planes in place (kernels/dwconv/dwconv.h). */
#include "kernels/dwconv/dwconv.h"
#include "kernels/members.h"

#define F32 fc_f32_dwconv_ukernel_fn
#define F64 fc_f64_dwconv_ukernel_fn
#define GW32 fc_f32_dwconv_gw_ukernel_fn
#define GW64 fc_f64_dwconv_gw_ukernel_fn
#define DI32 fc_f32_dwconv_direct_ukernel_fn
#define DI64 fc_f64_dwconv_direct_ukernel_fn

/* 32 output rows per depthwise item: the 2-4 extra input rows a 3x3-5x5 filter needs per
 * tile are copied 6-12% more often, and a 1024-wide plane still splits into 32 items for the
 * threads.  5% faster than 16 rows, as fast as 64 (avx512, 2-core Zen 4 EPYC). */
const fc_member fc_dwconv_members[] = {
    {FC_FAMILY_DWCONV, "f32", FC_ISA_SCALAR, "f32-dwconv scalar",
     FC_SYMBOL(F32, fc_f32_dwconv_ukernel__scalar),
     FC_MEMBER_FN(GW32, fc_f32_dwconv_gw_ukernel__scalar),
     .fn3 = FC_MEMBER_FN(DI32, fc_f32_dwconv_direct_ukernel__scalar),
     .mr = 1, .nr = 1, .item_rows = 32},
    {FC_FAMILY_DWCONV, "f64", FC_ISA_SCALAR, "f64-dwconv scalar",
     FC_SYMBOL(F64, fc_f64_dwconv_ukernel__scalar),
     FC_MEMBER_FN(GW64, fc_f64_dwconv_gw_ukernel__scalar),
     .fn3 = FC_MEMBER_FN(DI64, fc_f64_dwconv_direct_ukernel__scalar),
     .mr = 1, .nr = 1, .item_rows = 32},
#if FC_ARCH_X86_64
    {FC_FAMILY_DWCONV, "f32", FC_ISA_AVX2, "f32-dwconv 2x24 avx2",
     FC_SYMBOL(F32, fc_f32_dwconv_ukernel_2x24__avx2),
     FC_MEMBER_FN(GW32, fc_f32_dwconv_gw_ukernel_1x8__avx2),
     .fn3 = FC_MEMBER_FN(DI32, fc_f32_dwconv_direct_ukernel_2x24__avx2),
     .mr = 2, .nr = 24, .item_rows = 32},
    {FC_FAMILY_DWCONV, "f32", FC_ISA_AVX512, "f32-dwconv 2x64 avx512",
     FC_SYMBOL(F32, fc_f32_dwconv_ukernel_2x64__avx512),
     FC_MEMBER_FN(GW32, fc_f32_dwconv_gw_ukernel_1x16__avx512),
     .fn3 = FC_MEMBER_FN(DI32, fc_f32_dwconv_direct_ukernel_2x64__avx512),
     .mr = 2, .nr = 64, .item_rows = 32},
#elif FC_ARCH_AARCH64
    {FC_FAMILY_DWCONV, "f32", FC_ISA_NEON, "f32-dwconv 2x16 neon",
     FC_SYMBOL(F32, fc_f32_dwconv_ukernel_2x16__neon),
     FC_MEMBER_FN(GW32, fc_f32_dwconv_gw_ukernel_1x4__neon),
     .fn3 = FC_MEMBER_FN(DI32, fc_f32_dwconv_direct_ukernel_2x16__neon),
     .mr = 2, .nr = 16, .item_rows = 32},
#endif
};
const size_t fc_dwconv_member_count = sizeof fc_dwconv_members / sizeof fc_dwconv_members[0];

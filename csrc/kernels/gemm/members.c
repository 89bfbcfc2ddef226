/* The GEMM family's members (kernels/members.h).  kc x nc is the packed B block a thread
 * holds: sized for the L2 beside its A panel. */
#include "kernels/gemm/gemm.h"
#include "kernels/members.h"

#define F32 fc_f32_gemm_ukernel_fn
#define F64 fc_f64_gemm_ukernel_fn
#define F32_ROWS fc_f32_gemm_rows_ukernel_fn
#define F64_ROWS fc_f64_gemm_rows_ukernel_fn
#define F32_IM2COL fc_f32_gemm_im2col_run_fn
#define F32_NHWC_PACK fc_f32_gemm_nhwc_pack_fn

const fc_member fc_gemm_members[] = {
    /* 4x4 fills the 16 accumulators of scalar code without spills; kc * nc * 8 bytes = 256 KiB
     * per thread keeps the packed B panel in a 1-2 MiB L2 beside its A panel. */
    {FC_FAMILY_GEMM, "f32", FC_ISA_SCALAR, "f32-gemm 4x4 scalar",
     FC_SYMBOL(F32, fc_f32_gemm_ukernel_4x4__scalar),
     FC_MEMBER_FN(F32_ROWS, fc_f32_gemm_rows_ukernel_4x4__scalar), .mr = 4, .nr = 4, .kc = 256,
     .nc = 128},
    {FC_FAMILY_GEMM, "f64", FC_ISA_SCALAR, "f64-gemm 4x4 scalar",
     FC_SYMBOL(F64, fc_f64_gemm_ukernel_4x4__scalar),
     FC_MEMBER_FN(F64_ROWS, fc_f64_gemm_rows_ukernel_4x4__scalar), .mr = 4, .nr = 4, .kc = 256,
     .nc = 128},
#if FC_ARCH_X86_64
    /* 6x16: 12 accumulators + 2 B vectors + 1 broadcast fill the 16 ymm registers.  kc x nc
     * (256 x 512 floats, 512 KiB) keeps B in a 1 MiB L2; kc x MR of A stays in L1. */
    {FC_FAMILY_GEMM, "f32", FC_ISA_AVX2, "f32-gemm 6x16 avx2",
     FC_SYMBOL(F32, fc_f32_gemm_ukernel_6x16__avx2),
     FC_MEMBER_FN(F32_ROWS, fc_f32_gemm_rows_ukernel_6x16__avx2),
     .fn3 = FC_MEMBER_FN(F32_IM2COL, fc_f32_gemm_im2col_run_6x16__avx2),
     .fn4 = FC_MEMBER_FN(F32_NHWC_PACK, fc_f32_gemm_nhwc_pack_6x16__avx2),
     .mr = 6, .nr = 16, .kc = 256, .nc = 512},
    {FC_FAMILY_GEMM, "f64", FC_ISA_AVX2, "f64-gemm 6x8 avx2",
     FC_SYMBOL(F64, fc_f64_gemm_ukernel_6x8__avx2),
     FC_MEMBER_FN(F64_ROWS, fc_f64_gemm_rows_ukernel_6x8__avx2), .mr = 6, .nr = 8, .kc = 256,
     .nc = 256},
    /* Measured on the CI machine's Zen 5 EPYC (48 KiB L1d, 1 MiB L2): 8x32, 14x32, 12x32 and
     * 6x64 all reach ~245 GFLOP/s per core on L1/L2-resident panels (2 x 512-bit FMA per
     * cycle), so the tile is chosen for the layers: 8 rows divide the filter counts of the
     * common networks (16, 64, 96, 128, ...), so no edge tiles in M, and 32 pixels waste less
     * on small images than 64.  kc 128-384 and nc 256-1024 were within noise on the ResNet,
     * VGG and AlexNet layers (bench shapes); 256 x 512 floats = 512 KiB of B stays in L2. */
    {FC_FAMILY_GEMM, "f32", FC_ISA_AVX512, "f32-gemm 8x32 avx512",
     FC_SYMBOL(F32, fc_f32_gemm_ukernel_8x32__avx512),
     FC_MEMBER_FN(F32_ROWS, fc_f32_gemm_rows_ukernel_8x32__avx512),
     .fn3 = FC_MEMBER_FN(F32_IM2COL, fc_f32_gemm_im2col_run_8x32__avx512),
     .fn4 = FC_MEMBER_FN(F32_NHWC_PACK, fc_f32_gemm_nhwc_pack_8x32__avx512),
     .mr = 8, .nr = 32, .kc = 256, .nc = 512},
    {FC_FAMILY_GEMM, "f64", FC_ISA_AVX512, "f64-gemm 8x16 avx512",
     FC_SYMBOL(F64, fc_f64_gemm_ukernel_8x16__avx512),
     FC_MEMBER_FN(F64_ROWS, fc_f64_gemm_rows_ukernel_8x16__avx512), .mr = 8, .nr = 16,
     .kc = 256, .nc = 256},
#elif FC_ARCH_AARCH64
    /* kc x nc as avx2's (512 KiB of B for f32): sized for a 1 MiB L2, not measured. */
    {FC_FAMILY_GEMM, "f32", FC_ISA_NEON, "f32-gemm 8x12 neon",
     FC_SYMBOL(F32, fc_f32_gemm_ukernel_8x12__neon),
     FC_MEMBER_FN(F32_ROWS, fc_f32_gemm_rows_ukernel_8x12__neon),
     .fn3 = FC_MEMBER_FN(F32_IM2COL, fc_f32_gemm_im2col_run_8x12__neon),
     .mr = 8, .nr = 12, .kc = 256, .nc = 516},
    {FC_FAMILY_GEMM, "f64", FC_ISA_NEON, "f64-gemm 6x8 neon",
     FC_SYMBOL(F64, fc_f64_gemm_ukernel_6x8__neon),
     FC_MEMBER_FN(F64_ROWS, fc_f64_gemm_rows_ukernel_6x8__neon), .mr = 6, .nr = 8, .kc = 256,
     .nc = 256},
#endif
};
const size_t fc_gemm_member_count = sizeof fc_gemm_members / sizeof fc_gemm_members[0];

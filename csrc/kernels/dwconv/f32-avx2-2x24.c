#include "simd/target_avx2.h"

#include "simd/dtype_f32.h"
#include "simd/vec_avx2_f32.h"
#include "simd/f32_vec_ops.h"
#include "kernels/dwconv/dwconv.h"

/* 2 rows x 3 ymm = 6 accumulators.  Measured on the 2-core Zen 4 EPYC (FASTCONV_ISA=avx2, one
 * thread, 10th percentile of 300 calls): 4x16 is best for 3x3 depthwise (56x56: 245 us vs
 * 255) but 40% slower on 5x5 (1024x1024 image: 1.0 ms vs 0.72), 2x32 the reverse (3x3: 315
 * us); 2x24 is within 5% of the best on both. */
#define FC_DWCONV_FN fc_f32_dwconv_ukernel_2x24__avx2
#define FC_DWCONV_DIRECT_FN fc_f32_dwconv_direct_ukernel_2x24__avx2
#define FC_DWCONV_GW_FN fc_f32_dwconv_gw_ukernel_1x8__avx2
#define FC_DW_RB 2
#define FC_DW_NV 3
/* Runtime sizes and the 1-D filters (filter2d's separable passes) in 2 rows x 4 ymm: 8
 * accumulators cover the 4-cycle FMA latency of Zen 3's two FMA pipes, which 6 do not (at most
 * 1.5 FMAs a cycle).  Zen 3 EPYC, one thread, float32 1024-wide rows, GFLOP/s of the kernel
 * (2x24 -> 2x32, noisy shared host): 9x1 28 -> 47, 1x9 35 -> 48.  3x3, and the depthwise 5x5
 * / 7x7, stay in 2x24: there 2x32 spilled (5x5 and 7x7 at half the speed) or 6 accumulators +
 * 9 weights + 3 loads already fill the registers (3x3).  filter2d's 2-D kernels (zero taps
 * skipped) take the tap list (simd.tmpl.h, dw_list_tile). */
#define FC_DW_NV_WIDE 4
/* filter2d's kernels without zero taps (FC_DENSE_TAPS, dw_rows_tile): 2 rows x 4 ymm.  Zen 3
 * EPYC, one thread, dense 7x7 float32 1024^2 filter vs the tap list, paired medians of 21
 * rounds: 2x4 1.23-1.28x, 4x2 1.16x (in its first and last 3 of 10 input rows some of the 8
 * FMA chains idle), 3x3 0.97x (16 registers: spills).  Again with the 2-row loop's spill gone
 * (simd.tmpl.h, dw_rows_block), dense 7x7 in a C harness of the driver's window, interleaved
 * medians of 21 rounds: 4x2 0.87x and 3x3 0.79x of 2x4; column blocks outer with the row
 * pairs inner (the list's order) 0.93-0.96x. */
#define FC_DW_ROWS_RB 2
#define FC_DW_ROWS_NV 4
/* conv2d's 3x3 depthwise layers in place (dw3_tile): 4 rows x 3 ymm at stride 1, 4 x 2 at
 * stride 2 (its even / odd split needs three more registers).  The largest tiles with no
 * spill in gcc 12's code; llvm-mca (znver3) has both FMA-bound.  Against dw_tile's 2 x 3, one
 * thread, CPU time of the kernel alone over MobileNet's planes (noisy shared host, 10th
 * percentiles): 256 x 56 x 56 stride 1 465 -> 361 us, 96 x 112 x 112 stride 2 430 -> 240 us. */
#define FC_DW3_RB 4
#define FC_DW3_NV 3
#define FC_DW3_NV_S2 2
#include "kernels/dwconv/simd.tmpl.h"

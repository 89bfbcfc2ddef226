#include "simd/target_avx512.h"

#include "simd/dtype_f32.h"
#include "simd/vec_avx512_f32.h"
#include "simd/f32_vec_ops.h"
#include "kernels/dwconv/dwconv.h"

/* 2 rows x 4 zmm = 8 accumulators (+ 4 loaded vectors + 9 weights on the 3x3 path: 21 of the
 * 32 registers).  Measured on the 2-core Zen 4 EPYC (one thread, 10th percentile of 300
 * calls): 56x56x256 3x3 depthwise 214 us, 1024x1024 5x5 image 0.50 ms, lenet_c1 0.18 ms; 4x32
 * was 15% slower on the first two, 3x64 equal, 4x16 40-60% slower on 5x5. */
#define FC_DWCONV_FN fc_f32_dwconv_ukernel_2x64__avx512
#define FC_DWCONV_DIRECT_FN fc_f32_dwconv_direct_ukernel_2x64__avx512
#define FC_DWCONV_GW_FN fc_f32_dwconv_gw_ukernel_1x16__avx512
#define FC_DW_RB 2
#define FC_DW_NV 4
/* 5x5 and 7x7 (unrolled) in 4 rows x 4 zmm: 16 accumulators, each loaded vector feeding up
 * to 4 rows; the weights are broadcast from memory.  7x7 float32 1024^2 image filter, one
 * thread, Xeon AVX-512: 1.59 ms (2 rows, loops not unrolled) -> 1.41 ms (4 rows) -> 1.31 ms
 * (unrolled, zero taps skipped); filter2d's kernels now take the tap list (dw_list_tile), these
 * tiles serve the depthwise conv (no skips). */
#define FC_DW_RB_WIDE 4
/* filter2d's kernels without zero taps (dw_rows_tile): 4 rows x 4 zmm, 16 accumulators that
 * keep the FMA pipes busy through the tile's first and last rows (+ 4 loaded vectors and a
 * weight: 21 of 32 registers); not measured (no AVX-512 host). */
#define FC_DW_ROWS_RB 4
#define FC_DW_ROWS_NV 4
/* conv2d's 3x3 depthwise tile (dw3_tile): 32 registers hold 4 x 4 accumulators with the
 * stride-2 split's temporaries */
#define FC_DW3_RB 4
#define FC_DW3_NV 4
#include "kernels/dwconv/simd.tmpl.h"

#include "simd/target_neon.h"

#include "simd/dtype_f32.h"
#include "simd/vec_neon_f32.h"
#include "simd/f32_vec_ops.h"
#include "kernels/dwconv/dwconv.h"

/* 2 rows x 4 q registers = 8 accumulators (+ 4 loaded vectors + 9 weights on the 3x3 path:
 * 21 of the 32 registers), avx512's 2x64 shape at NEON's width; not measured. */
#define FC_DWCONV_FN fc_f32_dwconv_ukernel_2x16__neon
#define FC_DWCONV_DIRECT_FN fc_f32_dwconv_direct_ukernel_2x16__neon
#define FC_DWCONV_GW_FN fc_f32_dwconv_gw_ukernel_1x4__neon
#define FC_DW_RB 2
#define FC_DW_NV 4
/* filter2d's kernels without zero taps (dw_rows_tile): 4 rows x 4 q registers (21 of 32),
 * AVX-512's shape; not measured. */
#define FC_DW_ROWS_RB 4
#define FC_DW_ROWS_NV 4
/* conv2d's 3x3 depthwise tile (dw3_tile): 32 registers hold 4 x 4 accumulators with the
 * stride-2 split's temporaries */
#define FC_DW3_RB 4
#define FC_DW3_NV 4
#include "kernels/dwconv/simd.tmpl.h"

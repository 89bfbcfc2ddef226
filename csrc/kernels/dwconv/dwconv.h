/* Depthwise microkernels: one output channel's R x S filter over a tile of output rows (every
 * column of each), with the epilogue (bias, and the activation when `fused` says so) fused,
 * so y is written once:
 *
 *   y[i * y_stride + j] = act(bias + sum_{r < R, s < S} w[r * S + s]
 *                                    * x[i * row_stride + r * tap_row_stride + tap_col[s] + j])
 *   for i < rows and j < cols, summed in the order bias, r, s ascending (the reference's).
 *
 * x: the driver's padded-row buffer (ops/conv2d_common.tmpl.h), padding already zero: output
 * row i, filter row r reads buffer row i * stride_h + r * dilation_h, and row_stride and
 * tap_row_stride are those steps in elements.  tap_col[s] is tap s's column offset in a row.
 * w: the channel's R * S weights, row-major.  fused: kernels/fused.h flags (FC_FUSED_RELU:
 * FC_RELU at the store; the driver applies any other epilogue after; FC_SKIP_ZERO_TAPS: the
 * taps whose weight is 0 are left out of the sum, as filter2d wants).
 */
/* The weight gradient's twin of each member (its fn2), on the same padded-row buffer and taps:
 *
 *   gw[r * S + s] += sum_{i < rows, j < cols} g[i * g_stride + j]
 *                        * x[i * row_stride + r * tap_row_stride + tap_col[s] + j]
 *   *gb += sum_{i < rows, j < cols} g[i * g_stride + j]   (gb NULL: not asked)
 *
 * Each tap's tile sum is formed apart and then added to gw once, in an order fixed by the
 * member (lane l of a SIMD member sums the columns j = l mod lanes, rows ascending, then the
 * lanes are added in a fixed tree; the scalar twin does the same with 8 lanes), so a driver that
 * walks the tiles in a fixed order gets the same bits from any thread. */
/* The in-place twin of each member (its fn3), which reads the input planes without a copy:
 *
 *   y[i * y_stride + j] = act(bias + sum_{r < R, s < S} w[r * S + s]
 *                                    * X(x_rows[i * row_step + r * tap_step],
 *                                        j * stride_w + tap_col[s]))
 *   X(row, c) = row[c] for 0 <= c < x_w, else 0 (the left and right padding)
 *
 * summed in the same order as fn, the padding's products included, so the two give the same
 * bits (fused as fn's, FC_SKIP_ZERO_TAPS included: conv2d calls fn3 without it).  x_rows: one pointer per input row the tile reads (the driver points the rows of the
 * top and bottom padding at a row of x_w zeros); row_step and tap_step are fn's row_stride and
 * tap_row_stride counted in pointers.  tap_col[s] may be negative (pad_left).  stride_w is 1
 * or 2.  Only columns [0, x_w) of a row are read. */
#ifndef FC_KERNELS_DWCONV_H
#define FC_KERNELS_DWCONV_H

#include <stddef.h>

#include "kernels/fused.h"

#define FC_DECLARE_DWCONV_UKERNEL(fn, real)                                                  \
    void fn(size_t rows, size_t cols, size_t r, size_t s, const real *x, size_t row_stride,  \
            size_t tap_row_stride, const size_t *tap_col, const real *w, real bias,          \
            unsigned fused, real *y, size_t y_stride)

#define FC_DECLARE_DWCONV_DIRECT_UKERNEL(fn, real)                                           \
    void fn(size_t rows, size_t cols, size_t r, size_t s, const real *const *x_rows,         \
            size_t row_step, size_t tap_step, size_t x_w, size_t stride_w,                   \
            const ptrdiff_t *tap_col, const real *w, real bias, unsigned fused, real *y,     \
            size_t y_stride)

#define FC_DECLARE_DWCONV_GW_UKERNEL(fn, real)                                               \
    void fn(size_t rows, size_t cols, size_t r, size_t s, const real *x, size_t row_stride,  \
            size_t tap_row_stride, const size_t *tap_col, const real *g, size_t g_stride,    \
            real *gw, real *gb)

typedef FC_DECLARE_DWCONV_UKERNEL((*fc_f32_dwconv_ukernel_fn), float);
typedef FC_DECLARE_DWCONV_UKERNEL((*fc_f64_dwconv_ukernel_fn), double);

FC_DECLARE_DWCONV_UKERNEL(fc_f32_dwconv_ukernel__scalar, float);
FC_DECLARE_DWCONV_UKERNEL(fc_f64_dwconv_ukernel__scalar, double);
FC_DECLARE_DWCONV_UKERNEL(fc_f32_dwconv_ukernel_2x24__avx2, float);
FC_DECLARE_DWCONV_UKERNEL(fc_f32_dwconv_ukernel_2x64__avx512, float);
FC_DECLARE_DWCONV_UKERNEL(fc_f32_dwconv_ukernel_2x16__neon, float);

typedef FC_DECLARE_DWCONV_DIRECT_UKERNEL((*fc_f32_dwconv_direct_ukernel_fn), float);
typedef FC_DECLARE_DWCONV_DIRECT_UKERNEL((*fc_f64_dwconv_direct_ukernel_fn), double);

FC_DECLARE_DWCONV_DIRECT_UKERNEL(fc_f32_dwconv_direct_ukernel__scalar, float);
FC_DECLARE_DWCONV_DIRECT_UKERNEL(fc_f64_dwconv_direct_ukernel__scalar, double);
FC_DECLARE_DWCONV_DIRECT_UKERNEL(fc_f32_dwconv_direct_ukernel_2x24__avx2, float);
FC_DECLARE_DWCONV_DIRECT_UKERNEL(fc_f32_dwconv_direct_ukernel_2x64__avx512, float);
FC_DECLARE_DWCONV_DIRECT_UKERNEL(fc_f32_dwconv_direct_ukernel_2x16__neon, float);

typedef FC_DECLARE_DWCONV_GW_UKERNEL((*fc_f32_dwconv_gw_ukernel_fn), float);
typedef FC_DECLARE_DWCONV_GW_UKERNEL((*fc_f64_dwconv_gw_ukernel_fn), double);

FC_DECLARE_DWCONV_GW_UKERNEL(fc_f32_dwconv_gw_ukernel__scalar, float);
FC_DECLARE_DWCONV_GW_UKERNEL(fc_f64_dwconv_gw_ukernel__scalar, double);
FC_DECLARE_DWCONV_GW_UKERNEL(fc_f32_dwconv_gw_ukernel_1x8__avx2, float);
FC_DECLARE_DWCONV_GW_UKERNEL(fc_f32_dwconv_gw_ukernel_1x16__avx512, float);
FC_DECLARE_DWCONV_GW_UKERNEL(fc_f32_dwconv_gw_ukernel_1x4__neon, float);

#endif

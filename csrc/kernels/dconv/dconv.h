/* Direct-convolution microkernels: one output row of a block of KB output channels, summed
 * over the whole reduction (c, r, s) with the accumulators held in registers, and the epilogue
 * (bias, and the activation when `fused` says so) fused, so y is written once:
 *
 *   y[i * y_stride + j] = act(bias[i] + sum_{c < channels, r < R, s < S}
 *                              w[((c * R + r) * S + s) * KB + i] * x[(c * R + r) * x_stride
 *                                                                    + tap_col[s] + j])
 *   for i < rows (<= KB) and j < cols, summed in the order bias, c, r, s ascending (the
 *   reference's, so the result does not depend on the tiling or the thread count).
 *
 * x: the driver's padded-row buffer (ops/conv2d_common.tmpl.h): row c * R + r is the input row
 * of channel c that filter row r reads, padding already zero; tap_col[s] is tap s's column
 * offset in it.  w: the block's packed weights, KB per reduction step, zero past the last real
 * filter.  bias: KB values (zeros when the convolution has none).  fused: kernels/fused.h flags
 * (FC_FUSED_RELU: FC_RELU at the store; the driver applies any other epilogue after).
 * Only rows < `rows` of y are written.
 */
#ifndef FC_KERNELS_DCONV_H
#define FC_KERNELS_DCONV_H

#include <stddef.h>

#include "kernels/fused.h"

#define FC_DECLARE_DCONV_UKERNEL(fn, real)                                                    \
    void fn(size_t rows, size_t cols, size_t channels, size_t r, size_t s, const real *x,     \
            size_t x_stride, const size_t *tap_col, const real *w, const real *bias,            \
            unsigned fused, real *y, size_t y_stride)

typedef FC_DECLARE_DCONV_UKERNEL((*fc_f32_dconv_ukernel_fn), float);
typedef FC_DECLARE_DCONV_UKERNEL((*fc_f64_dconv_ukernel_fn), double);

FC_DECLARE_DCONV_UKERNEL(fc_f32_dconv_ukernel_4__scalar, float);
FC_DECLARE_DCONV_UKERNEL(fc_f64_dconv_ukernel_4__scalar, double);
FC_DECLARE_DCONV_UKERNEL(fc_f32_dconv_ukernel_4x24__avx2, float);
FC_DECLARE_DCONV_UKERNEL(fc_f32_dconv_ukernel_8x32__avx512, float);
FC_DECLARE_DCONV_UKERNEL(fc_f32_dconv_ukernel_8x12__neon, float);

#endif

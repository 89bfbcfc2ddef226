/* Window geometry of convolution and pooling, written once: output sizes, the valid range of
 * a window (which outputs or taps read inside the input), and torch's average-pool divisor.
 * Every driver, reference and kernel helper takes these from here, and Python asks for the
 * output sizes through fastconv._ext (conv2d_geometry, pool2d_geometry).  The formulas are the
 * ones fastconv.h states:
 *
 *   output size, one axis (fc_window_count; fc_conv2d_output_size, fc_pool2d_output_size):
 *     out = floor_or_ceil((size + pad_before + pad_after - dilation * (kernel - 1) - 1)
 *                         / stride) + 1
 *     floor for convolution; with pooling's ceil_mode, ceil, and then PyTorch's rule: the last
 *     window must start inside the input or its leading padding, never wholly in the trailing
 *     padding: if (out - 1) * stride >= size + pad_before then out -= 1.
 *
 *   valid range (fc_valid_range): the outputs o in [0, count) whose position o * stride +
 *     offset lies in [0, size).  Three readings of it:
 *     - one tap of a convolution: offset = tap * dilation - pad_before, size = the input;
 *     - the interior of a window: offset = -pad_before, size = input - dilation * (kernel - 1):
 *       the outputs whose whole window lies inside the input (no tap in the padding);
 *     - the taps of one window that lie inside: "outputs" are the taps j in [0, kernel),
 *       stride = dilation, offset = the window's first position.
 *
 *   average pooling's divisor (fc_avg_pool_window, fc_avg_pool_divisor), as PyTorch:
 *     along each axis the window [o * stride - pad, o * stride - pad + kernel) is clipped to
 *     the padded input [-pad, size + pad) (with ceil_mode the last window may overhang it) and
 *     to the input [0, size); the divisor is the product over both axes of the first clip's
 *     length when count_include_pad, of the second's otherwise; a nonzero divisor_override
 *     replaces that count for every window (torch's avg_pool2d(divisor_override=)).
 */
#ifndef FC_GEOMETRY_H
#define FC_GEOMETRY_H

#include <stdint.h>

#include "fastconv.h"
#include "common/internal.h"

/* Output size along one axis (the formula above): FC_ERR_SIZE_OVERFLOW when a sum or product
 * passes int64, FC_ERR_INVALID_ARGUMENT when no window fits (out < 1).  The callers have
 * checked size, kernel, stride, dilation >= 1 and the pads >= 0; ceil_mode is pooling's. */
fc_status fc_window_count(int64_t size, int64_t pad_before, int64_t pad_after, int64_t kernel,
                          int64_t stride, int64_t dilation, int ceil_mode, int64_t *out);

/* The outputs o in [0, count) whose position o * stride + offset lies in [0, size): o in
 * [*lo, *hi), *lo <= *hi (empty when equal).  stride >= 1, count >= 0; every offset the
 * drivers pass and size - 1 - offset fit in int64 (offset >= -pad >= -2**62).  Inline: the
 * pooling kernels call it for each output column at the row's edges, where a unit stride (the
 * taps of an undilated window) takes no division. */
static inline void fc_valid_range(int64_t offset, int64_t stride, int64_t size, int64_t count,
                                  int64_t *lo, int64_t *hi)
{
    const int64_t last = size - 1 - offset; /* o * stride <= last */
    int64_t first, end;
    if (stride == 1) {
        first = offset < 0 ? -offset : 0;
        end = last < 0 ? 0 : last + 1;
    } else {
        first = offset < 0 ? fc_ceil_div(-offset, stride) : 0;
        end = last < 0 ? 0 : last / stride + 1;
    }
    *lo = first < count ? first : count;
    *hi = end < count ? end : count;
    if (*hi < *lo) *hi = *lo;
}

/* The outputs [*lo, *hi) in [0, count) whose whole window (kernel taps, dilation apart, the
 * first at o * stride - pad_before) lies inside an input of `size`: the interior. */
static inline void fc_window_interior(int64_t size, int64_t pad_before, int64_t kernel,
                                      int64_t stride, int64_t dilation, int64_t count,
                                      int64_t *lo, int64_t *hi)
{
    fc_valid_range(-pad_before, stride, size - (kernel - 1) * dilation, count, lo, hi);
}

/* Average pooling's window of output o along one axis (dilation 1): the input positions
 * [*lo, *hi) inside the input, and *padded, its length clipped to the padded input. */
static inline void fc_avg_pool_window(int64_t o, int64_t stride, int64_t pad, int64_t kernel,
                                      int64_t size, int64_t *lo, int64_t *hi, int64_t *padded)
{
    const int64_t start = o * stride - pad;
    const int64_t stop = fc_min_i64(start + kernel, size + pad);
    *padded = stop - start;
    *lo = fc_max_i64(start, 0);
    *hi = fc_min_i64(stop, size);
}

/* Which divisor an average pooling uses: the two flags of fc_pool2d_params, carried together
 * from the driver to the kernels (which never see the params). */
typedef struct fc_avg_pool_rule {
    int count_include_pad;
    int64_t divisor_override; /* 0: none */
} fc_avg_pool_rule;

static inline fc_avg_pool_rule fc_avg_pool_rule_of(const fc_pool2d_params *p)
{
    fc_avg_pool_rule rule = {p->count_include_pad, p->divisor_override};
    return rule;
}

/* PyTorch's divisor of an average-pool window of rows x cols positions inside the input and
 * padded_rows x padded_cols inside the padded input. */
static inline int64_t fc_avg_pool_divisor(fc_avg_pool_rule rule, int64_t rows, int64_t cols,
                                          int64_t padded_rows, int64_t padded_cols)
{
    if (rule.divisor_override) return rule.divisor_override;
    return rule.count_include_pad ? padded_rows * padded_cols : rows * cols;
}

/* The divisor of output (oh, ow) of the average pooling p (the references' form). */
static inline int64_t fc_avg_pool_divisor_at(const fc_pool2d_params *p, int64_t oh, int64_t ow)
{
    int64_t h0, h1, padded_h, w0, w1, padded_w;
    fc_avg_pool_window(oh, p->stride_h, p->pad_h, p->kernel_h, p->h, &h0, &h1, &padded_h);
    fc_avg_pool_window(ow, p->stride_w, p->pad_w, p->kernel_w, p->w, &w0, &w1, &padded_w);
    return fc_avg_pool_divisor(fc_avg_pool_rule_of(p), h1 - h0, w1 - w0, padded_h, padded_w);
}

/* Adaptive average pooling's window of output i along one axis, as torch: input positions
 * [floor(i * size / out), ceil((i + 1) * size / out)), never empty for 0 <= i < out, size >= 1.
 * The products go through 128 bits: size * out may pass int64 when both are large. */
static inline void fc_adaptive_window(int64_t i, int64_t size, int64_t out, int64_t *lo,
                                      int64_t *hi)
{
    *lo = (int64_t)(((__int128)i * size) / out);
    *hi = (int64_t)(((__int128)(i + 1) * size + out - 1) / out);
}

#endif /* FC_GEOMETRY_H */

/* Reference adaptive average pooling: the ground truth for csrc/ops/adaptive_pool2d.c, one
 * output element at a time over the flat (N, C, P, Q) index, the window from the geometry's
 * fc_adaptive_window, summed row by row, left to right. */
#include "common/geometry.h"
#include "common/internal.h"

#define FC_REF_ADAPTIVE(T, SUFFIX)                                                             \
    static void adaptive_forward_##SUFFIX(int64_t planes, int64_t h, int64_t w, int64_t ph,   \
                                          int64_t pw, const T *x, T *y)                       \
    {                                                                                          \
        for (int64_t o = 0; o < planes * ph * pw; o++) {                                       \
            const int64_t plane = o / (ph * pw), oh = o / pw % ph, ow = o % pw;                \
            int64_t h0, h1, w0, w1;                                                            \
            fc_adaptive_window(oh, h, ph, &h0, &h1);                                           \
            fc_adaptive_window(ow, w, pw, &w0, &w1);                                           \
            T sum = 0;                                                                         \
            for (int64_t ih = h0; ih < h1; ih++)                                               \
                for (int64_t iw = w0; iw < w1; iw++) sum += x[(plane * h + ih) * w + iw];      \
            y[o] = sum / (T)((h1 - h0) * (w1 - w0));                                           \
        }                                                                                      \
    }                                                                                          \
    static void adaptive_backward_##SUFFIX(int64_t planes, int64_t h, int64_t w, int64_t ph,  \
                                           int64_t pw, const T *g, T *gx)                     \
    {                                                                                          \
        for (int64_t i = 0; i < planes * h * w; i++) gx[i] = 0;                                \
        for (int64_t o = 0; o < planes * ph * pw; o++) {                                       \
            const int64_t plane = o / (ph * pw), oh = o / pw % ph, ow = o % pw;                \
            int64_t h0, h1, w0, w1;                                                            \
            fc_adaptive_window(oh, h, ph, &h0, &h1);                                           \
            fc_adaptive_window(ow, w, pw, &w0, &w1);                                           \
            const T share = g[o] / (T)((h1 - h0) * (w1 - w0));                                 \
            for (int64_t ih = h0; ih < h1; ih++)                                               \
                for (int64_t iw = w0; iw < w1; iw++) gx[(plane * h + ih) * w + iw] += share;   \
        }                                                                                      \
    }
FC_REF_ADAPTIVE(float, f32)
FC_REF_ADAPTIVE(double, f64)
#undef FC_REF_ADAPTIVE

static int bad(int64_t n, int64_t c, int64_t h, int64_t w, int64_t ph, int64_t pw)
{
    return n < 0 || c < 0 || h < 1 || w < 1 || ph < 1 || pw < 1;
}

fc_status fc_ref_adaptive_avg_pool2d_forward(int64_t n, int64_t c, int64_t h, int64_t w,
                                             int64_t out_h, int64_t out_w, fc_dtype dtype,
                                             const void *x, void *y)
{
    if (bad(n, c, h, w, out_h, out_w)) return FC_ERR_INVALID_ARGUMENT;
    if (dtype == FC_FLOAT32) adaptive_forward_f32(n * c, h, w, out_h, out_w, x, y);
    else if (dtype == FC_FLOAT64) adaptive_forward_f64(n * c, h, w, out_h, out_w, x, y);
    else return FC_ERR_INVALID_ARGUMENT;
    return FC_OK;
}

fc_status fc_ref_adaptive_avg_pool2d_backward(int64_t n, int64_t c, int64_t h, int64_t w,
                                              int64_t out_h, int64_t out_w, fc_dtype dtype,
                                              const void *grad_output, void *grad_input)
{
    if (bad(n, c, h, w, out_h, out_w)) return FC_ERR_INVALID_ARGUMENT;
    if (dtype == FC_FLOAT32)
        adaptive_backward_f32(n * c, h, w, out_h, out_w, grad_output, grad_input);
    else if (dtype == FC_FLOAT64)
        adaptive_backward_f64(n * c, h, w, out_h, out_w, grad_output, grad_input);
    else return FC_ERR_INVALID_ARGUMENT;
    return FC_OK;
}

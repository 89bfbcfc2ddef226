/* Reference batch normalisation: the ground truth for csrc/ops/batch_norm.c, channel by
 * channel, each sum one double accumulator over the (n, i) elements in order, every element's
 * formula in double and rounded once. */
#include <math.h>

#include "common/internal.h"

#define FC_REF_BN(T, SUFFIX)                                                                   \
    static void bn_forward_##SUFFIX(const fc_batch_norm_params *p, const T *x, const T *w,     \
                                    const T *b, T *rm, T *rv, T *y, T *save_mean,              \
                                    T *save_invstd)                                            \
    {                                                                                          \
        const int64_t n = p->n, c = p->c, hw = p->hw, count = n * hw;                          \
        for (int64_t ch = 0; ch < c; ch++) {                                                   \
            double mean, invstd;                                                               \
            if (p->training) {                                                                 \
                double sum = 0, sq = 0;                                                        \
                for (int64_t r = 0; r < n; r++)                                                \
                    for (int64_t i = 0; i < hw; i++) sum += x[(r * c + ch) * hw + i];          \
                mean = sum / (double)count;                                                    \
                const double m = (double)(T)mean;                                              \
                for (int64_t r = 0; r < n; r++)                                                \
                    for (int64_t i = 0; i < hw; i++) {                                         \
                        const double d = x[(r * c + ch) * hw + i] - m;                         \
                        sq += d * d;                                                           \
                    }                                                                          \
                const double var = sq / (double)count;                                         \
                invstd = 1.0 / sqrt(var + p->eps);                                             \
                if (rm) {                                                                      \
                    rm[ch] = (T)((1 - p->momentum) * rm[ch] + p->momentum * mean);             \
                    rv[ch] = (T)((1 - p->momentum) * rv[ch] +                                  \
                                 p->momentum * var * (double)count / (double)(count - 1));     \
                }                                                                              \
            } else {                                                                           \
                mean = rm[ch];                                                                 \
                invstd = 1.0 / sqrt((double)rv[ch] + p->eps);                                  \
            }                                                                                  \
            const double m = (double)(T)mean;                                                  \
            if (save_mean) save_mean[ch] = (T)mean;                                            \
            if (save_invstd) save_invstd[ch] = (T)invstd;                                      \
            for (int64_t r = 0; r < n; r++)                                                    \
                for (int64_t i = 0; i < hw; i++) {                                             \
                    const int64_t at = (r * c + ch) * hw + i;                                  \
                    y[at] = (T)((x[at] - m) * invstd * (w ? w[ch] : 1.0) + (b ? b[ch] : 0.0)); \
                }                                                                              \
        }                                                                                      \
    }                                                                                          \
    static void bn_backward_##SUFFIX(const fc_batch_norm_params *p, const T *g, const T *x,    \
                                     const T *w, const T *mean, const T *invstd, T *gx, T *gw, \
                                     T *gb)                                                    \
    {                                                                                          \
        const int64_t n = p->n, c = p->c, hw = p->hw, count = n * hw;                          \
        for (int64_t ch = 0; ch < c; ch++) {                                                   \
            const double m = mean[ch], s = invstd[ch], wc = w ? w[ch] : 1.0;                   \
            double sum_g = 0, sum_gx = 0;                                                      \
            for (int64_t r = 0; r < n; r++)                                                    \
                for (int64_t i = 0; i < hw; i++) {                                             \
                    const int64_t at = (r * c + ch) * hw + i;                                  \
                    sum_g += g[at];                                                            \
                    sum_gx += g[at] * (x[at] - m);                                             \
                }                                                                              \
            if (gw) gw[ch] = (T)(sum_gx * s);                                                  \
            if (gb) gb[ch] = (T)sum_g;                                                         \
            if (!gx) continue;                                                                 \
            for (int64_t r = 0; r < n; r++)                                                    \
                for (int64_t i = 0; i < hw; i++) {                                             \
                    const int64_t at = (r * c + ch) * hw + i;                                  \
                    double v = g[at];                                                          \
                    if (p->training)                                                           \
                        v -= (sum_g + (x[at] - m) * s * s * sum_gx) / (double)count;           \
                    gx[at] = (T)(v * s * wc);                                                  \
                }                                                                              \
        }                                                                                      \
    }
FC_REF_BN(float, f32)
FC_REF_BN(double, f64)
#undef FC_REF_BN

fc_status fc_ref_batch_norm_forward(const fc_batch_norm_params *p, fc_dtype dtype,
                                    const void *x, const void *weight, const void *bias,
                                    void *running_mean, void *running_var, void *y,
                                    void *save_mean, void *save_invstd)
{
    const fc_status status = fc_batch_norm_check(p, dtype, 0, running_mean, running_var);
    if (status != FC_OK) return status;
    if (dtype == FC_FLOAT32)
        bn_forward_f32(p, x, weight, bias, running_mean, running_var, y, save_mean, save_invstd);
    else
        bn_forward_f64(p, x, weight, bias, running_mean, running_var, y, save_mean, save_invstd);
    return FC_OK;
}

fc_status fc_ref_batch_norm_backward(const fc_batch_norm_params *p, fc_dtype dtype,
                                     const void *grad_output, const void *x, const void *weight,
                                     const void *mean, const void *invstd, void *grad_input,
                                     void *grad_weight, void *grad_bias)
{
    const fc_status status = fc_batch_norm_check(p, dtype, 1, mean, invstd);
    if (status != FC_OK) return status;
    if (dtype == FC_FLOAT32)
        bn_backward_f32(p, grad_output, x, weight, mean, invstd, grad_input, grad_weight,
                        grad_bias);
    else
        bn_backward_f64(p, grad_output, x, weight, mean, invstd, grad_input, grad_weight,
                        grad_bias);
    return FC_OK;
}

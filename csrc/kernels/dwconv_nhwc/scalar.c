#include "kernels/dwconv_nhwc/dwconv_nhwc.h"

/* y is the accumulator: per pixel and tap an axpy the compiler can vectorise (multiply, then
 * add) */
#define FC_DWCONV_NHWC_SCALAR(name, real)                                                     \
    FC_DECLARE_DWCONV_NHWC_UKERNEL(name, real)                                                \
    {                                                                                         \
        for (size_t j = 0; j < rows; j++)                                                     \
            for (size_t p = 0; p < pixels; p++) {                                             \
                real *yp = y + j * y_row_step + p * y_step;                                   \
                for (size_t c = 0; c < channels; c++) yp[c] = bias ? bias[c] : (real)0;       \
                for (size_t t = 0; t < taps; t++) {                                           \
                    const size_t jt = j * taps + t;                                           \
                    const real *x = x_ptrs[jt] + p * x_steps[jt], *wt = w + t * ld_w;         \
                    for (size_t c = 0; c < channels; c++) yp[c] += wt[c] * x[c];              \
                }                                                                             \
            }                                                                                 \
    }
FC_DWCONV_NHWC_SCALAR(fc_f32_dwconv_nhwc_ukernel__scalar, float)
FC_DWCONV_NHWC_SCALAR(fc_f64_dwconv_nhwc_ukernel__scalar, double)

/* the weight gradient: per tap an axpy over the run's pixels, multiply then add */
#define FC_DWCONV_NHWC_GW_SCALAR(name, real)                                                  \
    FC_DECLARE_DWCONV_NHWC_GW_UKERNEL(name, real)                                             \
    {                                                                                         \
        for (size_t t = 0; t < taps; t++)                                                     \
            for (size_t p = 0; p < pixels; p++) {                                             \
                const real *x = x_ptrs[t] + p * x_step, *gp = g + p * g_step;                 \
                for (size_t c = 0; c < channels; c++) acc[t][c] += gp[c] * x[c];              \
            }                                                                                 \
    }
FC_DWCONV_NHWC_GW_SCALAR(fc_f32_dwconv_nhwc_gw_ukernel__scalar, float)
FC_DWCONV_NHWC_GW_SCALAR(fc_f64_dwconv_nhwc_gw_ukernel__scalar, double)

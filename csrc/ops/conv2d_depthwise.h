/* The depthwise backward (ops/conv2d_depthwise.tmpl.h, compiled in conv2d.c beside its
 * forward), for conv2d_backward.c: which gradients it takes, and the pass itself; and the
 * NHWC depthwise weights (ops/conv2d_nhwc.tmpl.h), for the NHWC depthwise backward. */
#ifndef FC_OPS_CONV2D_DEPTHWISE_H
#define FC_OPS_CONV2D_DEPTHWISE_H

#include "fastconv.h"

/* the NHWC depthwise kernel's tap list lives on the stack (ops/conv2d_nhwc.tmpl.h,
 * ops/conv2d_backward_nhwc.tmpl.h): filters up to 8 x 8 (larger ones take the GEMM) */
#define FC_DW_NHWC_STACK_TAPS 64

#define FC_DECLARE_DEPTHWISE_BACKWARD(tag, real)                                              \
    int fc_##tag##_conv2d_depthwise_grad_input_geometry(                                      \
        const fc_conv2d_params *p, int64_t out_h, int64_t out_w, fc_conv2d_params *q);        \
    int fc_##tag##_conv2d_depthwise_grad_weight_applies(const fc_conv2d_params *p,            \
                                                        int64_t out_w);                       \
    fc_status fc_##tag##_conv2d_depthwise_backward(                                           \
        const fc_conv2d_params *p, int64_t out_h, int64_t out_w, const real *g, const real *x, \
        const real *weight, real *gx, real *gw, real *gb);                                    \
    fc_status fc_##tag##_dw_nhwc_weights(const fc_conv2d_params *p, const real *weight,       \
                                         real **wt);
FC_DECLARE_DEPTHWISE_BACKWARD(f32, float)
FC_DECLARE_DEPTHWISE_BACKWARD(f64, double)
#undef FC_DECLARE_DEPTHWISE_BACKWARD

#endif

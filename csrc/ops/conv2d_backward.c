/* conv2d backward: validation, the empty cases, and the typed drivers of
 * conv2d_backward.tmpl.h, on the GEMM frame (ops/gemm_frame.tmpl.h). */
#include <string.h>

#include "common/epilogue.h"
#include "common/geometry.h"
#include "common/internal.h"
#include "common/parallel.h"
#include "dispatch.h"
#include "ops/conv2d_depthwise.h"

/* a + b for non-negative a, b, saturating at INT64_MAX (with fc_mul_saturating: sizes that
 * are only compared against a limit) */
static inline int64_t fc_add_saturating(int64_t a, int64_t b)
{
    int64_t sum;
    return fc_add_overflows(a, b, &sum) ? INT64_MAX : sum;
}

#include "simd/dtype_f32.h"
#include "ops/gemm_frame.tmpl.h"
#include "ops/finite.tmpl.h"
#include "ops/conv2d_backward.tmpl.h"
#include "ops/conv2d_backward_nhwc.tmpl.h"
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#include "ops/gemm_frame.tmpl.h"
#include "ops/finite.tmpl.h"
#include "ops/conv2d_backward.tmpl.h"
#include "ops/conv2d_backward_nhwc.tmpl.h"
#include "simd/dtype_end.h"

/* Which of the asked gradients the depthwise pass takes (the shapes decide, nothing else, so
 * the same sums run whatever the threads or the workspace limit). */
static void depthwise_share(const fc_conv2d_params *p, int64_t out_h, int64_t out_w, int gx,
                            int gw, int *dw_gx, int *dw_gw)
{
    fc_conv2d_params q;
    *dw_gx = gx && fc_f32_conv2d_depthwise_grad_input_geometry(p, out_h, out_w, &q);
    *dw_gw = gw && fc_f32_conv2d_depthwise_grad_weight_applies(p, out_w);
}

/* No term at all (no image or no filter): every requested gradient is zero (and some are
 * empty), in either layout. */
static fc_status zero_gradients(const fc_conv2d_params *p, fc_dtype dtype, void *grad_input,
                                void *grad_weight, void *grad_bias)
{
    const size_t size = dtype == FC_FLOAT32 ? sizeof(float) : sizeof(double);
    if (grad_input) memset(grad_input, 0, (size_t)(p->n * p->c * p->h * p->w) * size);
    if (grad_weight)
        memset(grad_weight, 0, (size_t)(p->k * (p->c / p->groups) * p->r * p->s) * size);
    if (grad_bias) memset(grad_bias, 0, (size_t)p->k * size);
    return FC_OK;
}

fc_status fc_conv2d_backward(const fc_conv2d_params *p, fc_dtype dtype, const void *grad_output,
                             const void *x, const void *weight, void *grad_input,
                             void *grad_weight, void *grad_bias,
                             fc_conv_algorithm grad_input_algorithm)
{
    int64_t out_h, out_w;
    FC_RETURN_IF_ERROR(fc_validate_conv2d_backward(p, dtype, grad_output, x, weight, grad_input,
                                                   grad_weight, grad_bias, &out_h, &out_w));
    int winograd;
    FC_RETURN_IF_ERROR(fc_conv2d_backward_input_uses_winograd(p, dtype, grad_input_algorithm,
                                                              out_h, out_w, &winograd));
    if (p->n == 0 || p->k == 0)
        return zero_gradients(p, dtype, grad_input, grad_weight, grad_bias);
    if (grad_input && winograd) { /* its own region; the GEMM passes the other gradients */
        FC_RETURN_IF_ERROR(fc_f32_conv2d_backward_input_winograd(p, out_h, out_w, grad_output,
                                                                 weight, grad_input));
        if (!grad_weight && !grad_bias) return FC_OK;
        grad_input = NULL;
    }
    /* groups == C: the depthwise pass (ops/conv2d_depthwise.tmpl.h) takes the gradients it
     * can, the GEMM frame the rest (grad_input with a channel multiplier) */
    int dw_gx, dw_gw;
    depthwise_share(p, out_h, out_w, grad_input != NULL, grad_weight != NULL, &dw_gx, &dw_gw);
    if (dw_gx || dw_gw)
        FC_RETURN_IF_ERROR(
            dtype == FC_FLOAT32
                ? fc_f32_conv2d_depthwise_backward(p, out_h, out_w, grad_output, x, weight,
                                                   dw_gx ? grad_input : NULL,
                                                   dw_gw ? grad_weight : NULL,
                                                   dw_gw ? grad_bias : NULL)
                : fc_f64_conv2d_depthwise_backward(p, out_h, out_w, grad_output, x, weight,
                                                   dw_gx ? grad_input : NULL,
                                                   dw_gw ? grad_weight : NULL,
                                                   dw_gw ? grad_bias : NULL));
    if (dw_gx) grad_input = NULL;
    if (dw_gw) grad_weight = grad_bias = NULL;
    if (!grad_input && !grad_weight && !grad_bias) return FC_OK;
    if (dtype == FC_FLOAT32)
        return fc_f32_conv2d_backward(p, out_h, out_w, grad_output, x, weight, grad_input,
                                      grad_weight, grad_bias);
    return fc_f64_conv2d_backward(p, out_h, out_w, grad_output, x, weight, grad_input,
                                  grad_weight, grad_bias);
}

fc_status fc_conv2d_backward_min_workspace(const fc_conv2d_params *p, fc_dtype dtype,
                                           int grad_input, int grad_weight, int grad_bias,
                                           fc_conv_algorithm grad_input_algorithm,
                                           int64_t *bytes)
{
    int64_t out_h, out_w;
    FC_RETURN_IF_ERROR(fc_validate_conv2d(p, &out_h, &out_w));
    if (dtype != FC_FLOAT32 && dtype != FC_FLOAT64) return FC_ERR_INVALID_ARGUMENT;
    int winograd;
    FC_RETURN_IF_ERROR(fc_conv2d_backward_input_uses_winograd(p, dtype, grad_input_algorithm,
                                                              out_h, out_w, &winograd));
    *bytes = 0;
    if (p->n == 0 || p->k == 0) return FC_OK; /* no workspace at all */
    int64_t wino = 0;
    if (grad_input && winograd) {
        wino = fc_f32_conv2d_backward_input_winograd_min_workspace(p, out_h, out_w);
        grad_input = 0;
        if (!grad_weight && !grad_bias) {
            *bytes = wino;
            return FC_OK;
        }
    }
    int dw_gx, dw_gw; /* the depthwise pass's buffers are not the GEMM frame's workspace */
    depthwise_share(p, out_h, out_w, grad_input, grad_weight, &dw_gx, &dw_gw);
    grad_input &= !dw_gx;
    grad_weight &= !dw_gw;
    grad_bias &= !dw_gw;
    if (!grad_input && !grad_weight && !grad_bias) {
        *bytes = wino;
        return FC_OK;
    }
    *bytes = dtype == FC_FLOAT32
                 ? fc_f32_conv2d_backward_min_workspace(p, out_h, out_w, grad_input, grad_weight,
                                                        grad_bias)
                 : fc_f64_conv2d_backward_min_workspace(p, out_h, out_w, grad_input, grad_weight,
                                                        grad_bias);
    *bytes = fc_max_i64(*bytes, wino);
    return FC_OK;
}

/* ---- channels last (ops/conv2d_backward_nhwc.tmpl.h) ---- */
static int weights_finite(fc_dtype dtype, const void *weight, int64_t count)
{
    int ok = 1;
    for (int64_t i = 0; i < count; i++)
        ok &= dtype == FC_FLOAT32 ? ((const float *)weight)[i] - ((const float *)weight)[i] == 0
                                  : ((const double *)weight)[i] - ((const double *)weight)[i] == 0;
    return ok;
}

fc_status fc_conv2d_backward_nhwc(const fc_conv2d_params *p, fc_dtype dtype,
                                  const void *grad_output, const void *x, const void *weight,
                                  void *grad_input, void *grad_weight, void *grad_bias)
{
    int64_t out_h, out_w;
    FC_RETURN_IF_ERROR(fc_validate_conv2d_backward(p, dtype, grad_output, x, weight, grad_input,
                                                   grad_weight, grad_bias, &out_h, &out_w));
    if (p->n == 0 || p->k == 0)
        return zero_gradients(p, dtype, grad_input, grad_weight, grad_bias);
    if (!grad_input && !grad_weight && !grad_bias) return FC_OK;
    if (p->groups == p->c && p->k == p->c && p->r * p->s <= FC_DW_NHWC_STACK_TAPS) {
        /* depthwise: its own pass, but grad_input where a weight is not finite (a tap without
         * a term would add 0 * inf) */
        const int finite = !grad_input || weights_finite(dtype, weight, p->k * p->r * p->s);
        FC_RETURN_IF_ERROR(
            dtype == FC_FLOAT32
                ? fc_f32_conv2d_backward_dw_nhwc(p, out_h, out_w, grad_output, x, weight,
                                                 finite ? grad_input : NULL, grad_weight,
                                                 grad_bias)
                : fc_f64_conv2d_backward_dw_nhwc(p, out_h, out_w, grad_output, x, weight,
                                                 finite ? grad_input : NULL, grad_weight,
                                                 grad_bias));
        if (finite) return FC_OK;
        grad_weight = grad_bias = NULL;
    }
    if (dtype == FC_FLOAT32)
        return fc_f32_conv2d_backward_nhwc(p, out_h, out_w, grad_output, x, weight, grad_input,
                                           grad_weight, grad_bias);
    return fc_f64_conv2d_backward_nhwc(p, out_h, out_w, grad_output, x, weight, grad_input,
                                       grad_weight, grad_bias);
}

fc_status fc_conv2d_backward_nhwc_min_workspace(const fc_conv2d_params *p, fc_dtype dtype,
                                                int grad_input, int grad_weight, int grad_bias,
                                                int64_t *bytes)
{
    int64_t out_h, out_w;
    FC_RETURN_IF_ERROR(fc_validate_conv2d(p, &out_h, &out_w));
    if (dtype != FC_FLOAT32 && dtype != FC_FLOAT64) return FC_ERR_INVALID_ARGUMENT;
    *bytes = 0;
    if (p->n == 0 || p->k == 0 || !(grad_input || grad_weight || grad_bias)) return FC_OK;
    int threads;
    if (dtype == FC_FLOAT32) {
        fc_f32_bw_nhwc_job job;
        (void)fc_f32_bw_nhwc_setup(p, out_h, out_w, grad_input, grad_weight, grad_bias, &job,
                                   &threads, bytes);
    } else {
        fc_f64_bw_nhwc_job job;
        (void)fc_f64_bw_nhwc_setup(p, out_h, out_w, grad_input, grad_weight, grad_bias, &job,
                                   &threads, bytes);
    }
    return FC_OK;
}

void fc_conv2d_grad_bias(fc_dtype dtype, int64_t n, int64_t k, int64_t pixels,
                         const void *grad_output, void *grad_bias, int64_t k_begin, int64_t k_end)
{
    if (dtype == FC_FLOAT32)
        fc_f32_conv_grad_bias(n, k, pixels, grad_output, grad_bias, k_begin, k_end);
    else
        fc_f64_conv_grad_bias(n, k, pixels, grad_output, grad_bias, k_begin, k_end);
}

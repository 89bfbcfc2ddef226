/* conv2d forward: validation, algorithm choice, and the typed drivers (conv2d_*.tmpl.h). */
#include <string.h>

#include "common/internal.h"
#include "common/relu.h"
#include "dispatch.h"

#include "common/dtype_f32.h"
#include "ops/conv2d_common.tmpl.h"
#include "ops/conv2d_im2col.tmpl.h"
#include "ops/conv2d_direct.tmpl.h"
#include "ops/conv2d_depthwise.tmpl.h"
#include "common/dtype_end.h"

#include "common/dtype_f64.h"
#include "ops/conv2d_common.tmpl.h"
#include "ops/conv2d_im2col.tmpl.h"
#include "ops/conv2d_direct.tmpl.h"
#include "ops/conv2d_depthwise.tmpl.h"
#include "common/dtype_end.h"

/* algorithm="auto".  The packed GEMM pays for packing an im2col panel per block of pixels and
 * wins back by reusing it for every filter of the group, so it needs a deep reduction and
 * several filters; otherwise the direct loop wins.  Measured with the scalar kernels on the
 * 2-core AVX-512 machine (bench/test_bench_conv.py, medians): direct wins lenet_c1 (25 products
 * per output, 2.5x), depthwise (9, 6.6x) and the 1-filter image_5x5 (5.4x); im2col wins
 * lenet_c2 (150, 3x) and resnet_3x3_b1 (1152, 1.2x).  Revisit with the SIMD kernels.
 * groups == C (depthwise, and any single-channel filter bank such as image_5x5 and lenet_c1)
 * goes to the depthwise driver, which shares each padded input tile among the channel's
 * filters. */
/* FC_CONV_POINTWISE runs 1x1 filters at stride 1 without padding (dilation is moot). */
static int pointwise_applies(const fc_conv2d_params *p)
{
    return p->r == 1 && p->s == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_top == 0 &&
           p->pad_bottom == 0 && p->pad_left == 0 && p->pad_right == 0;
}

static fc_conv_algorithm choose_algorithm(const fc_conv2d_params *p)
{
    if (p->groups == p->c) return FC_CONV_DEPTHWISE;
    const int64_t reduction = (p->c / p->groups) * p->r * p->s;
    const int64_t filters_per_group = p->k / p->groups;
    /* the im2col rule below, minus the packing cost pointwise does not pay */
    if (pointwise_applies(p) && reduction >= 4 && filters_per_group >= 4)
        return FC_CONV_POINTWISE;
    if (reduction < 32 || filters_per_group < 4) return FC_CONV_DIRECT;
    return FC_CONV_IM2COL;
}

fc_status fc_conv2d_forward(const fc_conv2d_params *p, fc_dtype dtype, const void *x,
                            const void *weight, const void *bias, void *y,
                            fc_activation activation, fc_conv_algorithm algorithm)
{
    int64_t out_h, out_w;
    FC_RETURN_IF_ERROR(fc_validate_conv2d(p, &out_h, &out_w));
    if (activation != FC_ACTIVATION_NONE && activation != FC_ACTIVATION_RELU)
        return FC_ERR_INVALID_ARGUMENT;
    if (p->max_workspace_bytes < 0) return FC_ERR_INVALID_ARGUMENT;
    if (dtype != FC_FLOAT32 && dtype != FC_FLOAT64) return FC_ERR_INVALID_ARGUMENT;
    if (algorithm == FC_CONV_AUTO) algorithm = choose_algorithm(p);
    if (algorithm != FC_CONV_DIRECT && algorithm != FC_CONV_IM2COL &&
        algorithm != FC_CONV_DEPTHWISE &&
        !(algorithm == FC_CONV_POINTWISE && pointwise_applies(p)))
        return FC_ERR_INVALID_ARGUMENT;
    if (algorithm == FC_CONV_DEPTHWISE && p->groups != p->c) return FC_ERR_INVALID_ARGUMENT;
    if (p->n == 0 || p->k == 0) return FC_OK; /* nothing to write */
    /* pathological geometry (see padded_rows_fit): correct, serial, rare */
    const int rows_fit = dtype == FC_FLOAT32 ? fc_f32_padded_rows_fit(p, out_w)
                                             : fc_f64_padded_rows_fit(p, out_w);
    if ((algorithm == FC_CONV_DIRECT || algorithm == FC_CONV_DEPTHWISE) && !rows_fit)
        return fc_ref_conv2d_forward(p, dtype, x, weight, bias, y, activation);
    const int relu = activation == FC_ACTIVATION_RELU;
    if (dtype == FC_FLOAT32) {
        if (algorithm == FC_CONV_DEPTHWISE)
            return fc_f32_conv2d_depthwise(p, out_h, out_w, x, weight, bias, y, relu);
        return algorithm == FC_CONV_DIRECT
                   ? fc_f32_conv2d_direct(p, out_h, out_w, x, weight, bias, y, relu)
                   : fc_f32_conv2d_gemm(p, out_h, out_w, x, weight, bias, y, relu);
    }
    if (algorithm == FC_CONV_DEPTHWISE)
        return fc_f64_conv2d_depthwise(p, out_h, out_w, x, weight, bias, y, relu);
    return algorithm == FC_CONV_DIRECT
               ? fc_f64_conv2d_direct(p, out_h, out_w, x, weight, bias, y, relu)
               : fc_f64_conv2d_gemm(p, out_h, out_w, x, weight, bias, y, relu);
}

fc_status fc_conv2d_min_workspace(const fc_conv2d_params *p, fc_dtype dtype,
                                  fc_conv_algorithm algorithm, int64_t *bytes)
{
    int64_t out_h, out_w;
    FC_RETURN_IF_ERROR(fc_validate_conv2d(p, &out_h, &out_w));
    if (dtype != FC_FLOAT32 && dtype != FC_FLOAT64) return FC_ERR_INVALID_ARGUMENT;
    if (algorithm == FC_CONV_AUTO) algorithm = choose_algorithm(p);
    *bytes = 0;
    if (algorithm == FC_CONV_IM2COL || algorithm == FC_CONV_POINTWISE)
        *bytes = dtype == FC_FLOAT32 ? fc_f32_conv2d_gemm_min_workspace(p, out_h, out_w)
                                     : fc_f64_conv2d_gemm_min_workspace(p, out_h, out_w);
    return FC_OK;
}

fc_conv_algorithm fc_conv2d_auto_algorithm(const fc_conv2d_params *p)
{
    return choose_algorithm(p);
}

/* conv2d forward: validation, algorithm choice, and the typed drivers (conv2d_*.tmpl.h). */
#include <string.h>

#include "common/epilogue.h"
#include "common/geometry.h"
#include "common/internal.h"
#include "common/parallel.h"
#include "dispatch.h"

#include "simd/dtype_f32.h"
#include "ops/gemm_frame.tmpl.h"
#include "ops/conv2d_common.tmpl.h"
#include "ops/conv2d_im2col.tmpl.h"
#include "ops/conv2d_direct.tmpl.h"
#include "ops/conv2d_depthwise.tmpl.h"
#include "ops/conv2d_nhwc.tmpl.h"
#include "ops/conv2d_winograd.tmpl.h" /* float32 only */
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#include "ops/gemm_frame.tmpl.h"
#include "ops/conv2d_common.tmpl.h"
#include "ops/conv2d_im2col.tmpl.h"
#include "ops/conv2d_direct.tmpl.h"
#include "ops/conv2d_depthwise.tmpl.h"
#include "ops/conv2d_nhwc.tmpl.h"
#include "simd/dtype_end.h"

/* algorithm="auto", measured with the SIMD kernels on the 2-core AVX-512 machine
 * (`fastconv bench --threads 2 --algorithms`, float32, medians; auto must stay within 10% of
 * the best algorithm on every benchmark shape):
 * - groups == C goes to the depthwise driver (depthwise 110 us against im2col 563 us;
 *   image_5x5 270 us against 1.54 ms direct), except a single channel with 4+ filters, where
 *   one GEMM shares each input tap among the filters (lenet_c1: im2col 114 us, depthwise 123,
 *   direct 144; 1x28x28 with 8 filters at 1 thread: im2col 158 us against depthwise 231).
 * - 1x1 at stride 1 without padding: the pointwise GEMM on the input (resnet_1x1 237 us, ties
 *   im2col, which runs it the same way since stride-1 im2col reads a virtual grid).
 * - stride 1 with fewer than 32 products per output: direct (3 channels, 3x3, 64x64: 337 us
 *   against im2col 497 at 1 thread), where the GEMM's 8-filter panels have too little
 *   reduction to amortise their setup.
 * - everything else: im2col + GEMM, which won every other benchmark shape (vgg_3x3 2.19 ms
 *   against direct 2.39; resnet_7x7s2 884 us against 1.2 ms), strided ones with few products
 *   too (3 channels, 3x3, stride 2: 3.5 ms against direct 6.0 ms) and few filters (2 filters
 *   of 16 channels: 308 us against direct 404). */
/* FC_CONV_POINTWISE runs 1x1 filters at stride 1 without padding (dilation is moot). */
static int pointwise_applies(const fc_conv2d_params *p)
{
    return p->r == 1 && p->s == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_top == 0 &&
           p->pad_bottom == 0 && p->pad_left == 0 && p->pad_right == 0;
}

static fc_conv_algorithm choose_algorithm(const fc_conv2d_params *p)
{
    const int64_t reduction = (p->c / p->groups) * p->r * p->s;
    const int64_t filters_per_group = p->k / p->groups;
    if (p->groups == p->c)
        return p->c == 1 && filters_per_group >= 4 ? FC_CONV_IM2COL : FC_CONV_DEPTHWISE;
    if (pointwise_applies(p) && reduction >= 4 && filters_per_group >= 4)
        return FC_CONV_POINTWISE;
    if (p->stride_h == 1 && p->stride_w == 1 && reduction < 32) return FC_CONV_DIRECT;
    return FC_CONV_IM2COL;
}

/* FC_CONV_AUTO_HIGH: Winograd F(4x4, 3x3) where it beat the rule's choice, measured at 1 thread
 * on the 2-core AVX-512 machine (float32, min of 9; auto's time / winograd's): 64 channels
 * and filters on 56x56, 196 tiles: 1.98x; 32 on 112x112: 1.88x; 16 on 56x56: 1.08x; 8 on
 * 56x56: 0.75x; 3 channels, 64 filters on 224x224: 0.68x; 256 on 14x14, 16 tiles: 0.72x
 * (half a GEMM panel of tiles, and the 65536 filters to transform every call); 4 images of
 * it, 64 tiles: 1.41x; 512 on 7x7, 4 tiles: 0.40x, 8 images, 32 tiles: 1.87x; grouped, 32
 * per group on 28x28 and 16 per group on 56x56: 1.16x, 1.10x.  So: at least 16 channels
 * and filters per group, and 32 tiles of 4x4 outputs over the batch. */
static int winograd_preferred(const fc_conv2d_params *p, fc_dtype dtype, int64_t out_h,
                              int64_t out_w)
{
    const int64_t tiles =
        fc_mul_saturating(p->n, fc_mul_saturating(fc_ceil_div(out_h, 4), fc_ceil_div(out_w, 4)));
    return dtype == FC_FLOAT32 && fc_wino_applies(p) && p->c / p->groups >= 16 &&
           p->k / p->groups >= 16 && tiles >= 32;
}

/* What both layouts' forward entry points check first: the geometry, the workspace limit, the
 * dtype and the epilogue (into *epi). */
static fc_status validate_forward(const fc_conv2d_params *p, fc_dtype dtype,
                                  const fc_epilogue *epilogue, void *y, int64_t *out_h,
                                  int64_t *out_w, fc_epi *epi)
{
    FC_RETURN_IF_ERROR(fc_validate_conv2d(p, out_h, out_w));
    if (p->max_workspace_bytes < 0) return FC_ERR_INVALID_ARGUMENT;
    if (dtype != FC_FLOAT32 && dtype != FC_FLOAT64) return FC_ERR_INVALID_ARGUMENT;
    return fc_epilogue_prepare(epilogue, dtype, y, p->n * p->k * *out_h * *out_w, epi);
}

fc_status fc_conv2d_forward(const fc_conv2d_params *p, fc_dtype dtype, const void *x,
                            const void *weight, const fc_epilogue *epilogue, void *y,
                            fc_conv_algorithm algorithm)
{
    int64_t out_h, out_w;
    fc_epi epi;
    FC_RETURN_IF_ERROR(validate_forward(p, dtype, epilogue, y, &out_h, &out_w, &epi));
    if (algorithm == FC_CONV_AUTO_HIGH)
        algorithm = winograd_preferred(p, dtype, out_h, out_w) ? FC_CONV_WINOGRAD : FC_CONV_AUTO;
    if (algorithm == FC_CONV_AUTO) algorithm = choose_algorithm(p);
    if (algorithm != FC_CONV_DIRECT && algorithm != FC_CONV_IM2COL &&
        algorithm != FC_CONV_DEPTHWISE && algorithm != FC_CONV_WINOGRAD &&
        !(algorithm == FC_CONV_POINTWISE && pointwise_applies(p)))
        return FC_ERR_INVALID_ARGUMENT;
    if (algorithm == FC_CONV_DEPTHWISE && p->groups != p->c) return FC_ERR_INVALID_ARGUMENT;
    if (algorithm == FC_CONV_WINOGRAD && (dtype != FC_FLOAT32 || !fc_wino_applies(p)))
        return FC_ERR_INVALID_ARGUMENT;
    if (p->n == 0 || p->k == 0) return FC_OK; /* nothing to write */
    if (algorithm == FC_CONV_WINOGRAD) {
        /* the output transform fuses the bias and ReLU; the rest of the epilogue (a residual,
         * other activations) is a pass over y afterwards */
        FC_RETURN_IF_ERROR(fc_f32_conv2d_winograd(p, out_h, out_w, x, weight, epi.bias, y,
                                                  (epi.fused & FC_FUSED_RELU) != 0));
        if (epi.post)
            fc_f32_epilogue_apply(&epi, y, p->n * p->k, out_h * out_w, out_h * out_w, 1);
        return FC_OK;
    }
    /* pathological geometry (see padded_rows_fit): correct, serial, rare */
    const int rows_fit = dtype == FC_FLOAT32 ? fc_f32_padded_rows_fit(p, out_w)
                                             : fc_f64_padded_rows_fit(p, out_w);
    if ((algorithm == FC_CONV_DIRECT || algorithm == FC_CONV_DEPTHWISE) && !rows_fit)
        return fc_ref_conv2d_forward(p, dtype, x, weight, epilogue, y);
    if (dtype == FC_FLOAT32) {
        if (algorithm == FC_CONV_DEPTHWISE)
            return fc_f32_conv2d_depthwise(p, out_h, out_w, x, weight, &epi, y);
        return algorithm == FC_CONV_DIRECT
                   ? fc_f32_conv2d_direct(p, out_h, out_w, x, weight, &epi, y)
                   : fc_f32_conv2d_gemm(p, out_h, out_w, x, weight, &epi, y);
    }
    if (algorithm == FC_CONV_DEPTHWISE)
        return fc_f64_conv2d_depthwise(p, out_h, out_w, x, weight, &epi, y);
    return algorithm == FC_CONV_DIRECT
               ? fc_f64_conv2d_direct(p, out_h, out_w, x, weight, &epi, y)
               : fc_f64_conv2d_gemm(p, out_h, out_w, x, weight, &epi, y);
}

fc_status fc_conv2d_min_workspace(const fc_conv2d_params *p, fc_dtype dtype,
                                  fc_conv_algorithm algorithm, int64_t *bytes)
{
    int64_t out_h, out_w;
    FC_RETURN_IF_ERROR(fc_validate_conv2d(p, &out_h, &out_w));
    if (dtype != FC_FLOAT32 && dtype != FC_FLOAT64) return FC_ERR_INVALID_ARGUMENT;
    if (algorithm == FC_CONV_AUTO_HIGH)
        algorithm = winograd_preferred(p, dtype, out_h, out_w) ? FC_CONV_WINOGRAD : FC_CONV_AUTO;
    if (algorithm == FC_CONV_AUTO) algorithm = choose_algorithm(p);
    *bytes = 0;
    if (algorithm == FC_CONV_IM2COL || algorithm == FC_CONV_POINTWISE)
        *bytes = dtype == FC_FLOAT32 ? fc_f32_conv2d_gemm_min_workspace(p, out_h, out_w)
                                     : fc_f64_conv2d_gemm_min_workspace(p, out_h, out_w);
    if (algorithm == FC_CONV_WINOGRAD && dtype == FC_FLOAT32 && fc_wino_applies(p))
        *bytes = fc_f32_conv2d_winograd_min_workspace(p, out_h, out_w);
    return FC_OK;
}

fc_conv_algorithm fc_conv2d_auto_algorithm(const fc_conv2d_params *p)
{
    return choose_algorithm(p);
}

/* ---- channels last (ops/conv2d_nhwc.tmpl.h) ---- */
fc_status fc_conv2d_forward_nhwc(const fc_conv2d_params *p, fc_dtype dtype, const void *x,
                                 const void *weight, const fc_epilogue *epilogue, void *y)
{
    int64_t out_h, out_w;
    fc_epi epi;
    FC_RETURN_IF_ERROR(validate_forward(p, dtype, epilogue, y, &out_h, &out_w, &epi));
    if (p->n == 0 || p->k == 0 || out_h * out_w == 0) return FC_OK; /* nothing to write */
    if (p->groups == p->c && p->k == p->c && p->r * p->s <= FC_DW_NHWC_STACK_TAPS)
        return dtype == FC_FLOAT32 ? fc_f32_conv2d_dw_nhwc(p, out_h, out_w, x, weight, &epi, y)
                                   : fc_f64_conv2d_dw_nhwc(p, out_h, out_w, x, weight, &epi, y);
    return dtype == FC_FLOAT32 ? fc_f32_conv2d_nhwc(p, out_h, out_w, x, weight, &epi, y)
                               : fc_f64_conv2d_nhwc(p, out_h, out_w, x, weight, &epi, y);
}

fc_status fc_conv2d_nhwc_min_workspace(const fc_conv2d_params *p, fc_dtype dtype,
                                       int64_t *bytes)
{
    int64_t out_h, out_w;
    FC_RETURN_IF_ERROR(fc_validate_conv2d(p, &out_h, &out_w));
    if (dtype != FC_FLOAT32 && dtype != FC_FLOAT64) return FC_ERR_INVALID_ARGUMENT;
    fc_conv2d_params q = *p;
    q.max_workspace_bytes = INT64_MAX; /* the least is asked, not checked */
    int threads;
    if (dtype == FC_FLOAT32) {
        fc_f32_nhwc_job job = {&q, out_h, out_w};
        return fc_f32_nhwc_setup(&q, out_h, out_w, &job, &threads, bytes);
    }
    fc_f64_nhwc_job job = {&q, out_h, out_w};
    return fc_f64_nhwc_setup(&q, out_h, out_w, &job, &threads, bytes);
}

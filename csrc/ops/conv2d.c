/* conv2d forward: validation, algorithm choice, and the typed drivers (conv2d_*.tmpl.h). */
#include <string.h>

#include "common/epilogue.h"
#include "common/geometry.h"
#include "common/internal.h"
#include "common/parallel.h"
#include "dispatch.h"
#include "ops/conv2d_depthwise.h"
#include "ops/conv_transpose2d_phases.h"

#include "simd/dtype_f32.h"
#include "ops/gemm_frame.tmpl.h"
#include "ops/conv2d_common.tmpl.h"
#include "ops/conv2d_im2col.tmpl.h"
#include "ops/finite.tmpl.h"
#include "ops/conv_transpose2d_phases.tmpl.h"
#include "ops/conv2d_direct.tmpl.h"
#include "ops/conv2d_depthwise.tmpl.h"
#include "ops/conv2d_nhwc.tmpl.h"
#include "ops/conv2d_winograd.tmpl.h" /* float32 only */
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#include "ops/gemm_frame.tmpl.h"
#include "ops/conv2d_common.tmpl.h"
#include "ops/conv2d_im2col.tmpl.h"
#include "ops/finite.tmpl.h"
#include "ops/conv_transpose2d_phases.tmpl.h"
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

/* Does the ISA path in use have a vectorised member of this family for dtype?  (float64 has
 * no SIMD direct or depthwise members; FASTCONV_ISA=scalar has none at all.) */
static int simd_member(fc_family family, fc_dtype dtype)
{
    const fc_member *m = fc_kernels()->members[family][dtype == FC_FLOAT64];
    return m != NULL && m->isa != FC_ISA_SCALAR;
}

/* The rule above assumes every algorithm has SIMD members.  Where the direct or depthwise
 * member of the dtype is scalar but the GEMM's is not (float64 on x86 and aarch64), measured
 * at 1 thread on the 2-core AVX-512 machine (float64, medians of 15):
 * - direct loses to im2col everywhere: 3 channels, 64 filters 3x3 on 64x64: 1.88 ms against
 *   0.48; 2 channels, 4 filters: 0.096 ms against 0.047; so im2col.
 * - depthwise keeps winning at stride 1 (256 channels 3x3 on 56x56: 2.5 ms against im2col's
 *   7.5, whose GEMM has one filter per group) and at stride 2.  (An earlier rule sent 3x3
 *   stride-2 depthwise layers to im2col, measured before the depthwise driver's stride-2
 *   rows; since then, at 1 thread on the 2-core AVX2 EPYC, float64, medians of 5, depthwise
 *   against im2col: 96 channels on 112x112 1.33 against 3.28 ms, 32 on 112x112 0.47 against
 *   1.06, 144 on 56x56 0.68 against 0.92, 64 on 28x28 at batch 8 0.70 against 0.85, 256 on
 *   14x14 0.143 against 0.150, 960 on 7x7 0.29 against 0.36; 2x2 stride 2 0.13 against 0.41;
 *   5x5 stride 2 ties, 0.67 against 0.65.) */
static fc_conv_algorithm choose_algorithm(const fc_conv2d_params *p, fc_dtype dtype)
{
    const int64_t reduction = (p->c / p->groups) * p->r * p->s;
    const int64_t filters_per_group = p->k / p->groups;
    const int gemm_simd = simd_member(FC_FAMILY_GEMM, dtype);
    const int direct_ok = simd_member(FC_FAMILY_DCONV, dtype) || !gemm_simd;
    const int strided = p->stride_h > 1 || p->stride_w > 1;
    if (p->groups == p->c) {
        if (p->c == 1 && filters_per_group >= 4) return FC_CONV_IM2COL;
        return FC_CONV_DEPTHWISE;
    }
    if (pointwise_applies(p) && reduction >= 4 && filters_per_group >= 4)
        return FC_CONV_POINTWISE;
    if (!strided && reduction < 32 && direct_ok) return FC_CONV_DIRECT;
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
    return dtype == FC_FLOAT32 && fc_wino_applies(p, 0) && p->c / p->groups >= 16 &&
           p->k / p->groups >= 16 && tiles >= 32;
}

/* What an algorithm names: auto (FC_CONV_AUTO, or FC_CONV_AUTO_HIGH at precision "high")
 * resolves to the rule's choice; any other algorithm is itself. */
static fc_conv_algorithm resolve_auto(const fc_conv2d_params *p, fc_dtype dtype, int64_t out_h,
                                      int64_t out_w, fc_conv_algorithm algorithm)
{
    if (algorithm == FC_CONV_AUTO_HIGH && winograd_preferred(p, dtype, out_h, out_w))
        return FC_CONV_WINOGRAD;
    if (algorithm == FC_CONV_AUTO || algorithm == FC_CONV_AUTO_HIGH)
        return choose_algorithm(p, dtype);
    return algorithm;
}

/* Winograd with the whole epilogue: the output transform fuses the bias and ReLU; the rest (a
 * residual, other activations) is a pass over y afterwards. */
static fc_status winograd_forward(const fc_conv2d_params *p, int64_t out_h, int64_t out_w,
                                  const float *x, fc_wino_filters f, const fc_epi *epi, float *y)
{
    FC_RETURN_IF_ERROR(fc_f32_conv2d_winograd(p, out_h, out_w, x, f, epi->bias, y,
                                              (epi->fused & FC_FUSED_RELU) != 0));
    if (epi->post) fc_f32_epilogue_apply(epi, y, p->n * p->k, out_h * out_w, out_h * out_w, 1);
    return FC_OK;
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
    algorithm = resolve_auto(p, dtype, out_h, out_w, algorithm);
    if (algorithm != FC_CONV_DIRECT && algorithm != FC_CONV_IM2COL &&
        algorithm != FC_CONV_DEPTHWISE && algorithm != FC_CONV_WINOGRAD &&
        !(algorithm == FC_CONV_POINTWISE && pointwise_applies(p)))
        return FC_ERR_INVALID_ARGUMENT;
    if (algorithm == FC_CONV_DEPTHWISE && p->groups != p->c) return FC_ERR_INVALID_ARGUMENT;
    if (algorithm == FC_CONV_WINOGRAD && (dtype != FC_FLOAT32 || !fc_wino_applies(p, 0)))
        return FC_ERR_INVALID_ARGUMENT;
    if (p->n == 0 || p->k == 0) return FC_OK; /* nothing to write */
    if (algorithm == FC_CONV_WINOGRAD)
        return winograd_forward(p, out_h, out_w, x, (fc_wino_filters){weight, 0, NULL}, &epi, y);
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
    algorithm = resolve_auto(p, dtype, out_h, out_w, algorithm);
    *bytes = 0;
    if (algorithm == FC_CONV_IM2COL || algorithm == FC_CONV_POINTWISE)
        *bytes = dtype == FC_FLOAT32 ? fc_f32_conv2d_gemm_min_workspace(p, out_h, out_w)
                                     : fc_f64_conv2d_gemm_min_workspace(p, out_h, out_w);
    if (algorithm == FC_CONV_WINOGRAD && dtype == FC_FLOAT32 && fc_wino_applies(p, 0))
        *bytes = fc_f32_conv2d_winograd_min_workspace(p, out_h, out_w, 0);
    return FC_OK;
}

fc_conv_algorithm fc_conv2d_auto_algorithm(const fc_conv2d_params *p, fc_dtype dtype,
                                           fc_conv_algorithm mode)
{
    int64_t out_h, out_w;
    if (fc_validate_conv2d(p, &out_h, &out_w) != FC_OK) return choose_algorithm(p, dtype);
    return resolve_auto(p, dtype, out_h, out_w, mode);
}

/* ---- Winograd filters transformed once ------------------------------------------------------ */

fc_status fc_conv2d_winograd_prepared_size(const fc_conv2d_params *p, int64_t *floats,
                                           int64_t *mr)
{
    int64_t out_h, out_w;
    FC_RETURN_IF_ERROR(fc_validate_conv2d(p, &out_h, &out_w));
    if (!fc_wino_applies(p, 0)) return FC_ERR_INVALID_ARGUMENT;
    *floats = fc_wino_prepared_floats(p);
    *mr = fc_kernels()->f32_gemm.mr;
    return *floats == INT64_MAX ? FC_ERR_SIZE_OVERFLOW : FC_OK;
}

fc_status fc_conv2d_winograd_prepare(const fc_conv2d_params *p, const float *weight, float *u,
                                     int64_t floats)
{
    int64_t need, mr;
    FC_RETURN_IF_ERROR(fc_conv2d_winograd_prepared_size(p, &need, &mr));
    if (floats != need) return FC_ERR_INVALID_ARGUMENT;
    if (p->k == 0) return FC_OK;
    return fc_f32_conv2d_winograd_prepare(p, weight, u);
}

/* The geometry of a prepared call: Winograd's, U of the size and MR it was prepared for. */
static fc_status validate_prepared(const fc_conv2d_params *p, int64_t floats, int64_t mr,
                                   int64_t *out_h, int64_t *out_w)
{
    int64_t need, mr_now;
    FC_RETURN_IF_ERROR(fc_validate_conv2d(p, out_h, out_w));
    if (p->max_workspace_bytes < 0) return FC_ERR_INVALID_ARGUMENT;
    FC_RETURN_IF_ERROR(fc_conv2d_winograd_prepared_size(p, &need, &mr_now));
    return floats == need && mr == mr_now ? FC_OK : FC_ERR_INVALID_ARGUMENT;
}

fc_status fc_conv2d_forward_prepared(const fc_conv2d_params *p, const float *x, const float *u,
                                     int64_t floats, int64_t mr, const fc_epilogue *epilogue,
                                     float *y)
{
    int64_t out_h, out_w;
    FC_RETURN_IF_ERROR(validate_prepared(p, floats, mr, &out_h, &out_w));
    fc_epi epi;
    FC_RETURN_IF_ERROR(
        fc_epilogue_prepare(epilogue, FC_FLOAT32, y, p->n * p->k * out_h * out_w, &epi));
    if (p->n == 0 || p->k == 0) return FC_OK;
    return winograd_forward(p, out_h, out_w, x, (fc_wino_filters){NULL, 0, u}, &epi, y);
}

fc_status fc_conv2d_prepared_min_workspace(const fc_conv2d_params *p, int64_t floats, int64_t mr,
                                           int64_t *bytes)
{
    int64_t out_h, out_w;
    FC_RETURN_IF_ERROR(validate_prepared(p, floats, mr, &out_h, &out_w));
    *bytes = fc_f32_conv2d_winograd_min_workspace(p, out_h, out_w, 1);
    return FC_OK;
}

/* ---- backward-data by Winograd ----------------------------------------------------------------
 * grad_input of a 3x3, stride-1, dilation-1 convolution is the 3x3 stride-1 convolution of
 * grad_output with the filters turned by 180 degrees and C, K swapped within each group,
 * padded by 2 - pad on each side (negative: rows of grad_output never read).  *t gets its
 * parameters. */
static void backward_input_params(const fc_conv2d_params *p, int64_t out_h, int64_t out_w,
                                  fc_conv2d_params *t)
{
    *t = *p;
    t->c = p->k, t->h = out_h, t->w = out_w, t->k = p->c;
    t->pad_top = 2 - p->pad_top, t->pad_bottom = 2 - p->pad_bottom;
    t->pad_left = 2 - p->pad_left, t->pad_right = 2 - p->pad_right;
}

/* The forward's rule is not enough for backward-data: the turned filters are read down the
 * weight's columns (filter c's channel k at (k Cg + c) 9), one cache line miss per row once
 * the weight outgrows L2, and the filter transform took some 2x its forward time on large
 * weights.  Measured at 1 thread on the 2-core AVX-512 machine (CPU time, medians of 4-7
 * interleaved runs; GEMM grad_input's time / Winograd's): 64 channels and filters on
 * 112x112 2.31x, 64 on 56x56 1.92x, 128 on 28x28 (49 tiles) 1.56x, 16 on 56x56 1.75x; but 192
 * on 14x14 at batch 2 (32 tiles) 0.62x, 256 on 14x14 at batch 4 (64 tiles) 0.88x, 512 on 7x7
 * at batch 8 (32 tiles) 0.85x, where batch 8 of 256 (128 tiles) gave 1.24x and batch 32 of
 * 512 (128 tiles) 1.43x.  So: past 128 x 128 filters per group, 128 tiles. */
static int backward_input_tiles_pay(const fc_conv2d_params *t, int64_t h, int64_t w)
{
    const int64_t tiles =
        fc_mul_saturating(t->n, fc_mul_saturating(fc_ceil_div(h, 4), fc_ceil_div(w, 4)));
    return fc_mul_saturating(t->c / t->groups, t->k / t->groups) <= 128 * 128 || tiles >= 128;
}

/* Whether grad_input runs by Winograd for grad_input_algorithm (FC_CONV_AUTO, FC_CONV_IM2COL:
 * never, the GEMM; FC_CONV_AUTO_HIGH: where winograd_preferred says so for the transposed
 * convolution; FC_CONV_WINOGRAD: always, FC_ERR_INVALID_ARGUMENT where it cannot). */
fc_status fc_conv2d_backward_input_uses_winograd(const fc_conv2d_params *p, fc_dtype dtype,
                                                 fc_conv_algorithm algorithm, int64_t out_h,
                                                 int64_t out_w, int *winograd)
{
    fc_conv2d_params t;
    backward_input_params(p, out_h, out_w, &t);
    /* the forward's geometry: stride and dilation 1 make t's padding reach P + t + b - 2 = H */
    const int applies = dtype == FC_FLOAT32 && fc_wino_applies(p, 0) && fc_wino_applies(&t, 1);
    *winograd = 0;
    switch (algorithm) {
    case FC_CONV_AUTO:
    case FC_CONV_IM2COL: return FC_OK;
    case FC_CONV_AUTO_HIGH:
        *winograd = applies && winograd_preferred(&t, dtype, p->h, p->w) &&
                    backward_input_tiles_pay(&t, p->h, p->w);
        return FC_OK;
    case FC_CONV_WINOGRAD:
        *winograd = 1;
        return applies ? FC_OK : FC_ERR_INVALID_ARGUMENT;
    default: return FC_ERR_INVALID_ARGUMENT;
    }
}

fc_status fc_f32_conv2d_backward_input_winograd(const fc_conv2d_params *p, int64_t out_h,
                                                int64_t out_w, const float *grad_output,
                                                const float *weight, float *grad_input)
{
    fc_conv2d_params t;
    backward_input_params(p, out_h, out_w, &t);
    return fc_f32_conv2d_winograd(&t, p->h, p->w, grad_output, (fc_wino_filters){weight, 1, NULL},
                                  NULL, grad_input, 0);
}

int64_t fc_f32_conv2d_backward_input_winograd_min_workspace(const fc_conv2d_params *p,
                                                            int64_t out_h, int64_t out_w)
{
    fc_conv2d_params t;
    backward_input_params(p, out_h, out_w, &t);
    return fc_f32_conv2d_winograd_min_workspace(&t, p->h, p->w, 0);
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

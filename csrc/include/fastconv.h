/*
 * fastconv public C API.
 *
 * Every entry point validates its parameters and returns an fc_status; on any status other than
 * FC_OK nothing has been written to the outputs.  Kernels release no locks and take none: the
 * caller (the Cython layer) releases the GIL around each call.
 *
 * Tensor layouts (all dense, C-contiguous, native byte order, one dtype per call):
 *   x       input          (N, C, H, W)
 *   weight  filters        (K, C / groups, R, S)
 *   bias    per filter     (K,)                      optional (NULL)
 *   y       output         (N, K, P, Q)              conv2d
 *   y       output         (N, C, P, Q)              pooling
 *   indices argmax         (N, C, P, Q) int64        max pooling, flat index h * W + w into the
 *                                                    H x W input plane; -1 for a window that
 *                                                    lies entirely in the padding
 *
 * Convolution is cross-correlation (no kernel flip), as in every CNN framework:
 *   y[n, k, p, q] = bias[k] + sum_{c, r, s} weight[k, c, r, s]
 *                   * x[n, g * C/groups + c, p * stride_h - pad_top + r * dilation_h,
 *                                            q * stride_w - pad_left + s * dilation_w]
 *   with g = k / (K / groups) and x read as 0 outside the H x W plane.
 *
 * Output size, convolution (padding may be asymmetric):
 *   P = (H + pad_top + pad_bottom - dilation_h * (R - 1) - 1) / stride_h + 1     (floor)
 *   Q = (W + pad_left + pad_right - dilation_w * (S - 1) - 1) / stride_w + 1
 *
 * Output size, pooling (symmetric padding, at most half the kernel, PyTorch's rule):
 *   P = floor_or_ceil((H + 2 * pad_h - dilation_h * (kernel_h - 1) - 1) / stride_h) + 1
 *   and with ceil_mode, if (P - 1) * stride_h >= H + pad_h then P -= 1   (likewise Q).
 *
 * Average pooling divides by the window clipped to the padded plane when count_include_pad, by
 * the window clipped to the input plane otherwise (PyTorch's rule); by divisor_override instead,
 * for every window, when that is nonzero (PyTorch's divisor_override).
 *
 * These sizes, the windows' valid ranges and the divisor are computed in one place,
 * csrc/common/geometry.h and geometry.c, which every op, reference and the Python layer use.
 *
 * ReLU: y = x where x > 0 or x is NaN, else +0 (also for -0).  y == x (in place) is allowed.
 *
 * Epilogue of conv2d and linear (fc_epilogue): what each output element gets after its sum,
 *   y = act((bias + sum) + residual)
 * bias being where the sum starts (see the formulas), residual the element of the residual
 * input at y's own index, act an fc_activation.
 *
 * Linear (torch.nn.functional.linear's layout; the caller flattens any batch dims to n rows):
 *   x       input          (n, in_features)
 *   weight                 (out_features, in_features)
 *   bias                   (out_features,)           optional (NULL)
 *   y       output         (n, out_features)
 *   y[i, o] = act(bias[o] + sum_{k = 0, 1, ..., in_features - 1} x[i, k] * weight[o, k]
 *                 + residual[i, o])
 *   summed from bias[o] (or 0) in that order, one multiply-add per step (fused on the SIMD
 *   paths); bias, residual and act from the fc_epilogue.  n, in_features, out_features >= 0:
 *   with in_features = 0, y = act(bias + residual) (bias and residual 0 where absent).
 * Its backward, for g = grad_output (n, out_features):
 *   grad_input  (n, in_features)             [i, k] = sum_{o ascending} g[i, o] * weight[o, k]
 *   grad_weight (out_features, in_features)  [o, k] = sum_{i ascending} g[i, o] * x[i, k]
 *   grad_bias   (out_features,)              [o]    = sum_{i ascending} g[i, o]
 *   each sum starting from 0.
 *
 * All sizes and indices are 64-bit.  Results are bitwise identical for any thread count and
 * any schedule: the threads claim tasks (tiles of the output) dynamically, and each output
 * element is computed by one task in a fixed order (csrc/common/parallel.h).
 */
#ifndef FASTCONV_H
#define FASTCONV_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fc_status {
    FC_OK = 0,
    FC_ERR_INVALID_ARGUMENT = 1, /* a size, stride, padding or flag out of its range */
    FC_ERR_SIZE_OVERFLOW = 2,    /* an element count or index does not fit in 64 bits */
    FC_ERR_OUT_OF_MEMORY = 3,    /* workspace allocation failed */
    FC_ERR_WORKSPACE_TOO_SMALL = 4, /* max_workspace_bytes below what the algorithm needs */
} fc_status;

typedef enum fc_dtype {
    FC_FLOAT32 = 0,
    FC_FLOAT64 = 1,
} fc_dtype;

/* The activation of an epilogue, torch.nn.functional's names (fc_activation_name).  NaN passes
 * through every one of them. */
typedef enum fc_activation {
    FC_ACTIVATION_NONE = 0,
    FC_ACTIVATION_RELU = 1,       /* x > 0 or NaN ? x : +0 (also for -0) */
    FC_ACTIVATION_RELU6 = 2,      /* NaN ? x : min(max(x, 0), 6), -0 -> +0 */
    FC_ACTIVATION_LEAKY_RELU = 3, /* x > 0 or NaN ? x : x * alpha (alpha: the negative slope,
                                   * rounded to the op's dtype; -0 -> -0 * alpha, as torch) */
} fc_activation;

/* Everything a forward op (conv2d, linear) applies to an output element after its sum:
 *   y = act((bias + sum) + residual), act = activation with its parameter alpha.
 * All in the op's dtype.  A NULL fc_epilogue pointer means none of them (as all zeros). */
typedef struct fc_epilogue {
    const void *bias;         /* (K,) / (out_features,): where each sum starts; NULL: 0 */
    const void *residual;     /* the output's shape and layout, added before the activation;
                               * NULL: none.  Read only, and must not overlap y (the drivers
                               * write partial sums into y before they read it). */
    fc_activation activation; /* applied last */
    double alpha;             /* FC_ACTIVATION_LEAKY_RELU: the negative slope; else unused */
} fc_epilogue;

typedef enum fc_conv_algorithm {
    FC_CONV_AUTO = 0,
    FC_CONV_DIRECT = 1,
    FC_CONV_IM2COL = 2,
    FC_CONV_POINTWISE = 3, /* 1x1, stride 1, no padding: a GEMM straight on the input */
    FC_CONV_DEPTHWISE = 4, /* groups == C: each channel convolved with its own filters */
    /* 3x3, stride 1, dilation 1, float32: Winograd F(4x4, 3x3), which rounds differently
     * from an exact-sum algorithm (bound: ops/conv2d_winograd.tmpl.h, README) */
    FC_CONV_WINOGRAD = 5,
    /* auto at precision "high" (fastconv.set_precision): the rule of FC_CONV_AUTO, except
     * that 3x3 stride-1 float32 layers where Winograd measured faster run FC_CONV_WINOGRAD */
    FC_CONV_AUTO_HIGH = 6,
} fc_conv_algorithm;

/* Instruction-set paths.  Each architecture has its own list, in increasing order of
 * capability (fc_arch_isas): x86-64 scalar, avx2, avx512; aarch64 scalar, neon; any other
 * scalar.  There is no order across architectures. */
typedef enum fc_isa {
    FC_ISA_SCALAR = 0,
    FC_ISA_AVX2 = 1,   /* x86-64: AVX2 + FMA */
    FC_ISA_AVX512 = 2, /* x86-64: AVX-512 F, VL, BW, DQ (+ AVX2, FMA) */
    FC_ISA_NEON = 3,   /* aarch64: Advanced SIMD (baseline of the architecture) */
} fc_isa;

typedef struct fc_conv2d_params {
    int64_t n, c, h, w;          /* input: batch, channels, height, width */
    int64_t k, r, s;             /* filters: count, height, width */
    int64_t stride_h, stride_w;  /* >= 1 */
    int64_t dilation_h, dilation_w; /* >= 1 */
    int64_t pad_top, pad_bottom, pad_left, pad_right; /* >= 0 */
    int64_t groups;              /* >= 1, divides c and k */
    /* Workspace bytes per thread the GEMM drivers (forward: im2col, pointwise; backward:
     * grad_input and grad_weight) and Winograd may allocate, >= 0; 0 means the default,
     * 16 MiB.  fc_conv2d_min_workspace / fc_conv2d_backward_min_workspace tell the least.  A
     * smaller budget may be slower, never changes a result. */
    int64_t max_workspace_bytes;
} fc_conv2d_params;

typedef struct fc_pool2d_params {
    int64_t n, c, h, w;
    int64_t kernel_h, kernel_w;  /* >= 1 */
    int64_t stride_h, stride_w;  /* >= 1 */
    int64_t pad_h, pad_w;        /* 0 <= pad <= kernel / 2 */
    int64_t dilation_h, dilation_w; /* >= 1; average pooling requires 1 */
    int ceil_mode;
    int count_include_pad;       /* average pooling only */
    int64_t divisor_override;    /* average pooling only: 0, or the divisor of every window */
} fc_pool2d_params;

/* ---- sizes -------------------------------------------------------------------------------- */
fc_status fc_conv2d_output_size(const fc_conv2d_params *p, int64_t *out_h, int64_t *out_w);
fc_status fc_pool2d_output_size(const fc_pool2d_params *p, int64_t *out_h, int64_t *out_w);

/* ---- optimised ops (csrc/ops) ------------------------------------------------------------- */
fc_status fc_conv2d_forward(const fc_conv2d_params *p, fc_dtype dtype, const void *x,
                            const void *weight, const fc_epilogue *epilogue, void *y,
                            fc_conv_algorithm algorithm);
/* What algorithm=mode (FC_CONV_AUTO, or FC_CONV_AUTO_HIGH for precision "high") runs for these
 * parameters and dtype on the ISA path in use: the rule, which knows which members are
 * vectorised.  FC_CONV_DEPTHWISE needs groups == C (FC_ERR_INVALID_ARGUMENT otherwise). */
fc_conv_algorithm fc_conv2d_auto_algorithm(const fc_conv2d_params *p, fc_dtype dtype,
                                           fc_conv_algorithm mode);
/* The least max_workspace_bytes fc_conv2d_forward accepts for these parameters and algorithm
 * with the current thread setting (0 for an algorithm without a bounded workspace). */
fc_status fc_conv2d_min_workspace(const fc_conv2d_params *p, fc_dtype dtype,
                                  fc_conv_algorithm algorithm, int64_t *bytes);
/* Winograd filters transformed once (fastconv.prepare_weights).  p: a geometry Winograd runs
 * (3x3, stride 1, dilation 1; the filters do not depend on n, h, w or the padding), weight
 * float32 (K, C / groups, 3, 3).  The transformed filters take *floats floats, laid out for
 * the installed GEMM member's MR (*mr); fc_conv2d_forward_prepared takes them with the floats
 * and MR they were made for and refuses (FC_ERR_INVALID_ARGUMENT) any other: after
 * fc_select_isa picked a GEMM of another MR, prepare again.  Results are bitwise those of
 * fc_conv2d_forward with FC_CONV_WINOGRAD on the same weight. */
fc_status fc_conv2d_winograd_prepared_size(const fc_conv2d_params *p, int64_t *floats,
                                           int64_t *mr);
fc_status fc_conv2d_winograd_prepare(const fc_conv2d_params *p, const float *weight, float *u,
                                     int64_t floats);
fc_status fc_conv2d_forward_prepared(const fc_conv2d_params *p, const float *x, const float *u,
                                     int64_t floats, int64_t mr, const fc_epilogue *epilogue,
                                     float *y);
fc_status fc_conv2d_prepared_min_workspace(const fc_conv2d_params *p, int64_t floats, int64_t mr,
                                           int64_t *bytes);
/* Channels last (NHWC): x (N, H, W, C), y (N, P, Q, K), the weights (K, C / groups, R, S)
 * and the epilogue's residual in y's layout; the formula and the order of every sum as
 * above, so the result is the NCHW GEMM drivers' (im2col, pointwise), transposed, bit for
 * bit (depthwise, groups == C == K: the NCHW depthwise driver's).  The GEMM of
 * ops/conv2d_nhwc.tmpl.h, or its depthwise driver. */
fc_status fc_conv2d_forward_nhwc(const fc_conv2d_params *p, fc_dtype dtype, const void *x,
                                 const void *weight, const fc_epilogue *epilogue, void *y);
fc_status fc_conv2d_nhwc_min_workspace(const fc_conv2d_params *p, fc_dtype dtype,
                                       int64_t *bytes);
fc_status fc_max_pool2d_forward(const fc_pool2d_params *p, fc_dtype dtype, const void *x,
                                void *y, int64_t *indices /* may be NULL */);
fc_status fc_avg_pool2d_forward(const fc_pool2d_params *p, fc_dtype dtype, const void *x,
                                void *y);
/* Channels-last pooling: x (N, H, W, C), y and indices (N, P, Q, C), the indices flat
 * ih * W + iw into the plane as above (torch's for channels_last tensors); the values and
 * indices those of the NCHW ops, transposed. */
fc_status fc_max_pool2d_forward_nhwc(const fc_pool2d_params *p, fc_dtype dtype, const void *x,
                                     void *y, int64_t *indices /* may be NULL */);
fc_status fc_avg_pool2d_forward_nhwc(const fc_pool2d_params *p, fc_dtype dtype, const void *x,
                                     void *y);
/* Adaptive average pooling, as torch: x (N, C, H, W) -> y (N, C, out_h, out_w), output (i, j)
 * the mean of rows [floor(i H / out_h), ceil((i + 1) H / out_h)) and the columns likewise
 * (fc_adaptive_window); all sizes >= 1 but N, C >= 0.  The sums run row by row, left to right;
 * the threads split the planes. */
fc_status fc_adaptive_avg_pool2d_forward(int64_t n, int64_t c, int64_t h, int64_t w,
                                         int64_t out_h, int64_t out_w, fc_dtype dtype,
                                         const void *x, void *y);
/* Batch normalisation over (N, H*W) per channel, as torch.nn.functional.batch_norm, of
 * x (N, C, HW) contiguous.  training: the batch's mean and biased variance normalise
 * (count = N * HW >= 2); running_mean / running_var (C,), when not NULL, are updated IN PLACE
 * as (1 - momentum) r + momentum s, s the mean and the unbiased variance.  Otherwise
 * running_mean and running_var (required) normalise.  y = (x - mean) * invstd * weight + bias,
 * invstd = 1 / sqrt(var + eps), weight / bias NULL meaning 1 / 0; save_mean and save_invstd
 * (C,), when not NULL, receive the mean and invstd used (the backward's inputs).  Channel
 * sums run in eight interleaved partial sums, in double, in a fixed order; the threads split
 * the channels: bitwise identical for any thread count.  y may not overlap x. */
typedef struct fc_batch_norm_params {
    int64_t n, c, hw; /* >= 0, >= 1, >= 1 */
    int training;
    double momentum, eps; /* finite, eps >= 0 */
} fc_batch_norm_params;
fc_status fc_batch_norm_forward(const fc_batch_norm_params *p, fc_dtype dtype, const void *x,
                                const void *weight, const void *bias, void *running_mean,
                                void *running_var, void *y, void *save_mean,
                                void *save_invstd);
/* y = act(a + b) elementwise (the epilogue's table and its SIMD rows: fastconv.add); y may be
 * a or b (in place), no other overlap. */
fc_status fc_add_forward(int64_t count, fc_dtype dtype, fc_activation activation, double alpha,
                         const void *a, const void *b, void *y);
/* The standalone activations (fastconv.relu, relu6, leaky_relu): y = act(x) elementwise by the
 * epilogue's formulas, relu by its SIMD members (alpha: leaky_relu's negative slope); y may
 * be x.  An activation outside
 * fc_activation is FC_ERR_INVALID_ARGUMENT. */
fc_status fc_activation_forward(int64_t count, fc_dtype dtype, fc_activation activation,
                                double alpha, const void *x, void *y);
/* y = act(x weight^T + bias + residual), see Linear above. */
fc_status fc_linear_forward(int64_t n, int64_t in_features, int64_t out_features, fc_dtype dtype,
                            const void *x, const void *weight, const fc_epilogue *epilogue,
                            void *y);

/* ---- backward passes (csrc/ops/<op>_backward.c) ---------------------------------------------
 * conv2d: grad_output is (N, K, P, Q) for the forward described by p; each of grad_input
 * (N, C, H, W), grad_weight (K, C / groups, R, S) and grad_bias (K,) is computed when its pointer
 * is not NULL.  Sums over the batch and the pixels (grad_weight, grad_bias) run in an order that
 * does not depend on the thread count.
 * max_pool2d: grad_input (N, C, H, W) = 0, then grad_output[n, c, i] added at the flat index
 * indices[n, c, i] of its plane (-1: skipped); every index must lie in [-1, H * W), else
 * FC_ERR_INVALID_ARGUMENT and nothing is written.
 * avg_pool2d: grad_output (N, C, P, Q) of the forward p; each window element receives
 * grad_output / divisor, the forward's divisor.
 * grad_input may be grad_output (in place). */
/* activation: grad_input = grad_output times act'(x), x the forward's input, as torch: relu
 * grad_output where !(x <= 0), else +0 (a NaN passes the gradient, as threshold_backward; x
 * may as well be relu's output, which has the same sign), relu6
 * grad_output where 0 < x < 6, else 0 (NaN x too), leaky_relu grad_output where x > 0 and
 * grad_output * alpha elsewhere (NaN x included); grad_input may be grad_output. */
fc_status fc_activation_backward(int64_t count, fc_dtype dtype, fc_activation activation,
                                 double alpha, const void *grad_output, const void *x,
                                 void *grad_input);
/* adaptive_avg_pool2d: grad_input (N, C, H, W) = 0, then each window element receives
 * grad_output / the window's size (overlapping windows accumulate, outputs in row-major
 * order). */
fc_status fc_adaptive_avg_pool2d_backward(int64_t n, int64_t c, int64_t h, int64_t w,
                                          int64_t out_h, int64_t out_w, fc_dtype dtype,
                                          const void *grad_output, void *grad_input);
/* batch_norm: mean and invstd the forward's save_mean / save_invstd (eval: the running
 * mean and 1 / sqrt(running_var + eps)).  grad_weight = sum g (x - mean) invstd, grad_bias =
 * sum g; grad_input = invstd w (g - [training] (sum g + (x - mean) invstd^2 sum g (x - mean))
 * / count), each computed when its pointer is not NULL (p->momentum and p->eps unread). */
fc_status fc_batch_norm_backward(const fc_batch_norm_params *p, fc_dtype dtype,
                                 const void *grad_output, const void *x, const void *weight,
                                 const void *mean, const void *invstd, void *grad_input,
                                 void *grad_weight, void *grad_bias);
/* conv2d's grad_input_algorithm: FC_CONV_AUTO or FC_CONV_IM2COL, the GEMM (col2im; exact-order
 * sums); FC_CONV_AUTO_HIGH, Winograd F(4x4, 3x3) where it measured faster (the forward's rule
 * for the transposed convolution: grad_output convolved with the turned filters); and
 * FC_CONV_WINOGRAD, always (3x3, stride 1, dilation 1, float32; else FC_ERR_INVALID_ARGUMENT).
 * grad_weight and grad_bias always run the GEMM. */
fc_status fc_conv2d_backward(const fc_conv2d_params *p, fc_dtype dtype, const void *grad_output,
                             const void *x, const void *weight, void *grad_input,
                             void *grad_weight, void *grad_bias,
                             fc_conv_algorithm grad_input_algorithm);
/* The least max_workspace_bytes fc_conv2d_backward accepts for these parameters, the
 * requested gradients (non-zero flags) and grad_input_algorithm with the current thread
 * setting. */
fc_status fc_conv2d_backward_min_workspace(const fc_conv2d_params *p, fc_dtype dtype,
                                           int grad_input, int grad_weight, int grad_bias,
                                           fc_conv_algorithm grad_input_algorithm,
                                           int64_t *bytes);
/* Channels last: grad_output (N, P, Q, K), x and grad_input (N, H, W, C), the weights and
 * grad_weight (K, C / groups, R, S) as in NCHW; the GEMM on channels-last rows
 * (ops/conv2d_backward_nhwc.tmpl.h), bitwise the same for any thread count. */
fc_status fc_conv2d_backward_nhwc(const fc_conv2d_params *p, fc_dtype dtype,
                                  const void *grad_output, const void *x, const void *weight,
                                  void *grad_input, void *grad_weight, void *grad_bias);
fc_status fc_conv2d_backward_nhwc_min_workspace(const fc_conv2d_params *p, fc_dtype dtype,
                                                int grad_input, int grad_weight, int grad_bias,
                                                int64_t *bytes);
/* conv_transpose2d (torch's), the adjoint of the conv2d that p describes: x has that conv's
 * output shape (N, K, P, Q) from fc_conv2d_output_size, y (N, C, H, W) its input's, weight
 * is (K, C / groups, R, S) (torch's (C_in, C_out / groups, kH, kW)).  Forward: y = the conv's
 * grad_input for grad_output x, then y = act((y + bias[c]) + residual) (the epilogue, bias
 * (C,)).  Backward, for grad_output of y's shape: grad_input (x's shape) = conv2d(grad_output,
 * weight), grad_weight = the conv's weight gradient with x as its grad_output and grad_output
 * as its input, grad_bias (C,) the sums of grad_output per channel; each computed when its
 * pointer is not NULL.  Deterministic as conv2d's forward and backward. */
fc_status fc_conv_transpose2d_forward(const fc_conv2d_params *p, fc_dtype dtype, const void *x,
                                      const void *weight, const fc_epilogue *epilogue, void *y);
fc_status fc_conv_transpose2d_backward(const fc_conv2d_params *p, fc_dtype dtype,
                                       const void *grad_output, const void *x,
                                       const void *weight, void *grad_input, void *grad_weight,
                                       void *grad_bias);
fc_status fc_max_pool2d_backward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t out_h,
                                 int64_t out_w, fc_dtype dtype, const void *grad_output,
                                 const int64_t *indices, void *grad_input);
fc_status fc_avg_pool2d_backward(const fc_pool2d_params *p, fc_dtype dtype,
                                 const void *grad_output, void *grad_input);
/* Channels last: grad_output, indices (N, P, Q, C), grad_input (N, H, W, C), the indices flat
 * into each channel's plane as in NCHW; every sum in the NCHW ops' order, so their results
 * transposed, bit for bit. */
fc_status fc_max_pool2d_backward_nhwc(int64_t n, int64_t c, int64_t h, int64_t w,
                                      int64_t out_h, int64_t out_w, fc_dtype dtype,
                                      const void *grad_output, const int64_t *indices,
                                      void *grad_input);
fc_status fc_avg_pool2d_backward_nhwc(const fc_pool2d_params *p, fc_dtype dtype,
                                      const void *grad_output, void *grad_input);
/* linear: each of grad_input (n, in_features), grad_weight (out_features, in_features) and
 * grad_bias (out_features,) is computed when its pointer is not NULL (formulas above); x is
 * needed for grad_weight, weight for grad_input.  Every element is one sum in the stated
 * order, computed by one thread: bitwise identical for any thread count and schedule. */
fc_status fc_linear_backward(int64_t n, int64_t in_features, int64_t out_features,
                             fc_dtype dtype, const void *grad_output, const void *x,
                             const void *weight, void *grad_input, void *grad_weight,
                             void *grad_bias);

/* ---- naive references (csrc/ref): the ground truth the optimised ops are tested against --- */
fc_status fc_ref_conv2d_forward(const fc_conv2d_params *p, fc_dtype dtype, const void *x,
                                const void *weight, const fc_epilogue *epilogue, void *y);
fc_status fc_ref_max_pool2d_forward(const fc_pool2d_params *p, fc_dtype dtype, const void *x,
                                    void *y, int64_t *indices);
fc_status fc_ref_avg_pool2d_forward(const fc_pool2d_params *p, fc_dtype dtype, const void *x,
                                    void *y);
fc_status fc_ref_adaptive_avg_pool2d_forward(int64_t n, int64_t c, int64_t h, int64_t w,
                                             int64_t out_h, int64_t out_w, fc_dtype dtype,
                                             const void *x, void *y);
fc_status fc_ref_adaptive_avg_pool2d_backward(int64_t n, int64_t c, int64_t h, int64_t w,
                                              int64_t out_h, int64_t out_w, fc_dtype dtype,
                                              const void *grad_output, void *grad_input);
fc_status fc_ref_batch_norm_forward(const fc_batch_norm_params *p, fc_dtype dtype,
                                    const void *x, const void *weight, const void *bias,
                                    void *running_mean, void *running_var, void *y,
                                    void *save_mean, void *save_invstd);
fc_status fc_ref_batch_norm_backward(const fc_batch_norm_params *p, fc_dtype dtype,
                                     const void *grad_output, const void *x, const void *weight,
                                     const void *mean, const void *invstd, void *grad_input,
                                     void *grad_weight, void *grad_bias);
fc_status fc_ref_add_forward(int64_t count, fc_dtype dtype, fc_activation activation,
                             double alpha, const void *a, const void *b, void *y);
fc_status fc_ref_activation_forward(int64_t count, fc_dtype dtype, fc_activation activation,
                                    double alpha, const void *x, void *y);
fc_status fc_ref_activation_backward(int64_t count, fc_dtype dtype, fc_activation activation,
                                     double alpha, const void *grad_output, const void *x,
                                     void *grad_input);
fc_status fc_ref_conv2d_backward(const fc_conv2d_params *p, fc_dtype dtype,
                                 const void *grad_output, const void *x, const void *weight,
                                 void *grad_input, void *grad_weight, void *grad_bias);
fc_status fc_ref_conv2d_backward_nhwc(const fc_conv2d_params *p, fc_dtype dtype,
                                      const void *grad_output, const void *x,
                                      const void *weight, void *grad_input, void *grad_weight,
                                      void *grad_bias);
fc_status fc_ref_conv_transpose2d_forward(const fc_conv2d_params *p, fc_dtype dtype,
                                          const void *x, const void *weight,
                                          const fc_epilogue *epilogue, void *y);
fc_status fc_ref_conv_transpose2d_backward(const fc_conv2d_params *p, fc_dtype dtype,
                                           const void *grad_output, const void *x,
                                           const void *weight, void *grad_input,
                                           void *grad_weight, void *grad_bias);
fc_status fc_ref_max_pool2d_backward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t out_h,
                                     int64_t out_w, fc_dtype dtype, const void *grad_output,
                                     const int64_t *indices, void *grad_input);
fc_status fc_ref_avg_pool2d_backward(const fc_pool2d_params *p, fc_dtype dtype,
                                     const void *grad_output, void *grad_input);
fc_status fc_ref_linear_forward(int64_t n, int64_t in_features, int64_t out_features,
                                fc_dtype dtype, const void *x, const void *weight,
                                const fc_epilogue *epilogue, void *y);
fc_status fc_ref_linear_backward(int64_t n, int64_t in_features, int64_t out_features,
                                 fc_dtype dtype, const void *grad_output, const void *x,
                                 const void *weight, void *grad_input, void *grad_weight,
                                 void *grad_bias);

/* ---- image filtering (filter2d.c, ref/filter2d.c) ---------------------------------------
 * Images as OpenCV and scipy.ndimage hold them: x is (N, H, W, C) pixels of x_type at any
 * element strides (negative too); y is C-contiguous (N, H, W, C) of y_type.  Correlation:
 *
 *   y[n, i, j, c] = delta + sum_{r < kh, s < kw} k[r * kw + s] * x~[n, i + r - anchor_y, j + s - anchor_x, c]
 *
 * summed in the order delta, r, s ascending, where x~ extends x past its edges by `border` (OpenCV's
 * borderInterpolate, applied repeatedly when the kernel is larger than the image; constant
 * reads `value`).  The sum runs in float64 when x_type or y_type is FC_PIXEL_F64, else in
 * float32; integer outputs are rounded half to even and saturated (OpenCV's saturate_cast).
 * fc_sep_filter2d filters with the outer product ky (kh taps) x kx (kw taps): a row pass
 * sum_s kx[s] * x~ for every row a tile needs, then a column pass sum_r ky[r] * rows. */
typedef enum fc_border {
    FC_BORDER_CONSTANT,   /* cv2.BORDER_CONSTANT, scipy "constant": value */
    FC_BORDER_REPLICATE,  /* cv2.BORDER_REPLICATE, scipy "nearest": aaa|abcd|ddd */
    FC_BORDER_REFLECT,    /* cv2.BORDER_REFLECT, scipy "reflect": cba|abcd|dcb */
    FC_BORDER_REFLECT101, /* cv2.BORDER_REFLECT_101, scipy "mirror": dcb|abcd|cba */
    FC_BORDER_WRAP        /* scipy "grid-wrap" (cv2.filter2D refuses BORDER_WRAP): bcd|abcd|abc */
} fc_border;

typedef enum fc_pixel_type {
    FC_PIXEL_U8,
    FC_PIXEL_U16,
    FC_PIXEL_I16,
    FC_PIXEL_F32,
    FC_PIXEL_F64
} fc_pixel_type;

typedef struct fc_filter2d_params {
    int64_t n, h, w, c;
    int64_t x_strides[4]; /* x's strides in elements, for n, h, w, c */
    int64_t kh, kw, anchor_y, anchor_x; /* 0 <= anchor_y < kh, 0 <= anchor_x < kw */
    fc_border border;
    double value; /* the constant border's pixels */
    double delta; /* added to every sum, as cv2.filter2D's delta */
    fc_pixel_type x_type, y_type;
} fc_filter2d_params;

fc_status fc_filter2d(const fc_filter2d_params *p, const void *x, const double *kernel, void *y);
fc_status fc_sep_filter2d(const fc_filter2d_params *p, const void *x, const double *kx,
                          const double *ky, void *y);
fc_status fc_ref_filter2d(const fc_filter2d_params *p, const void *x, const double *kernel,
                          void *y);
fc_status fc_ref_sep_filter2d(const fc_filter2d_params *p, const void *x, const double *kx,
                              const double *ky, void *y);

/* ---- configuration ------------------------------------------------------------------------ */
const char *fc_status_string(fc_status status);
/* torch.nn.functional's name of an activation ("none" for FC_ACTIVATION_NONE); NULL past the
 * last one, so a caller can list them all from 0. */
const char *fc_activation_name(fc_activation activation);

/* Threads used by every op: at most n (n >= 1; 0 forgets n) and at most OpenMP's
 * omp_get_max_threads() in the calling thread; fc_set_num_threads(n) also calls
 * omp_set_num_threads(n).  See common/common.c. */
fc_status fc_set_num_threads(int n);
int fc_get_num_threads(void);
int fc_has_openmp(void);

/* ISA: the best the CPU supports, and the one in use.  fc_select_isa picks the best supported
 * path not above `requested` in this architecture's list (the FASTCONV_ISA override; a path of
 * another architecture means the best); it is called once at import.  fc_arch_isas points
 * *isas at the build architecture's paths, lowest first, and returns their count. */
int fc_arch_isas(const fc_isa **isas);
fc_isa fc_cpu_isa(void);
fc_isa fc_active_isa(void);
void fc_select_isa(fc_isa requested);
const char *fc_isa_name(fc_isa isa);

/* Name of the kernel an op runs on the active ISA, e.g. "f32-gemm 4x4 scalar".
 * op: "conv2d_im2col", "conv2d_pointwise", "conv2d_direct", "conv2d_depthwise", "max_pool2d",
 * "avg_pool2d", "relu", "conv2d_backward_weight" (grad_input runs on conv2d_im2col's kernel).
 * NULL if unknown. */
const char *fc_kernel_name(const char *op, fc_dtype dtype);

#ifdef __cplusplus
}
#endif
#endif /* FASTCONV_H */

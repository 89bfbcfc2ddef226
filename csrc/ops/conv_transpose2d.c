/* conv_transpose2d: the adjoint of conv2d, run on conv2d's own drivers (no frame code here).
 * p describes the conv2d whose input has the shape of y (N, C, H, W) and whose output has the
 * shape of x (N, K, P, Q); weight is (K, C / groups, R, S), which is torch's transposed layout
 * (C_in, C_out / groups, kH, kW).  Then
 *   forward      y  = conv2d_backward's grad_input of "grad_output" x, then bias + activation
 *   grad_input   gx = conv2d(grad_output, weight)          (the forward conv)
 *   grad_weight  gw = conv2d_backward's grad_weight with x and grad_output swapped
 *   grad_bias    gb = sums of grad_output over the batch and pixels, per channel of y.
 * The forward first tries the phase GEMMs (ops/conv_transpose2d_phases.tmpl.h: dilation 1,
 * kernel >= stride, as U-Net's 2x2 s2 and DCGAN's 4x4 s2 p1), which store each element of y
 * once with the bias and the activation; elsewhere it is the backward-data path above.
 * The epilogue cannot ride in the backward-data GEMM (col2im adds into y until the last strip
 * of a plane is done), so it is one pass over y, parallel over planes; each plane's values
 * depend on nothing but the plane, so the pass is bitwise the same for any thread count. */
#include "common/epilogue.h"
#include "common/internal.h"
#include "common/parallel.h"
#include "ops/conv_transpose2d_phases.h"

typedef struct transpose_epilogue_job {
    const fc_epi *epi;
    fc_dtype dtype;
    int64_t planes, channels, pixels, tasks;
    void *y;
} transpose_epilogue_job;

#define FC_TRANSPOSE_EPILOGUE(T, SUFFIX)                                                       \
    static void epilogue_planes_##SUFFIX(const transpose_epilogue_job *job, int64_t begin,     \
                                         int64_t end)                                          \
    {                                                                                          \
        const fc_epi *e = job->epi;                                                            \
        for (int64_t plane = begin; plane < end; plane++) {                                    \
            T *t = (T *)job->y + plane * job->pixels;                                          \
            if (e->bias) {                                                                     \
                const T b = ((const T *)e->bias)[plane % job->channels];                       \
                for (int64_t i = 0; i < job->pixels; i++) t[i] += b;                           \
            }                                                                                  \
            if (e->residual || e->activation != FC_ACTIVATION_NONE)                            \
                fc_##SUFFIX##_epilogue_apply(e, t, 1, job->pixels, job->pixels, 1);            \
        }                                                                                      \
    }
FC_TRANSPOSE_EPILOGUE(float, f32)
FC_TRANSPOSE_EPILOGUE(double, f64)
#undef FC_TRANSPOSE_EPILOGUE

static void epilogue_task(void *ctx, int64_t phase, int64_t task, int thread)
{
    (void)phase, (void)thread;
    const transpose_epilogue_job *job = ctx;
    int64_t begin, end;
    fc_task_range(job->planes, job->tasks, task, &begin, &end);
    if (job->dtype == FC_FLOAT32) epilogue_planes_f32(job, begin, end);
    else epilogue_planes_f64(job, begin, end);
}

fc_status fc_conv_transpose2d_forward(const fc_conv2d_params *p, fc_dtype dtype, const void *x,
                                      const void *weight, const fc_epilogue *epilogue, void *y)
{
    int64_t out_h, out_w;
    FC_RETURN_IF_ERROR(fc_validate_conv2d_backward(p, dtype, x, NULL, weight, y, NULL, NULL,
                                                   &out_h, &out_w));
    if (!y) return FC_ERR_INVALID_ARGUMENT;
    const int64_t planes = p->n * p->c, pixels = p->h * p->w;
    fc_epi epi;
    FC_RETURN_IF_ERROR(fc_epilogue_prepare(epilogue, dtype, y, planes * pixels, &epi));
    int done;
    FC_RETURN_IF_ERROR(dtype == FC_FLOAT32
                           ? fc_f32_conv_transpose2d_phases(p, out_h, out_w, x, weight, &epi,
                                                            y, &done)
                           : fc_f64_conv_transpose2d_phases(p, out_h, out_w, x, weight, &epi,
                                                            y, &done));
    if (done) return FC_OK;
    FC_RETURN_IF_ERROR(fc_conv2d_backward(p, dtype, x, NULL, weight, y, NULL, NULL, FC_CONV_AUTO));
    if (!epi.bias && !epi.residual && epi.activation == FC_ACTIVATION_NONE) return FC_OK;
    if (planes == 0) return FC_OK;
    const int threads = fc_region_threads(planes * pixels);
    const int64_t tasks =
        threads == 1 ? 1 : fc_task_count(planes, pixels, FC_ELEMENTWISE_TASK);
    const transpose_epilogue_job job = {&epi, dtype, planes, p->c, pixels, tasks, y};
    fc_parallel_for(threads, tasks, epilogue_task, (void *)&job);
    return FC_OK;
}

typedef struct transpose_bias_job {
    fc_dtype dtype;
    int64_t n, c, pixels, tasks;
    const void *g;
    void *gb;
} transpose_bias_job;

static void grad_bias_task(void *ctx, int64_t phase, int64_t task, int thread)
{
    (void)phase, (void)thread;
    const transpose_bias_job *job = ctx;
    int64_t begin, end;
    fc_task_range(job->c, job->tasks, task, &begin, &end);
    fc_conv2d_grad_bias(job->dtype, job->n, job->c, job->pixels, job->g, job->gb, begin, end);
}

fc_status fc_conv_transpose2d_backward(const fc_conv2d_params *p, fc_dtype dtype,
                                       const void *grad_output, const void *x,
                                       const void *weight, void *grad_input, void *grad_weight,
                                       void *grad_bias)
{
    FC_RETURN_IF_ERROR(fc_validate_conv_transpose2d_backward(p, dtype, grad_output, x, weight,
                                                             grad_input, grad_weight, grad_bias));
    if (grad_input)
        FC_RETURN_IF_ERROR(fc_conv2d_forward(p, dtype, grad_output, weight, NULL, grad_input,
                                             FC_CONV_AUTO));
    if (grad_weight)
        FC_RETURN_IF_ERROR(
            fc_conv2d_backward(p, dtype, x, grad_output, NULL, NULL, grad_weight, NULL,
                               FC_CONV_AUTO));
    if (grad_bias) {
        const int64_t pixels = p->h * p->w;
        const int threads = fc_region_threads(p->n * p->c * pixels);
        const int64_t tasks =
            threads == 1 || p->c == 0 ? 1 : fc_min_i64(p->c, 2 * (int64_t)threads);
        const transpose_bias_job job = {dtype, p->n, p->c, pixels, tasks, grad_output,
                                        grad_bias};
        fc_parallel_for(threads, tasks, grad_bias_task, (void *)&job);
    }
    return FC_OK;
}

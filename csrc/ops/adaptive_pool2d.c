/* Adaptive average pooling, forward and backward: THE parallel region splits the planes (each
 * plane's outputs depend on that plane alone, so any split gives the same bits). */
#include "common/geometry.h"
#include "common/internal.h"
#include "common/parallel.h"

typedef struct adaptive_job {
    int64_t h, w, out_h, out_w, planes, tasks;
    fc_dtype dtype;
    int backward;
    const void *in; /* x, or grad_output */
    void *out;      /* y, or grad_input */
} adaptive_job;

#include "simd/dtype_f32.h"
#include "ops/adaptive_pool2d.tmpl.h"
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#include "ops/adaptive_pool2d.tmpl.h"
#include "simd/dtype_end.h"

static void adaptive_task(void *ctx, int64_t phase, int64_t i, int thread)
{
    (void)phase, (void)thread;
    const adaptive_job *job = ctx;
    int64_t begin, end;
    fc_task_range(job->planes, job->tasks, i, &begin, &end);
    if (job->dtype == FC_FLOAT32)
        fc_f32_adaptive_planes(job, begin, end);
    else
        fc_f64_adaptive_planes(job, begin, end);
}

static fc_status run(int64_t n, int64_t c, int64_t h, int64_t w, int64_t out_h, int64_t out_w,
                     fc_dtype dtype, int backward, const void *in, void *out)
{
    if (n < 0 || c < 0 || h < 1 || w < 1 || out_h < 1 || out_w < 1 ||
        (dtype != FC_FLOAT32 && dtype != FC_FLOAT64))
        return FC_ERR_INVALID_ARGUMENT;
    const int64_t planes = n * c;
    if (planes == 0) return FC_OK;
    /* each input element is read by about one window per axis (more where windows overlap) */
    const int64_t per_plane = fc_mul_saturating(h, w) + fc_mul_saturating(out_h, out_w);
    const int threads =
        (int)fc_min_i64(fc_region_threads(fc_mul_saturating(planes, per_plane)), planes);
    const int64_t tasks =
        threads == 1 ? 1 : fc_task_count(planes, per_plane, FC_MIN_WORK_PER_THREAD / 2);
    adaptive_job job = {h, w, out_h, out_w, planes, tasks, dtype, backward, in, out};
    fc_parallel_for(threads, tasks, adaptive_task, &job);
    return FC_OK;
}

fc_status fc_adaptive_avg_pool2d_forward(int64_t n, int64_t c, int64_t h, int64_t w,
                                         int64_t out_h, int64_t out_w, fc_dtype dtype,
                                         const void *x, void *y)
{
    return run(n, c, h, w, out_h, out_w, dtype, 0, x, y);
}

fc_status fc_adaptive_avg_pool2d_backward(int64_t n, int64_t c, int64_t h, int64_t w,
                                          int64_t out_h, int64_t out_w, fc_dtype dtype,
                                          const void *grad_output, void *grad_input)
{
    return run(n, c, h, w, out_h, out_w, dtype, 1, grad_output, grad_input);
}

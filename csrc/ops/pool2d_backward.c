/* max_pool2d and avg_pool2d backward: validation and the typed drivers of
 * pool2d_backward.tmpl.h; a task is a range of planes. */
#include "common/geometry.h"
#include "common/internal.h"
#include "common/parallel.h"
#include "dispatch.h"

#include "simd/dtype_f32.h"
#include "ops/pool2d_backward.tmpl.h"
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#include "ops/pool2d_backward.tmpl.h"
#include "simd/dtype_end.h"

/* Planes per task: enough work per claim (FC_MIN_WORK_PER_THREAD / 2 values visited) that the
 * claims cost nothing, small enough that a late thread leaves little behind. */
static int64_t plane_tasks(int threads, int64_t planes, int64_t work_per_plane)
{
    return threads == 1 ? 1 : fc_task_count(planes, work_per_plane, FC_MIN_WORK_PER_THREAD / 2);
}

typedef struct max_pool_backward_job {
    int64_t planes, tasks, in_size, out_size;
    fc_dtype dtype;
    const void *grad_output;
    const int64_t *indices;
    void *grad_input;
    fc_index_check_ukernel_fn check;
    int bad; /* an index outside [-1, in_size) was seen (atomic) */
} max_pool_backward_job;

/* Phase 0 checks every index before phase 1 writes anything: a bad index anywhere leaves
 * grad_input untouched. */
static void max_pool_backward_task(void *ctx, int64_t phase, int64_t i, int thread)
{
    (void)thread;
    max_pool_backward_job *job = ctx;
    int64_t begin, end;
    fc_task_range(job->planes, job->tasks, i, &begin, &end);
    if (phase == 0) {
        if (!job->check((size_t)((end - begin) * job->out_size),
                        job->indices + begin * job->out_size, job->in_size))
            __atomic_store_n(&job->bad, 1, __ATOMIC_RELAXED);
    } else if (!__atomic_load_n(&job->bad, __ATOMIC_RELAXED)) {
        if (job->dtype == FC_FLOAT32)
            fc_f32_max_pool2d_backward_planes(begin, end, job->in_size, job->out_size,
                                              job->grad_output, job->indices, job->grad_input);
        else
            fc_f64_max_pool2d_backward_planes(begin, end, job->in_size, job->out_size,
                                              job->grad_output, job->indices, job->grad_input);
    }
}

fc_status fc_max_pool2d_backward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t out_h,
                                 int64_t out_w, fc_dtype dtype, const void *grad_output,
                                 const int64_t *indices, void *grad_input)
{
    int64_t in_size, out_size;
    FC_RETURN_IF_ERROR(fc_validate_max_pool2d_backward(n, c, h, w, out_h, out_w, dtype,
                                                       &in_size, &out_size));
    const int64_t planes = n * c;
    if (planes == 0) return FC_OK;
    const int threads = (int)fc_min_i64(fc_region_threads(planes * (in_size + out_size)), planes);
    max_pool_backward_job job = {planes, plane_tasks(threads, planes, in_size + out_size),
                                 in_size, out_size, dtype, grad_output, indices, grad_input,
                                 fc_kernels()->index_check, 0};
    const int64_t tasks[2] = {job.tasks, job.tasks};
    const fc_parallel_job parallel = {max_pool_backward_task, &job, 2, tasks};
    fc_parallel_run(threads, &parallel);
    return job.bad ? FC_ERR_INVALID_ARGUMENT : FC_OK;
}

typedef struct avg_pool_backward_job {
    const fc_pool2d_params *p;
    int64_t out_h, out_w, tasks;
    fc_dtype dtype;
    const void *grad_output;
    void *grad_input;
} avg_pool_backward_job;

static void avg_pool_backward_task(void *ctx, int64_t phase, int64_t i, int thread)
{
    (void)phase, (void)thread;
    const avg_pool_backward_job *job = ctx;
    int64_t begin, end;
    fc_task_range(job->p->n * job->p->c, job->tasks, i, &begin, &end);
    if (job->dtype == FC_FLOAT32)
        fc_f32_avg_pool2d_backward_planes(job->p, job->out_h, job->out_w, begin, end,
                                          job->grad_output, job->grad_input);
    else
        fc_f64_avg_pool2d_backward_planes(job->p, job->out_h, job->out_w, begin, end,
                                          job->grad_output, job->grad_input);
}

fc_status fc_avg_pool2d_backward(const fc_pool2d_params *p, fc_dtype dtype,
                                 const void *grad_output, void *grad_input)
{
    int64_t out_h, out_w;
    FC_RETURN_IF_ERROR(fc_validate_pool2d(p, 1, &out_h, &out_w));
    if (dtype != FC_FLOAT32 && dtype != FC_FLOAT64) return FC_ERR_INVALID_ARGUMENT;
    const int64_t planes = p->n * p->c;
    if (planes == 0) return FC_OK;
    const int64_t visits = fc_mul_saturating(
        fc_mul_saturating(planes * out_h * out_w, p->kernel_h), p->kernel_w);
    const int threads = (int)fc_min_i64(fc_region_threads(visits), planes);
    avg_pool_backward_job job = {p, out_h, out_w,
                                 plane_tasks(threads, planes, visits / planes + p->h * p->w),
                                 dtype, grad_output, grad_input};
    fc_parallel_for(threads, job.tasks, avg_pool_backward_task, &job);
    return FC_OK;
}

/* ---- channels last (NHWC): a task is a block of channels of one image ---------------------- */

/* Channel blocks per image: the whole image when the images alone keep the team busy, else
 * blocks of at least 16 channels (a cache line of floats per pixel) for about 4 tasks per
 * thread. */
static int64_t nhwc_channel_blocks(int threads, int64_t n, int64_t c)
{
    if (threads == 1 || n >= 4 * threads) return 1;
    return fc_max_i64(1, fc_min_i64(fc_ceil_div(4 * threads, n), c / 16));
}

typedef struct max_pool_backward_nhwc_job {
    int64_t n, c, blocks, check_tasks, in_size, out_size;
    fc_dtype dtype;
    const void *grad_output;
    const int64_t *indices;
    void *grad_input;
    fc_index_check_ukernel_fn check;
    int bad;
} max_pool_backward_nhwc_job;

static void max_pool_backward_nhwc_task(void *ctx, int64_t phase, int64_t i, int thread)
{
    (void)thread;
    max_pool_backward_nhwc_job *job = ctx;
    int64_t begin, end;
    if (phase == 0) { /* every index checked before anything is written, as in NCHW */
        fc_task_range(job->n * job->out_size * job->c, job->check_tasks, i, &begin, &end);
        if (!job->check((size_t)(end - begin), job->indices + begin, job->in_size))
            __atomic_store_n(&job->bad, 1, __ATOMIC_RELAXED);
        return;
    }
    if (__atomic_load_n(&job->bad, __ATOMIC_RELAXED)) return;
    fc_task_range(job->c, job->blocks, i % job->blocks, &begin, &end);
    if (job->dtype == FC_FLOAT32)
        fc_f32_max_pool2d_backward_nhwc_block(i / job->blocks, begin, end, job->c, job->in_size,
                                              job->out_size, job->grad_output, job->indices,
                                              job->grad_input);
    else
        fc_f64_max_pool2d_backward_nhwc_block(i / job->blocks, begin, end, job->c, job->in_size,
                                              job->out_size, job->grad_output, job->indices,
                                              job->grad_input);
}

fc_status fc_max_pool2d_backward_nhwc(int64_t n, int64_t c, int64_t h, int64_t w,
                                      int64_t out_h, int64_t out_w, fc_dtype dtype,
                                      const void *grad_output, const int64_t *indices,
                                      void *grad_input)
{
    int64_t in_size, out_size;
    FC_RETURN_IF_ERROR(fc_validate_max_pool2d_backward(n, c, h, w, out_h, out_w, dtype,
                                                       &in_size, &out_size));
    if (n * c == 0) return FC_OK;
    const int64_t work = n * c * (in_size + out_size);
    const int threads = (int)fc_min_i64(fc_region_threads(work), n * c);
    max_pool_backward_nhwc_job job = {n, c, nhwc_channel_blocks(threads, n, c),
                                      plane_tasks(threads, n * c, out_size), in_size, out_size,
                                      dtype, grad_output, indices, grad_input,
                                      fc_kernels()->index_check, 0};
    const int64_t tasks[2] = {job.check_tasks, n * job.blocks};
    const fc_parallel_job parallel = {max_pool_backward_nhwc_task, &job, 2, tasks};
    fc_parallel_run(threads, &parallel);
    return job.bad ? FC_ERR_INVALID_ARGUMENT : FC_OK;
}

typedef struct avg_pool_backward_nhwc_job {
    const fc_pool2d_params *p;
    int64_t out_h, out_w, blocks;
    fc_dtype dtype;
    const void *grad_output;
    void *grad_input;
} avg_pool_backward_nhwc_job;

static void avg_pool_backward_nhwc_task(void *ctx, int64_t phase, int64_t i, int thread)
{
    (void)phase, (void)thread;
    const avg_pool_backward_nhwc_job *job = ctx;
    int64_t begin, end;
    fc_task_range(job->p->c, job->blocks, i % job->blocks, &begin, &end);
    if (job->dtype == FC_FLOAT32)
        fc_f32_avg_pool2d_backward_nhwc_block(job->p, job->out_h, job->out_w, i / job->blocks,
                                              begin, end, job->grad_output, job->grad_input);
    else
        fc_f64_avg_pool2d_backward_nhwc_block(job->p, job->out_h, job->out_w, i / job->blocks,
                                              begin, end, job->grad_output, job->grad_input);
}

fc_status fc_avg_pool2d_backward_nhwc(const fc_pool2d_params *p, fc_dtype dtype,
                                      const void *grad_output, void *grad_input)
{
    int64_t out_h, out_w;
    FC_RETURN_IF_ERROR(fc_validate_pool2d(p, 1, &out_h, &out_w));
    if (dtype != FC_FLOAT32 && dtype != FC_FLOAT64) return FC_ERR_INVALID_ARGUMENT;
    if (p->n * p->c == 0) return FC_OK;
    const int64_t visits = fc_mul_saturating(
        fc_mul_saturating(p->n * p->c * out_h * out_w, p->kernel_h), p->kernel_w);
    const int threads = (int)fc_min_i64(fc_region_threads(visits), p->n * p->c);
    avg_pool_backward_nhwc_job job = {p, out_h, out_w, nhwc_channel_blocks(threads, p->n, p->c),
                                      dtype, grad_output, grad_input};
    fc_parallel_for(threads, p->n * job.blocks, avg_pool_backward_nhwc_task, &job);
    return FC_OK;
}

/* ReLU backward: the arrays are cut into contiguous ranges that the threads claim. */
#include "common/internal.h"
#include "common/parallel.h"
#include "dispatch.h"

typedef struct relu_backward_job {
    int64_t count, tasks, size;
    const char *g, *y;
    char *gx;
    fc_f32_relu_backward_ukernel_fn f32;
    fc_f64_relu_backward_ukernel_fn f64;
} relu_backward_job;

static void relu_backward_task(void *ctx, int64_t phase, int64_t i, int thread)
{
    (void)phase, (void)thread;
    const relu_backward_job *job = ctx;
    int64_t begin, end;
    fc_task_range(job->count, job->tasks, i, &begin, &end);
    const char *g = job->g + begin * job->size, *y = job->y + begin * job->size;
    char *gx = job->gx + begin * job->size;
    if (job->f32)
        job->f32((size_t)(end - begin), (const float *)g, (const float *)y, (float *)gx);
    else
        job->f64((size_t)(end - begin), (const double *)g, (const double *)y, (double *)gx);
}

fc_status fc_relu_backward(int64_t count, fc_dtype dtype, const void *grad_output,
                           const void *output, void *grad_input)
{
    if (count < 0 || (dtype != FC_FLOAT32 && dtype != FC_FLOAT64)) return FC_ERR_INVALID_ARGUMENT;
    const fc_kernel_table *kernels = fc_kernels();
    const int threads = fc_region_threads(count);
    relu_backward_job job = {count, threads == 1 ? 1 : fc_task_count(count, 1, FC_ELEMENTWISE_TASK),
                             dtype == FC_FLOAT32 ? (int64_t)sizeof(float) : (int64_t)sizeof(double),
                             grad_output, output, grad_input, NULL, NULL};
    if (dtype == FC_FLOAT32)
        job.f32 = kernels->f32_relu_backward;
    else
        job.f64 = kernels->f64_relu_backward;
    fc_parallel_for(threads, job.tasks, relu_backward_task, &job);
    return FC_OK;
}

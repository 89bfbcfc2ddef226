/* The standalone activations (relu6, leaky_relu) and their gradients: the array is cut into
 * contiguous ranges that the threads claim, each run by the epilogue's range loops
 * (common/epilogue.h), so the formulas are the activation table's, not a second copy. */
#include "common/epilogue.h"
#include "common/internal.h"
#include "common/parallel.h"

typedef struct activation_job {
    int64_t count, tasks;
    fc_dtype dtype;
    fc_activation activation;
    double alpha;
    const void *g; /* NULL: the forward */
    const void *x;
    void *y;
} activation_job;

static void activation_task(void *ctx, int64_t phase, int64_t i, int thread)
{
    (void)phase, (void)thread;
    const activation_job *job = ctx;
    int64_t begin, end;
    fc_task_range(job->count, job->tasks, i, &begin, &end);
    const int64_t n = end - begin;
    if (job->dtype == FC_FLOAT32) {
        const float *x = (const float *)job->x + begin;
        float *y = (float *)job->y + begin;
        if (job->g)
            fc_f32_activation_grad_range(job->activation, job->alpha,
                                         (const float *)job->g + begin, x, y, n);
        else
            fc_f32_activation_range(job->activation, job->alpha, x, y, n);
    } else {
        const double *x = (const double *)job->x + begin;
        double *y = (double *)job->y + begin;
        if (job->g)
            fc_f64_activation_grad_range(job->activation, job->alpha,
                                         (const double *)job->g + begin, x, y, n);
        else
            fc_f64_activation_range(job->activation, job->alpha, x, y, n);
    }
}

static fc_status run(int64_t count, fc_dtype dtype, fc_activation activation, double alpha,
                     const void *g, const void *x, void *y)
{
    if (count < 0 || (dtype != FC_FLOAT32 && dtype != FC_FLOAT64) ||
        !fc_activation_name(activation))
        return FC_ERR_INVALID_ARGUMENT;
    const int threads = fc_region_threads(count);
    /* elementwise: each element's result depends on it alone, so any split is bitwise the same */
    const int64_t tasks = threads == 1 ? 1 : fc_task_count(count, 1, FC_ELEMENTWISE_TASK);
    activation_job job = {count, tasks, dtype, activation, alpha, g, x, y};
    fc_parallel_for(threads, tasks, activation_task, &job);
    return FC_OK;
}

fc_status fc_activation_forward(int64_t count, fc_dtype dtype, fc_activation activation,
                                double alpha, const void *x, void *y)
{
    return run(count, dtype, activation, alpha, NULL, x, y);
}

fc_status fc_activation_backward(int64_t count, fc_dtype dtype, fc_activation activation,
                                 double alpha, const void *grad_output, const void *x,
                                 void *grad_input)
{
    if (!grad_output) return FC_ERR_INVALID_ARGUMENT;
    return run(count, dtype, activation, alpha, grad_output, x, grad_input);
}

/* Batch normalisation, forward and backward (fastconv.h): THE parallel region splits the
 * channels, and each channel's sums run in one task in a fixed order (batch_norm.tmpl.h), so
 * any split gives the same bits. */
#include <math.h>

#include "common/internal.h"
#include "common/parallel.h"

typedef struct bn_job {
    const fc_batch_norm_params *p;
    int64_t tasks;
    fc_dtype dtype;
    int backward;
    const void *x, *g, *weight, *bias, *mean, *invstd;
    void *running_mean, *running_var, *y, *save_mean, *save_invstd;
    void *grad_input, *grad_weight, *grad_bias;
} bn_job;

#include "simd/dtype_f32.h"
#include "ops/batch_norm.tmpl.h"
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#include "ops/batch_norm.tmpl.h"
#include "simd/dtype_end.h"

static void bn_task(void *ctx, int64_t phase, int64_t i, int thread)
{
    (void)phase, (void)thread;
    const bn_job *job = ctx;
    int64_t begin, end;
    fc_task_range(job->p->c, job->tasks, i, &begin, &end);
    if (job->dtype == FC_FLOAT32) {
        if (job->backward) fc_f32_bn_backward_channels(job, begin, end);
        else fc_f32_bn_forward_channels(job, begin, end);
    } else {
        if (job->backward) fc_f64_bn_backward_channels(job, begin, end);
        else fc_f64_bn_forward_channels(job, begin, end);
    }
}

/* The arguments both the driver and the reference refuse: shapes, dtype, eps, the statistics
 * a mode needs (forward: running_mean and running_var, both or neither, required in eval;
 * backward: mean and invstd, required); training needs 2 values per channel (torch's rule: no
 * variance of one). */
fc_status fc_batch_norm_check(const fc_batch_norm_params *p, fc_dtype dtype, int backward,
                              const void *mean, const void *var)
{
    if (!p || p->n < 0 || p->c < 1 || p->hw < 1 || (dtype != FC_FLOAT32 && dtype != FC_FLOAT64))
        return FC_ERR_INVALID_ARGUMENT;
    int64_t count;
    if (fc_mul_overflows(p->n, p->hw, &count) || fc_mul_overflows(count, p->c, &count))
        return FC_ERR_SIZE_OVERFLOW;
    if (backward) return mean && var ? FC_OK : FC_ERR_INVALID_ARGUMENT;
    if (!(p->eps >= 0) || !isfinite(p->momentum) || (!mean) != (!var))
        return FC_ERR_INVALID_ARGUMENT;
    if (p->training ? p->n * p->hw < 2 : !mean) return FC_ERR_INVALID_ARGUMENT;
    return FC_OK;
}

static void run(bn_job *job)
{
    const fc_batch_norm_params *p = job->p;
    const int64_t per_channel = fc_mul_saturating(p->n, p->hw) * 3;
    const int threads =
        (int)fc_min_i64(fc_region_threads(fc_mul_saturating(p->c, per_channel)), p->c);
    job->tasks =
        threads == 1 ? 1 : fc_task_count(p->c, per_channel, FC_MIN_WORK_PER_THREAD / 2);
    fc_parallel_for(threads, job->tasks, bn_task, job);
}

fc_status fc_batch_norm_forward(const fc_batch_norm_params *p, fc_dtype dtype, const void *x,
                                const void *weight, const void *bias, void *running_mean,
                                void *running_var, void *y, void *save_mean, void *save_invstd)
{
    const fc_status status = fc_batch_norm_check(p, dtype, 0, running_mean, running_var);
    if (status != FC_OK) return status;
    bn_job job = {.p = p, .dtype = dtype, .x = x, .weight = weight, .bias = bias,
                  .running_mean = running_mean, .running_var = running_var, .y = y,
                  .save_mean = save_mean, .save_invstd = save_invstd};
    run(&job);
    return FC_OK;
}

fc_status fc_batch_norm_backward(const fc_batch_norm_params *p, fc_dtype dtype,
                                 const void *grad_output, const void *x, const void *weight,
                                 const void *mean, const void *invstd, void *grad_input,
                                 void *grad_weight, void *grad_bias)
{
    const fc_status status = fc_batch_norm_check(p, dtype, 1, mean, invstd);
    if (status != FC_OK) return status;
    bn_job job = {.p = p, .dtype = dtype, .backward = 1, .x = x, .g = grad_output,
                  .weight = weight, .mean = mean, .invstd = invstd, .grad_input = grad_input,
                  .grad_weight = grad_weight, .grad_bias = grad_bias};
    run(&job);
    return FC_OK;
}

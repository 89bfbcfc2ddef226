/* max_pool2d and avg_pool2d backward: validation and the typed drivers of
 * pool2d_backward.tmpl.h, one plane per work item. */
#include "common/internal.h"
#include "dispatch.h"

/* The window of output position o along one axis: input positions [*lo, *hi) inside the plane,
 * and *padded positions inside the padded plane (the count_include_pad divisor). */
static inline void fc_pool_avg_extent(int64_t o, int64_t stride, int64_t pad, int64_t kernel,
                                      int64_t size, int64_t *lo, int64_t *hi, int64_t *padded)
{
    const int64_t start = o * stride - pad;
    const int64_t stop = fc_min_i64(start + kernel, size + pad);
    *padded = stop - start;
    *lo = fc_max_i64(start, 0);
    *hi = fc_min_i64(stop, size);
}

#include "common/dtype_f32.h"
#include "ops/pool2d_backward.tmpl.h"
#include "common/dtype_end.h"

#include "common/dtype_f64.h"
#include "ops/pool2d_backward.tmpl.h"
#include "common/dtype_end.h"

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
    const fc_index_check_ukernel_fn check = fc_kernels()->index_check;
    int bad = 0;

#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        const int t = fc_thread_index();
        int64_t begin, end;
        fc_partition(planes, fc_team_size(), t, &begin, &end);
        /* every thread checks its planes' indices before anyone writes: a bad index anywhere
         * leaves grad_input untouched */
        if (!check((size_t)((end - begin) * out_size), indices + begin * out_size, in_size)) {
#pragma omp atomic write
            bad = 1;
        }
#pragma omp barrier
        int stop;
#pragma omp atomic read
        stop = bad;
        if (!stop) {
            if (dtype == FC_FLOAT32)
                fc_f32_max_pool2d_backward_planes(begin, end, in_size, out_size, grad_output,
                                                  indices, grad_input);
            else
                fc_f64_max_pool2d_backward_planes(begin, end, in_size, out_size, grad_output,
                                                  indices, grad_input);
        }
    }
    return bad ? FC_ERR_INVALID_ARGUMENT : FC_OK;
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

#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        int64_t begin, end;
        fc_partition(planes, fc_team_size(), fc_thread_index(), &begin, &end);
        if (dtype == FC_FLOAT32)
            fc_f32_avg_pool2d_backward_planes(p, out_h, out_w, begin, end, grad_output,
                                              grad_input);
        else
            fc_f64_avg_pool2d_backward_planes(p, out_h, out_w, begin, end, grad_output,
                                              grad_input);
    }
    return FC_OK;
}

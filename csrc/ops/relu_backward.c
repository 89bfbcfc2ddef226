/* ReLU backward: the arrays are cut into one contiguous chunk per thread. */
#include "common/internal.h"
#include "dispatch.h"

fc_status fc_relu_backward(int64_t count, fc_dtype dtype, const void *grad_output,
                           const void *output, void *grad_input)
{
    if (count < 0 || (dtype != FC_FLOAT32 && dtype != FC_FLOAT64)) return FC_ERR_INVALID_ARGUMENT;
    const fc_kernel_table *kernels = fc_kernels();
    const int64_t size = dtype == FC_FLOAT32 ? (int64_t)sizeof(float) : (int64_t)sizeof(double);
    const int threads = fc_region_threads(count);

#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        int64_t begin, end;
        fc_partition(count, fc_team_size(), fc_thread_index(), &begin, &end);
        const char *g = (const char *)grad_output + begin * size;
        const char *y = (const char *)output + begin * size;
        char *gx = (char *)grad_input + begin * size;
        if (dtype == FC_FLOAT32)
            kernels->f32_relu_backward((size_t)(end - begin), (const float *)g, (const float *)y,
                                       (float *)gx);
        else
            kernels->f64_relu_backward((size_t)(end - begin), (const double *)g,
                                       (const double *)y, (double *)gx);
    }
    return FC_OK;
}

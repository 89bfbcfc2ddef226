/* ReLU forward: the array is cut into one contiguous chunk per thread. */
#include "common/internal.h"
#include "dispatch.h"

fc_status fc_relu_forward(int64_t count, fc_dtype dtype, const void *x, void *y)
{
    if (count < 0 || (dtype != FC_FLOAT32 && dtype != FC_FLOAT64)) return FC_ERR_INVALID_ARGUMENT;
    const fc_kernel_table *kernels = fc_kernels();
    const size_t size = dtype == FC_FLOAT32 ? sizeof(float) : sizeof(double);
    const int threads = fc_region_threads(count);

#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        const int team = fc_team_size();
        int64_t begin, end;
        fc_partition(count, team, fc_thread_index(), &begin, &end);
        const char *in = (const char *)x + begin * (int64_t)size;
        char *out = (char *)y + begin * (int64_t)size;
        if (dtype == FC_FLOAT32)
            kernels->f32_relu((size_t)(end - begin), (const float *)in, (float *)out);
        else
            kernels->f64_relu((size_t)(end - begin), (const double *)in, (double *)out);
    }
    return FC_OK;
}

/* Reference ReLU backward: the ground truth for csrc/ops/relu_backward.c.  0 only where
 * y <= 0: a NaN y passes the gradient, as torch's threshold_backward. */
#include "common/internal.h"

fc_status fc_ref_relu_backward(int64_t count, fc_dtype dtype, const void *grad_output,
                               const void *output, void *grad_input)
{
    if (count < 0) return FC_ERR_INVALID_ARGUMENT;
    if (dtype == FC_FLOAT32) {
        const float *g = grad_output, *y = output;
        float *gx = grad_input;
        for (int64_t i = 0; i < count; i++) gx[i] = y[i] <= 0 ? 0.0f : g[i];
        return FC_OK;
    }
    if (dtype == FC_FLOAT64) {
        const double *g = grad_output, *y = output;
        double *gx = grad_input;
        for (int64_t i = 0; i < count; i++) gx[i] = y[i] <= 0 ? 0.0 : g[i];
        return FC_OK;
    }
    return FC_ERR_INVALID_ARGUMENT;
}

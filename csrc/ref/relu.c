/* Reference ReLU: the ground truth for csrc/ops/relu.c. */
#include "common/internal.h"
#include "common/relu.h"

fc_status fc_ref_relu_forward(int64_t count, fc_dtype dtype, const void *x, void *y)
{
    if (count < 0) return FC_ERR_INVALID_ARGUMENT;
    if (dtype == FC_FLOAT32) {
        const float *in = x;
        float *out = y;
        for (int64_t i = 0; i < count; i++) out[i] = FC_RELU(in[i]);
        return FC_OK;
    }
    if (dtype == FC_FLOAT64) {
        const double *in = x;
        double *out = y;
        for (int64_t i = 0; i < count; i++) out[i] = FC_RELU(in[i]);
        return FC_OK;
    }
    return FC_ERR_INVALID_ARGUMENT;
}

/* Reference standalone activations and their gradients: the ground truth for
 * csrc/ops/activation.c, element by element through the activation table's per-element
 * functions (common/epilogue.h). */
#include "common/epilogue.h"
#include "common/internal.h"

fc_status fc_ref_activation_forward(int64_t count, fc_dtype dtype, fc_activation activation,
                                    double alpha, const void *x, void *y)
{
    if (count < 0 || !fc_activation_name(activation)) return FC_ERR_INVALID_ARGUMENT;
    const fc_epilogue epilogue = {NULL, NULL, activation, alpha};
    fc_epi e;
    const fc_status status = fc_epilogue_prepare(&epilogue, dtype, y, count, &e);
    if (status != FC_OK) return status;
    if (dtype == FC_FLOAT32) {
        for (int64_t i = 0; i < count; i++)
            ((float *)y)[i] = fc_f32_epilogue_value(&e, ((const float *)x)[i], i);
        return FC_OK;
    }
    if (dtype == FC_FLOAT64) {
        for (int64_t i = 0; i < count; i++)
            ((double *)y)[i] = fc_f64_epilogue_value(&e, ((const double *)x)[i], i);
        return FC_OK;
    }
    return FC_ERR_INVALID_ARGUMENT;
}

fc_status fc_ref_activation_backward(int64_t count, fc_dtype dtype, fc_activation activation,
                                     double alpha, const void *grad_output, const void *x,
                                     void *grad_input)
{
    if (count < 0 || !fc_activation_name(activation)) return FC_ERR_INVALID_ARGUMENT;
    if (dtype == FC_FLOAT32) {
        const float *g = grad_output, *v = x;
        float *gx = grad_input;
        for (int64_t i = 0; i < count; i++)
            gx[i] = fc_f32_activation_grad_value(activation, alpha, g[i], v[i]);
        return FC_OK;
    }
    if (dtype == FC_FLOAT64) {
        const double *g = grad_output, *v = x;
        double *gx = grad_input;
        for (int64_t i = 0; i < count; i++)
            gx[i] = fc_f64_activation_grad_value(activation, alpha, g[i], v[i]);
        return FC_OK;
    }
    return FC_ERR_INVALID_ARGUMENT;
}

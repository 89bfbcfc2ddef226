/* Checks shared by the backward drivers and their references. */
#include "common/internal.h"

fc_status fc_validate_conv2d_backward(const fc_conv2d_params *p, fc_dtype dtype,
                                      const void *grad_output, const void *x,
                                      const void *weight, const void *grad_input,
                                      const void *grad_weight, const void *grad_bias,
                                      int64_t *out_h, int64_t *out_w)
{
    FC_RETURN_IF_ERROR(fc_validate_conv2d(p, out_h, out_w));
    if (dtype != FC_FLOAT32 && dtype != FC_FLOAT64) return FC_ERR_INVALID_ARGUMENT;
    if (p->max_workspace_bytes < 0) return FC_ERR_INVALID_ARGUMENT;
    if ((grad_input && !weight) || (grad_weight && !x) ||
        (!grad_output && (grad_input || grad_weight || grad_bias)))
        return FC_ERR_INVALID_ARGUMENT;
    return FC_OK;
}

fc_status fc_validate_conv_transpose2d_backward(const fc_conv2d_params *p, fc_dtype dtype,
                                                const void *grad_output, const void *x,
                                                const void *weight, const void *grad_input,
                                                const void *grad_weight, const void *grad_bias)
{
    int64_t out_h, out_w;
    /* the roles: conv2d's grad_output is our x, its input our grad_output */
    FC_RETURN_IF_ERROR(fc_validate_conv2d_backward(p, dtype, x, grad_output, weight, NULL,
                                                   grad_weight, NULL, &out_h, &out_w));
    if ((grad_input && (!grad_output || !weight)) || (grad_bias && !grad_output))
        return FC_ERR_INVALID_ARGUMENT;
    return FC_OK;
}

fc_status fc_validate_max_pool2d_backward(int64_t n, int64_t c, int64_t h, int64_t w,
                                          int64_t out_h, int64_t out_w, fc_dtype dtype,
                                          int64_t *in_size, int64_t *out_size)
{
    if (n < 0 || c < 1 || h < 1 || w < 1 || out_h < 1 || out_w < 1 ||
        (dtype != FC_FLOAT32 && dtype != FC_FLOAT64))
        return FC_ERR_INVALID_ARGUMENT;
    int64_t bytes;
    const int64_t in_dims[5] = {n, c, h, w, (int64_t)sizeof(double)};
    const int64_t out_dims[5] = {n, c, out_h, out_w, (int64_t)sizeof(double)};
    FC_RETURN_IF_ERROR(fc_checked_product(in_dims, 5, &bytes));
    FC_RETURN_IF_ERROR(fc_checked_product(out_dims, 5, &bytes));
    *in_size = h * w;
    *out_size = out_h * out_w;
    return FC_OK;
}

int fc_pool_indices_valid(const int64_t *indices, int64_t count, int64_t plane_size)
{
    for (int64_t i = 0; i < count; i++)
        if (indices[i] < -1 || indices[i] >= plane_size) return 0;
    return 1;
}

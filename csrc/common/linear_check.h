/* linear's argument checks, shared by its driver (ops/linear.c) and its reference
 * (ref/linear.c): the C API is safe on its own, whatever the Python layer checked before. */
#ifndef FC_COMMON_LINEAR_CHECK_H
#define FC_COMMON_LINEAR_CHECK_H

#include "common/epilogue.h"
#include "common/internal.h"

/* Extents >= 0, a known dtype, every tensor's byte count within int64 (as fc_checked_product
 * counts them), and a pointer for every tensor that has elements. */
static inline fc_status fc_validate_linear_sizes(int64_t n, int64_t in_features,
                                                 int64_t out_features, fc_dtype dtype)
{
    if (n < 0 || in_features < 0 || out_features < 0) return FC_ERR_INVALID_ARGUMENT;
    if (dtype != FC_FLOAT32 && dtype != FC_FLOAT64) return FC_ERR_INVALID_ARGUMENT;
    int64_t bytes;
    const int64_t x_dims[3] = {n, in_features, (int64_t)sizeof(double)};
    const int64_t w_dims[3] = {out_features, in_features, (int64_t)sizeof(double)};
    const int64_t y_dims[3] = {n, out_features, (int64_t)sizeof(double)};
    FC_RETURN_IF_ERROR(fc_checked_product(x_dims, 3, &bytes));
    FC_RETURN_IF_ERROR(fc_checked_product(w_dims, 3, &bytes));
    FC_RETURN_IF_ERROR(fc_checked_product(y_dims, 3, &bytes));
    return FC_OK;
}

static inline fc_status fc_validate_linear_forward(int64_t n, int64_t in_features,
                                                   int64_t out_features, fc_dtype dtype,
                                                   const void *x, const void *weight,
                                                   const fc_epilogue *epilogue, const void *y,
                                                   fc_epi *epi)
{
    FC_RETURN_IF_ERROR(fc_validate_linear_sizes(n, in_features, out_features, dtype));
    FC_RETURN_IF_ERROR(fc_epilogue_prepare(epilogue, dtype, y, n * out_features, epi));
    if ((!x && n * in_features > 0) || (!weight && out_features * in_features > 0) ||
        (!y && n * out_features > 0))
        return FC_ERR_INVALID_ARGUMENT;
    return FC_OK;
}

/* grad_output always (when it has elements and a gradient is asked for), weight for
 * grad_input, x for grad_weight. */
static inline fc_status fc_validate_linear_backward(int64_t n, int64_t in_features,
                                                    int64_t out_features, fc_dtype dtype,
                                                    const void *grad_output, const void *x,
                                                    const void *weight, const void *grad_input,
                                                    const void *grad_weight,
                                                    const void *grad_bias)
{
    FC_RETURN_IF_ERROR(fc_validate_linear_sizes(n, in_features, out_features, dtype));
    const int any = grad_input || grad_weight || grad_bias;
    if ((any && !grad_output && n * out_features > 0) ||
        (grad_input && !weight && out_features * in_features > 0) ||
        (grad_weight && !x && n * in_features > 0))
        return FC_ERR_INVALID_ARGUMENT;
    return FC_OK;
}

#endif

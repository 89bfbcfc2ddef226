/* Reference linear and its backward: the ground truth for csrc/ops/linear.c. */
#include "common/internal.h"
#include "common/linear_check.h"

#include "simd/dtype_f32.h"
#include "ref/linear.tmpl.h"
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#include "ref/linear.tmpl.h"
#include "simd/dtype_end.h"

fc_status fc_ref_linear_forward(int64_t n, int64_t in_features, int64_t out_features,
                                fc_dtype dtype, const void *x, const void *weight,
                                const fc_epilogue *epilogue, void *y)
{
    fc_epi epi;
    FC_RETURN_IF_ERROR(fc_validate_linear_forward(n, in_features, out_features, dtype, x,
                                                  weight, epilogue, y, &epi));
    if (dtype == FC_FLOAT32)
        fc_f32_ref_linear_forward(n, in_features, out_features, x, weight, &epi, y);
    else
        fc_f64_ref_linear_forward(n, in_features, out_features, x, weight, &epi, y);
    return FC_OK;
}

fc_status fc_ref_linear_backward(int64_t n, int64_t in_features, int64_t out_features,
                                 fc_dtype dtype, const void *grad_output, const void *x,
                                 const void *weight, void *grad_input, void *grad_weight,
                                 void *grad_bias)
{
    FC_RETURN_IF_ERROR(fc_validate_linear_backward(n, in_features, out_features, dtype,
                                                   grad_output, x, weight, grad_input,
                                                   grad_weight, grad_bias));
    if (dtype == FC_FLOAT32)
        fc_f32_ref_linear_backward(n, in_features, out_features, grad_output, x, weight,
                                   grad_input, grad_weight, grad_bias);
    else
        fc_f64_ref_linear_backward(n, in_features, out_features, grad_output, x, weight,
                                   grad_input, grad_weight, grad_bias);
    return FC_OK;
}

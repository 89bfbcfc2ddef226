/* Reference conv2d backward: the ground truth for csrc/ops/conv2d_backward.c. */
#include "common/internal.h"

#include "simd/dtype_f32.h"
#include "ref/conv2d_backward.tmpl.h"
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#include "ref/conv2d_backward.tmpl.h"
#include "simd/dtype_end.h"

static fc_status ref_backward(const fc_conv2d_params *p, fc_dtype dtype,
                              const void *grad_output, const void *x, const void *weight,
                              void *grad_input, void *grad_weight, void *grad_bias, int nhwc)
{
    int64_t out_h, out_w;
    FC_RETURN_IF_ERROR(fc_validate_conv2d_backward(p, dtype, grad_output, x, weight, grad_input,
                                                   grad_weight, grad_bias, &out_h, &out_w));
    switch (dtype) {
    case FC_FLOAT32:
        fc_f32_ref_conv2d_backward(p, out_h, out_w, grad_output, x, weight, grad_input,
                                   grad_weight, grad_bias, nhwc);
        return FC_OK;
    case FC_FLOAT64:
        fc_f64_ref_conv2d_backward(p, out_h, out_w, grad_output, x, weight, grad_input,
                                   grad_weight, grad_bias, nhwc);
        return FC_OK;
    }
    return FC_ERR_INVALID_ARGUMENT;
}

fc_status fc_ref_conv2d_backward(const fc_conv2d_params *p, fc_dtype dtype,
                                 const void *grad_output, const void *x, const void *weight,
                                 void *grad_input, void *grad_weight, void *grad_bias)
{
    return ref_backward(p, dtype, grad_output, x, weight, grad_input, grad_weight, grad_bias, 0);
}

fc_status fc_ref_conv2d_backward_nhwc(const fc_conv2d_params *p, fc_dtype dtype,
                                      const void *grad_output, const void *x,
                                      const void *weight, void *grad_input, void *grad_weight,
                                      void *grad_bias)
{
    return ref_backward(p, dtype, grad_output, x, weight, grad_input, grad_weight, grad_bias, 1);
}

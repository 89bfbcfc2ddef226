/* Reference convolution: the ground truth for the optimised drivers in csrc/ops. */
#include "common/internal.h"
#include "common/relu.h"

#include "simd/dtype_f32.h"
#include "ref/conv2d.tmpl.h"
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#include "ref/conv2d.tmpl.h"
#include "simd/dtype_end.h"

fc_status fc_ref_conv2d_forward(const fc_conv2d_params *p, fc_dtype dtype, const void *x,
                                const void *weight, const void *bias, void *y,
                                fc_activation activation)
{
    int64_t out_h, out_w;
    FC_RETURN_IF_ERROR(fc_validate_conv2d(p, &out_h, &out_w));
    if (activation != FC_ACTIVATION_NONE && activation != FC_ACTIVATION_RELU)
        return FC_ERR_INVALID_ARGUMENT;
    int relu = activation == FC_ACTIVATION_RELU;
    switch (dtype) {
    case FC_FLOAT32:
        fc_f32_ref_conv2d_forward(p, out_h, out_w, x, weight, bias, y, relu);
        return FC_OK;
    case FC_FLOAT64:
        fc_f64_ref_conv2d_forward(p, out_h, out_w, x, weight, bias, y, relu);
        return FC_OK;
    }
    return FC_ERR_INVALID_ARGUMENT;
}

/* Reference convolution: the ground truth for the optimised drivers in csrc/ops. */
#include "common/internal.h"
#include "common/epilogue.h"

#include "simd/dtype_f32.h"
#include "ref/conv2d.tmpl.h"
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#include "ref/conv2d.tmpl.h"
#include "simd/dtype_end.h"

fc_status fc_ref_conv2d_forward(const fc_conv2d_params *p, fc_dtype dtype, const void *x,
                                const void *weight, const fc_epilogue *epilogue, void *y)
{
    int64_t out_h, out_w;
    FC_RETURN_IF_ERROR(fc_validate_conv2d(p, &out_h, &out_w));
    if (dtype != FC_FLOAT32 && dtype != FC_FLOAT64) return FC_ERR_INVALID_ARGUMENT;
    fc_epi epi;
    FC_RETURN_IF_ERROR(fc_epilogue_prepare(epilogue, dtype, y, p->n * p->k * out_h * out_w, &epi));
    if (dtype == FC_FLOAT32)
        fc_f32_ref_conv2d_forward(p, out_h, out_w, x, weight, &epi, y);
    else
        fc_f64_ref_conv2d_forward(p, out_h, out_w, x, weight, &epi, y);
    return FC_OK;
}

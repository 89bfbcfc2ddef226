/* Reference max and average pooling backward: the ground truth for
 * csrc/ops/pool2d_backward.c. */
#include "common/geometry.h"
#include "common/internal.h"

#include "simd/dtype_f32.h"
#include "ref/pool2d_backward.tmpl.h"
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#include "ref/pool2d_backward.tmpl.h"
#include "simd/dtype_end.h"

fc_status fc_ref_max_pool2d_backward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t out_h,
                                     int64_t out_w, fc_dtype dtype, const void *grad_output,
                                     const int64_t *indices, void *grad_input)
{
    int64_t in_size, out_size;
    FC_RETURN_IF_ERROR(fc_validate_max_pool2d_backward(n, c, h, w, out_h, out_w, dtype,
                                                       &in_size, &out_size));
    if (!fc_pool_indices_valid(indices, n * c * out_size, in_size))
        return FC_ERR_INVALID_ARGUMENT;
    if (dtype == FC_FLOAT32)
        fc_f32_ref_max_pool2d_backward(n * c, in_size, out_size, grad_output, indices,
                                       grad_input);
    else
        fc_f64_ref_max_pool2d_backward(n * c, in_size, out_size, grad_output, indices,
                                       grad_input);
    return FC_OK;
}

fc_status fc_ref_avg_pool2d_backward(const fc_pool2d_params *p, fc_dtype dtype,
                                     const void *grad_output, void *grad_input)
{
    int64_t out_h, out_w;
    FC_RETURN_IF_ERROR(fc_validate_pool2d(p, 1, &out_h, &out_w));
    switch (dtype) {
    case FC_FLOAT32: fc_f32_ref_avg_pool2d_backward(p, out_h, out_w, grad_output, grad_input);
        return FC_OK;
    case FC_FLOAT64: fc_f64_ref_avg_pool2d_backward(p, out_h, out_w, grad_output, grad_input);
        return FC_OK;
    }
    return FC_ERR_INVALID_ARGUMENT;
}

/* Reference max and average pooling: the ground truth for csrc/ops/pool2d.c. */
#include <math.h>

#include "common/geometry.h"
#include "common/internal.h"

#include "simd/dtype_f32.h"
#include "ref/pool2d.tmpl.h"
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#include "ref/pool2d.tmpl.h"
#include "simd/dtype_end.h"

fc_status fc_ref_max_pool2d_forward(const fc_pool2d_params *p, fc_dtype dtype, const void *x,
                                    void *y, int64_t *indices)
{
    int64_t out_h, out_w;
    FC_RETURN_IF_ERROR(fc_validate_pool2d(p, 0, &out_h, &out_w));
    switch (dtype) {
    case FC_FLOAT32: fc_f32_ref_max_pool2d_forward(p, out_h, out_w, x, y, indices); return FC_OK;
    case FC_FLOAT64: fc_f64_ref_max_pool2d_forward(p, out_h, out_w, x, y, indices); return FC_OK;
    }
    return FC_ERR_INVALID_ARGUMENT;
}

fc_status fc_ref_avg_pool2d_forward(const fc_pool2d_params *p, fc_dtype dtype, const void *x,
                                    void *y)
{
    int64_t out_h, out_w;
    FC_RETURN_IF_ERROR(fc_validate_pool2d(p, 1, &out_h, &out_w));
    switch (dtype) {
    case FC_FLOAT32: fc_f32_ref_avg_pool2d_forward(p, out_h, out_w, x, y); return FC_OK;
    case FC_FLOAT64: fc_f64_ref_avg_pool2d_forward(p, out_h, out_w, x, y); return FC_OK;
    }
    return FC_ERR_INVALID_ARGUMENT;
}

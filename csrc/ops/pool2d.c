/* max_pool2d and avg_pool2d forward: validation and the typed drivers of pool2d.tmpl.h. */
#include "common/geometry.h"
#include "common/internal.h"
#include "common/parallel.h"
#include "dispatch.h"

#include "simd/dtype_f32.h"
#include "ops/pool2d.tmpl.h"
#include "ops/pool2d_nhwc.tmpl.h"
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#include "ops/pool2d.tmpl.h"
#include "ops/pool2d_nhwc.tmpl.h"
#include "simd/dtype_end.h"

static fc_status pool2d_forward(const fc_pool2d_params *p, fc_dtype dtype, const void *x,
                                void *y, int64_t *indices, int is_max, int nhwc)
{
    int64_t out_h, out_w;
    FC_RETURN_IF_ERROR(fc_validate_pool2d(p, !is_max, &out_h, &out_w));
    if (dtype != FC_FLOAT32 && dtype != FC_FLOAT64) return FC_ERR_INVALID_ARGUMENT;
    if (p->n == 0 || p->c == 0) return FC_OK;
    if (nhwc)
        return dtype == FC_FLOAT32 ? fc_f32_pool2d_nhwc(p, out_h, out_w, x, y, indices, is_max)
                                   : fc_f64_pool2d_nhwc(p, out_h, out_w, x, y, indices, is_max);
    if (dtype == FC_FLOAT32) return fc_f32_pool2d(p, out_h, out_w, x, y, indices, is_max);
    return fc_f64_pool2d(p, out_h, out_w, x, y, indices, is_max);
}

fc_status fc_max_pool2d_forward(const fc_pool2d_params *p, fc_dtype dtype, const void *x,
                                void *y, int64_t *indices)
{
    return pool2d_forward(p, dtype, x, y, indices, 1, 0);
}

fc_status fc_avg_pool2d_forward(const fc_pool2d_params *p, fc_dtype dtype, const void *x,
                                void *y)
{
    return pool2d_forward(p, dtype, x, y, NULL, 0, 0);
}

fc_status fc_max_pool2d_forward_nhwc(const fc_pool2d_params *p, fc_dtype dtype, const void *x,
                                     void *y, int64_t *indices)
{
    return pool2d_forward(p, dtype, x, y, indices, 1, 1);
}

fc_status fc_avg_pool2d_forward_nhwc(const fc_pool2d_params *p, fc_dtype dtype, const void *x,
                                     void *y)
{
    return pool2d_forward(p, dtype, x, y, NULL, 0, 1);
}

#include <math.h>

#include "kernels/pool_nhwc/pool_nhwc.h"

#include "simd/dtype_f32.h"
#include "kernels/pool_nhwc/scalar.tmpl.h"
void fc_f32_maxpool_nhwc_ukernel__scalar(size_t channels, size_t count, const float *const *ptrs,
                                         const int64_t *offsets, float *y, int64_t *indices)
{
    fc_f32_maxpool_nhwc_channels(0, channels, count, ptrs, offsets, y, indices);
}
void fc_f32_avgpool_nhwc_ukernel__scalar(size_t channels, size_t count, const float *const *ptrs,
                                         float divisor, float *y)
{
    fc_f32_avgpool_nhwc_channels(0, channels, count, ptrs, divisor, y);
}
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#include "kernels/pool_nhwc/scalar.tmpl.h"
void fc_f64_maxpool_nhwc_ukernel__scalar(size_t channels, size_t count,
                                         const double *const *ptrs, const int64_t *offsets,
                                         double *y, int64_t *indices)
{
    fc_f64_maxpool_nhwc_channels(0, channels, count, ptrs, offsets, y, indices);
}
void fc_f64_avgpool_nhwc_ukernel__scalar(size_t channels, size_t count,
                                         const double *const *ptrs, double divisor, double *y)
{
    fc_f64_avgpool_nhwc_channels(0, channels, count, ptrs, divisor, y);
}
#include "simd/dtype_end.h"

/* linear forward and backward: validation and the typed drivers of linear.tmpl.h, on the
 * GEMM microkernel family of the dispatch table, with fc_parallel_run's dynamic tasks. */
#include <string.h>

#include "common/epilogue.h"
#include "common/internal.h"
#include "common/linear_check.h"
#include "common/parallel.h"
#include "dispatch.h"

/* a + b for non-negative a, b, saturating at INT64_MAX (work estimates only) */
static inline int64_t fc_lin_add_saturating(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* n rounded up to whole 64-byte lines of 4-byte elements (16): scratch offsets */
static inline int64_t fc_lin_round16(int64_t n) { return fc_ceil_div(n, 16) * 16; }

#include "simd/dtype_f32.h"
#include "ops/gemm_frame.tmpl.h"
#include "ops/linear.tmpl.h"
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#include "ops/gemm_frame.tmpl.h"
#include "ops/linear.tmpl.h"
#include "simd/dtype_end.h"

fc_status fc_linear_forward(int64_t n, int64_t in_features, int64_t out_features, fc_dtype dtype,
                            const void *x, const void *weight, const fc_epilogue *epilogue,
                            void *y)
{
    fc_epi epi;
    FC_RETURN_IF_ERROR(fc_validate_linear_forward(n, in_features, out_features, dtype, x,
                                                  weight, epilogue, y, &epi));
    if (n == 0 || out_features == 0) return FC_OK; /* nothing to write */
    if (dtype == FC_FLOAT32)
        return fc_f32_linear_forward(n, in_features, out_features, x, weight, &epi, y);
    return fc_f64_linear_forward(n, in_features, out_features, x, weight, &epi, y);
}

fc_status fc_linear_backward(int64_t n, int64_t in_features, int64_t out_features,
                             fc_dtype dtype, const void *grad_output, const void *x,
                             const void *weight, void *grad_input, void *grad_weight,
                             void *grad_bias)
{
    FC_RETURN_IF_ERROR(fc_validate_linear_backward(n, in_features, out_features, dtype,
                                                   grad_output, x, weight, grad_input,
                                                   grad_weight, grad_bias));
    if (dtype == FC_FLOAT32)
        return fc_f32_linear_backward(n, in_features, out_features, grad_output, x, weight,
                                      grad_input, grad_weight, grad_bias);
    return fc_f64_linear_backward(n, in_features, out_features, grad_output, x, weight,
                                  grad_input, grad_weight, grad_bias);
}

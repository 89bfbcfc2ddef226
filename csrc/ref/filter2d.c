/* Reference filter2d and sep_filter2d: the ground truth for ops/filter2d.c.  One output pixel
 * at a time, every tap's source pixel found by the border rule, summed in the documented
 * order (2-D: r, s ascending; separable: for each r, the row sum over s, times ky[r]). */
#include <string.h>

#include "common/filter2d_common.h"
#include "common/internal.h"

#include "simd/dtype_f32.h"
#include "common/filter2d_rows.tmpl.h"
#include "ref/filter2d.tmpl.h"
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#include "common/filter2d_rows.tmpl.h"
#include "ref/filter2d.tmpl.h"
#include "simd/dtype_end.h"

static fc_status ref_filter2d(const fc_filter2d_params *p, const void *x, const double *kernel,
                              const double *kx, const double *ky, void *y)
{
    FC_RETURN_IF_ERROR(fc_validate_filter2d(p));
    return fc_filter2d_sums_f64(p) ? fc_f64_ref_filter2d_run(p, x, kernel, kx, ky, y)
                                   : fc_f32_ref_filter2d_run(p, x, kernel, kx, ky, y);
}

fc_status fc_ref_filter2d(const fc_filter2d_params *p, const void *x, const double *kernel,
                          void *y)
{
    if (!kernel) return FC_ERR_INVALID_ARGUMENT;
    return ref_filter2d(p, x, kernel, NULL, NULL, y);
}

fc_status fc_ref_sep_filter2d(const fc_filter2d_params *p, const void *x, const double *kx,
                              const double *ky, void *y)
{
    if (!kx || !ky) return FC_ERR_INVALID_ARGUMENT;
    return ref_filter2d(p, x, NULL, kx, ky, y);
}

/* filter2d and sep_filter2d: validation and the typed drivers (filter2d.tmpl.h). */
#include <string.h>

#include "common/filter2d_common.h"
#include "common/internal.h"
#include "common/parallel.h"
#include "dispatch.h"

#include "simd/dtype_f32.h"
#include "common/filter2d_rows.tmpl.h"
#include "ops/filter2d.tmpl.h"
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#include "common/filter2d_rows.tmpl.h"
#include "ops/filter2d.tmpl.h"
#include "simd/dtype_end.h"

static fc_status filter2d(const fc_filter2d_params *p, const void *x, const double *kernel,
                          const double *kx, const double *ky, void *y)
{
    FC_RETURN_IF_ERROR(fc_validate_filter2d(p));
    if (p->n == 0) return FC_OK; /* nothing to write */
    return fc_filter2d_sums_f64(p) ? fc_f64_filter2d_run(p, x, kernel, kx, ky, y)
                                   : fc_f32_filter2d_run(p, x, kernel, kx, ky, y);
}

fc_status fc_filter2d(const fc_filter2d_params *p, const void *x, const double *kernel, void *y)
{
    if (!kernel) return FC_ERR_INVALID_ARGUMENT;
    return filter2d(p, x, kernel, NULL, NULL, y);
}

fc_status fc_sep_filter2d(const fc_filter2d_params *p, const void *x, const double *kx,
                          const double *ky, void *y)
{
    if (!kx || !ky) return FC_ERR_INVALID_ARGUMENT;
    return filter2d(p, x, NULL, kx, ky, y);
}

/* y += x, 2 doubles per add. */
#include "simd/target_neon.h"
#include "kernels/vadd/vadd.h"

#include "simd/dtype_f64.h"
#include "simd/vec_neon_f64.h"
#define FC_VADD_NAME fc_f64_vadd_ukernel__neon
#include "kernels/vadd/simd.tmpl.h"

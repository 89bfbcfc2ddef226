/* y += x, 4 floats per add. */
#include "simd/target_neon.h"
#include "kernels/vadd/vadd.h"

#include "simd/dtype_f32.h"
#include "simd/vec_neon_f32.h"
#define FC_VADD_NAME fc_f32_vadd_ukernel__neon
#include "kernels/vadd/simd.tmpl.h"

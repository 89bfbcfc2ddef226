/* y += x, 8 floats per add: the generic x86-64 build only has SSE2, half as wide, on
 * the conv2d backward pass's hottest loop. */
#include "simd/target_avx2.h"
#include "kernels/vadd/vadd.h"

#include "simd/dtype_f32.h"
#include "simd/vec_avx2_f32.h"
#define FC_VADD_NAME fc_f32_vadd_ukernel__avx2
#include "kernels/vadd/simd.tmpl.h"

#include "simd/target_neon.h"

#include <math.h>

#include "kernels/pool_nhwc/pool_nhwc.h"

#include "simd/dtype_f32.h"
#include "simd/vec_neon_f32.h"
#include "kernels/pool_nhwc/scalar.tmpl.h"
#include "kernels/pool_nhwc/simd.tmpl.h"
#include "simd/vec_end.h"
#include "simd/dtype_end.h"

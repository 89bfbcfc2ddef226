#include "simd/target_avx2.h"

#include <math.h>

#include "kernels/pool_nhwc/pool_nhwc.h"

#include "simd/dtype_f32.h"
#include "simd/vec_avx2_f32.h"
#include "kernels/pool_nhwc/scalar.tmpl.h"
#include "kernels/pool_nhwc/simd.tmpl.h"
#include "simd/vec_end.h"
#include "simd/dtype_end.h"

#include "simd/target_neon.h"

#include <math.h>

#include "common/internal.h"
#include "kernels/pool/pool.h"

#include "simd/dtype_f32.h"
#include "simd/vec_neon_f32.h"
#include "kernels/pool/columns.tmpl.h"
#include "kernels/pool/simd.tmpl.h"
#include "simd/vec_end.h"
#include "simd/dtype_end.h"

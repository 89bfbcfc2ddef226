#include "simd/target_avx2.h"

#include "common/relu.h"
#include "kernels/relu/relu.h"
#include <stdint.h>

#include "simd/dtype_f32.h"
#include "simd/vec_avx2_f32.h"
#include "kernels/relu/simd.tmpl.h"
#include "simd/vec_end.h"
#include "simd/dtype_end.h"

#include "simd/target_avx512.h"

#include "common/relu.h"
#include "kernels/relu/relu.h"
#include <stdint.h>

#include "simd/dtype_f64.h"
#include "simd/vec_avx512_f64.h"
#include "kernels/relu/simd.tmpl.h"
#include "simd/vec_end.h"
#include "simd/dtype_end.h"

#include "simd/target_avx512.h"

#include "kernels/dwconv_nhwc/dwconv_nhwc.h"

#include "simd/dtype_f64.h"
#include "simd/vec_avx512_f64.h"
#include "kernels/dwconv_nhwc/simd.tmpl.h"
#include "simd/vec_end.h"
#include "simd/dtype_end.h"

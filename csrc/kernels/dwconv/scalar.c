#include "common/relu.h"
#include "kernels/dwconv/dwconv.h"

#include "simd/dtype_f32.h"
#include "kernels/dwconv/scalar.tmpl.h"
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#include "kernels/dwconv/scalar.tmpl.h"
#include "simd/dtype_end.h"

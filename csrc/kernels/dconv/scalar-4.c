#include "common/relu.h"
#include "kernels/dconv/dconv.h"

#include "simd/dtype_f32.h"
#include "kernels/dconv/scalar-4.tmpl.h"
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#include "kernels/dconv/scalar-4.tmpl.h"
#include "simd/dtype_end.h"

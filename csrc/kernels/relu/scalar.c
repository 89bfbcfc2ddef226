#include "common/relu.h"
#include "kernels/relu/relu.h"

#include "simd/dtype_f32.h"
#include "kernels/relu/scalar.tmpl.h"
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#include "kernels/relu/scalar.tmpl.h"
#include "simd/dtype_end.h"

#include "kernels/relu_backward/relu_backward.h"

#include "simd/dtype_f32.h"
#include "kernels/relu_backward/scalar.tmpl.h"
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#include "kernels/relu_backward/scalar.tmpl.h"
#include "simd/dtype_end.h"

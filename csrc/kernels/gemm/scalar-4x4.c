#include "common/relu.h"
#include "kernels/gemm/gemm.h"

#include "simd/dtype_f32.h"
#include "kernels/gemm/scalar-4x4.tmpl.h"
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#include "kernels/gemm/scalar-4x4.tmpl.h"
#include "simd/dtype_end.h"

#include "kernels/gemm_nt/gemm_nt.h"

#include "simd/dtype_f32.h"
#include "kernels/gemm_nt/scalar-4x4.tmpl.h"
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#include "kernels/gemm_nt/scalar-4x4.tmpl.h"
#include "simd/dtype_end.h"

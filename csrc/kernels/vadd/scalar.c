#include "kernels/vadd/vadd.h"

#include "simd/dtype_f32.h"
#include "kernels/vadd/scalar.tmpl.h"
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#include "kernels/vadd/scalar.tmpl.h"
#include "simd/dtype_end.h"

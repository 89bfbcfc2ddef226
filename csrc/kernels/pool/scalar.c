#include <math.h>

#include "kernels/pool/pool.h"

#include "simd/dtype_f32.h"
#include "kernels/pool/columns.tmpl.h"
#include "kernels/pool/scalar.tmpl.h"
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#include "kernels/pool/columns.tmpl.h"
#include "kernels/pool/scalar.tmpl.h"
#include "simd/dtype_end.h"

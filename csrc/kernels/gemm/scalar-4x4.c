#include "common/relu.h"
#include "kernels/gemm/gemm.h"

#include "common/dtype_f32.h"
#include "kernels/gemm/scalar-4x4.tmpl.h"
#include "common/dtype_end.h"

#include "common/dtype_f64.h"
#include "kernels/gemm/scalar-4x4.tmpl.h"
#include "common/dtype_end.h"

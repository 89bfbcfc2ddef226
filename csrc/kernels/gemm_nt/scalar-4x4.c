#include "kernels/gemm_nt/gemm_nt.h"

#include "common/dtype_f32.h"
#include "kernels/gemm_nt/scalar-4x4.tmpl.h"
#include "common/dtype_end.h"

#include "common/dtype_f64.h"
#include "kernels/gemm_nt/scalar-4x4.tmpl.h"
#include "common/dtype_end.h"

#include "common/target_avx2.h"

#include "common/relu.h"
#include "kernels/relu/relu.h"
#include <stdint.h>

#include "common/dtype_f64.h"
#include "common/vec_avx2_f64.h"
#include "kernels/relu/simd.tmpl.h"
#include "common/vec_end.h"
#include "common/dtype_end.h"

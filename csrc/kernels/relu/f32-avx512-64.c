#include "common/target_avx512.h"

#include "common/relu.h"
#include "kernels/relu/relu.h"
#include <stdint.h>

#include "common/dtype_f32.h"
#include "common/vec_avx512_f32.h"
#include "kernels/relu/simd.tmpl.h"
#include "common/vec_end.h"
#include "common/dtype_end.h"

#include "common/target_avx512.h"

#include <math.h>

#include "common/internal.h"
#include "kernels/pool/pool.h"

#include "common/dtype_f64.h"
#include "common/vec_avx512_f64.h"
#include "kernels/pool/columns.tmpl.h"
#include "kernels/pool/simd.tmpl.h"
#include "common/vec_end.h"
#include "common/dtype_end.h"

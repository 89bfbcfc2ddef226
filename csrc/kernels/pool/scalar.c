#include <math.h>

#include "kernels/pool/pool.h"

#include "common/dtype_f32.h"
#include "kernels/pool/columns.tmpl.h"
#include "kernels/pool/scalar.tmpl.h"
#include "common/dtype_end.h"

#include "common/dtype_f64.h"
#include "kernels/pool/columns.tmpl.h"
#include "kernels/pool/scalar.tmpl.h"
#include "common/dtype_end.h"

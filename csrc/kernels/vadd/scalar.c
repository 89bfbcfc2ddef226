#include "kernels/vadd/vadd.h"

#include "common/dtype_f32.h"
#include "kernels/vadd/scalar.tmpl.h"
#include "common/dtype_end.h"

#include "common/dtype_f64.h"
#include "kernels/vadd/scalar.tmpl.h"
#include "common/dtype_end.h"

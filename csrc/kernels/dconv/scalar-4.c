#include "common/relu.h"
#include "kernels/dconv/dconv.h"

#include "common/dtype_f32.h"
#include "kernels/dconv/scalar-4.tmpl.h"
#include "common/dtype_end.h"

#include "common/dtype_f64.h"
#include "kernels/dconv/scalar-4.tmpl.h"
#include "common/dtype_end.h"

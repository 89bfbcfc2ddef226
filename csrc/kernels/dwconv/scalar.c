#include "common/relu.h"
#include "kernels/dwconv/dwconv.h"

#include "common/dtype_f32.h"
#include "kernels/dwconv/scalar.tmpl.h"
#include "common/dtype_end.h"

#include "common/dtype_f64.h"
#include "kernels/dwconv/scalar.tmpl.h"
#include "common/dtype_end.h"

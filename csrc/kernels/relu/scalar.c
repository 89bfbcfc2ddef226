#include "common/relu.h"
#include "kernels/relu/relu.h"

#include "common/dtype_f32.h"
#include "kernels/relu/scalar.tmpl.h"
#include "common/dtype_end.h"

#include "common/dtype_f64.h"
#include "kernels/relu/scalar.tmpl.h"
#include "common/dtype_end.h"

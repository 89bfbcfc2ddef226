#include "kernels/relu_backward/relu_backward.h"

#include "common/dtype_f32.h"
#include "kernels/relu_backward/scalar.tmpl.h"
#include "common/dtype_end.h"

#include "common/dtype_f64.h"
#include "kernels/relu_backward/scalar.tmpl.h"
#include "common/dtype_end.h"

#include "simd/target_neon.h"
#include "kernels/relu_backward/relu_backward.h"

#include "simd/dtype_f64.h"
#include "simd/vec_neon_f64.h"
#define FC_RELU_BACKWARD_NAME fc_f64_relu_backward_ukernel__neon
#include "kernels/relu_backward/simd.tmpl.h"

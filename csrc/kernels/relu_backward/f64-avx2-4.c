#include "simd/target_avx2.h"
#include "kernels/relu_backward/relu_backward.h"

#include "simd/dtype_f64.h"
#include "simd/vec_avx2_f64.h"
#define FC_RELU_BACKWARD_NAME fc_f64_relu_backward_ukernel__avx2
#include "kernels/relu_backward/simd.tmpl.h"

/* ReLU microkernels: y[i] = FC_RELU(x[i]) for i < n (common/relu.h); y may be x. */
#ifndef FC_KERNELS_RELU_H
#define FC_KERNELS_RELU_H

#include <stddef.h>

typedef void (*fc_f32_relu_ukernel_fn)(size_t n, const float *x, float *y);
typedef void (*fc_f64_relu_ukernel_fn)(size_t n, const double *x, double *y);

void fc_f32_relu_ukernel__scalar(size_t n, const float *x, float *y);
void fc_f64_relu_ukernel__scalar(size_t n, const double *x, double *y);

#endif

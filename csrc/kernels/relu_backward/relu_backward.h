/* ReLU backward microkernels: gx[i] = +0 where y[i] <= 0, else g[i] (a NaN y passes g, as
 * torch's threshold_backward), for i < n.  gx may be g (in place). */
#ifndef FC_KERNELS_RELU_BACKWARD_H
#define FC_KERNELS_RELU_BACKWARD_H

#include <stddef.h>

typedef void (*fc_f32_relu_backward_ukernel_fn)(size_t n, const float *g, const float *y,
                                                float *gx);
typedef void (*fc_f64_relu_backward_ukernel_fn)(size_t n, const double *g, const double *y,
                                                double *gx);

void fc_f32_relu_backward_ukernel__scalar(size_t n, const float *g, const float *y, float *gx);
void fc_f64_relu_backward_ukernel__scalar(size_t n, const double *g, const double *y,
                                          double *gx);
/* SIMD members (simd.tmpl.h): a vector per step, a compare and a select -- no branch. */
#define FC_DECLARE_RELU_BACKWARD_MEMBERS(isa)                                               \
    void fc_f32_relu_backward_ukernel__##isa(size_t n, const float *g, const float *y,      \
                                             float *gx);                                    \
    void fc_f64_relu_backward_ukernel__##isa(size_t n, const double *g, const double *y,    \
                                             double *gx);
FC_DECLARE_RELU_BACKWARD_MEMBERS(avx2)
FC_DECLARE_RELU_BACKWARD_MEMBERS(avx512)
FC_DECLARE_RELU_BACKWARD_MEMBERS(neon)
#undef FC_DECLARE_RELU_BACKWARD_MEMBERS

#endif

/* Accumulate microkernels: y[i] += x[i] for i < n (x and y do not overlap).  The conv2d
 * backward pass adds each row of dcol into the padded gradient planes with them. */
#ifndef FC_KERNELS_VADD_H
#define FC_KERNELS_VADD_H

#include <stddef.h>

typedef void (*fc_f32_vadd_ukernel_fn)(size_t n, const float *x, float *y);
typedef void (*fc_f64_vadd_ukernel_fn)(size_t n, const double *x, double *y);

void fc_f32_vadd_ukernel__scalar(size_t n, const float *x, float *y);
void fc_f64_vadd_ukernel__scalar(size_t n, const double *x, double *y);
void fc_f32_vadd_ukernel__avx512(size_t n, const float *x, float *y);
void fc_f64_vadd_ukernel__avx512(size_t n, const double *x, double *y);
/* simd.tmpl.h */
void fc_f32_vadd_ukernel__avx2(size_t n, const float *x, float *y);
void fc_f64_vadd_ukernel__avx2(size_t n, const double *x, double *y);
void fc_f32_vadd_ukernel__neon(size_t n, const float *x, float *y);
void fc_f64_vadd_ukernel__neon(size_t n, const double *x, double *y);

#endif

/* ReLU microkernels: y[i] = FC_RELU(x[i]) for i < n (common/relu.h); y may be x. */
#ifndef FC_KERNELS_RELU_H
#define FC_KERNELS_RELU_H

#include <stddef.h>

typedef void (*fc_f32_relu_ukernel_fn)(size_t n, const float *x, float *y);
typedef void (*fc_f64_relu_ukernel_fn)(size_t n, const double *x, double *y);

void fc_f32_relu_ukernel__scalar(size_t n, const float *x, float *y);
void fc_f64_relu_ukernel__scalar(size_t n, const double *x, double *y);
/* 4 vectors per iteration: 64 floats / 32 doubles (AVX-512), 32 / 16 (AVX2).  The _stream_
 * members write y with non-temporal stores (y != x): for outputs larger than the last-level
 * cache, where they skip the read-for-ownership of every line of y. */
void fc_f32_relu_ukernel__avx2(size_t n, const float *x, float *y);
void fc_f64_relu_ukernel__avx2(size_t n, const double *x, double *y);
void fc_f32_relu_stream_ukernel__avx2(size_t n, const float *x, float *y);
void fc_f64_relu_stream_ukernel__avx2(size_t n, const double *x, double *y);
void fc_f32_relu_ukernel__avx512(size_t n, const float *x, float *y);
void fc_f64_relu_ukernel__avx512(size_t n, const double *x, double *y);
void fc_f32_relu_stream_ukernel__avx512(size_t n, const float *x, float *y);
void fc_f64_relu_stream_ukernel__avx512(size_t n, const double *x, double *y);
/* NEON: 16 floats / 8 doubles per iteration; no streaming stores (the _stream_ twins exist
 * but store normally, and the table does not use them). */
void fc_f32_relu_ukernel__neon(size_t n, const float *x, float *y);
void fc_f64_relu_ukernel__neon(size_t n, const double *x, double *y);

#endif

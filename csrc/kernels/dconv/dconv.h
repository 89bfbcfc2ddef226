/* Direct-convolution microkernels: one filter tap for a block of output channels along one
 * output row.
 *
 *   acc[kb * acc_stride + j] += w[kb] * x[j * x_stride]     for kb < KB, j < count
 *
 * x: the input row, already offset to the first valid output column of this tap; x_stride is
 * the convolution's horizontal stride.  w: the tap's KB weights, packed contiguously (zero past
 * the last real filter).  acc: KB rows of the output row's accumulators.
 */
#ifndef FC_KERNELS_DCONV_H
#define FC_KERNELS_DCONV_H

#include <stddef.h>

typedef void (*fc_f32_dconv_ukernel_fn)(size_t count, const float *x, size_t x_stride,
                                        const float *w, float *acc, size_t acc_stride);
typedef void (*fc_f64_dconv_ukernel_fn)(size_t count, const double *x, size_t x_stride,
                                        const double *w, double *acc, size_t acc_stride);

void fc_f32_dconv_ukernel_4__scalar(size_t count, const float *x, size_t x_stride,
                                    const float *w, float *acc, size_t acc_stride);
void fc_f64_dconv_ukernel_4__scalar(size_t count, const double *x, size_t x_stride,
                                    const double *w, double *acc, size_t acc_stride);

#endif

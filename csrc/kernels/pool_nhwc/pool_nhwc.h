/* Channels-last pooling microkernels: one output pixel of one image, all its channels.
 *
 * The driver (ops/pool2d_nhwc.tmpl.h) resolves the window: `count` input pixels that lie inside
 * the plane, in row-major window order, as pointers to their runs of `channels` contiguous
 * values (and, for max pooling, their flat indices ih * W + iw into the plane).  The kernel
 * walks the channels, a vector of them at a time: the window is a list of C-vectors.
 */
#ifndef FC_KERNELS_POOL_NHWC_H
#define FC_KERNELS_POOL_NHWC_H

#include <stddef.h>
#include <stdint.h>

/* y[c] = max over the window (first NaN wins; ties keep the first in window order);
 * indices[c] = its flat index, or -1 and -inf for an empty window (count 0).  indices may be
 * NULL.  The same fold as kernels/pool: the newcomer v replaces the best b iff !(v <= b) and
 * b is not NaN. */
typedef void (*fc_f32_maxpool_nhwc_ukernel_fn)(size_t channels, size_t count,
                                               const float *const *ptrs,
                                               const int64_t *offsets, float *y,
                                               int64_t *indices);
typedef void (*fc_f64_maxpool_nhwc_ukernel_fn)(size_t channels, size_t count,
                                               const double *const *ptrs,
                                               const int64_t *offsets, double *y,
                                               int64_t *indices);
/* y[c] = (sum of the window from +0, in window order) / divisor */
typedef void (*fc_f32_avgpool_nhwc_ukernel_fn)(size_t channels, size_t count,
                                               const float *const *ptrs, float divisor,
                                               float *y);
typedef void (*fc_f64_avgpool_nhwc_ukernel_fn)(size_t channels, size_t count,
                                               const double *const *ptrs, double divisor,
                                               double *y);

/* The members fc_<dtype>_{max,avg}pool_nhwc_ukernel__<isa>: scalar (scalar.c) and SIMD
 * (simd.tmpl.h) with FC_LANES channels per vector. */
#define FC_DECLARE_POOL_NHWC_MEMBERS(isa)                                                     \
    void fc_f32_maxpool_nhwc_ukernel__##isa(size_t channels, size_t count,                    \
                                            const float *const *ptrs, const int64_t *offsets, \
                                            float *y, int64_t *indices);                      \
    void fc_f64_maxpool_nhwc_ukernel__##isa(size_t channels, size_t count,                    \
                                            const double *const *ptrs,                        \
                                            const int64_t *offsets, double *y,                \
                                            int64_t *indices);                                \
    void fc_f32_avgpool_nhwc_ukernel__##isa(size_t channels, size_t count,                    \
                                            const float *const *ptrs, float divisor,          \
                                            float *y);                                        \
    void fc_f64_avgpool_nhwc_ukernel__##isa(size_t channels, size_t count,                    \
                                            const double *const *ptrs, double divisor,        \
                                            double *y);
FC_DECLARE_POOL_NHWC_MEMBERS(scalar)
FC_DECLARE_POOL_NHWC_MEMBERS(avx2)
FC_DECLARE_POOL_NHWC_MEMBERS(avx512)
FC_DECLARE_POOL_NHWC_MEMBERS(neon)
#undef FC_DECLARE_POOL_NHWC_MEMBERS

#endif

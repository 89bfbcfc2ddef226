/* Pooling microkernels: one output row of one plane.
 *
 * The driver resolves the window's rows: `rows` input rows that lie inside the plane, in window
 * order, given as pointers (and, for max pooling, as their offsets ih * W into the plane, to
 * form the flat argmax index).  The kernel walks the columns, described by fc_pool_columns.
 */
#ifndef FC_KERNELS_POOL_H
#define FC_KERNELS_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "common/geometry.h"

typedef struct fc_pool_columns {
    int64_t out_w;      /* output columns to produce */
    int64_t in_w;       /* input row length */
    int64_t kernel_w, stride_w, pad_w, dilation_w;
    /* [interior_begin, interior_end): the output columns whose whole window lies inside the
     * row (fc_pool_columns_init: computed once per op, not per row, as it costs divisions) */
    int64_t interior_begin, interior_end;
} fc_pool_columns;

static inline fc_pool_columns fc_pool_columns_init(int64_t out_w, int64_t in_w,
                                                   int64_t kernel_w, int64_t stride_w,
                                                   int64_t pad_w, int64_t dilation_w)
{
    fc_pool_columns c = {out_w, in_w, kernel_w, stride_w, pad_w, dilation_w, 0, 0};
    fc_window_interior(in_w, pad_w, kernel_w, stride_w, dilation_w, out_w, &c.interior_begin,
                       &c.interior_end);
    return c;
}

/* y[ow] = max over the window (first NaN wins; ties keep the first in row-major window order);
 * indices[ow] = its flat index, or -1 for a window with no element inside the plane.
 * indices may be NULL. */
typedef void (*fc_f32_maxpool_ukernel_fn)(const fc_pool_columns *cols, size_t rows,
                                          const float *const *row_ptrs,
                                          const int64_t *row_offsets, float *y,
                                          int64_t *indices);
typedef void (*fc_f64_maxpool_ukernel_fn)(const fc_pool_columns *cols, size_t rows,
                                          const double *const *row_ptrs,
                                          const int64_t *row_offsets, double *y,
                                          int64_t *indices);

/* y[ow] = sum over the window / divisor, where the divisor counts the window's positions inside
 * the padded plane (padded_rows of them vertically) when rule.count_include_pad, else inside
 * the plane, or is rule.divisor_override when that is nonzero (fc_avg_pool_divisor).  Sums run
 * row by row, left to right. */
typedef void (*fc_f32_avgpool_ukernel_fn)(const fc_pool_columns *cols, size_t rows,
                                          const float *const *row_ptrs, int64_t padded_rows,
                                          fc_avg_pool_rule rule, float *y);
typedef void (*fc_f64_avgpool_ukernel_fn)(const fc_pool_columns *cols, size_t rows,
                                          const double *const *row_ptrs, int64_t padded_rows,
                                          fc_avg_pool_rule rule, double *y);

/* The members fc_<dtype>_{max,avg}pool_ukernel__<isa>: scalar (scalar.c), and SIMD
 * (simd.tmpl.h) with FC_LANES output columns per vector, 16 floats / 8 doubles on AVX-512,
 * 8 / 4 on AVX2, 4 / 2 on NEON. */
#define FC_DECLARE_POOL_MEMBERS(isa)                                                          \
    void fc_f32_maxpool_ukernel__##isa(const fc_pool_columns *cols, size_t rows,              \
                                       const float *const *row_ptrs,                          \
                                       const int64_t *row_offsets, float *y,                  \
                                       int64_t *indices);                                     \
    void fc_f64_maxpool_ukernel__##isa(const fc_pool_columns *cols, size_t rows,              \
                                       const double *const *row_ptrs,                         \
                                       const int64_t *row_offsets, double *y,                 \
                                       int64_t *indices);                                     \
    void fc_f32_avgpool_ukernel__##isa(const fc_pool_columns *cols, size_t rows,              \
                                       const float *const *row_ptrs, int64_t padded_rows,     \
                                       fc_avg_pool_rule rule, float *y);                      \
    void fc_f64_avgpool_ukernel__##isa(const fc_pool_columns *cols, size_t rows,              \
                                       const double *const *row_ptrs, int64_t padded_rows,    \
                                       fc_avg_pool_rule rule, double *y);
FC_DECLARE_POOL_MEMBERS(scalar)
FC_DECLARE_POOL_MEMBERS(avx2)
FC_DECLARE_POOL_MEMBERS(avx512)
FC_DECLARE_POOL_MEMBERS(neon)
#undef FC_DECLARE_POOL_MEMBERS

/* The window's columns inside the plane for output column ow: j in [*j_begin, *j_end), each at
 * input column ow * stride - pad + j * dilation. */
static inline void fc_pool_valid_columns(const fc_pool_columns *cols, int64_t ow,
                                         int64_t *j_begin, int64_t *j_end)
{
    fc_valid_range(ow * cols->stride_w - cols->pad_w, cols->dilation_w, cols->in_w,
                   cols->kernel_w, j_begin, j_end);
}

#endif

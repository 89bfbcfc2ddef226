/* Helpers shared by the drivers, the references and the dispatch table. Not part of the API. */
#ifndef FC_INTERNAL_H
#define FC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "fastconv.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* 64-bit products that report overflow instead of wrapping: every element count, offset and
 * workspace size goes through these, so an absurd shape is a status, not a corrupted heap. */
static inline int fc_mul_overflows(int64_t a, int64_t b, int64_t *out)
{
    return __builtin_mul_overflow(a, b, out);
}

static inline int fc_add_overflows(int64_t a, int64_t b, int64_t *out)
{
    return __builtin_add_overflow(a, b, out);
}

/* a * b for non-negative a, b, saturating at INT64_MAX: for work estimates, never sizes. */
static inline int64_t fc_mul_saturating(int64_t a, int64_t b)
{
    int64_t product;
    return fc_mul_overflows(a, b, &product) ? INT64_MAX : product;
}

/* Product of `count` non-negative factors, FC_ERR_SIZE_OVERFLOW when any running product
 * passes INT64_MAX, even if a later factor is 0: the drivers form prefix products as strides
 * (numpy refuses such shapes too). */
fc_status fc_checked_product(const int64_t *factors, int count, int64_t *out);

static inline int64_t fc_min_i64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t fc_max_i64(int64_t a, int64_t b) { return a > b ? a : b; }
/* Ceiling of a / b for a >= 0, b > 0; without forming a + b - 1, which could pass INT64_MAX
 * for a padded extent near 2**63 and a huge stride. */
static inline int64_t fc_ceil_div(int64_t a, int64_t b) { return a / b + (a % b != 0); }
/* Floor division for a numerator in (INT64_MIN, INT64_MAX] and a positive denominator (the
 * former -((-a + b - 1) / b) passed INT64_MAX for a = -2, b = 2**63 - 1). */
static inline int64_t fc_floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -fc_ceil_div(-a, b);
}
/* Greatest common divisor of a, b >= 0 (Euclid). */
static inline int64_t fc_gcd(int64_t a, int64_t b)
{
    while (b) {
        const int64_t r = a % b;
        a = b;
        b = r;
    }
    return a;
}

#include "common/memory.h" /* fc_aligned_alloc, fc_aligned_free */

/* Threads an op's parallel region may use for `work` units (multiply-adds, elements visited):
 * at most fc_get_num_threads(), and no more than give each thread FC_MIN_WORK_PER_THREAD,
 * because waking a sleeping worker costs some microseconds, more than a small op takes on one
 * core.  The count never changes a result, only the speed. */
#define FC_MIN_WORK_PER_THREAD ((int64_t)1 << 15)
int fc_region_threads(int64_t work);
/* The team an op's parallel region over `work` units gets (for the thread tests; parallel.c). */
int fc_probe_team_size(int64_t work);
fc_status fc_validate_conv2d(const fc_conv2d_params *p, int64_t *out_h, int64_t *out_w);
/* batch_norm's arguments, for its driver and its reference (ops/batch_norm.c). */
fc_status fc_batch_norm_check(const fc_batch_norm_params *p, fc_dtype dtype, int backward,
                              const void *mean, const void *var);
fc_status fc_validate_pool2d(const fc_pool2d_params *p, int need_unit_dilation,
                             int64_t *out_h, int64_t *out_w);
/* conv2d_backward's arguments: the forward's geometry, a known dtype, and every operand a
 * requested gradient needs (grad_output always, weight for grad_input, x for grad_weight). */
fc_status fc_validate_conv2d_backward(const fc_conv2d_params *p, fc_dtype dtype,
                                      const void *grad_output, const void *x,
                                      const void *weight, const void *grad_input,
                                      const void *grad_weight, const void *grad_bias,
                                      int64_t *out_h, int64_t *out_w);
/* conv_transpose2d_backward's arguments (fastconv.h: p is the adjoint conv2d's geometry):
 * grad_output (y's shape) for grad_input and grad_bias, weight for grad_input, x for
 * grad_weight. */
fc_status fc_validate_conv_transpose2d_backward(const fc_conv2d_params *p, fc_dtype dtype,
                                                const void *grad_output, const void *x,
                                                const void *weight, const void *grad_input,
                                                const void *grad_weight, const void *grad_bias);
/* conv2d_backward's grad_bias of channels [k_begin, k_end) of grad_output (n, k, pixels), in
 * its fixed lane order (csrc/ops/conv2d_backward.tmpl.h); conv_transpose2d's grad_bias too. */
void fc_conv2d_grad_bias(fc_dtype dtype, int64_t n, int64_t k, int64_t pixels,
                         const void *grad_output, void *grad_bias, int64_t k_begin, int64_t k_end);
/* max_pool2d_backward's arguments: n >= 0, every other extent >= 1, tensors within 64 bits, a
 * known dtype; the plane sizes h * w and out_h * out_w out. */
fc_status fc_validate_max_pool2d_backward(int64_t n, int64_t c, int64_t h, int64_t w,
                                          int64_t out_h, int64_t out_w, fc_dtype dtype,
                                          int64_t *in_size, int64_t *out_size);
/* Whether every one of the `count` indices lies in [-1, plane_size): the references' check
 * (the optimised op uses the index_check kernel family). */
int fc_pool_indices_valid(const int64_t *indices, int64_t count, int64_t plane_size);
/* conv2d_backward's grad_input by Winograd (ops/conv2d.c, which holds the Winograd driver):
 * whether grad_input_algorithm runs it for these parameters (FC_ERR_INVALID_ARGUMENT: an
 * algorithm backward-data has not, or FC_CONV_WINOGRAD where it cannot run), the pass, and its
 * least workspace per thread.  out_h, out_w: the forward's output size. */
fc_status fc_conv2d_backward_input_uses_winograd(const fc_conv2d_params *p, fc_dtype dtype,
                                                 fc_conv_algorithm grad_input_algorithm,
                                                 int64_t out_h, int64_t out_w, int *winograd);
fc_status fc_f32_conv2d_backward_input_winograd(const fc_conv2d_params *p, int64_t out_h,
                                                int64_t out_w, const float *grad_output,
                                                const float *weight, float *grad_input);
int64_t fc_f32_conv2d_backward_input_winograd_min_workspace(const fc_conv2d_params *p,
                                                            int64_t out_h, int64_t out_w);

#define FC_RETURN_IF_ERROR(expr)                \
    do {                                        \
        fc_status fc_status_ = (expr);          \
        if (fc_status_ != FC_OK) return fc_status_; \
    } while (0)

#endif /* FC_INTERNAL_H */

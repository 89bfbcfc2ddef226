/* What filter2d's driver (ops/filter2d.c) and its reference (ref/filter2d.c) share: the
 * border rule, the validation, pixel loads and the rounding of integer outputs.  Not API. */
#ifndef FC_FILTER2D_COMMON_H
#define FC_FILTER2D_COMMON_H

#include <stdint.h>

#include "common/internal.h"

/* OpenCV's borderInterpolate: the source index of position p of an extent of len, or -1 for
 * a constant border.  Reflections repeat while p is outside, so a kernel larger than the
 * image reads the same pixels as in cv2.filter2D (and scipy.ndimage, whose extensions are
 * the same periodic ones). */
static inline int64_t fc_border_index(int64_t p, int64_t len, fc_border border)
{
    if (p >= 0 && p < len) return p;
    switch (border) {
    case FC_BORDER_REPLICATE: return p < 0 ? 0 : len - 1;
    case FC_BORDER_REFLECT:
    case FC_BORDER_REFLECT101: {
        const int64_t delta = border == FC_BORDER_REFLECT101;
        if (len == 1) return 0;
        do {
            p = p < 0 ? -p - 1 + delta : len - 1 - (p - len) - delta;
        } while (p < 0 || p >= len);
        return p;
    }
    case FC_BORDER_WRAP: {
        const int64_t m = p % len;
        return m < 0 ? m + len : m;
    }
    default: return -1;
    }
}

static inline int fc_pixel_size(fc_pixel_type t)
{
    switch (t) {
    case FC_PIXEL_U8: return 1;
    case FC_PIXEL_U16:
    case FC_PIXEL_I16: return 2;
    case FC_PIXEL_F32: return 4;
    case FC_PIXEL_F64: return 8;
    default: return 0;
    }
}

/* Shapes >= 0 (n may be 0), kernel >= 1 x 1 with the anchor inside, known types and border,
 * an output type that is the input's integer type or a float type; byte counts in int64. */
static inline fc_status fc_validate_filter2d(const fc_filter2d_params *p)
{
    if (p->n < 0 || p->h < 1 || p->w < 1 || p->c < 1 || p->kh < 1 || p->kw < 1)
        return FC_ERR_INVALID_ARGUMENT;
    if (p->anchor_y < 0 || p->anchor_y >= p->kh || p->anchor_x < 0 || p->anchor_x >= p->kw)
        return FC_ERR_INVALID_ARGUMENT;
    if (!fc_pixel_size(p->x_type) || !fc_pixel_size(p->y_type)) return FC_ERR_INVALID_ARGUMENT;
    if (p->y_type != FC_PIXEL_F32 && p->y_type != FC_PIXEL_F64 && p->y_type != p->x_type)
        return FC_ERR_INVALID_ARGUMENT;
    if ((unsigned)p->border > FC_BORDER_WRAP) return FC_ERR_INVALID_ARGUMENT;
    int64_t bytes;
    const int64_t y_dims[5] = {p->n, p->h, p->w, p->c, fc_pixel_size(p->y_type)};
    FC_RETURN_IF_ERROR(fc_checked_product(y_dims, 5, &bytes));
    const int64_t k_dims[3] = {p->kh, p->kw, 8};
    FC_RETURN_IF_ERROR(fc_checked_product(k_dims, 3, &bytes));
    /* a padded row and column of the driver's buffers */
    if (p->w > INT64_MAX / 16 - p->kw || p->h > INT64_MAX / 16 - p->kh)
        return FC_ERR_SIZE_OVERFLOW;
    return FC_OK;
}

/* Sums run in float64 when a float64 array is involved, else in float32 (exact for every
 * uint8, uint16 and int16 pixel). */
static inline int fc_filter2d_sums_f64(const fc_filter2d_params *p)
{
    return p->x_type == FC_PIXEL_F64 || p->y_type == FC_PIXEL_F64;
}

/* The clamps below are branches to GCC while FP compares may trap (-ftrapping-math, the
 * default): the store loops then ran scalar, 60% of a uint8 3x3 filter's time.  Without
 * trapping math they become vector max/min/blend (same results: no exception flag is read); the
 * rounding helpers carry the attribute too, or GCC would not inline them into the loops.
 * clang if-converts them anyway. */
#if defined(__GNUC__) && !defined(__clang__)
#define FC_VECTORIZABLE_CLAMPS __attribute__((optimize("no-trapping-math")))
#else
#define FC_VECTORIZABLE_CLAMPS
#endif

/* Round half to even without libm: adding and subtracting 1.5 * 2^23 (2^52) leaves the
 * nearest integer under the default rounding mode for |v| < 2^22 (2^51), which the clamp to
 * an integer type's range guarantees.  A loop of these vectorises (lrintf does not on the
 * baseline x86-64 the drivers are built for).  NaN becomes lo, as in OpenCV's saturate_cast
 * (cvRound(NaN) is INT_MIN, saturated to the type's least value). */
FC_VECTORIZABLE_CLAMPS static inline float fc_round_clamp_f32(float v, float lo, float hi)
{
    v = v >= lo ? v : lo;
    v = v <= hi ? v : hi;
    return (v + 12582912.0f) - 12582912.0f;
}

FC_VECTORIZABLE_CLAMPS static inline double fc_round_clamp_f64(double v, double lo, double hi)
{
    v = v >= lo ? v : lo;
    v = v <= hi ? v : hi;
    return (v + 6755399441055744.0) - 6755399441055744.0;
}

#if defined(__SSE2__)
#include <emmintrin.h>
/* float32 -> uint8 for the leading multiple of 16 of count, as the scalar stores round (clamp
 * with NaN -> 0, then cvtps2dq: round half to even under the default MXCSR) but with packs
 * instead of per-lane conversions: the uint8 stores took 37% of a 3x3 filter's time with the
 * compiler's SSE2 loop.  SSE2 is part of x86-64, so no dispatch is needed.  Returns the count
 * stored. */
static inline int64_t fc_store_u8_sse2(uint8_t *dst, const float *src, int64_t count)
{
    const __m128 lo = _mm_setzero_ps(), hi = _mm_set1_ps(255.0f);
    int64_t j = 0;
    for (; j + 16 <= count; j += 16) {
        /* max(v, 0) returns its second operand, 0, when v is NaN */
        const __m128i a = _mm_cvtps_epi32(_mm_min_ps(_mm_max_ps(_mm_loadu_ps(src + j), lo), hi));
        const __m128i b =
            _mm_cvtps_epi32(_mm_min_ps(_mm_max_ps(_mm_loadu_ps(src + j + 4), lo), hi));
        const __m128i c =
            _mm_cvtps_epi32(_mm_min_ps(_mm_max_ps(_mm_loadu_ps(src + j + 8), lo), hi));
        const __m128i d =
            _mm_cvtps_epi32(_mm_min_ps(_mm_max_ps(_mm_loadu_ps(src + j + 12), lo), hi));
        _mm_storeu_si128((__m128i *)(dst + j),
                         _mm_packus_epi16(_mm_packs_epi32(a, b), _mm_packs_epi32(c, d)));
    }
    return j;
}
#endif

/* the rounding of filter2d_rows.tmpl.h's stores, by the sum type's FC_FN name */
#define fc_f32_filter2d_round fc_round_clamp_f32
#define fc_f64_filter2d_round fc_round_clamp_f64

#endif /* FC_FILTER2D_COMMON_H */

/* f32/f64 GEMM microkernels: C[MR x NR] (+)= A_packed[kc x MR]^T-panel * B_packed[kc x NR].
 *
 * a: kc rows of MR values (a[p * MR + i] = A[i][p]), zero-padded past the last real row.
 * b: kc rows of NR values (b[p * NR + j] = B[p][j]), zero-padded past the last real column.
 * c: MR x NR tile with row stride ldc, every element written.
 * init: MR values each row starts from (the bias) when not accumulating; NULL means 0.
 * flags: FC_GEMM_ACCUMULATE starts from c instead (a later block of the reduction);
 *        FC_GEMM_RELU applies FC_RELU at the store (the last block only): the epilogue's fused
 *        ReLU, kernels/fused.h, which the drivers OR in as common/epilogue.c decides.
 * The reduction runs p = 0, 1, ... kc-1 for every element: the order never depends on threads.
 *
 * The "rows" twin of each kernel reads its operands in place instead of packed, else the same
 * (the same products in the same order: the same bits):
 *  - B: b_rows non-NULL: row p is the NR values b + b_rows[p] (rows of the stride-1 virtual
 *    grid, ops/conv2d_im2col.tmpl.h); NULL: packed as above.
 *  - A: lda > 0: row i of the tile is a[i * lda + p], p < kc (MR weight rows in place: a panel
 *    that meets one block of C only, where packing it would read it twice); 0: packed.
 *
 * The "im2col run" of a float32 SIMD member packs one run of an im2col B panel at stride_w 1
 * (ops/conv2d_im2col.tmpl.h, pack_im2col_panel_at, whose scalar loop is its reference and the
 * path of the members without one): n output pixels of one output row, whose tap (0, 0)
 * reads input row ih0 from column iw0 on, for the reduction rows [red0, red0 + kc) of an
 * r x s filter over x's h x w planes.  Reduction row red = (c * r + i) * s + j goes to
 * dst + (red - red0) * nr, lane l of it x[(c * h + ih0 + i * dilation_h) * w + iw0 +
 * j * dilation_w + l], or 0 where that lies outside the plane; lanes >= n are not written.
 *
 * The "NHWC pack" of an x86 float32 SIMD member (kernels/gemm/nhwc_pack_x86.tmpl.h) moves one
 * tap of an NHWC A panel (ops/conv2d_nhwc.tmpl.h, nhwc_pack_a, whose loop is its reference and
 * the path of the members without one): the member's MR pixels' runs of cg contiguous
 * channels, src[i] (i < MR), to dst[c * step + i] for c < cg.
 */
#ifndef FC_KERNELS_GEMM_H
#define FC_KERNELS_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/fused.h"

#define FC_GEMM_ACCUMULATE 1u
#define FC_GEMM_RELU FC_FUSED_RELU

typedef void (*fc_f32_gemm_ukernel_fn)(size_t kc, const float *a, const float *b, float *c,
                                       size_t ldc, const float *init, unsigned flags);
typedef void (*fc_f64_gemm_ukernel_fn)(size_t kc, const double *a, const double *b, double *c,
                                       size_t ldc, const double *init, unsigned flags);

typedef void (*fc_f32_gemm_rows_ukernel_fn)(size_t kc, const float *a, size_t lda,
                                            const float *b, const ptrdiff_t *b_rows, float *c,
                                            size_t ldc, const float *init, unsigned flags);
typedef void (*fc_f64_gemm_rows_ukernel_fn)(size_t kc, const double *a, size_t lda,
                                            const double *b, const ptrdiff_t *b_rows, double *c,
                                            size_t ldc, const double *init, unsigned flags);
#define FC_DECLARE_GEMM_ROWS(name, real)                                                      \
    void name(size_t kc, const real *a, size_t lda, const real *b, const ptrdiff_t *b_rows,   \
              real *c, size_t ldc, const real *init, unsigned flags);
FC_DECLARE_GEMM_ROWS(fc_f32_gemm_rows_ukernel_4x4__scalar, float)
FC_DECLARE_GEMM_ROWS(fc_f64_gemm_rows_ukernel_4x4__scalar, double)
FC_DECLARE_GEMM_ROWS(fc_f32_gemm_rows_ukernel_8x32__avx512, float)
FC_DECLARE_GEMM_ROWS(fc_f64_gemm_rows_ukernel_8x16__avx512, double)
FC_DECLARE_GEMM_ROWS(fc_f32_gemm_rows_ukernel_6x16__avx2, float)
FC_DECLARE_GEMM_ROWS(fc_f64_gemm_rows_ukernel_6x8__avx2, double)
FC_DECLARE_GEMM_ROWS(fc_f32_gemm_rows_ukernel_8x12__neon, float)
FC_DECLARE_GEMM_ROWS(fc_f64_gemm_rows_ukernel_6x8__neon, double)

#define FC_DECLARE_GEMM_IM2COL_RUN(name, real)                                                \
    void name(const real *x, int64_t h, int64_t w, int64_t r, int64_t s, int64_t dilation_h,   \
              int64_t dilation_w, int64_t ih0, int64_t iw0, int64_t red0, int64_t kc,          \
              int64_t n, real *dst, int64_t nr)
typedef FC_DECLARE_GEMM_IM2COL_RUN((*fc_f32_gemm_im2col_run_fn), float);
typedef FC_DECLARE_GEMM_IM2COL_RUN((*fc_f64_gemm_im2col_run_fn), double);
FC_DECLARE_GEMM_IM2COL_RUN(fc_f32_gemm_im2col_run_8x32__avx512, float);
FC_DECLARE_GEMM_IM2COL_RUN(fc_f32_gemm_im2col_run_6x16__avx2, float);
FC_DECLARE_GEMM_IM2COL_RUN(fc_f32_gemm_im2col_run_8x12__neon, float);
#define FC_DECLARE_GEMM_NHWC_PACK(name, real)                                                 \
    void name(const real *const *src, int64_t cg, real *dst, int64_t step)
typedef FC_DECLARE_GEMM_NHWC_PACK((*fc_f32_gemm_nhwc_pack_fn), float);
typedef FC_DECLARE_GEMM_NHWC_PACK((*fc_f64_gemm_nhwc_pack_fn), double);
FC_DECLARE_GEMM_NHWC_PACK(fc_f32_gemm_nhwc_pack_8x32__avx512, float);
FC_DECLARE_GEMM_NHWC_PACK(fc_f32_gemm_nhwc_pack_6x16__avx2, float);
/* The members of the family, listed in kernels/gemm/members.c; dispatch installs one. */
void fc_f32_gemm_ukernel_4x4__scalar(size_t kc, const float *a, const float *b, float *c,
                                     size_t ldc, const float *init, unsigned flags);
void fc_f64_gemm_ukernel_4x4__scalar(size_t kc, const double *a, const double *b, double *c,
                                     size_t ldc, const double *init, unsigned flags);
/* SIMD members: kernels/gemm/simd.tmpl.h compiled per ISA (f32-avx512-8x32.c, ...). */
void fc_f32_gemm_ukernel_8x32__avx512(size_t kc, const float *a, const float *b, float *c,
                                      size_t ldc, const float *init, unsigned flags);
void fc_f64_gemm_ukernel_8x16__avx512(size_t kc, const double *a, const double *b, double *c,
                                      size_t ldc, const double *init, unsigned flags);
void fc_f32_gemm_ukernel_6x16__avx2(size_t kc, const float *a, const float *b, float *c,
                                    size_t ldc, const float *init, unsigned flags);
void fc_f64_gemm_ukernel_6x8__avx2(size_t kc, const double *a, const double *b, double *c,
                                   size_t ldc, const double *init, unsigned flags);
void fc_f32_gemm_ukernel_8x12__neon(size_t kc, const float *a, const float *b, float *c,
                                    size_t ldc, const float *init, unsigned flags);
void fc_f64_gemm_ukernel_6x8__neon(size_t kc, const double *a, const double *b, double *c,
                                   size_t ldc, const double *init, unsigned flags);

#endif

/* Winograd F(4x4, 3x3) transforms (float32): the three small kernels around the batched GEMM
 * of ops/conv2d_winograd.tmpl.h (Lavin & Gray 2016, interpolation points 0, +-1, +-2, inf).
 *
 *   V = B^T d B   input: a 6x6 patch d of the padded input -> 36 values, xi = 6 i + j
 *   U = G' g G'^T filter: a 3x3 filter g -> 36 values, with G' = 24 G (integer: 6, -4, 1, 24)
 *   y = (A^T M A) * fl(1/576) + bias, ReLU optional   output: M = sum_c U . V -> 4x4
 *
 * G' = 24 G keeps every transform's coefficient an integer (B^T: 4, 5, 2, 1; A^T: 1, 2, 4, 8),
 * so integer-valued inputs go through exactly (while every intermediate stays below 2^24,
 * tests/test_winograd.py) and the only non-dyadic step is the final product by fl(1/576)
 * (576 = 24^2): fl(1/576) * 576 = 1 + 2^-27, so an exact multiple 576 N of a float N gives
 * N exactly (N 2^-27 is below half an ulp of N), where a division would cost some 10 cycles
 * per vector on Zen 4.  Every transform is written as sums and products by powers of two (and the
 * filter's 6 and 24), applied first along rows (index j), then along columns (index i); a
 * product by a power of two is exact, so a fused multiply-add there rounds as a product then
 * a sum would: every member computes bitwise what the scalar member computes.
 *
 * Lanes run over tiles (input, output) or panel positions (filter): the SIMD members load
 * LANES tiles at once, the input's stride-4 patches de-interleaved from contiguous loads.
 *
 * input(tiles, d, ld, v, v_stride): tile t (< tiles) is the patch d[r * ld + 4 t + c], r, c < 6
 *   (a strip of 6 rows of the padded input, tiles side by side, overlapping by 2 columns);
 *   writes v[xi * v_stride + t].  Reads columns up to 4 * roundup(tiles, 16) + 4 of each row
 *   (FC_WINOGRAD_STRIP_COLS): past 4 * tiles + 2 they only feed lanes never stored.
 * output(tiles, m, m_stride, bias, relu, o, o_stride): M of tile t at m[xi * m_stride + t];
 *   writes its 4x4 output pixels to o[i * o_stride + 4 t + j], i, j < 4 (4 output rows of the
 *   tiles side by side, as in y).  Reads whole vectors of m (up to roundup(tiles, lanes));
 *   the lanes past `tiles` are never stored.
 * filter(n, w, off, flip, u, u_stride): position q < n of an A panel of the GEMM holds the
 *   filter w + off[q] (its 9 taps, row-major; flip != 0: turned by 180 degrees, tap k read as
 *   tap 8 - k, the filters of backward-data), or zeros when off[q] < 0; writes
 *   u[xi * u_stride + q].  Reads off[] up to roundup(n, 16) (lanes past n are never loaded
 *   from w).
 */
#ifndef FC_KERNELS_WINOGRAD_H
#define FC_KERNELS_WINOGRAD_H

#include <stddef.h>
#include <stdint.h>

/* the widest member's lanes: a strip row must be readable this far (see input above) */
#define FC_WINOGRAD_MAX_LANES 16
/* fl(1/576): the output transform's scale (G' = 24 G) */
#define FC_WINOGRAD_INV_SCALE (1.0f / 576.0f)
#define FC_WINOGRAD_STRIP_COLS(tiles) \
    (4 * (((tiles) + FC_WINOGRAD_MAX_LANES - 1) / FC_WINOGRAD_MAX_LANES) * FC_WINOGRAD_MAX_LANES + 4)

typedef void (*fc_f32_winograd_input_fn)(size_t tiles, const float *d, size_t ld, float *v,
                                         size_t v_stride);
typedef void (*fc_f32_winograd_output_fn)(size_t tiles, const float *m, size_t m_stride,
                                          float bias, int relu, float *o, size_t o_stride);
typedef void (*fc_f32_winograd_filter_fn)(size_t n, const float *w, const int32_t *off, int flip,
                                          float *u, size_t u_stride);

#define FC_DECLARE_WINOGRAD(isa)                                                               \
    void fc_f32_winograd_input_4x4__##isa(size_t tiles, const float *d, size_t ld, float *v,  \
                                          size_t v_stride);                                  \
    void fc_f32_winograd_output_4x4__##isa(size_t tiles, const float *m, size_t m_stride,     \
                                           float bias, int relu, float *o, size_t o_stride); \
    void fc_f32_winograd_filter_4x4__##isa(size_t n, const float *w, const int32_t *off,      \
                                           int flip, float *u, size_t u_stride);
FC_DECLARE_WINOGRAD(scalar)
FC_DECLARE_WINOGRAD(avx2)
FC_DECLARE_WINOGRAD(avx512)
FC_DECLARE_WINOGRAD(neon)
#undef FC_DECLARE_WINOGRAD

#endif

/* The SIMD depthwise members (AVX2, AVX-512, NEON), written once over the vector
 * macros of simd/vec_<isa>_f32.h and simd/f32_vec_ops.h.  The including file defines FC_DWCONV_FN
 * (the symbol), FC_DW_RB (output rows per register tile, at most 4) and FC_DW_NV (vectors of
 * output columns per tile, at most 4).
 *
 * Register tile: RB output rows x NV vectors.  When stride_h == dilation_h (e.g. both 1)
 * output row i + 1 reads the input rows of row i shifted by one filter row, so the tile walks
 * R + RB - 1 input rows and each loaded vector feeds every output row it belongs to: input
 * row t is filter row t - i of output row i, so each output still sums r, s in ascending
 * order.  That divides the loads, which bound a one-row loop (a load per FMA), by up to RB.
 * Otherwise (stride_h != dilation_h) the tile is one row high. */

#ifndef FC_DW_RB_WIDE
#define FC_DW_RB_WIDE FC_DW_RB
#endif

/* Input row t, tap column ss of the tile: its nv vectors loaded once, summed into every
 * output row i that reads them (filter row t - i).  fixed_taps: R * S is a compile-time
 * constant and wv holds the R * S weights broadcast once per call; otherwise each FMA
 * broadcasts its weight from w.  skip_zero (a constant: FC_SKIP_ZERO_TAPS in fused) leaves
 * the taps of weight 0 out: a branch per tap and tile row that goes the same way for every
 * column block, so it is predicted. */
FC_INLINE void dw_tap(const int rb, const int nv, const int part, FC_M tail, size_t r,
                      size_t s, size_t t, size_t ss, const int fixed_taps, const int skip_zero,
                      const FC_V *wv, const float *xp, const float *w, FC_V (*acc)[4])
{
    FC_V xv[4];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++) xv[v] = fc_vload(xp + v * FC_LANES, part && v == nv - 1, tail);
#pragma GCC unroll 4
    for (int i = 0; i < rb; i++) {
        if (t < (size_t)i || t - (size_t)i >= r) continue;
        const size_t tap = (t - (size_t)i) * s + ss;
        if (skip_zero && w[tap] == 0.0f) continue;
        const FC_V wt = fixed_taps ? wv[tap] : FC_VSET1(w[tap]);
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) acc[i][v] = FC_VFMA(wt, xv[v], acc[i][v]);
    }
}

/* One register tile.  known_size: r and s are constants, and the loops over the tile's
 * r + rb - 1 input rows (up to 10 for 7x7 in 4 rows) and s taps unroll completely, so
 * which output rows read a row is decided at compile time (unrolled by 8, the 7x7 tile kept
 * a compare and branch per row and tap and its pointers on the stack). */
FC_INLINE void dw_block(const int rb, const int nv, const int part, FC_M tail, size_t r,
                        size_t s, const int fixed_taps, const int known_size,
                        const int skip_zero, const FC_V *wv, const float *x,
                        size_t tap_row_stride, const size_t *tap_col, const float *w,
                        float bias, unsigned fused, float *y, size_t y_stride)
{
    FC_V acc[4][4];
#pragma GCC unroll 4
    for (int i = 0; i < rb; i++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) acc[i][v] = FC_VSET1(bias);
    const size_t input_rows = r + (size_t)rb - 1;
#define FC_DW_TAP                                                                          \
    dw_tap(rb, nv, part, tail, r, s, t, ss, fixed_taps, skip_zero, wv,                     \
           x + t * tap_row_stride + tap_col[ss], w, acc)
    if (known_size && !part) { /* partial blocks: once per row, the loops kept */
#pragma GCC unroll 16
        for (size_t t = 0; t < input_rows; t++)
#pragma GCC unroll 16
            for (size_t ss = 0; ss < s; ss++) FC_DW_TAP;
    } else {
#pragma GCC unroll 8
        for (size_t t = 0; t < input_rows; t++)
#pragma GCC unroll 8
            for (size_t ss = 0; ss < s; ss++) FC_DW_TAP;
    }
#undef FC_DW_TAP
#pragma GCC unroll 4
    for (int i = 0; i < rb; i++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            fc_vstore_out(y + i * y_stride + v * FC_LANES, acc[i][v], fused, part && v == nv - 1,
                          tail);
}

/* One tile of rb rows (a constant) over every column. */
FC_INLINE void dw_rows(const int rb, size_t cols, size_t r, size_t s, const int fixed_taps,
                       const int known_size, const int skip_zero, const FC_V *wv,
                       const float *x, size_t tap_row_stride,
                       const size_t *tap_col, const float *w, float bias, unsigned fused, float *y,
                       size_t y_stride)
{
#define FC_DW_BLOCK(nv, part)                                                                 \
    dw_block(rb, nv, part, tail, r, s, fixed_taps, known_size, skip_zero, wv, x + j,           \
             tap_row_stride, tap_col, w, bias,                                                \
             fused, y + j, y_stride)
    FC_M tail;
    size_t j;
    FC_COLUMN_BLOCKS(cols, FC_DW_NV, FC_DW_BLOCK);
#undef FC_DW_BLOCK
}

/* The kernel's loops, for a runtime filter size (fixed_taps == 0) or, inlined with constant r
 * and s, for one the compiler unrolls with the weights kept in registers. */
FC_INLINE void dw_tile(const int rb_max, size_t rows, size_t cols, size_t r, size_t s,
                       const int fixed_taps, const int known_size, const int skip_zero,
                       const float *x, size_t row_stride, size_t tap_row_stride,
                       const size_t *tap_col, const float *w, float bias, unsigned fused, float *y,
                       size_t y_stride)
{
    FC_V wv[9];
    if (fixed_taps)
#pragma GCC unroll 9
        for (size_t i = 0; i < r * s; i++) wv[i] = FC_VSET1(w[i]);
#define FC_DW_ROWS(rb)                                                                      \
    dw_rows(rb, cols, r, s, fixed_taps, known_size, skip_zero, wv, x + i * row_stride,       \
            tap_row_stride, tap_col, w,                                                     \
            bias, fused, y + i * y_stride, y_stride)
    size_t i = 0;
    if (row_stride == tap_row_stride) {
        for (; i + (size_t)rb_max <= rows; i += (size_t)rb_max) FC_DW_ROWS(rb_max);
        if (rb_max >= 4 && rows - i == 3) FC_DW_ROWS(3);
        else if (rb_max >= 3 && rows - i == 2) FC_DW_ROWS(2);
        else if (rows - i == 1) FC_DW_ROWS(1);
        return;
    }
    for (; i < rows; i++) FC_DW_ROWS(1);
#undef FC_DW_ROWS
}

void FC_DWCONV_FN(size_t rows, size_t cols, size_t r, size_t s, const float *x,
                  size_t row_stride, size_t tap_row_stride, const size_t *tap_col,
                  const float *w, float bias, unsigned fused, float *y, size_t y_stride)
{
#define FC_DW_TILE(rb_max, R, S, fixed, known, skip)                                          \
    dw_tile(rb_max, rows, cols, R, S, fixed, known, skip, x, row_stride, tap_row_stride, tap_col, \
            w, bias, fused, y, y_stride)
    /* 3 x 3, the depthwise layers of MobileNet-style networks: the nine weights stay in
     * registers beside the tile, so the hot loop has no broadcasts.  5 x 5 and 7 x 7 (image
     * filters, MobileNetV3 / EfficientNet depthwise layers) unrolled with their sizes known,
     * in FC_DW_RB_WIDE rows where the registers allow more rows to share each load. */
    const int skip = (fused & FC_SKIP_ZERO_TAPS) != 0;
    if (r == 3 && s == 3)
        skip ? FC_DW_TILE(FC_DW_RB, 3, 3, 1, 1, 1) : FC_DW_TILE(FC_DW_RB, 3, 3, 1, 1, 0);
    else if (r == 5 && s == 5)
        skip ? FC_DW_TILE(FC_DW_RB_WIDE, 5, 5, 0, 1, 1) : FC_DW_TILE(FC_DW_RB_WIDE, 5, 5, 0, 1, 0);
    else if (r == 7 && s == 7)
        skip ? FC_DW_TILE(FC_DW_RB_WIDE, 7, 7, 0, 1, 1) : FC_DW_TILE(FC_DW_RB_WIDE, 7, 7, 0, 1, 0);
    else
        skip ? FC_DW_TILE(FC_DW_RB, r, s, 0, 0, 1) : FC_DW_TILE(FC_DW_RB, r, s, 0, 0, 0);
#undef FC_DW_TILE
}

/* ---- the weight gradient (the member's fn2, kernels/dwconv/dwconv.h) ----------------------
 * Up to 9 taps at a time (3 x 3 in one pass; 5 x 5 as 9 + 9 + 7): one accumulator vector per
 * tap, so each grad_output vector is loaded once for all of them (10 loads per 9 FMAs; 11 of
 * AVX2's 16 registers).  nt is a constant once inlined, so the accumulators stay in
 * registers. */
FC_INLINE void dw_gw_step(const int nt, const int part, FC_M tail, const float *const *xt,
                          const float *g, size_t j, int with_gb, FC_V *acc, FC_V *acc_b)
{
    const FC_V gv = fc_vload(g + j, part, tail);
    if (with_gb) *acc_b = FC_VADD(*acc_b, gv);
#pragma GCC unroll 9
    for (int t = 0; t < nt; t++) acc[t] = FC_VFMA(gv, fc_vload(xt[t] + j, part, tail), acc[t]);
}

/* The lanes of v added in a fixed tree, onto *out. */
FC_INLINE void dw_gw_add_lanes(FC_V v, float *out)
{
    float lane[FC_LANES];
    FC_VSTORE(lane, v);
#pragma GCC unroll 4
    for (int width = FC_LANES / 2; width > 0; width /= 2)
        for (int l = 0; l < width; l++) lane[l] += lane[l + width];
    *out += lane[0];
}

/* taps[t] (t < nt) are the taps' offsets in x, out[t] their gradients. */
FC_INLINE void dw_gw_taps(const int nt, size_t rows, size_t cols, const float *x,
                          size_t row_stride, const size_t *taps, const float *g, size_t g_stride,
                          float *const *out, float *gb)
{
    FC_V acc[9], acc_b = FC_VZERO();
#pragma GCC unroll 9
    for (int t = 0; t < nt; t++) acc[t] = FC_VZERO();
    const FC_M full = FC_TAIL_MASK(FC_LANES), tail = FC_TAIL_MASK(cols % FC_LANES);
    for (size_t i = 0; i < rows; i++) {
        const float *xt[9];
        const float *g_row = g + i * g_stride;
#pragma GCC unroll 9
        for (int t = 0; t < nt; t++) xt[t] = x + i * row_stride + taps[t];
        size_t j = 0;
        for (; j + FC_LANES <= cols; j += FC_LANES)
            dw_gw_step(nt, 0, full, xt, g_row, j, gb != NULL, acc, &acc_b);
        if (j < cols) dw_gw_step(nt, 1, tail, xt, g_row, j, gb != NULL, acc, &acc_b);
    }
#pragma GCC unroll 9
    for (int t = 0; t < nt; t++) dw_gw_add_lanes(acc[t], out[t]);
    if (gb) dw_gw_add_lanes(acc_b, gb);
}

void FC_DWCONV_GW_FN(size_t rows, size_t cols, size_t r, size_t s, const float *x,
                     size_t row_stride, size_t tap_row_stride, const size_t *tap_col,
                     const float *g, size_t g_stride, float *gw, float *gb)
{
    const size_t taps = r * s;
    for (size_t t0 = 0; t0 < taps; t0 += 9) {
        const size_t nt = taps - t0 < 9 ? taps - t0 : 9;
        size_t off[9];
        float *out[9];
        for (size_t t = 0; t < nt; t++) {
            off[t] = (t0 + t) / s * tap_row_stride + tap_col[(t0 + t) % s];
            out[t] = gw + t0 + t;
        }
        float *chunk_gb = t0 == 0 ? gb : NULL; /* the bias sum rides on the first pass */
#define FC_DW_GW(n) \
    case n: dw_gw_taps(n, rows, cols, x, row_stride, off, g, g_stride, out, chunk_gb); break
        switch (nt) {
            FC_DW_GW(1); FC_DW_GW(2); FC_DW_GW(3); FC_DW_GW(4); FC_DW_GW(5);
            FC_DW_GW(6); FC_DW_GW(7); FC_DW_GW(8); FC_DW_GW(9);
        }
#undef FC_DW_GW
    }
}

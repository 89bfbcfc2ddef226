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

/* fixed_taps: R * S is a compile-time constant and wv holds the R * S weights broadcast once
 * per call; otherwise each FMA broadcasts its weight from w. */
FC_INLINE void dw_block(const int rb, const int nv, const int part, FC_M tail, size_t r,
                        size_t s, const int fixed_taps, const FC_V *wv, const float *x,
                        size_t tap_row_stride, const size_t *tap_col, const float *w,
                        float bias, unsigned fused, float *y, size_t y_stride)
{
    FC_V acc[4][4];
#pragma GCC unroll 4
    for (int i = 0; i < rb; i++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) acc[i][v] = FC_VSET1(bias);
    const size_t input_rows = r + (size_t)rb - 1;
#pragma GCC unroll 8
    for (size_t t = 0; t < input_rows; t++) {
        const float *x_row = x + t * tap_row_stride;
#pragma GCC unroll 8
        for (size_t ss = 0; ss < s; ss++) {
            const float *xp = x_row + tap_col[ss];
            FC_V xv[4];
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                xv[v] = fc_vload(xp + v * FC_LANES, part && v == nv - 1, tail);
#pragma GCC unroll 4
            for (int i = 0; i < rb; i++) {
                if (t < (size_t)i || t - (size_t)i >= r) continue;
                const size_t tap = (t - (size_t)i) * s + ss;
                const FC_V wt = fixed_taps ? wv[tap] : FC_VSET1(w[tap]);
#pragma GCC unroll 4
                for (int v = 0; v < nv; v++) acc[i][v] = FC_VFMA(wt, xv[v], acc[i][v]);
            }
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < rb; i++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            fc_vstore_out(y + i * y_stride + v * FC_LANES, acc[i][v], fused, part && v == nv - 1,
                          tail);
}

/* One tile of rb rows (a constant) over every column. */
FC_INLINE void dw_rows(const int rb, size_t cols, size_t r, size_t s, const int fixed_taps,
                       const FC_V *wv, const float *x, size_t tap_row_stride,
                       const size_t *tap_col, const float *w, float bias, unsigned fused, float *y,
                       size_t y_stride)
{
#define FC_DW_BLOCK(nv, part)                                                                 \
    dw_block(rb, nv, part, tail, r, s, fixed_taps, wv, x + j, tap_row_stride, tap_col, w, bias, \
             fused, y + j, y_stride)
    FC_M tail;
    size_t j;
    FC_COLUMN_BLOCKS(cols, FC_DW_NV, FC_DW_BLOCK);
#undef FC_DW_BLOCK
}

/* The kernel's loops, for a runtime filter size (fixed_taps == 0) or, inlined with constant r
 * and s, for one the compiler unrolls with the weights kept in registers. */
FC_INLINE void dw_tile(size_t rows, size_t cols, size_t r, size_t s, const int fixed_taps,
                       const float *x, size_t row_stride, size_t tap_row_stride,
                       const size_t *tap_col, const float *w, float bias, unsigned fused, float *y,
                       size_t y_stride)
{
    FC_V wv[9];
    if (fixed_taps)
#pragma GCC unroll 9
        for (size_t i = 0; i < r * s; i++) wv[i] = FC_VSET1(w[i]);
#define FC_DW_ROWS(rb)                                                                      \
    dw_rows(rb, cols, r, s, fixed_taps, wv, x + i * row_stride, tap_row_stride, tap_col, w, \
            bias, fused, y + i * y_stride, y_stride)
    size_t i = 0;
    if (row_stride == tap_row_stride) {
        for (; i + FC_DW_RB <= rows; i += FC_DW_RB) FC_DW_ROWS(FC_DW_RB);
        switch (rows - i) {
#if FC_DW_RB >= 4
        case 3: FC_DW_ROWS(3); return;
#endif
#if FC_DW_RB >= 3
        case 2: FC_DW_ROWS(2); return;
#endif
        case 1: FC_DW_ROWS(1); return;
        default: return;
        }
    }
    for (; i < rows; i++) FC_DW_ROWS(1);
#undef FC_DW_ROWS
}

void FC_DWCONV_FN(size_t rows, size_t cols, size_t r, size_t s, const float *x,
                  size_t row_stride, size_t tap_row_stride, const size_t *tap_col,
                  const float *w, float bias, unsigned fused, float *y, size_t y_stride)
{
    /* 3 x 3, the depthwise layers of MobileNet-style networks: the nine weights stay in
     * registers beside the tile, so the hot loop has no broadcasts */
    if (r == 3 && s == 3)
        dw_tile(rows, cols, 3, 3, 1, x, row_stride, tap_row_stride, tap_col, w, bias, fused, y,
                y_stride);
    else
        dw_tile(rows, cols, r, s, 0, x, row_stride, tap_row_stride, tap_col, w, bias, fused, y,
                y_stride);
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

/* The SIMD depthwise members (AVX2, AVX-512, NEON), written once over the vector
 * macros of simd/vec_<isa>_f32.h and simd/f32_vec_ops.h.  The including file defines
 * FC_DWCONV_FN and FC_DWCONV_DIRECT_FN (the symbols of fn and fn3), FC_DW_RB (output rows per
 * register tile, at most 4) and FC_DW_NV (vectors of output columns per tile, at most 4), and
 * optionally FC_DW_RB_WIDE (the rows of fn's 5 x 5 and 7 x 7 tiles) and FC_DW_NV_WIDE (the
 * vectors of fn's runtime-size tiles, the 1-D ones among them; see FC_DWCONV_FN).  filter2d's
 * kernels with zero taps to skip run from a list of their non-zero taps instead (dw_list_tile).
 * The tile shape never changes a sum: each output is summed in the same order (bias, r, s)
 * whatever tile computes it.
 *
 * Register tile: RB output rows x NV vectors.  When stride_h == dilation_h (e.g. both 1)
 * output row i + 1 reads the input rows of row i shifted by one filter row, so the tile walks
 * R + RB - 1 input rows and each loaded vector feeds every output row it belongs to: input
 * row t is filter row t - i of output row i, so each output still sums r, s in ascending
 * order.  That divides the loads, which bound a one-row loop (a load per FMA), by up to RB.
 * Otherwise (stride_h != dilation_h) the tile is one row high. */


/* default RB x NV */
#ifndef FC_DW_RB_WIDE
#define FC_DW_RB_WIDE FC_DW_RB
#endif
#ifndef FC_DW_NV_WIDE
#define FC_DW_NV_WIDE FC_DW_NV
#endif

FC_INLINE ptrdiff_t dw_min(ptrdiff_t a, ptrdiff_t b) { return a < b ? a : b; }

/* Where a tile's input comes from.  direct == 0 (fn): the driver's padded-row buffer, row t
 * at x + t * tap_row_stride, tap s at column tap_col[s], every read in bounds.  direct == 1
 * (fn3): the planes in place, row t is rows[t * tap_step], tap s of output column j reads
 * column j * sw + off[s] of it, zero outside [0, x_w).  direct and sw are constants once
 * inlined. */
typedef struct dw_src {
    const float *x;
    size_t tap_row_stride;
    const size_t *tap_col;
    const float *const *rows;
    size_t tap_step;
    const ptrdiff_t *off;
    ptrdiff_t x_w;
} dw_src;

/* The load masks of an edge block (a block where some tap leaves the row, or the output row
 * ends): lanes [lo, hi) of vector v, tap s (s < DW_MASK_TAPS; wider filters compute theirs at
 * each load), half h (stride 2 loads two vectors per output vector).  Masked lanes read 0 and
 * never touch memory, so the row ends need no copy; each block's masks serve all its rows. */
#define DW_MASK_TAPS 8
typedef FC_M dw_masks[4][DW_MASK_TAPS][2];

FC_INLINE FC_M dw_range_mask(ptrdiff_t lo, ptrdiff_t hi)
{
    lo = lo < 0 ? 0 : lo > FC_LANES ? FC_LANES : lo;
    hi = hi < lo ? lo : hi > FC_LANES ? FC_LANES : hi;
    return FC_RANGE_MASK(lo, hi);
}

/* Half h's mask of the load at input column c0 that feeds output lanes [0, need). */
FC_INLINE FC_M dw_edge_mask(const int sw, int h, ptrdiff_t c0, ptrdiff_t x_w, ptrdiff_t need)
{
    if (sw == 1) return dw_range_mask(-c0, dw_min(x_w - c0, need));
    /* lane 2q of the pair feeds output lane q */
    const ptrdiff_t lo = -c0 - h * FC_LANES, hi = dw_min(x_w - c0, 2 * need - 1) - h * FC_LANES;
    return dw_range_mask(lo, hi);
}

/* Input row t, tap column ss of the tile (output columns from j, cols_left of the row from j
 * on): its nv vectors loaded once from src (edge, direct only: through mk), summed into every
 * output row i that reads them (filter row t - i).  fixed_taps: R * S is a compile-time
 * constant and wv holds the R * S weights broadcast once per call; otherwise each FMA
 * broadcasts its weight from w.  skip_zero (a constant: FC_SKIP_ZERO_TAPS in fused) leaves
 * the taps of weight 0 out: a branch per tap and tile row that goes the same way for every
 * column block, so it is predicted. */
FC_INLINE void dw_tap(const int rb, const int nv, const int part, FC_M tail, size_t r,
                      size_t s, size_t t, size_t ss, const int fixed_taps, const int skip_zero,
                      const FC_V *wv, const int direct, const int sw, const int edge,
                      dw_masks mk, const dw_src *src, size_t j, size_t cols_left,
                      const float *w, FC_V (*acc)[4])
{
    const float *x_row = direct ? src->rows[t * src->tap_step]
                                : src->x + t * src->tap_row_stride + src->tap_col[ss] + j;
    FC_V xv[4];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++) {
        if (!direct) {
            xv[v] = fc_vload(x_row + v * FC_LANES, part && v == nv - 1, tail);
            continue;
        }
        const size_t jv = j + (size_t)v * FC_LANES;
        const ptrdiff_t c0 = (ptrdiff_t)(jv * (size_t)sw) + src->off[ss];
        const ptrdiff_t need = (ptrdiff_t)(cols_left - (size_t)v * FC_LANES);
        FC_V half[2];
#pragma GCC unroll 2
        for (int h = 0; h < sw; h++) {
            const float *p = x_row + c0 + h * FC_LANES;
            if (!edge)
                half[h] = FC_VLOAD(p);
            else
                half[h] = FC_VLOADM(ss < DW_MASK_TAPS ? mk[v][ss][h]
                                                      : dw_edge_mask(sw, h, c0, src->x_w, need),
                                    p);
        }
        xv[v] = sw == 1 ? half[0] : FC_VEVEN(half[0], half[1]);
    }
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

/* One register tile: rb output rows x nv vectors from output column j.  known_size: r and s
 * are constants, and the loops over the tile's r + rb - 1 input rows (up to 10 for 7x7 in 4
 * rows) and s taps unroll completely, so which output rows read a row is decided at compile
 * time (unrolled by 8, the 7x7 tile kept a compare and branch per row and tap and its
 * pointers on the stack). */
FC_INLINE void dw_block(const int rb, const int nv, const int part, FC_M tail, size_t r,
                        size_t s, const int fixed_taps, const int known_size,
                        const int skip_zero, const FC_V *wv, const int direct, const int sw,
                        const int edge, dw_masks mk, const dw_src *src, size_t j,
                        size_t cols_left, const float *w, float bias, unsigned fused, float *y,
                        size_t y_stride)
{
    FC_V acc[4][4];
#pragma GCC unroll 4
    for (int i = 0; i < rb; i++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) acc[i][v] = FC_VSET1(bias);
    const size_t input_rows = r + (size_t)rb - 1;
#define FC_DW_TAP                                                                          \
    dw_tap(rb, nv, part, tail, r, s, t, ss, fixed_taps, skip_zero, wv, direct, sw, edge, mk, \
           src, j, cols_left, w, acc)
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
            fc_vstore_out(y + i * y_stride + j + v * FC_LANES, acc[i][v], fused,
                          part && v == nv - 1, tail);
}

/* Runs BODY(rb) over the tile's output rows i in groups of rb (a constant): rb_max at a time
 * when consecutive rows share input rows (step == tap_step), else one. */
#define FC_DW_ROW_GROUPS(BODY)                                                                \
    do {                                                                                      \
        size_t i = 0;                                                                         \
        if (step == tap_step) {                                                               \
            for (; i + (size_t)rb_max <= rows; i += (size_t)rb_max) BODY(rb_max);             \
            if (rb_max >= 4 && rows - i == 3) BODY(3);                                        \
            else if (rb_max >= 3 && rows - i == 2) BODY(2);                                   \
            else if (rows - i == 1) BODY(1);                                                  \
            break;                                                                            \
        }                                                                                     \
        for (; i < rows; i++) BODY(1);                                                        \
    } while (0)

/* The kernel's loops, for a runtime filter size (fixed_taps == 0) or, inlined with constant r
 * and s, for one the compiler unrolls with the weights kept in registers.  step and tap_step
 * are the moves to the next output row and filter row (elements of x, or pointers of rows).
 * The buffer is walked row group by row group; in place, column block by column block, so an
 * edge block's masks are made once for all its rows. */
FC_INLINE void dw_tile(const int rb_max, const int nv_max, size_t rows, size_t cols, size_t r, size_t s,
                       const int fixed_taps, const int known_size, const int skip_zero,
                       const int direct, const int sw, const dw_src *src, size_t step,
                       size_t tap_step, const float *w, float bias, unsigned fused, float *y,
                       size_t y_stride)
{
    FC_V wv[9];
    if (fixed_taps)
#pragma GCC unroll 9
        for (size_t t = 0; t < r * s; t++) wv[t] = FC_VSET1(w[t]);
    dw_masks mk;
    FC_M tail;
    size_t j;
#define FC_DW_GROUP(rb, nv, part, edge)                                                        \
    do {                                                                                       \
        dw_src at = *src;                                                                      \
        at.x = direct ? NULL : src->x + i * step;                                              \
        at.rows = direct ? src->rows + i * step : NULL;                                        \
        dw_block(rb, nv, part, tail, r, s, fixed_taps, known_size, skip_zero, wv, direct, sw,  \
                 edge, mk, &at, j, cols - j, w, bias, fused, y + i * y_stride, y_stride);      \
    } while (0)
    if (!direct) {
#define FC_DW_BUFFER_BLOCK(nv, part) FC_DW_GROUP(rb, nv, part, 0)
#define FC_DW_BUFFER_ROWS(rb_)                                                                 \
    do {                                                                                       \
        const int rb = rb_;                                                                    \
        FC_COLUMN_BLOCKS(cols, nv_max, FC_DW_BUFFER_BLOCK);                                    \
    } while (0)
        FC_DW_ROW_GROUPS(FC_DW_BUFFER_ROWS);
#undef FC_DW_BUFFER_ROWS
#undef FC_DW_BUFFER_BLOCK
        return;
    }
    const ptrdiff_t first = src->off[0], last = src->off[s - 1];
#define FC_DW_EDGE_ROWS(rb) FC_DW_GROUP(rb, nv_, part_, 1)
#define FC_DW_INNER_ROWS(rb) FC_DW_GROUP(rb, nv_, part_, 0)
#define FC_DW_DIRECT_BLOCK(nv, part)                                                          \
    do {                                                                                      \
        const int nv_ = nv, part_ = part;                                                     \
        if (part || (ptrdiff_t)(j * (size_t)sw) + first < 0 ||                                \
            (ptrdiff_t)((j + (nv) * FC_LANES) * (size_t)sw) - 1 + last >= src->x_w) {         \
            for (int v = 0; v < nv_; v++)                                                     \
                for (size_t ss = 0; ss < s && ss < DW_MASK_TAPS; ss++)                        \
                    for (int h = 0; h < sw; h++)                                              \
                        mk[v][ss][h] = dw_edge_mask(                                          \
                            sw, h,                                                            \
                            (ptrdiff_t)((j + (size_t)v * FC_LANES) * (size_t)sw) + src->off[ss], \
                            src->x_w, (ptrdiff_t)(cols - j - (size_t)v * FC_LANES));          \
            FC_DW_ROW_GROUPS(FC_DW_EDGE_ROWS);                                                \
        } else {                                                                              \
            FC_DW_ROW_GROUPS(FC_DW_INNER_ROWS);                                               \
        }                                                                                     \
    } while (0)
    FC_COLUMN_BLOCKS(cols, nv_max, FC_DW_DIRECT_BLOCK);
#undef FC_DW_DIRECT_BLOCK
#undef FC_DW_INNER_ROWS
#undef FC_DW_EDGE_ROWS
#undef FC_DW_GROUP
}

/* filter2d's 2-D kernels with taps of weight 0 to skip (FC_SKIP_ZERO_TAPS; skip): the non-zero
 * taps in a list of (offset in x, weight), in (r, s) order, so each output is summed in the
 * reference's order (bias, then the taps ascending) with no test per tap.  (skip == 0: every
 * tap, for the rows of the separable pass.)  The tile
 * tested every tap's weight for each of its rows (two compares and branches per tap, 224 per
 * 7 x 7 block): there the branches, not the FMAs, set the speed.  One output row by
 * DW_LIST_NV vectors: 8 accumulators cover the FMA latency, each loaded vector feeds one FMA
 * (as cv2.filter2D's list loop) and is folded into it, so the registers hold only the
 * accumulators and the broadcast weight. */
#define DW_LIST_TAPS 256
#define DW_LIST_NV 8
FC_INLINE void dw_list_block(const int nv, const int part, FC_M tail, size_t n,
                             const size_t *off, const float *wl, const float *x, float bias,
                             unsigned fused, float *y)
{
    FC_V acc[DW_LIST_NV];
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++) acc[v] = FC_VSET1(bias);
#pragma GCC unroll 2
    for (size_t k = 0; k < n; k++) {
        const float *p = x + off[k];
        /* p in a register of its own, so each load is p plus a constant: without this, gcc
         * kept x + j + v * FC_LANES per vector and added off[k] to each (a lea per FMA, half
         * the loop's instructions) */
        __asm__("" : "+r"(p));
        const FC_V wt = FC_VSET1(wl[k]);
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++)
            acc[v] = FC_VFMA(wt, fc_vload(p + v * FC_LANES, part && v == nv - 1, tail), acc[v]);
    }
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++)
        fc_vstore_out(y + v * FC_LANES, acc[v], fused, part && v == nv - 1, tail);
}

/* Column blocks outer, rows inner: the rows of one block share the input rows' pieces in L1. */
static void dw_list_tile(size_t rows, size_t cols, size_t r, size_t s, const float *x,
                         size_t row_stride, size_t tap_row_stride, const size_t *tap_col,
                         const float *w, float bias, unsigned fused, float *y, size_t y_stride,
                         int skip)
{
    size_t off[DW_LIST_TAPS];
    float wl[DW_LIST_TAPS];
    size_t n = 0;
    for (size_t t = 0; t < r; t++)
        for (size_t ss = 0; ss < s; ss++)
            if (!skip || w[t * s + ss] != 0.0f) {
                off[n] = t * tap_row_stride + tap_col[ss];
                wl[n++] = w[t * s + ss];
            }
    FC_M tail = FC_TAIL_MASK(FC_LANES);
    size_t j = 0;
#define DW_LIST_ROWS(nv, part)                                                               \
    for (size_t i = 0; i < rows; i++)                                                         \
        dw_list_block(nv, part, tail, n, off, wl, x + i * row_stride + j, bias, fused,        \
                      y + i * y_stride + j)
    for (; j + DW_LIST_NV * FC_LANES <= cols; j += DW_LIST_NV * FC_LANES) DW_LIST_ROWS(8, 0);
    if (j + 4 * FC_LANES <= cols) {
        DW_LIST_ROWS(4, 0);
        j += 4 * FC_LANES;
    }
    if (j == cols) return;
    const size_t nv = (cols - j + FC_LANES - 1) / FC_LANES;
    tail = FC_TAIL_MASK(cols - j - (nv - 1) * FC_LANES);
    switch (nv) {
    case 1: DW_LIST_ROWS(1, 1); break;
    case 2: DW_LIST_ROWS(2, 1); break;
    case 3: DW_LIST_ROWS(3, 1); break;
    default: DW_LIST_ROWS(4, 1); break;
    }
#undef DW_LIST_ROWS
}

/* filter2d's 2-D kernels without zero taps (FC_DENSE_TAPS): every tap, in a register tile
 * of FC_DW_ROWS_RB output rows x FC_DW_ROWS_NV vectors (each at most 4; the including file
 * may set them).  Input row t of the tile is filter row t - i of output row i, so each vector
 * loaded from it feeds up to FC_DW_ROWS_RB rows' FMAs (the list loads one vector per FMA, and
 * about half of those unaligned loads cross a cache line: about one FMA a cycle).  Each output
 * still sums bias, then r, s ascending: t ascending is r ascending for every row.  Which rows
 * read input row t (i in [lo, hi]) is a constant inside dw_rows_taps, chosen by a switch once
 * per input row, so no branch tests a tap. */
#ifndef FC_DW_ROWS_NV
#define FC_DW_ROWS_NV 2
#endif
#ifndef FC_DW_ROWS_RB
#define FC_DW_ROWS_RB 4
#endif
#define DW_ROWS_RB 4 /* the accumulator array's rows, and the switch's */
FC_INLINE void dw_rows_taps(const int nv, const int part, FC_M tail, const int lo,
                            const int hi, size_t s, const float *x_row, const size_t *tap_col,
                            const float *w_row, FC_V (*acc)[FC_DW_ROWS_NV])
{
    const float *wr[DW_ROWS_RB]; /* filter row t - i of each output row i that reads row t */
#pragma GCC unroll 4
    for (int i = lo; i <= hi; i++) wr[i] = w_row - (size_t)i * s;
#pragma GCC unroll 1
    for (size_t ss = 0; ss < s; ss++) {
        const float *p = x_row + tap_col[ss];
        FC_V xv[FC_DW_ROWS_NV];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            xv[v] = fc_vload(p + v * FC_LANES, part && v == nv - 1, tail);
#pragma GCC unroll 4
        for (int i = lo; i <= hi; i++) {
            const FC_V wt = FC_VSET1(wr[i][ss]);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++) acc[i][v] = FC_VFMA(wt, xv[v], acc[i][v]);
        }
    }
}

/* rb output rows (a constant, at most DW_ROWS_RB) x nv vectors from x (their first input row,
 * at column j already), into y. */
FC_INLINE void dw_rows_block(const int rb, const int nv, const int part, FC_M tail, size_t r,
                             size_t s, const float *x, size_t row_stride, const size_t *tap_col,
                             const float *w, float bias, unsigned fused, float *y,
                             size_t y_stride)
{
    FC_V acc[DW_ROWS_RB][FC_DW_ROWS_NV];
    /* the bias broadcast from memory at each block: gcc otherwise kept its vector in a
     * register through the loops, and beside 8 accumulators, 4 inputs and the weight that
     * spilled an input vector to the stack in the 2-row loop (reloaded for every tap) */
    const float *bias_at = &bias;
    __asm__("" : "+r"(bias_at));
#pragma GCC unroll 4
    for (int i = 0; i < rb; i++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) acc[i][v] = FC_VSET1(*bias_at);
    for (size_t t = 0; t < r + (size_t)rb - 1; t++) {
        /* output rows lo ... hi read input row t: t - r < i <= t */
        const size_t lo = t + 1 > r ? t + 1 - r : 0;
        const size_t hi = t < (size_t)rb - 1 ? t : (size_t)rb - 1;
        const float *x_row = x + t * row_stride, *w_row = w + t * s;
#define DW_ROWS_CASE(l, h)                                                                    \
    case (l) * DW_ROWS_RB + (h):                                                              \
        if ((h) < rb) dw_rows_taps(nv, part, tail, l, h, s, x_row, tap_col, w_row, acc);      \
        break
        switch (lo * DW_ROWS_RB + hi) {
            DW_ROWS_CASE(0, 0); DW_ROWS_CASE(0, 1); DW_ROWS_CASE(0, 2); DW_ROWS_CASE(0, 3);
            DW_ROWS_CASE(1, 1); DW_ROWS_CASE(1, 2); DW_ROWS_CASE(1, 3);
            DW_ROWS_CASE(2, 2); DW_ROWS_CASE(2, 3);
            DW_ROWS_CASE(3, 3);
        }
#undef DW_ROWS_CASE
    }
#pragma GCC unroll 4
    for (int i = 0; i < rb; i++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            fc_vstore_out(y + i * y_stride + v * FC_LANES, acc[i][v], fused,
                          part && v == nv - 1, tail);
}

FC_INLINE void dw_rows_all(size_t rows, size_t cols, size_t r, size_t s, const float *x,
                         size_t row_stride, const size_t *tap_col, const float *w, float bias,
                         const unsigned fused, float *y, size_t y_stride)
{
    FC_M tail;
    size_t j, i = 0;
#define DW_ROWS_BLOCK(nv, part)                                                               \
    dw_rows_block(rb, nv, part, tail, r, s, x + i * row_stride + j, row_stride, tap_col, w,  \
                  bias, fused, y + i * y_stride + j, y_stride)
#define DW_ROWS_GROUP(rb_)                                                                    \
    do {                                                                                      \
        const int rb = rb_;                                                                   \
        FC_COLUMN_BLOCKS(cols, FC_DW_ROWS_NV, DW_ROWS_BLOCK);                                 \
    } while (0)
    for (; i + FC_DW_ROWS_RB <= rows; i += FC_DW_ROWS_RB) DW_ROWS_GROUP(FC_DW_ROWS_RB);
    switch (rows - i) { /* the last rows (a constant test leaves out the groups never run) */
    case 3: if (FC_DW_ROWS_RB > 3) DW_ROWS_GROUP(3); break;
    case 2: if (FC_DW_ROWS_RB > 2) DW_ROWS_GROUP(2); break;
    case 1: DW_ROWS_GROUP(1); break;
    default: break;
    }
#undef DW_ROWS_GROUP
#undef DW_ROWS_BLOCK
}

/* fused a constant in each copy (only FC_FUSED_RELU changes the store): the runtime ReLU
 * test kept its zero vector in a register through the loops, one more toward the spill */
static void dw_rows_tile(size_t rows, size_t cols, size_t r, size_t s, const float *x,
                         size_t row_stride, const size_t *tap_col, const float *w, float bias,
                         unsigned fused, float *y, size_t y_stride)
{
    if (fused & FC_FUSED_RELU)
        dw_rows_all(rows, cols, r, s, x, row_stride, tap_col, w, bias, FC_FUSED_RELU, y,
                    y_stride);
    else
        dw_rows_all(rows, cols, r, s, x, row_stride, tap_col, w, bias, 0, y, y_stride);
}

void FC_DWCONV_FN(size_t rows, size_t cols, size_t r, size_t s, const float *x,
                  size_t row_stride, size_t tap_row_stride, const size_t *tap_col,
                  const float *w, float bias, unsigned fused, float *y, size_t y_stride)
{
    const dw_src src = {.x = x, .tap_row_stride = tap_row_stride, .tap_col = tap_col};
#define FC_DW_TILE_FROM(from, rb_max, nv_max, R, S, fixed, known, skip)                     \
    dw_tile(rb_max, nv_max, rows, cols, R, S, fixed, known, skip, 0, 1, from, row_stride,    \
            tap_row_stride, w, bias, fused, y, y_stride)
#define FC_DW_TILE(rb_max, R, S, fixed, known, skip)                                          \
    FC_DW_TILE_FROM(&src, rb_max, FC_DW_NV, R, S, fixed, known, skip)
#define FC_DW_ANY(R, S, skip) FC_DW_TILE_FROM(&src, FC_DW_RB, FC_DW_NV_WIDE, R, S, 0, 0, skip)
    const int skip = (fused & FC_SKIP_ZERO_TAPS) != 0;
    /* filter2d's kernels (FC_SKIP_ZERO_TAPS): the list of non-zero taps.  fastconv /
     * cv2.filter2D, one thread, CPU time, medians of 9 interleaved rounds (Zen 3 EPYC AVX2,
     * shared host), the tile with its tests -> the list: 7x7 f32 1024^2 0.75x -> 0.93x, 5x5 f32
     * RGB 2048^2 0.97x -> 1.28x, 3x3 u8 512^2 1.06x -> 1.35x, 3x3 f32 4096^2 1.14x -> 1.37x,
     * 15x15 f32 1024^2 1.33x -> 2.19x.  Rows (1 x kw, the separable row pass) too, every tap
     * kept: one row in the tile had 4 accumulators, half the FMA latency uncovered; a Gaussian
     * vs cv2.GaussianBlur, sigma 1 1024^2 0.77x -> 0.90x, sigma 2 RGB 1.14x -> 1.41x, sigma 5
     * 2048^2 1.91x -> 2.38x.  The column pass stays in the 2-row tile, which shares each load
     * between two rows (the list there: 0.73x, 1.10x, 1.66x). */
    /* filter2d's kernels without zero taps: the register tile of rows (rows that share input
     * rows, and more than one column so the list is no better).  Dense kernels, fastconv
     * tile / list, one thread, paired medians of 21 rounds (Zen 3 EPYC AVX2, shared host):
     * 3x3 1.12x, 5x5 1.14x, 7x7 1.28x, 9x9 1.28x, 7x5 1.11x (1024^2 gray), 7x7 RGB 512^2
     * 1.25x.  (Those figures were taken while the tile spilled an input vector in its 2-row
     * loop; re-measured in another session, that tile was 1.00x of the list on dense 7x7 and
     * the tile without the spill 1.18x of both on 7x7 and 5x5, C harness of the driver's
     * window, one thread, interleaved medians of 25 rounds.)  A kernel with zeros stays in the
     * list: summing its zero taps too (with a NaN / inf check of the rows) was 0.84-0.92x of
     * the list at the benchmark's 65-78% non-zero; with the spill gone, 1.09-1.15x at 80-88%
     * non-zero (5x5, 7x7, 9x9), so it would pay only above about 80% (the benchmark's 7x7 has
     * 32 of 49).  Measured for the list and not kept (same harness, 7x7 f32 1024^2 at 65-86%
     * non-zero): two output rows per pass sharing the loads of taps (t, s) and (t - 1, s),
     * a branch per row and tap 0.85x, zero weights FMA'd instead 1.0x; 12 or 14 accumulators
     * 1.0x; window rows padded to spread them over L1 sets 1.03x; 8 or 16 output rows per
     * group 1.0x; software prefetch of the next column block 0.94x; a second copy of each
     * window row shifted by 32 bytes, so no load crosses a cache line, 1.05-1.08x at 5x5-9x9
     * but 0.73x at 3x3 and 0.94x at 5x5 RGB; 7 copies shifted by 0-6 floats (every load
     * aligned) 0.6x (7x the window).  Every load 32-byte aligned (a fake tap_col of 8 s) was
     * 1.27x: the list's unaligned loads cost about that much, and the copies that avoid them
     * cost about as much. */
    if ((fused & FC_DENSE_TAPS) && r > 1 && s > 1 && row_stride == tap_row_stride)
        dw_rows_tile(rows, cols, r, s, x, row_stride, tap_col, w, bias, fused, y, y_stride);
    else if (r * s <= DW_LIST_TAPS && (skip || r == 1))
        dw_list_tile(rows, cols, r, s, x, row_stride, tap_row_stride, tap_col, w, bias, fused,
                     y, y_stride, skip);
    /* 3 x 3, the depthwise layers of MobileNet-style networks: the nine weights stay in
     * registers beside the tile, so the hot loop has no broadcasts.  5 x 5 and 7 x 7
     * (MobileNetV3 / EfficientNet depthwise layers) unrolled with their sizes known. */
    else if (r == 3 && s == 3 && !skip)
        FC_DW_TILE(FC_DW_RB, 3, 3, 1, 1, 0);
#ifndef FC_SANITIZE_BUILD
    /* (The sanitizer build leaves the 5x5 / 7x7 copies out: they are the runtime-size tiles
     * below with the sizes known, so the sanitizer still checks their code with those sizes
     * through the last branch, and each instrumented copy costs minutes of compile and GBs of
     * compiler memory in every ISA's file.)  In RB_WIDE x NV: AVX2's 2 x 4 ymm spilled there,
     * half the speed of 2 x 3. */
    else if (r == 5 && s == 5 && !skip)
        FC_DW_TILE(FC_DW_RB_WIDE, 5, 5, 0, 1, 0);
    else if (r == 7 && s == 7 && !skip)
        FC_DW_TILE(FC_DW_RB_WIDE, 7, 7, 0, 1, 0);
#endif
    /* One-dimensional filters (filter2d's separable passes: 1 x kw along the rows, kh x 1
     * down the columns) with the unit side known, so its loop and row tests fold away; the
     * skips here are for kernels longer than the list */
    else if (s == 1)
        skip ? FC_DW_ANY(r, 1, 1) : FC_DW_ANY(r, 1, 0);
    else if (r == 1)
        skip ? FC_DW_ANY(1, s, 1) : FC_DW_ANY(1, s, 0);
    else
        skip ? FC_DW_ANY(r, s, 1) : FC_DW_ANY(r, s, 0);
#undef FC_DW_ANY
#undef FC_DW_TILE
#undef FC_DW_TILE_FROM
}

/* ---- conv2d's 3 x 3 depthwise layers in place (fn3 with a 3 x 3 filter) --------------------
 * MobileNet's depthwise layers.  dw_tile's 2 x 3 tile kept the nine weights, six accumulators
 * and three loaded vectors live (18 of AVX2's 16 registers): gcc spilled accumulators, weights
 * and masks to the stack (about a third of the loop's instructions, perf annotate), and at
 * column stride 2 the tile was one output row of three vectors (three FMA chains for a 4-cycle
 * latency on two pipes) with two shuffles per tap.  Here:
 *
 * - FC_DW3_RB output rows x nv vectors of accumulators (up to 12), and the weights broadcast
 *   from memory where they are used (a load, as cheap as an input load), so the registers
 *   hold the accumulators, the loaded vector and the up to three weights of one tap column;
 * - input slot u of the tile (row u * tap_step of the list) is filter row u - i * k of output
 *   row i (k = row_step / tap_step: 1 at stride 1, 2 at stride 2, a constant), so each loaded
 *   vector feeds every output row that reads it; t ascending is r ascending for every row;
 * - column stride 2 (dilation_w 1): the 16 columns from tap 0's first one give taps 0 and 1 as
 *   their even and odd lanes, and the 16 two columns on give tap 2 (4 loads, not 6, per input
 *   row); the lanes come out in the ISA's cheapest order (FC_VEVEN_LANES: AVX2's in-lane
 *   shuffle, no lane-crossing fix-up per tap) and every accumulator is put in order once, at
 *   the store, which is a permutation of whole sums: no bit changes;
 * - edge blocks (a load leaves [0, x_w)) take the masked load only for the loads that leave
 *   the row (the others plain: a masked load is half the throughput of a plain one on Zen 3),
 *   a branch per load of the block's first and last vectors (the only ones that can leave
 *   the row when the padding is under a vector: dw3_fits) that goes the same way for every
 *   row of the block.
 *
 * Each output is summed bias, then (r, s) ascending, as dw_tile's and the reference's. */
#ifndef FC_DW3_RB
#define FC_DW3_RB 4
#endif
#ifndef FC_DW3_NV
#define FC_DW3_NV 3
#endif
#ifndef FC_DW3_NV_S2
#define FC_DW3_NV_S2 FC_DW3_NV
#endif
#define FC_DW3_NV_PICK(sw) ((sw) == 1 ? FC_DW3_NV : FC_DW3_NV_S2)
#ifndef FC_VEVEN_LANES /* ISAs whose even / odd split is one instruction already */
#define FC_VEVEN_LANES FC_VEVEN
#define FC_VODD_LANES FC_VODD
#define FC_VLANES_IN_ORDER(v) (v)
#endif

/* The loaded vector held in a register for all the FMAs that use it: without this gcc folded
 * the load into each FMA (50 of a 2 x 3 tile's 54 FMAs loaded their input again, about half
 * of them unaligned loads across a cache line), which made the loads, not the FMAs, the
 * limit. */
#if defined(__x86_64__)
#define DW3_KEEP(v) __asm__("" : "+v"(v))
#elif defined(__aarch64__)
#define DW3_KEEP(v) __asm__("" : "+w"(v))
#else
#define DW3_KEEP(v) ((void)0)
#endif

/* An edge block's load masks: vector v, load l (tap l at stride 1, pair l at stride 2), half
 * h; bit v * 3 + l of `full` set when that load stays in the row (a plain load). */
typedef struct dw3_edge {
    FC_M m[4][3][2];
    unsigned full;
} dw3_edge;

FC_INLINE FC_V dw3_load(const int edge, const int nv, const dw3_edge *e, int v, int l, int h,
                        const float *p)
{
    /* only a row's first and last vectors leave it (dw3_fits) */
    if (edge && (v == 0 || v == nv - 1) && !((e->full >> (v * 3 + l)) & 1u))
        return FC_VLOADM(e->m[v][l][h], p);
    return FC_VLOAD(p);
}

/* rb output rows (a constant) x nv vectors from output column j; rows: the tile's first input
 * row's pointer.  sw == 1: tap s at column j + off[s]; sw == 2: off[s] = off[0] + s. */
FC_INLINE void dw3_block(const int rb, const int nv, const int k, const int sw, const int edge,
                         const dw3_edge *e, const float *const *rows, size_t tap_step,
                         const ptrdiff_t *off, size_t j, const float *w, float bias,
                         unsigned fused, float *y, size_t y_stride)
{
    FC_V acc[FC_DW3_RB][4];
    const FC_M all = FC_TAIL_MASK(FC_LANES); /* (no store is masked) */
#pragma GCC unroll 4
    for (int i = 0; i < rb; i++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) acc[i][v] = FC_VSET1(bias);
#pragma GCC unroll 16
    for (int u = 0; u < (rb - 1) * k + 3; u++) {
        const float *row = rows[(size_t)u * tap_step];
        for (int l = 0; l < (sw == 1 ? 3 : 2); l++) { /* (unrolled: sw is a constant) */
            /* the weights reloaded for each tap column: kept live across the tile, the nine
             * of them were what spilled */
            const float *wu = w;
            __asm__ volatile("" : "+r"(wu));
            FC_V wt[3][2]; /* [output row i's share][tap of the load] */
#pragma GCC unroll 4
            for (int i = 0; i < rb; i++) {
                const int r = u - i * k;
                if (r < 0 || r > 2) continue;
                if (sw == 1) {
                    wt[i % 3][0] = FC_VSET1(wu[r * 3 + l]);
                } else {
                    wt[i % 3][0] = FC_VSET1(wu[r * 3 + 2 * l]);
                    if (l == 0) wt[i % 3][1] = FC_VSET1(wu[r * 3 + 1]);
                }
            }
            const float *p = sw == 1 ? row + (ptrdiff_t)j + off[l]
                                     : row + (ptrdiff_t)(2 * j) + off[0] + 2 * l;
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++) {
                FC_V xe, xo = FC_VZERO();
                if (sw == 1) {
                    xe = dw3_load(edge, nv, e, v, l, 0, p + v * FC_LANES);
                } else {
                    const FC_V lo = dw3_load(edge, nv, e, v, l, 0, p + 2 * v * FC_LANES);
                    const FC_V hi = dw3_load(edge, nv, e, v, l, 1, p + (2 * v + 1) * FC_LANES);
                    xe = FC_VEVEN_LANES(lo, hi);
                    if (l == 0) xo = FC_VODD_LANES(lo, hi);
                }
                DW3_KEEP(xe);
#pragma GCC unroll 4
                for (int i = 0; i < rb; i++) {
                    const int r = u - i * k;
                    if (r < 0 || r > 2) continue;
                    acc[i][v] = FC_VFMA(wt[i % 3][0], xe, acc[i][v]);
                    if (sw == 2 && l == 0) acc[i][v] = FC_VFMA(wt[i % 3][1], xo, acc[i][v]);
                }
            }
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < rb; i++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            fc_vstore_out(y + i * y_stride + j + v * FC_LANES,
                          sw == 1 ? acc[i][v] : FC_VLANES_IN_ORDER(acc[i][v]), fused, 0, all);
}

/* Whether only the first and the last vector of an output row can read outside [0, x_w)
 * (padding up to about a vector each side; always in CNNs), which dw3_load assumes: vector
 * jv >= FC_LANES starts at or after column 0, and every vector before the last (jv <= cols -
 * 2 * FC_LANES) ends by x_w. */
FC_INLINE int dw3_fits(size_t sw, size_t cols, size_t x_w, const ptrdiff_t *off)
{
    const ptrdiff_t lanes = FC_LANES, s = (ptrdiff_t)sw, c = (ptrdiff_t)cols;
    const ptrdiff_t reach = sw == 1 ? off[2] + lanes : off[0] + 2 * lanes + 2;
    return cols >= FC_LANES && lanes * s + off[0] >= 0 &&
           (c - 2 * lanes) * s + reach <= (ptrdiff_t)x_w;
}

/* The tile: column blocks outer (an edge block's masks serve all its rows), groups of
 * FC_DW3_RB output rows inner.  cols >= FC_LANES (FC_COLUMN_BLOCKS's rest block then needs no
 * mask); the caller checks it. */
FC_INLINE void dw3_tile(const int k, const int sw, size_t rows, size_t cols,
                        const float *const *x_rows, size_t tap_step, size_t x_w,
                        const ptrdiff_t *off, const float *w, float bias, unsigned fused,
                        float *y, size_t y_stride)
{
    const size_t row_step = (size_t)k * tap_step;
    const ptrdiff_t reach = sw == 1 ? FC_LANES : 2 * FC_LANES + 2; /* columns a load spans */
    FC_M tail;
    size_t j;
    dw3_edge e;
#define DW3_ROWS(rb_, nv_, edge_)                                                              \
    dw3_block(rb_, nv_, k, sw, edge_, &e, x_rows + i * row_step, tap_step, off, j, w, bias,   \
              fused, y + i * y_stride, y_stride)
#define DW3_GROUPS(nv_, edge_)                                                                 \
    do {                                                                                       \
        size_t i = 0;                                                                          \
        for (; i + FC_DW3_RB <= rows; i += FC_DW3_RB) DW3_ROWS(FC_DW3_RB, nv_, edge_);         \
        switch (rows - i) {                                                                    \
        case 3: if (FC_DW3_RB > 3) DW3_ROWS(3, nv_, edge_); break;                             \
        case 2: if (FC_DW3_RB > 2) DW3_ROWS(2, nv_, edge_); break;                             \
        case 1: DW3_ROWS(1, nv_, edge_); break;                                                \
        default: break;                                                                        \
        }                                                                                      \
    } while (0)
#define DW3_BLOCK(nv, part)                                                                    \
    do {                                                                                       \
        if (part) break; /* never: cols >= FC_LANES */                                         \
        const ptrdiff_t first = (ptrdiff_t)(j * (size_t)sw) + off[0];                          \
        const ptrdiff_t end = (ptrdiff_t)((j + (nv) * FC_LANES) * (size_t)sw) - FC_LANES * sw + \
                              (sw == 1 ? off[2] : off[0]) + reach;                             \
        if (first >= 0 && end <= (ptrdiff_t)x_w) {                                             \
            DW3_GROUPS(nv, 0);                                                                 \
            break;                                                                             \
        }                                                                                      \
        e.full = 0;                                                                            \
        for (int v = 0; v < (nv); v++)                                                         \
            for (int l = 0; l < (sw == 1 ? 3 : 2); l++) {                                      \
                const ptrdiff_t c0 = (ptrdiff_t)((j + (size_t)v * FC_LANES) * (size_t)sw) +    \
                                     (sw == 1 ? off[l] : off[0] + 2 * l);                      \
                const ptrdiff_t span = sw == 1 ? FC_LANES : 2 * FC_LANES;                      \
                if (c0 >= 0 && c0 + span <= (ptrdiff_t)x_w) e.full |= 1u << (v * 3 + l);      \
                for (int h = 0; h < sw; h++)                                                   \
                    e.m[v][l][h] = dw_range_mask(-c0 - h * FC_LANES,                           \
                                                 (ptrdiff_t)x_w - c0 - h * FC_LANES);          \
            }                                                                                  \
        DW3_GROUPS(nv, 1);                                                                     \
    } while (0)
    FC_COLUMN_BLOCKS(cols, FC_DW3_NV_PICK(sw), DW3_BLOCK);
    (void)tail; /* set by FC_COLUMN_BLOCKS, read only by the partial blocks there are none of */
#undef DW3_BLOCK
#undef DW3_GROUPS
#undef DW3_ROWS
}

void FC_DWCONV_DIRECT_FN(size_t rows, size_t cols, size_t r, size_t s,
                         const float *const *x_rows, size_t row_step, size_t tap_step,
                         size_t x_w, size_t stride_w, const ptrdiff_t *tap_col, const float *w,
                         float bias, unsigned fused, float *y, size_t y_stride)
{
    const dw_src src = {.rows = x_rows, .tap_step = tap_step, .off = tap_col,
                        .x_w = (ptrdiff_t)x_w};
#define FC_DW_DIRECT(r_, s_, fixed, skip, sw)                                                 \
    dw_tile(FC_DW_RB, FC_DW_NV, rows, cols, r_, s_, fixed, 0, skip, 1, sw, &src, row_step,  \
            tap_step, w, bias, fused, y, y_stride)
    /* FC_SKIP_ZERO_TAPS: fn's sums without the zero taps; only filter2d sets the flag and it
     * calls fn, so here it takes the loops of a runtime size rather than more copies */
    if (fused & FC_SKIP_ZERO_TAPS)
        stride_w == 1 ? FC_DW_DIRECT(r, s, 0, 1, 1) : FC_DW_DIRECT(r, s, 0, 1, 2);
    /* 3 x 3 with rows that share input rows at stride 1 or 2 (what MobileNet's layers are):
     * dw3_tile; the rest (planes narrower than a vector, dilation_w > 1 at stride 2, other
     * row steps) dw_tile's */
    else if (r == 3 && s == 3 && stride_w == 1 && row_step == tap_step &&
             dw3_fits(1, cols, x_w, tap_col))
        dw3_tile(1, 1, rows, cols, x_rows, tap_step, x_w, tap_col, w, bias, fused, y, y_stride);
    else if (r == 3 && s == 3 && stride_w == 2 && row_step == 2 * tap_step &&
             tap_col[1] == tap_col[0] + 1 && tap_col[2] == tap_col[0] + 2 &&
             dw3_fits(2, cols, x_w, tap_col))
        dw3_tile(2, 2, rows, cols, x_rows, tap_step, x_w, tap_col, w, bias, fused, y, y_stride);
    else if (r == 3 && s == 3 && stride_w == 1)
        FC_DW_DIRECT(3, 3, 1, 0, 1);
    else if (r == 3 && s == 3)
        FC_DW_DIRECT(3, 3, 1, 0, 2);
    else if (stride_w == 1)
        FC_DW_DIRECT(r, s, 0, 0, 1);
    else
        FC_DW_DIRECT(r, s, 0, 0, 2);
#undef FC_DW_DIRECT
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

/* The scalar twin: y itself is the accumulator row, so the j loop is a plain axpy the compiler
 * can vectorise; the order per output is still bias, r, s. */
void FC_FN(dwconv_ukernel__scalar)(size_t rows, size_t cols, size_t r, size_t s,
                                   const FC_REAL *x, size_t row_stride, size_t tap_row_stride,
                                   const size_t *tap_col, const FC_REAL *w, FC_REAL bias,
                                   unsigned fused, FC_REAL *y, size_t y_stride)
{
    for (size_t i = 0; i < rows; i++) {
        FC_REAL *y_row = y + i * y_stride;
        for (size_t j = 0; j < cols; j++) y_row[j] = bias;
        for (size_t rr = 0; rr < r; rr++)
            for (size_t ss = 0; ss < s; ss++) {
                const FC_REAL wv = w[rr * s + ss];
                if ((fused & FC_SKIP_ZERO_TAPS) && wv == 0) continue;
                const FC_REAL *x_tap = x + i * row_stride + rr * tap_row_stride + tap_col[ss];
                for (size_t j = 0; j < cols; j++) y_row[j] += wv * x_tap[j];
            }
        if (fused & FC_FUSED_RELU)
            for (size_t j = 0; j < cols; j++) y_row[j] = FC_RELU(y_row[j]);
    }
}

/* fn3's scalar twin: the same axpys, each split where its tap leaves the row; the padding's
 * columns still add w * 0 (as fn's zero-filled buffer does: -0 sums and infinite weights keep
 * the same bits). */
void FC_FN(dwconv_direct_ukernel__scalar)(size_t rows, size_t cols, size_t r, size_t s,
                                          const FC_REAL *const *x_rows, size_t row_step,
                                          size_t tap_step, size_t x_w, size_t stride_w,
                                          const ptrdiff_t *tap_col, const FC_REAL *w,
                                          FC_REAL bias, unsigned fused, FC_REAL *y,
                                          size_t y_stride)
{
    const ptrdiff_t sw = (ptrdiff_t)stride_w, n = (ptrdiff_t)cols;
    for (size_t i = 0; i < rows; i++) {
        FC_REAL *y_row = y + i * y_stride;
        for (size_t j = 0; j < cols; j++) y_row[j] = bias;
        for (size_t rr = 0; rr < r; rr++)
            for (size_t ss = 0; ss < s; ss++) {
                const FC_REAL wv = w[rr * s + ss], zero = 0;
                if ((fused & FC_SKIP_ZERO_TAPS) && wv == 0) continue;
                const FC_REAL *x_row = x_rows[i * row_step + rr * tap_step];
                const ptrdiff_t off = tap_col[ss];
                /* the output columns whose input column j * sw + off is in [0, x_w) */
                ptrdiff_t lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
                ptrdiff_t hi = (ptrdiff_t)x_w - off <= 0 ? 0 : ((ptrdiff_t)x_w - off + sw - 1) / sw;
                lo = lo < n ? lo : n;
                hi = hi < lo ? lo : hi < n ? hi : n;
                ptrdiff_t j = 0;
                for (; j < lo; j++) y_row[j] += wv * zero;
                for (; j < hi; j++) y_row[j] += wv * x_row[j * sw + off];
                for (; j < n; j++) y_row[j] += wv * zero;
            }
        if (fused & FC_FUSED_RELU)
            for (size_t j = 0; j < cols; j++) y_row[j] = FC_RELU(y_row[j]);
    }
}

/* The weight gradient's scalar twin: 8 lanes per tap (lane l sums the columns j = l mod 8,
 * rows ascending), added in a fixed tree: the j loop has no dependence the compiler must keep,
 * so it vectorises, and the sums do not depend on who calls. */
static FC_REAL FC_FN(dwconv_gw_tile_sum)(size_t rows, size_t cols, const FC_REAL *x,
                                         size_t x_stride, const FC_REAL *g, size_t g_stride)
{
    enum { LANES = 8 };
    FC_REAL lane[LANES] = {0};
    for (size_t i = 0; i < rows; i++) {
        const FC_REAL *x_row = x ? x + i * x_stride : NULL, *g_row = g + i * g_stride;
        size_t j = 0;
        for (; j + LANES <= cols; j += LANES)
            for (int l = 0; l < LANES; l++) lane[l] += g_row[j + l] * (x ? x_row[j + l] : 1);
        for (int l = 0; j < cols; j++, l++) lane[l] += g_row[j] * (x ? x_row[j] : 1);
    }
    for (int width = LANES / 2; width > 0; width /= 2)
        for (int l = 0; l < width; l++) lane[l] += lane[l + width];
    return lane[0];
}

void FC_FN(dwconv_gw_ukernel__scalar)(size_t rows, size_t cols, size_t r, size_t s,
                                      const FC_REAL *x, size_t row_stride,
                                      size_t tap_row_stride, const size_t *tap_col,
                                      const FC_REAL *g, size_t g_stride, FC_REAL *gw,
                                      FC_REAL *gb)
{
    for (size_t rr = 0; rr < r; rr++)
        for (size_t ss = 0; ss < s; ss++)
            gw[rr * s + ss] += FC_FN(dwconv_gw_tile_sum)(
                rows, cols, x + rr * tap_row_stride + tap_col[ss], row_stride, g, g_stride);
    if (gb) *gb += FC_FN(dwconv_gw_tile_sum)(rows, cols, NULL, 0, g, g_stride);
}

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
                const FC_REAL *x_tap = x + i * row_stride + rr * tap_row_stride + tap_col[ss];
                for (size_t j = 0; j < cols; j++) y_row[j] += wv * x_tap[j];
            }
        if (fused & FC_FUSED_RELU)
            for (size_t j = 0; j < cols; j++) y_row[j] = FC_RELU(y_row[j]);
    }
}

/* The scalar twin: y itself is the accumulator row, so the j loop is a plain axpy the compiler
 * can vectorise; the order per output is still bias, c, r, s. */
void FC_FN(dconv_ukernel_4__scalar)(size_t rows, size_t cols, size_t channels, size_t r,
                                    size_t s, const FC_REAL *x, size_t x_stride,
                                    const size_t *tap_col, const FC_REAL *w,
                                    const FC_REAL *bias, unsigned fused, FC_REAL *y,
                                    size_t y_stride)
{
    enum { KB = 4 };
    for (size_t i = 0; i < rows; i++) {
        FC_REAL *y_row = y + i * y_stride;
        for (size_t j = 0; j < cols; j++) y_row[j] = bias[i];
        for (size_t step = 0; step < channels * r * s; step++) {
            const FC_REAL wv = w[step * KB + i];
            const FC_REAL *x_tap = x + (step / s) * x_stride + tap_col[step % s];
            for (size_t j = 0; j < cols; j++) y_row[j] += wv * x_tap[j];
        }
        if (fused & FC_FUSED_RELU)
            for (size_t j = 0; j < cols; j++) y_row[j] = FC_RELU(y_row[j]);
    }
}

/* The scalar pooling loops over a range of output columns [ow_begin, ow_end) of one output row
 * (see pool.h).  The scalar members run them over the whole row; the SIMD members over the
 * columns whose windows overhang the row's ends (padding, ceil_mode) and their last few
 * columns.  Static: each kernel file gets its own copy, compiled for its target. */
static inline void FC_FN(maxpool_columns)(const fc_pool_columns *cols, int64_t ow_begin,
                                          int64_t ow_end, size_t rows,
                                          const FC_REAL *const *row_ptrs,
                                          const int64_t *row_offsets, FC_REAL *y,
                                          int64_t *indices)
{
    for (int64_t ow = ow_begin; ow < ow_end; ow++) {
        int64_t j_begin, j_end;
        fc_pool_valid_columns(cols, ow, &j_begin, &j_end);
        const int64_t start = ow * cols->stride_w - cols->pad_w;
        FC_REAL best = -(FC_REAL)INFINITY;
        int64_t best_index = -1;
        for (size_t i = 0; i < rows && best == best; i++)
            for (int64_t j = j_begin; j < j_end; j++) {
                const int64_t iw = start + j * cols->dilation_w;
                const FC_REAL v = row_ptrs[i][iw];
                /* `v != v` is NaN: it wins once and ends the search (loop test above). */
                if (best_index < 0 || v > best || v != v) {
                    best = v;
                    best_index = row_offsets[i] + iw;
                    if (v != v) break;
                }
            }
        y[ow] = best;
        if (indices) indices[ow] = best_index;
    }
}

static inline void FC_FN(avgpool_columns)(const fc_pool_columns *cols, int64_t ow_begin,
                                          int64_t ow_end, size_t rows,
                                          const FC_REAL *const *row_ptrs, int64_t padded_rows,
                                          fc_avg_pool_rule rule, FC_REAL *y)
{
    for (int64_t ow = ow_begin; ow < ow_end; ow++) {
        /* the window's input columns [iw0, iw1) (dilation 1) and its padded width */
        int64_t iw0, iw1, padded_cols;
        fc_avg_pool_window(ow, cols->stride_w, cols->pad_w, cols->kernel_w, cols->in_w, &iw0,
                           &iw1, &padded_cols);
        FC_REAL sum = 0;
        for (size_t i = 0; i < rows; i++)
            for (int64_t iw = iw0; iw < iw1; iw++) sum += row_ptrs[i][iw];
        y[ow] = sum / (FC_REAL)fc_avg_pool_divisor(rule, (int64_t)rows, iw1 - iw0,
                                                    padded_rows, padded_cols);
    }
}

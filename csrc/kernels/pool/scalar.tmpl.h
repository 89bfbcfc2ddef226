void FC_FN(maxpool_ukernel__scalar)(const fc_pool_columns *cols, size_t rows,
                                    const FC_REAL *const *row_ptrs, const int64_t *row_offsets,
                                    FC_REAL *y, int64_t *indices)
{
    FC_FN(maxpool_columns)(cols, 0, cols->out_w, rows, row_ptrs, row_offsets, y, indices);
}

void FC_FN(avgpool_ukernel__scalar)(const fc_pool_columns *cols, size_t rows,
                                    const FC_REAL *const *row_ptrs, int64_t padded_rows,
                                    fc_avg_pool_rule rule, FC_REAL *y)
{
    FC_FN(avgpool_columns)(cols, 0, cols->out_w, rows, row_ptrs, padded_rows,
                           rule, y);
}

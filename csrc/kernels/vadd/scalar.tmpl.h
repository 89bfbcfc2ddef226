void FC_FN(vadd_ukernel__scalar)(size_t n, const FC_REAL *x, FC_REAL *y)
{
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

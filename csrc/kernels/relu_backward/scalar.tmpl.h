void FC_FN(relu_backward_ukernel__scalar)(size_t n, const FC_REAL *g, const FC_REAL *y,
                                          FC_REAL *gx)
{
    for (size_t i = 0; i < n; i++) gx[i] = y[i] > 0 ? g[i] : (FC_REAL)0;
}

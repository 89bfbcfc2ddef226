void FC_FN(relu_ukernel__scalar)(size_t n, const FC_REAL *x, FC_REAL *y)
{
    for (size_t i = 0; i < n; i++) {
        const FC_REAL v = x[i];
        y[i] = FC_RELU(v);
    }
}

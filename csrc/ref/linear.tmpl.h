/* Reference linear for one dtype (instantiated by ref/linear.c): one output element at a time,
 * each sum in the order fastconv.h states. */

static void FC_FN(ref_linear_forward)(int64_t n, int64_t in, int64_t out, const FC_REAL *x,
                                      const FC_REAL *weight, const fc_epi *epi, FC_REAL *y)
{
    const FC_REAL *bias = epi->bias;
    for (int64_t i = 0; i < n; i++)
        for (int64_t o = 0; o < out; o++) {
            FC_REAL acc = bias ? bias[o] : 0;
            for (int64_t k = 0; k < in; k++) acc += x[i * in + k] * weight[o * in + k];
            y[i * out + o] = FC_FN(epilogue_value)(epi, acc, i * out + o);
        }
}

static void FC_FN(ref_linear_backward)(int64_t n, int64_t in, int64_t out, const FC_REAL *g,
                                       const FC_REAL *x, const FC_REAL *weight, FC_REAL *gx,
                                       FC_REAL *gw, FC_REAL *gb)
{
    if (gx)
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < in; k++) {
                FC_REAL acc = 0;
                for (int64_t o = 0; o < out; o++) acc += g[i * out + o] * weight[o * in + k];
                gx[i * in + k] = acc;
            }
    if (gw)
        for (int64_t o = 0; o < out; o++)
            for (int64_t k = 0; k < in; k++) {
                FC_REAL acc = 0;
                for (int64_t i = 0; i < n; i++) acc += g[i * out + o] * x[i * in + k];
                gw[o * in + k] = acc;
            }
    if (gb)
        for (int64_t o = 0; o < out; o++) {
            FC_REAL acc = 0;
            for (int64_t i = 0; i < n; i++) acc += g[i * out + o];
            gb[o] = acc;
        }
}

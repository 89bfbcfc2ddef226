/* Four output channels per call: each input value loaded once feeds four accumulators. */
void FC_FN(dconv_ukernel_4__scalar)(size_t count, const FC_REAL *x, size_t x_stride,
                                    const FC_REAL *w, FC_REAL *acc, size_t acc_stride)
{
    const FC_REAL w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
    FC_REAL *a0 = acc, *a1 = acc + acc_stride, *a2 = a1 + acc_stride, *a3 = a2 + acc_stride;
    for (size_t j = 0; j < count; j++) {
        const FC_REAL v = x[j * x_stride];
        a0[j] += w0 * v;
        a1[j] += w1 * v;
        a2[j] += w2 * v;
        a3[j] += w3 * v;
    }
}

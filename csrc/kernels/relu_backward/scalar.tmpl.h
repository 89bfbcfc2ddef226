void FC_FN(relu_backward_ukernel__scalar)(size_t n, const FC_REAL *g, const FC_REAL *y,
                                          FC_REAL *gx)
{
    for (size_t i = 0; i < n; i++) {
        /* g[i] loaded whatever the mask: then gcc selects instead of branching (a branch on
         * the sign of activations mispredicts half the time: 8x slower on random data) */
        const FC_REAL v = g[i], m = y[i];
        gx[i] = m <= 0 ? (FC_REAL)0 : v; /* NaN m: g passes (torch's threshold_backward) */
    }
}

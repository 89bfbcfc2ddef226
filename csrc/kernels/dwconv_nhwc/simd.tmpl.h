/* Channels-last depthwise convolution for one ISA and dtype (simd/vec_*.h): 4 vectors of
 * channels at a time in registers over all the taps, then single vectors, then a masked one
 * (never past the run).  Each lane: bias (or +0), then one FMA per tap in order. */
void FC_ISA_SUFFIX(FC_FN(dwconv_nhwc_ukernel))(size_t channels, size_t taps,
                                               const FC_REAL *const *x_ptrs, const FC_REAL *w,
                                               size_t ld_w, const FC_REAL *bias, FC_REAL *y)
{
    size_t c = 0;
    for (; c + 4 * FC_LANES <= channels; c += 4 * FC_LANES) {
        FC_V acc[4];
        for (int v = 0; v < 4; v++)
            acc[v] = bias ? FC_VLOAD(bias + c + v * FC_LANES) : FC_VZERO();
        for (size_t t = 0; t < taps; t++) {
            const FC_REAL *x = x_ptrs[t] + c, *wt = w + t * ld_w + c;
            for (int v = 0; v < 4; v++)
                acc[v] = FC_VFMA(FC_VLOAD(wt + v * FC_LANES), FC_VLOAD(x + v * FC_LANES), acc[v]);
        }
        for (int v = 0; v < 4; v++) FC_VSTORE(y + c + v * FC_LANES, acc[v]);
    }
    for (; c < channels; c += FC_LANES) {
        const size_t cnt = channels - c < FC_LANES ? channels - c : FC_LANES;
        const FC_M m = FC_TAIL_MASK(cnt);
        FC_V acc = bias ? FC_VLOADM(m, bias + c) : FC_VZERO();
        for (size_t t = 0; t < taps; t++)
            acc = FC_VFMA(FC_VLOADM(m, w + t * ld_w + c), FC_VLOADM(m, x_ptrs[t] + c), acc);
        FC_VSTOREM(y + c, m, acc);
    }
}

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

/* The weight gradient (fn2): up to 9 taps at a time, one accumulator vector each (10 of
 * AVX2's 16 registers with the grad_output vector), so each grad_output vector is loaded once
 * for all of them; nt is a constant once inlined.  A masked vector for the last channels. */
static inline __attribute__((always_inline)) void
FC_ISA_SUFFIX(FC_FN(dwconv_nhwc_gw_taps))(const int nt, const int masked,
                                                            FC_M m, size_t c, size_t pixels,
                                                            const FC_REAL *const *x_ptrs,
                                                            size_t x_step, const FC_REAL *g,
                                                            size_t g_step, FC_REAL *const *acc)
{
    FC_V a[9];
#pragma GCC unroll 9
    for (int t = 0; t < nt; t++) a[t] = masked ? FC_VLOADM(m, acc[t] + c) : FC_VLOAD(acc[t] + c);
    for (size_t p = 0; p < pixels; p++) {
        const FC_V gv = masked ? FC_VLOADM(m, g + p * g_step + c) : FC_VLOAD(g + p * g_step + c);
#pragma GCC unroll 9
        for (int t = 0; t < nt; t++) {
            const FC_REAL *x = x_ptrs[t] + p * x_step + c;
            a[t] = FC_VFMA(gv, masked ? FC_VLOADM(m, x) : FC_VLOAD(x), a[t]);
        }
    }
#pragma GCC unroll 9
    for (int t = 0; t < nt; t++) {
        if (masked)
            FC_VSTOREM(acc[t] + c, m, a[t]);
        else
            FC_VSTORE(acc[t] + c, a[t]);
    }
}

void FC_ISA_SUFFIX(FC_FN(dwconv_nhwc_gw_ukernel))(size_t channels, size_t pixels, size_t taps,
                                                  const FC_REAL *const *x_ptrs, size_t x_step,
                                                  const FC_REAL *g, size_t g_step,
                                                  FC_REAL *const *acc)
{
    const FC_M full = FC_TAIL_MASK(FC_LANES);
    for (size_t t0 = 0; t0 < taps; t0 += 9) {
        const size_t nt = taps - t0 < 9 ? taps - t0 : 9;
        for (size_t c = 0; c < channels; c += FC_LANES) {
            const int masked = channels - c < FC_LANES;
            const FC_M m = masked ? FC_TAIL_MASK(channels - c) : full;
#define FC_DW_NHWC_GW(n)                                                                      \
    case n:                                                                                   \
        if (masked)                                                                           \
            FC_ISA_SUFFIX(FC_FN(dwconv_nhwc_gw_taps))(n, 1, m, c, pixels, x_ptrs + t0, x_step, \
                                                      g, g_step, acc + t0);                   \
        else                                                                                  \
            FC_ISA_SUFFIX(FC_FN(dwconv_nhwc_gw_taps))(n, 0, m, c, pixels, x_ptrs + t0, x_step, \
                                                      g, g_step, acc + t0);                   \
        break
            switch (nt) {
                FC_DW_NHWC_GW(1); FC_DW_NHWC_GW(2); FC_DW_NHWC_GW(3);
                FC_DW_NHWC_GW(4); FC_DW_NHWC_GW(5); FC_DW_NHWC_GW(6);
                FC_DW_NHWC_GW(7); FC_DW_NHWC_GW(8); FC_DW_NHWC_GW(9);
            }
#undef FC_DW_NHWC_GW
        }
    }
}

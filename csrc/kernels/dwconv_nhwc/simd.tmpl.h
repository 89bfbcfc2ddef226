/* Channels-last depthwise convolution for one ISA and dtype (simd/vec_*.h): np pixels of a
 * row (a constant once inlined: 8, 4 or 1) x one vector of channels at c (masked: the last
 * channels), the np accumulators in registers over all the taps, each weight vector loaded
 * once for the np pixels.  Where three taps in a row read consecutive pixels (tap t + s of
 * pixel p is tap t of pixel p + s: a filter row at stride 1 and dilation 1, or the padding's
 * zeros), their np + 2 input vectors are loaded once for the 3 * np fused multiply-adds
 * (one load per FMA and the address arithmetic of each bound the kernel).  Each lane: bias
 * (or +0), then one FMA per tap in order. */
/* Three taps reading consecutive pixels (x, then x + step, x + 2 * step; weights at wt,
 * wt + ld_w, wt + 2 * ld_w): input vector j is tap 0 of pixel j, tap 1 of pixel j - 1, tap 2
 * of pixel j - 2, loaded once for the three; each pixel still takes its taps in order. */
static inline __attribute__((always_inline)) void
FC_ISA_SUFFIX(FC_FN(dwconv_nhwc_tap3))(const int np, const int masked, FC_M m, const FC_REAL *x,
                                       size_t step, const FC_REAL *wt, size_t ld_w, FC_V *acc)
{
    const FC_V w0 = masked ? FC_VLOADM(m, wt) : FC_VLOAD(wt);
    const FC_V w1 = masked ? FC_VLOADM(m, wt + ld_w) : FC_VLOAD(wt + ld_w);
    const FC_V w2 = masked ? FC_VLOADM(m, wt + 2 * ld_w) : FC_VLOAD(wt + 2 * ld_w);
#pragma GCC unroll 10
    for (int j = 0; j < np + 2; j++) {
        const FC_V xv = masked ? FC_VLOADM(m, x + j * step) : FC_VLOAD(x + j * step);
        if (j < np) acc[j] = FC_VFMA(w0, xv, acc[j]);
        if (j >= 1 && j - 1 < np) acc[j - 1] = FC_VFMA(w1, xv, acc[j - 1]);
        if (j >= 2) acc[j - 2] = FC_VFMA(w2, xv, acc[j - 2]);
    }
}

/* Do taps t, t + 1, t + 2 read consecutive pixels (dwconv_nhwc_tap3's case)? */
static inline __attribute__((always_inline)) int
FC_ISA_SUFFIX(FC_FN(dwconv_nhwc_consecutive3))(const FC_REAL *const *x_ptrs,
                                               const size_t *x_steps, size_t t)
{
    const size_t step = x_steps[t];
    return x_ptrs[t + 1] == x_ptrs[t] + step && x_ptrs[t + 2] == x_ptrs[t] + 2 * step &&
           x_steps[t + 1] == step && x_steps[t + 2] == step;
}

/* One tap: a weight vector for the np pixels' inputs at x + i * step. */
static inline __attribute__((always_inline)) void
FC_ISA_SUFFIX(FC_FN(dwconv_nhwc_tap1))(const int np, const int masked, FC_M m, const FC_REAL *x,
                                       size_t step, const FC_REAL *wt, FC_V *acc)
{
    const FC_V wv = masked ? FC_VLOADM(m, wt) : FC_VLOAD(wt);
#pragma GCC unroll 8
    for (int i = 0; i < np; i++)
        acc[i] = FC_VFMA(wv, masked ? FC_VLOADM(m, x + i * step) : FC_VLOAD(x + i * step),
                         acc[i]);
}

/* kind (a constant, see dwconv_nhwc_ukernel): 1 a 3x3 filter whose rows each read
 * consecutive pixels, 2 any other 3x3 (stride 2, the edge columns), both unrolled with no
 * per-tap test or loop; 0 any filter, taps walked at run time */
static inline __attribute__((always_inline)) void
FC_ISA_SUFFIX(FC_FN(dwconv_nhwc_pixels))(const int np, const int kind, const int masked,
                                         FC_M m, size_t c, size_t p0, size_t taps,
                                         const FC_REAL *const *x_ptrs, const size_t *x_steps,
                                         const FC_REAL *w, size_t ld_w, const FC_REAL *bias,
                                         FC_REAL *y, size_t y_step)
{
    FC_V acc[8];
    const FC_V b = !bias ? FC_VZERO() : masked ? FC_VLOADM(m, bias + c) : FC_VLOAD(bias + c);
#pragma GCC unroll 8
    for (int i = 0; i < np; i++) acc[i] = b;
    if (kind == 1) {
#pragma GCC unroll 3
        for (int k = 0; k < 3; k++) {
            const size_t step = x_steps[3 * k];
            FC_ISA_SUFFIX(FC_FN(dwconv_nhwc_tap3))(np, masked, m, x_ptrs[3 * k] + p0 * step + c,
                                                   step, w + 3 * k * ld_w + c, ld_w, acc);
        }
    } else if (kind == 2) {
#pragma GCC unroll 9
        for (int t = 0; t < 9; t++) {
            const size_t step = x_steps[t];
            FC_ISA_SUFFIX(FC_FN(dwconv_nhwc_tap1))(np, masked, m, x_ptrs[t] + p0 * step + c,
                                                   step, w + t * ld_w + c, acc);
        }
    }
    for (size_t t = 0; kind == 0 && t < taps;) {
        const size_t step = x_steps[t];
        const FC_REAL *x = x_ptrs[t] + p0 * step + c;
        const FC_REAL *wt = w + t * ld_w + c;
        if (np > 1 && t + 3 <= taps &&
            FC_ISA_SUFFIX(FC_FN(dwconv_nhwc_consecutive3))(x_ptrs, x_steps, t)) {
            FC_ISA_SUFFIX(FC_FN(dwconv_nhwc_tap3))(np, masked, m, x, step, wt, ld_w, acc);
            t += 3;
        } else {
            FC_ISA_SUFFIX(FC_FN(dwconv_nhwc_tap1))(np, masked, m, x, step, wt, acc);
            t++;
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < np; i++) {
        FC_REAL *yp = y + (p0 + i) * y_step + c;
        if (masked)
            FC_VSTOREM(yp, m, acc[i]);
        else
            FC_VSTORE(yp, acc[i]);
    }
}

/* The np pixels at p0 of one row, every vector of channels: the channels innermost, so the
 * kernel walks x and y in address order (a pixel's channels are contiguous) and the input a
 * pixel group reads (3 rows x np + 2 pixels x C for 3x3: 30 KiB at C = 256) is swept once
 * while it sits in L1, the next group's first 2 pixels still there.  Rows outermost
 * (dwconv_nhwc_ukernel): each input row is read again by the next output rows from L2.  The
 * earlier order (per pixel group, each vector's rows one after the other) strode 1 KiB per
 * load through ~100 KiB of input per group, past L1 and the prefetchers: MobileNet's
 * 56x56x256 layer ran at 0.58x of the NCHW 3x3 tile's speed, stride 2 (112x112x96) 0.78x.
 * (Blocks of 64 channels, or 2-4 rows per pass over the channels, were slower still.) */
static inline __attribute__((always_inline)) void
FC_ISA_SUFFIX(FC_FN(dwconv_nhwc_group))(const int np, const int kind, size_t p0,
                                        size_t channels, size_t taps,
                                        const FC_REAL *const *x_ptrs, const size_t *x_steps,
                                        const FC_REAL *w, size_t ld_w, const FC_REAL *bias,
                                        FC_REAL *y, size_t y_step)
{
    const FC_M full = FC_TAIL_MASK(FC_LANES);
    size_t c = 0;
    for (; c + FC_LANES <= channels; c += FC_LANES)
        FC_ISA_SUFFIX(FC_FN(dwconv_nhwc_pixels))(np, kind, 0, full, c, p0, taps, x_ptrs, x_steps,
                                                 w, ld_w, bias, y, y_step);
    if (c < channels)
        FC_ISA_SUFFIX(FC_FN(dwconv_nhwc_pixels))(np, kind, 1, FC_TAIL_MASK(channels - c), c, p0,
                                                 taps, x_ptrs, x_steps, w, ld_w, bias, y,
                                                 y_step);
}

/* the pixels of one row; kind a constant (dwconv_nhwc_pixels) */
static inline __attribute__((always_inline)) void
FC_ISA_SUFFIX(FC_FN(dwconv_nhwc_run))(const int kind, size_t pixels, size_t channels,
                                      size_t taps, const FC_REAL *const *x_ptrs,
                                      const size_t *x_steps, const FC_REAL *w, size_t ld_w,
                                      const FC_REAL *bias, FC_REAL *y, size_t y_step)
{
    /* the pixels 8 at a time, then 4, then one by one */
    size_t p0 = 0;
    for (; p0 + 8 <= pixels; p0 += 8)
        FC_ISA_SUFFIX(FC_FN(dwconv_nhwc_group))(8, kind, p0, channels, taps, x_ptrs, x_steps, w,
                                                ld_w, bias, y, y_step);
    for (; p0 + 4 <= pixels; p0 += 4)
        FC_ISA_SUFFIX(FC_FN(dwconv_nhwc_group))(4, kind, p0, channels, taps, x_ptrs, x_steps, w,
                                                ld_w, bias, y, y_step);
    for (; p0 < pixels; p0++)
        FC_ISA_SUFFIX(FC_FN(dwconv_nhwc_group))(1, kind, p0, channels, taps, x_ptrs, x_steps, w,
                                                ld_w, bias, y, y_step);
}

void FC_ISA_SUFFIX(FC_FN(dwconv_nhwc_ukernel))(size_t channels, size_t rows, size_t pixels,
                                               size_t taps, const FC_REAL *const *x_ptrs,
                                               const size_t *x_steps, const FC_REAL *w,
                                               size_t ld_w, const FC_REAL *bias, FC_REAL *y,
                                               size_t y_step, size_t y_row_step)
{
    for (size_t j = 0; j < rows; j++) {
        const FC_REAL *const *xp = x_ptrs + j * taps;
        const size_t *xs = x_steps + j * taps;
        /* 9 taps in three triples, each on consecutive pixels (3x3 at stride 1, dilation 1,
         * or a filter row in the padding): the unrolled kernel */
        int row3 = taps == 9;
        for (size_t t = 0; row3 && t < 9; t += 3)
            row3 = FC_ISA_SUFFIX(FC_FN(dwconv_nhwc_consecutive3))(xp, xs, t);
        if (row3)
            FC_ISA_SUFFIX(FC_FN(dwconv_nhwc_run))(1, pixels, channels, taps, xp, xs, w, ld_w,
                                                  bias, y + j * y_row_step, y_step);
        else if (taps == 9)
            FC_ISA_SUFFIX(FC_FN(dwconv_nhwc_run))(2, pixels, channels, taps, xp, xs, w, ld_w,
                                                  bias, y + j * y_row_step, y_step);
        else
            FC_ISA_SUFFIX(FC_FN(dwconv_nhwc_run))(0, pixels, channels, taps, xp, xs, w, ld_w,
                                                  bias, y + j * y_row_step, y_step);
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

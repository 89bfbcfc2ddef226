/* One register-tile GEMM microkernel, written once for every SIMD member of the family.  The
 * including file (f32-avx512-8x32.c, ...) first includes its target header, then defines:
 *   FC_GEMM_NAME     the symbol, e.g. fc_f32_gemm_ukernel_8x32__avx512
 *   FC_GEMM_ROWS_NAME  its twin reading B rows and/or A rows in place (gemm.h),
 *                    fc_f32_gemm_rows_ukernel_...
 *   FC_GEMM_BODY     a name for their shared static body
 *   FC_GEMM_MR       rows of the tile (filters), each broadcast from the packed A panel
 *   FC_GEMM_NRV      vectors per row of the tile (output pixels), NR = FC_GEMM_NRV * FC_LANES
 *   FC_REAL FC_V FC_LANES and FC_VLOAD/STORE/SET1/FMA/ZERO/RELU over FC_V (simd/vec_<isa>_<dtype>.h)
 *   FC_GEMM_A_BY_LANE  optional: load A's MR values as MR / FC_LANES vectors and multiply each
 *                    from its lane (NEON's fmla by element) instead of MR scalar broadcasts
 *   FC_GEMM_IM2COL_NAME  optional: the im2col run packer (gemm.h), e.g.
 *                    fc_f32_gemm_im2col_run_8x32__avx512
 * The contract is gemm.h's: the reduction runs p = 0 .. kc-1 for every element, one fused
 * multiply-add per step, starting from c (FC_GEMM_ACCUMULATE), init[i] or 0.  Storing the
 * accumulators between kc blocks is exact, so the blocking never changes a result. */
#define FC_GEMM_NR (FC_GEMM_NRV * FC_LANES)
#if defined(FC_GEMM_A_BY_LANE) && FC_GEMM_MR % FC_LANES != 0
#error "FC_GEMM_A_BY_LANE needs MR to be a multiple of FC_LANES"
#endif

/* lda 0: A packed (step p at a + p * MR); else A's row i of the tile at a + i * lda, read in
 * place.  b_rows NULL: B packed (row p at b + p * NR); else row p at b + b_rows[p].  Inlined
 * into the entry points below, so each is compiled for its own case. */
static inline __attribute__((always_inline)) void
FC_GEMM_BODY(size_t kc, const FC_REAL *a, size_t lda, const FC_REAL *b, const ptrdiff_t *b_rows,
             FC_REAL *c, size_t ldc, const FC_REAL *init, unsigned flags)
{
    FC_V acc[FC_GEMM_MR][FC_GEMM_NRV];
#pragma GCC unroll 16
    for (int i = 0; i < FC_GEMM_MR; i++) {
        const FC_V start = init ? FC_VSET1(init[i]) : FC_VZERO();
#pragma GCC unroll 4
        for (int j = 0; j < FC_GEMM_NRV; j++)
            acc[i][j] = (flags & FC_GEMM_ACCUMULATE) ? FC_VLOAD(c + i * ldc + j * FC_LANES)
                                                     : start;
    }
    for (size_t p = 0; p < kc; p++) {
        const FC_REAL *bp = b_rows ? b + b_rows[p] : b + p * FC_GEMM_NR;
        FC_V bv[FC_GEMM_NRV];
#pragma GCC unroll 4
        for (int j = 0; j < FC_GEMM_NRV; j++) bv[j] = FC_VLOAD(bp + j * FC_LANES);
#ifdef FC_GEMM_A_BY_LANE
        /* 8x12 on NEON: 24 accumulators + 3 B + 2 A vectors = 29 of the 32 registers, where
         * 8 scalar A registers spilled accumulators to the stack in the loop (gcc 12); A read
         * in place has no MR values side by side: scalar broadcasts there */
        FC_V av[FC_GEMM_MR / FC_LANES];
        if (!lda) {
#pragma GCC unroll 16
            for (int v = 0; v < FC_GEMM_MR / FC_LANES; v++)
                av[v] = FC_VLOAD(a + p * FC_GEMM_MR + v * FC_LANES);
        }
#endif
#pragma GCC unroll 16
        for (int i = 0; i < FC_GEMM_MR; i++) {
#ifdef FC_GEMM_A_BY_LANE
            const FC_V ai = lda ? FC_VSET1(a[i * lda + p])
                                : FC_VSET1(av[i / FC_LANES][i % FC_LANES]);
#else
            const FC_V ai = FC_VSET1(lda ? a[i * lda + p] : a[p * FC_GEMM_MR + i]);
#endif
#pragma GCC unroll 4
            for (int j = 0; j < FC_GEMM_NRV; j++) acc[i][j] = FC_VFMA(ai, bv[j], acc[i][j]);
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < FC_GEMM_MR; i++)
#pragma GCC unroll 4
        for (int j = 0; j < FC_GEMM_NRV; j++)
            FC_VSTORE(c + i * ldc + j * FC_LANES,
                       (flags & FC_GEMM_RELU) ? FC_VRELU(acc[i][j]) : acc[i][j]);
}

void FC_GEMM_NAME(size_t kc, const FC_REAL *a, const FC_REAL *b, FC_REAL *c, size_t ldc,
                  const FC_REAL *init, unsigned flags)
{
    FC_GEMM_BODY(kc, a, 0, b, NULL, c, ldc, init, flags);
}

/* one loop per case, each without a test of its own in it (gcc 12 no longer unswitched the
 * b_rows test out of the loop once lda was there too: a test and branch per step) */
void FC_GEMM_ROWS_NAME(size_t kc, const FC_REAL *a, size_t lda, const FC_REAL *b,
                       const ptrdiff_t *b_rows, FC_REAL *c, size_t ldc, const FC_REAL *init,
                       unsigned flags)
{
    if (b_rows && lda)
        FC_GEMM_BODY(kc, a, lda, b, b_rows, c, ldc, init, flags);
    else if (b_rows)
        FC_GEMM_BODY(kc, a, 0, b, b_rows, c, ldc, init, flags);
    else if (lda)
        FC_GEMM_BODY(kc, a, lda, b, NULL, c, ldc, init, flags);
    else
        FC_GEMM_NAME(kc, a, b, c, ldc, init, flags);
}

#ifdef FC_GEMM_IM2COL_NAME
/* gemm.h's im2col run: tap by tap, so that the tap's lanes inside the plane (its masks) are
 * worked out once and then serve every channel of the block with one vector copy each.  A
 * vector with padding lanes loads only its valid values (FC_VLOAD_LANES: no load reads, even
 * masked, an address outside the plane's valid columns) and stores them with its zeros in one
 * plain store.  On the 2-core AVX-512 Xeon the scalar runs of the driver (17 or 10 pixels a
 * row, cut at every sub-panel) were 41% of small_5x5 folded and 71% of lenet_c2 folded. */
void FC_GEMM_IM2COL_NAME(const FC_REAL *x, int64_t h, int64_t w, int64_t r, int64_t s,
                         int64_t dilation_h, int64_t dilation_w, int64_t ih0, int64_t iw0,
                         int64_t red0, int64_t kc, int64_t n, FC_REAL *dst, int64_t nr)
{
    /* no division per tap: a run is short, and 4 per tap were half of lenet_c2's packing */
    const int64_t taps = r * s, plane = h * w, red_last = red0 + kc - 1;
    const int64_t q0 = red0 / taps, t0 = red0 % taps, q1 = red_last / taps, t1 = red_last % taps;
    for (int64_t t = 0, ti = 0, tj = 0; t < taps; t++, tj = tj + 1 == s ? (ti++, 0) : tj + 1) {
        /* the channels c whose row c * taps + t lies in [red0, red0 + kc) */
        const int64_t c0 = q0 + (t < t0), c1 = q1 + (t <= t1);
        if (c0 >= c1) continue;
        const int64_t ih = ih0 + ti * dilation_h, iw = iw0 + tj * dilation_w;
        /* lanes [lo, hi) of the run read inside the plane */
        int64_t lo = 0, hi = 0;
        if (ih >= 0 && ih < h) {
            lo = iw < 0 ? (-iw < n ? -iw : n) : 0;
            hi = w - iw < n ? w - iw : n;
            if (hi < lo) hi = lo;
        }
        const int64_t dstep = taps * nr, rows = c1 - c0;
        FC_REAL *const d0 = dst + (c0 * taps + t - red0) * nr;
        for (int64_t v = 0; v < n; v += FC_LANES) {
            /* only whole-vector stores where the run has a vector's lanes: its last vector
             * ends at the run's end, rewriting some of its predecessor's lanes with the same
             * values.  A masked store costs about ten plain ones on AMD Zen 3, where they
             * were two thirds of this packer's time (small_5x5 folded, 17-pixel rows) */
            const int64_t at = v + FC_LANES <= n || n < FC_LANES ? v : n - FC_LANES;
            const int64_t k = n - at < FC_LANES ? n - at : FC_LANES;
            const int64_t a = lo - at < 0 ? 0 : (lo - at < k ? lo - at : k);
            const int64_t b = hi - at < a ? a : (hi - at < k ? hi - at : k);
            FC_REAL *d = d0 + at;
            if (b == a) { /* padding only */
                if (k < FC_LANES) {
                    const FC_M m = FC_TAIL_MASK(k);
                    for (int64_t i = 0; i < rows; i++, d += dstep) FC_VSTOREM(d, m, FC_VZERO());
                } else {
                    for (int64_t i = 0; i < rows; i++, d += dstep) FC_VSTORE(d, FC_VZERO());
                }
                continue;
            }
            /* the tap's first valid value (lane a of this vector) in channel c0's plane */
            const FC_REAL *sp = x + c0 * plane + ih * w + iw + at + a;
            if (k < FC_LANES) { /* a run shorter than a vector */
                const FC_M m = FC_TAIL_MASK(k);
                for (int64_t i = 0; i < rows; i++, d += dstep, sp += plane)
                    FC_VSTOREM(d, m, FC_VLOAD_LANES(sp, a, b));
            } else if (b - a == FC_LANES) {
                for (int64_t i = 0; i < rows; i++, d += dstep, sp += plane)
                    FC_VSTORE(d, FC_VLOAD(sp));
            } else { /* the padding lanes load as zeros */
                for (int64_t i = 0; i < rows; i++, d += dstep, sp += plane)
                    FC_VSTORE(d, FC_VLOAD_LANES(sp, a, b));
            }
        }
    }
}
#endif

#undef FC_GEMM_NR

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

#undef FC_GEMM_NR

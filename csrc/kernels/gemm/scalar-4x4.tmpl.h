/* 4x4 register tile: 16 accumulators fit the 16 scalar SSE registers of x86-64. */
/* lda 0: A packed; else row i of A at a + i * lda.  b_rows NULL: B packed; else row p of B at
 * b + b_rows[p] (gemm.h's "rows" twin). */
static inline __attribute__((always_inline)) void
FC_FN(gemm_4x4_body)(size_t kc, const FC_REAL *a, size_t lda, const FC_REAL *b,
                     const ptrdiff_t *b_rows, FC_REAL *c, size_t ldc, const FC_REAL *init,
                     unsigned flags)
{
    FC_REAL acc[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            acc[i][j] = (flags & FC_GEMM_ACCUMULATE) ? c[i * ldc + j]
                        : init                       ? init[i]
                                                     : (FC_REAL)0;
    for (size_t p = 0; p < kc; p++) {
        const FC_REAL *bp = b_rows ? b + b_rows[p] : b + p * 4;
        for (int i = 0; i < 4; i++) {
            const FC_REAL ai = lda ? a[i * lda + p] : a[p * 4 + i];
            for (int j = 0; j < 4; j++) acc[i][j] += ai * bp[j];
        }
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            FC_REAL v = acc[i][j];
            if (flags & FC_GEMM_RELU) v = FC_RELU(v);
            c[i * ldc + j] = v;
        }
}

void FC_FN(gemm_ukernel_4x4__scalar)(size_t kc, const FC_REAL *a, const FC_REAL *b, FC_REAL *c,
                                     size_t ldc, const FC_REAL *init, unsigned flags)
{
    FC_FN(gemm_4x4_body)(kc, a, 0, b, NULL, c, ldc, init, flags);
}

void FC_FN(gemm_rows_ukernel_4x4__scalar)(size_t kc, const FC_REAL *a, size_t lda,
                                          const FC_REAL *b, const ptrdiff_t *b_rows, FC_REAL *c,
                                          size_t ldc, const FC_REAL *init, unsigned flags)
{
    if (lda)
        FC_FN(gemm_4x4_body)(kc, a, lda, b, b_rows, c, ldc, init, flags);
    else
        FC_FN(gemm_4x4_body)(kc, a, 0, b, b_rows, c, ldc, init, flags);
}

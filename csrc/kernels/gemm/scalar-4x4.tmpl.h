/* 4x4 register tile: 16 accumulators fit the 16 scalar SSE registers of x86-64. */
void FC_FN(gemm_ukernel_4x4__scalar)(size_t kc, const FC_REAL *a, const FC_REAL *b, FC_REAL *c,
                                     size_t ldc, const FC_REAL *init, unsigned flags)
{
    FC_REAL acc[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            acc[i][j] = (flags & FC_GEMM_ACCUMULATE) ? c[i * ldc + j]
                        : init                       ? init[i]
                                                     : (FC_REAL)0;
    for (size_t p = 0; p < kc; p++, a += 4, b += 4)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) acc[i][j] += a[i] * b[j];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            FC_REAL v = acc[i][j];
            if (flags & FC_GEMM_RELU) v = FC_RELU(v);
            c[i * ldc + j] = v;
        }
}

/* 4x4 tile, one lane: 16 independent running sums fit the 16 scalar SSE registers. */
FC_DECLARE_GEMM_NT_UKERNEL(FC_FN(gemm_nt_ukernel_4x4__scalar), FC_REAL)
{
    FC_REAL s[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            s[i][j] = (flags & FC_GEMM_ACCUMULATE) ? acc[i * 4 + j] : (FC_REAL)0;
    for (size_t m = 0; m < images; m++)
        for (size_t p = 0; p < kc; p++)
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++)
                    s[i][j] += a[i * lda + m * a_step + p] * b[j][m * b_step + p];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) acc[i * 4 + j] = s[i][j];
}

/* The SIMD members of the family, written once.  The including file (f32-avx512-6x4.c, ...)
 * includes its target header and a vector vocabulary (simd/vec_<isa>_<dtype>.h),
 * then defines FC_NT_NAME, FC_NT_MR and FC_NT_NR; LANES is FC_LANES.  Per step of FC_LANES
 * reduction indices: NR loads of B, MR loads of A, MR * NR fused multiply-adds into lane-wise
 * accumulators. */
FC_DECLARE_GEMM_NT_UKERNEL(FC_NT_NAME, FC_REAL)
{
    FC_V s[FC_NT_MR][FC_NT_NR];
#pragma GCC unroll 8
    for (int i = 0; i < FC_NT_MR; i++)
#pragma GCC unroll 8
        for (int j = 0; j < FC_NT_NR; j++)
            s[i][j] = (flags & FC_GEMM_ACCUMULATE)
                          ? FC_VLOAD(acc + (i * FC_NT_NR + j) * FC_LANES)
                          : FC_VZERO();
    for (size_t m = 0; m < images; m++) {
        const FC_REAL *bm[FC_NT_NR];
#pragma GCC unroll 8
        for (int j = 0; j < FC_NT_NR; j++) bm[j] = b[j] + m * b_step;
        const FC_REAL *am = a + m * a_step;
        for (size_t p = 0; p < kc; p += FC_LANES) {
            FC_V bv[FC_NT_NR];
#pragma GCC unroll 8
            for (int j = 0; j < FC_NT_NR; j++) bv[j] = FC_VLOAD(bm[j] + p);
#pragma GCC unroll 8
            for (int i = 0; i < FC_NT_MR; i++) {
                const FC_V av = FC_VLOAD(am + i * lda + p);
#pragma GCC unroll 8
                for (int j = 0; j < FC_NT_NR; j++) s[i][j] = FC_VFMA(av, bv[j], s[i][j]);
            }
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < FC_NT_MR; i++)
#pragma GCC unroll 8
        for (int j = 0; j < FC_NT_NR; j++)
            FC_VSTORE(acc + (i * FC_NT_NR + j) * FC_LANES, s[i][j]);
}

/* Finiteness of a run of values for one dtype (instantiated by the drivers that need it:
 * conv2d.c's transposed phases, conv2d_backward.c's virtual grid), written once. */

/* Are the n values finite?  v - v is 0 for finite v, NaN for inf and NaN; 16 partial sums
 * that the compiler vectorises (a test and a branch per value took a third of DCGAN's
 * 512 -> 256 channels on 4 x 4). */
static int FC_FN(all_finite)(const FC_REAL *v, int64_t n)
{
    enum { LANES = 16 };
    FC_REAL acc[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) acc[j] += v[i + j] - v[i + j];
    for (int j = 0; i < n; i++, j++) acc[j] += v[i] - v[i];
    for (int j = 1; j < LANES; j++) acc[0] += acc[j];
    return acc[0] == 0;
}

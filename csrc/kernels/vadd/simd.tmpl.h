/* y += x for one ISA and dtype (simd/vec_*.h): a vector per step, the last partial vector
 * through the lane mask (masked lanes are neither read nor written).  The including file
 * defines FC_VADD_NAME, the symbol. */
void FC_VADD_NAME(size_t n, const FC_REAL *x, FC_REAL *y)
{
    size_t i = 0;
    for (; i + FC_LANES <= n; i += FC_LANES)
        FC_VSTORE(y + i, FC_VADD(FC_VLOAD(y + i), FC_VLOAD(x + i)));
    if (i < n) {
        const FC_M m = FC_TAIL_MASK(n - i);
        FC_VSTOREM(y + i, m, FC_VADD(FC_VLOADM(m, y + i), FC_VLOADM(m, x + i)));
    }
}

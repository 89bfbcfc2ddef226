/* ReLU backward for one ISA and dtype (simd/vec_*.h): gx = g where !(y <= 0) -- y > 0 or y
 * NaN, as torch's threshold_backward -- else +0, a vector per step; the last < FC_LANES
 * elements by the scalar rule.  gx may be g.  The including file defines FC_RELU_BACKWARD_NAME,
 * the symbol. */
void FC_RELU_BACKWARD_NAME(size_t n, const FC_REAL *g, const FC_REAL *y, FC_REAL *gx)
{
    const FC_V zero = FC_VZERO();
    size_t i = 0;
    for (; i + FC_LANES <= n; i += FC_LANES) {
        const FC_V yv = FC_VLOAD(y + i);
        /* NLE is an unordered compare: true for a NaN y, which passes g */
        FC_VSTORE(gx + i, FC_VBLEND(FC_VNLE(yv, zero), zero, FC_VLOAD(g + i)));
    }
    for (; i < n; i++) {
        const FC_REAL v = g[i], m = y[i];
        gx[i] = m <= 0 ? (FC_REAL)0 : v;
    }
}

/* ReLU backward for one ISA and dtype (simd/vec_*.h): gx = g where y > 0 -- !(y <= 0) and y
 * not NaN -- else +0, a vector per step; the last < FC_LANES elements by the scalar rule.  gx
 * may be g.  The including file defines FC_RELU_BACKWARD_NAME, the symbol. */
void FC_RELU_BACKWARD_NAME(size_t n, const FC_REAL *g, const FC_REAL *y, FC_REAL *gx)
{
    const FC_V zero = FC_VZERO();
    size_t i = 0;
    for (; i + FC_LANES <= n; i += FC_LANES) {
        const FC_V yv = FC_VLOAD(y + i);
        FC_VSTORE(gx + i, FC_VBLEND(FC_MAND(FC_VNLE(yv, zero), FC_VORD(yv)), zero,
                                    FC_VLOAD(g + i)));
    }
    for (; i < n; i++) {
        const FC_REAL v = g[i], m = y[i];
        gx[i] = m > 0 ? v : (FC_REAL)0;
    }
}

/* ReLU for one ISA and dtype (simd/vec_*.h): FC_VRELU keeps v where !(v <= 0) -- v > 0 or
 * NaN, payload untouched -- and writes +0 elsewhere, also for -0.  A compare and a mask, never
 * max_ps, whose NaN result depends on the operand order.  Four vectors per iteration keep the
 * load and store ports busy; the last < FC_LANES elements go through the scalar definition. */
static inline void FC_ISA_SUFFIX(FC_FN(relu_body))(size_t n, const FC_REAL *x, FC_REAL *y,
                                                    const int stream)
{
#define FC_RELU_STORE(p, v) \
    do { if (stream) FC_VSTREAM(p, v); else FC_VSTORE(p, v); } while (0)
    size_t i = 0;
    if (stream) /* streaming stores need y aligned to the vector */
        for (; i < n && (uintptr_t)(y + i) % sizeof(FC_V) != 0; i++) {
            const FC_REAL v = x[i];
            y[i] = FC_RELU(v);
        }
    for (; i + 4 * FC_LANES <= n; i += 4 * FC_LANES) {
        const FC_V a = FC_VLOAD(x + i), b = FC_VLOAD(x + i + FC_LANES);
        const FC_V c = FC_VLOAD(x + i + 2 * FC_LANES), d = FC_VLOAD(x + i + 3 * FC_LANES);
        FC_RELU_STORE(y + i, FC_VRELU(a));
        FC_RELU_STORE(y + i + FC_LANES, FC_VRELU(b));
        FC_RELU_STORE(y + i + 2 * FC_LANES, FC_VRELU(c));
        FC_RELU_STORE(y + i + 3 * FC_LANES, FC_VRELU(d));
    }
    for (; i + FC_LANES <= n; i += FC_LANES) {
        const FC_V a = FC_VLOAD(x + i);
        FC_RELU_STORE(y + i, FC_VRELU(a));
    }
#undef FC_RELU_STORE
    for (; i < n; i++) {
        const FC_REAL v = x[i];
        y[i] = FC_RELU(v);
    }
    if (stream) FC_VSTREAM_FENCE(); /* order the weakly-ordered streaming stores first */
}

void FC_ISA_SUFFIX(FC_FN(relu_ukernel))(size_t n, const FC_REAL *x, FC_REAL *y)
{
    FC_ISA_SUFFIX(FC_FN(relu_body))(n, x, y, 0);
}

void FC_ISA_SUFFIX(FC_FN(relu_stream_ukernel))(size_t n, const FC_REAL *x, FC_REAL *y)
{
    FC_ISA_SUFFIX(FC_FN(relu_body))(n, x, y, 1);
}

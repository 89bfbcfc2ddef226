/* The epilogue's functions for one dtype (instantiated by common/epilogue.c), and the
 * standalone activations' forward and backward loops, from the same table. */

void FC_FN(epilogue_apply)(const fc_epi *e, FC_REAL *t, int64_t rows, int64_t cols, int64_t rs,
                           int64_t cs)
{
    if (cs != 1 && rs == 1) { /* a tile of a C stored transposed (linear): y's rows inside */
        const int64_t n = rows;
        rows = cols;
        cols = n;
        rs = cs;
        cs = 1;
    }
    const int64_t offset = t - (const FC_REAL *)e->y;
    const FC_REAL *res = e->residual ? (const FC_REAL *)e->residual + offset : NULL;
    if (cs == 1) { /* rows of the kernel family's members (kernels/epilogue) */
        const FC_FN(epilogue_ukernel_fn) row = fc_kernels()->FC_MEMBER(epilogue);
        if (rs == cols) { /* one run */
            cols *= rows;
            rows = 1;
        }
        for (int64_t i = 0; i < rows; i++)
            row(e->activation, (FC_REAL)e->alpha, (size_t)cols, res ? res + i * rs : NULL,
                t + i * rs);
        return;
    }
    for (int64_t i = 0; i < rows; i++) /* no driver stores such tiles: correct, slow */
        for (int64_t j = 0; j < cols; j++)
            t[i * rs + j * cs] = FC_FN(epilogue_value)(e, t[i * rs + j * cs],
                                                       offset + i * rs + j * cs);
}

#define FC_EPI_VALUE(NAME, name, fused, formula, grad) \
    case FC_ACTIVATION_##NAME: return formula;

FC_REAL FC_FN(epilogue_value)(const fc_epi *e, FC_REAL v, int64_t index)
{
    if (e->residual) v += ((const FC_REAL *)e->residual)[index];
    const FC_REAL alpha = (FC_REAL)e->alpha;
    (void)alpha; /* read by the formulas that have a parameter */
    switch (e->activation) { FC_ACTIVATION_LIST(FC_EPI_VALUE) }
    return v;
}
#undef FC_EPI_VALUE

#define FC_ACT_RANGE(NAME, name, fused, formula, grad)                                          \
    case FC_ACTIVATION_##NAME:                                                                  \
        for (int64_t i = 0; i < n; i++) {                                                       \
            const FC_REAL v = x[i];                                                             \
            y[i] = formula;                                                                     \
        }                                                                                       \
        break;

/* (no restrict: y may be x) */
void FC_FN(activation_range)(fc_activation a, double alpha_, const FC_REAL *x, FC_REAL *y,
                             int64_t n)
{
    const FC_REAL alpha = (FC_REAL)alpha_;
    (void)alpha;
    switch (a) { FC_ACTIVATION_LIST(FC_ACT_RANGE) }
}
#undef FC_ACT_RANGE

#define FC_ACT_GRAD_RANGE(NAME, name, fused, formula, grad)                                     \
    case FC_ACTIVATION_##NAME:                                                                  \
        for (int64_t i = 0; i < n; i++) {                                                       \
            const FC_REAL v = x[i], g = gin[i];                                                 \
            (void)v; /* "none" passes g */                                                      \
            gx[i] = grad;                                                                       \
        }                                                                                       \
        break;

void FC_FN(activation_grad_range)(fc_activation a, double alpha_, const FC_REAL *gin,
                                  const FC_REAL *x, FC_REAL *gx, int64_t n)
{
    const FC_REAL alpha = (FC_REAL)alpha_;
    (void)alpha;
    switch (a) { FC_ACTIVATION_LIST(FC_ACT_GRAD_RANGE) }
}
#undef FC_ACT_GRAD_RANGE

#define FC_ACT_GRAD_VALUE(NAME, name, fused, formula, grad) \
    case FC_ACTIVATION_##NAME: return grad;

FC_REAL FC_FN(activation_grad_value)(fc_activation a, double alpha_, FC_REAL g, FC_REAL v)
{
    const FC_REAL alpha = (FC_REAL)alpha_;
    (void)alpha;
    switch (a) { FC_ACTIVATION_LIST(FC_ACT_GRAD_VALUE) }
    return g;
}
#undef FC_ACT_GRAD_VALUE

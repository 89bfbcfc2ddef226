/* What the forward convolution drivers of one dtype share: weight panels and padded rows.
 * Instantiated by conv2d.c after the GEMM frame (gemm_frame.tmpl.h: the packer, the workspace
 * allocation) and before the drivers (conv2d_<algorithm>.tmpl.h).  Each driver owns
 * its workspace and describes its work as phases of tasks for its one parallel region
 * (common/parallel.h); the microkernels come from the dispatch table.
 *
 * Every driver sums every output element in the reference's order (bias, then c, r, s
 * ascending) and gives each output element to exactly one task, so the result does not depend
 * on the thread count or the schedule. */

/* The GEMM and direct drivers keep the weights as panels of `rows` filters: panel (g, b) holds
 * filters [b * rows, (b + 1) * rows) of group g as red x rows, so the `rows` weights of one
 * reduction step are contiguous.  Packs panels first + [begin, end) to packed + [begin, end)
 * panels (a task's share; `first` > 0 for a later chunk of the GEMM's weights). */
static void FC_FN(pack_weight_panels)(const fc_conv2d_params *p, const FC_REAL *weight,
                                      int64_t rows, int64_t first, int64_t begin, int64_t end,
                                      FC_REAL *packed)
{
    const int64_t kg = p->k / p->groups, red = (p->c / p->groups) * p->r * p->s;
    const int64_t blocks = fc_ceil_div(kg, rows);
    for (int64_t i = begin; i < end; i++) {
        const int64_t g = (first + i) / blocks, k0 = ((first + i) % blocks) * rows;
        /* W_g's rows [k0, k0 + rows) as a red x rows panel (the frame's packer of a
         * strided matrix), zero past the group's last filter */
        FC_FN(gemm_pack_panel)(weight + (g * kg + k0) * red, red, 1, fc_min_i64(rows, kg - k0),
                               red, rows, packed + i * red * rows);
    }
}

/* ---- padded rows ----------------------------------------------------------------------------
 * The direct and depthwise drivers copy the input rows a tile needs into a per-thread buffer,
 * with the column padding written as zeros (x is read as 0 there, as the oracle's np.pad does),
 * so that their SIMD kernels run branch-free over whole rows.  A padded row (pad_left zeros,
 * the W values, pad_right zeros) is stored split by the phase of the horizontal stride:
 * padded column pc goes to dst[(pc % stride_w) * phase_len + pc / stride_w].  Then tap s of
 * output column j reads dst[tap_col[s] + j], contiguous in j for every stride and dilation.
 * One buffer row holds stride_w * phase_len elements. */
static int64_t FC_FN(padded_phase_len)(const fc_conv2d_params *p)
{
    const int64_t padded = p->pad_left + p->w + p->pad_right;
    /* a multiple of 16 elements keeps every buffer row 64-byte aligned */
    return fc_ceil_div(fc_ceil_div(padded, p->stride_w), 16) * 16;
}

/* Elements of one buffer row: only the phases a padded column falls in (a stride wider than the
 * padded row leaves the others empty). */
static int64_t FC_FN(padded_row_len)(const fc_conv2d_params *p)
{
    const int64_t padded = p->pad_left + p->w + p->pad_right;
    return fc_min_i64(p->stride_w, padded) * FC_FN(padded_phase_len)(p);
}

/* Whether the padded-row buffers are a sane size: false only for pathological geometry, a
 * padding or dilation of millions of columns around a few outputs, where a padded row would be
 * mostly never-read zeros (conv2d.c then runs the reference loop). */
static int FC_FN(padded_rows_fit)(const fc_conv2d_params *p, int64_t out_w)
{
    const int64_t row_len = FC_FN(padded_row_len)(p);
    return row_len <= ((int64_t)1 << 20) || row_len <= fc_mul_saturating(8 * out_w, p->s);
}

/* The S column offsets tap_col[s] of the padded-row layout (fc_aligned_free it), or NULL when
 * out of memory. */
static size_t *FC_FN(padded_tap_columns)(const fc_conv2d_params *p)
{
    const int64_t phase_len = FC_FN(padded_phase_len)(p);
    size_t *tap_col = fc_aligned_alloc(p->s * (int64_t)sizeof(size_t)); /* S < 2**62 / 8 */
    if (!tap_col) return NULL;
    for (int64_t s = 0; s < p->s; s++) {
        const int64_t pc = s * p->dilation_w;
        tap_col[s] = (size_t)((pc % p->stride_w) * phase_len + pc / p->stride_w);
    }
    return tap_col;
}

/* One buffer row from input row x_row (NULL: a row of the top or bottom padding).  Rows are
 * short (tens of elements): the padding loops stay loops (no-tree-loop-distribute-patterns; a
 * libc memset call per pad costs more than the pad), the row itself goes through memcpy, whose
 * wide moves beat the SSE2 loop this generic file compiles to.  Measured on MobileNet's 56-wide
 * 3x3 depthwise layer (256 channels, one thread, 2-core Zen 4 EPYC): 277 us with three libc
 * calls per row, 208 us with three loops, 192 us as here. */
__attribute__((optimize("no-tree-loop-distribute-patterns")))
static void FC_FN(pack_padded_row)(const fc_conv2d_params *p, const FC_REAL *x_row,
                                   FC_REAL *dst)
{
    const int64_t sw = p->stride_w, padded = p->pad_left + p->w + p->pad_right;
    if (!x_row) {
        const int64_t len = FC_FN(padded_row_len)(p);
        for (int64_t i = 0; i < len; i++) dst[i] = 0;
        return;
    }
    if (sw == 1) {
        const int64_t pl = p->pad_left, w = p->w;
        for (int64_t i = 0; i < pl; i++) dst[i] = 0;
        memcpy(dst + pl, x_row, (size_t)w * sizeof(FC_REAL));
        for (int64_t i = pl + w; i < padded; i++) dst[i] = 0;
        return;
    }
    /* Phase by phase: phase ph holds padded columns ph + sw * t, input columns
     * ph + sw * t - pad_left, inside the row for t in [lo, hi): a strided copy between two
     * runs of zeros.  A division per element (pc % sw, pc / sw) made this pack 76% of
     * MobileNetV2's stride-2 depthwise layer (96 x 112 x 112: 4.2 ms at one thread, 2-core
     * Zen 4 EPYC); the stride-2 loop is a constant-stride copy the compiler vectorises. */
    const int64_t phase_len = FC_FN(padded_phase_len)(p), pl = p->pad_left;
    const int64_t phases = fc_min_i64(sw, padded);
    for (int64_t ph = 0; ph < phases; ph++) {
        FC_REAL *d = dst + ph * phase_len;
        const int64_t lo = ph >= pl ? 0 : fc_ceil_div(pl - ph, sw);
        const int64_t end = pl + p->w - ph; /* t < ceil(end / sw): input column < w */
        const int64_t hi = fc_max_i64(lo, end <= 0 ? 0 : fc_ceil_div(end, sw));
        const FC_REAL *src = x_row + (ph + sw * lo - pl);
        for (int64_t t = 0; t < lo; t++) d[t] = 0;
        if (sw == 2)
            for (int64_t t = 0; t < hi - lo; t++) d[lo + t] = src[2 * t];
        else
            for (int64_t t = 0; t < hi - lo; t++) d[lo + t] = src[sw * t];
        for (int64_t t = hi; t < phase_len; t++) d[t] = 0;
    }
}

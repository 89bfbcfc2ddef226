/* Pooling over one output row for one ISA and dtype (simd/vec_*.h), FC_LANES output columns
 * per vector.  The columns whose windows lie wholly inside the row (the interior) are SIMD;
 * those overhanging padding or the ceil_mode edge go through the scalar loops of
 * columns.tmpl.h.  A window column j of FC_LANES consecutive outputs is the row read at stride
 * s: a plain load for s = 1, two loads and an even-lane permute for s = 2 (2x2/s2 and 3x3/s2,
 * the common cases), a gather otherwise.  The last, partial vector uses masked loads and
 * stores, which never touch memory past the row.
 *
 * Exactness, as the scalar member: max pooling folds each window row left to right, then the
 * rows top to bottom, with "take the newcomer v over the best b iff !(v <= b) and b is not
 * NaN" -- b keeps ties (first in row-major order wins) and a NaN once it holds one (the first
 * NaN wins), and a newcomer NaN beats any number.  Folding contiguous runs of the window in
 * order gives the same element as the scalar scan.  Average pooling adds in the scalar order
 * (rows, then columns, from +0) and divides by the same divisor. */

/* Per-vector load plan.  `kind` is the stride class, a compile-time constant in each caller
 * (1, 2, or 0 for any other stride, gathered) so that every load below is one branch-free
 * sequence; `full` vectors read FC_LANES * s (+1 for s = 2) elements unmasked, the rest use
 * the masks. */
typedef struct FC_ISA_SUFFIX(FC_FN(pool_lanes)) {
    int64_t s;
    int full;
    FC_M m, m_lo, m_hi; /* lanes wanted; for s = 2, the elements wanted of each half */
    FC_VIDX gather;     /* 0, s, 2s, ... for other strides */
} FC_ISA_SUFFIX(FC_FN(pool_lanes));

static inline void FC_ISA_SUFFIX(FC_FN(pool_plan))(FC_ISA_SUFFIX(FC_FN(pool_lanes)) *plan,
                                                   const fc_pool_columns *cols, int64_t start,
                                                   int64_t cnt, const int kind)
{
    const int64_t s = cols->stride_w;
    const int64_t last_read = start + (FC_LANES - 1) * s + (cols->kernel_w - 1) * cols->dilation_w;
    plan->s = s;
    plan->full = cnt == FC_LANES && last_read + (kind == 2) < cols->in_w;
    if (kind == 0) {
        plan->m = FC_TAIL_MASK(cnt);
        plan->gather = FC_VIDX_STRIDE((int)s); /* s < 2**26 / FC_LANES: see pool_interior */
    } else if (!plan->full) {
        /* for s = 2: elements 0 .. 2 * (cnt - 1) of the pair */
        const int64_t wanted = kind == 2 ? 2 * cnt - 1 : cnt;
        plan->m = FC_TAIL_MASK(cnt);
        plan->m_lo = FC_TAIL_MASK(wanted < FC_LANES ? wanted : FC_LANES);
        plan->m_hi = FC_TAIL_MASK(wanted > FC_LANES ? wanted - FC_LANES : 0);
    }
}

/* p[0], p[s], ..., p[(FC_LANES - 1) * s] (masked lanes read as 0) */
static inline FC_V FC_ISA_SUFFIX(FC_FN(pool_load))(const FC_ISA_SUFFIX(FC_FN(pool_lanes)) *plan,
                                                   const FC_REAL *p, const int kind)
{
    if (kind == 1) return plan->full ? FC_VLOAD(p) : FC_VLOADM(plan->m, p);
    if (kind == 2)
        return plan->full ? FC_VEVEN(FC_VLOAD(p), FC_VLOAD(p + FC_LANES))
                          : FC_VEVEN(FC_VLOADM(plan->m_lo, p), FC_VLOADM(plan->m_hi, p + FC_LANES));
    return FC_VGATHERM(plan->m, p, plan->gather);
}

/* Window column j (0, 1, 2, ... in turn) of row r: for stride 2 without dilation, a full
 * vector loads each pair of columns once (*lo:*hi at r + j for even j) and takes column j + 1
 * as its odd lanes -- two loads per two columns instead of four.  The pair of the last even j
 * reads one element past the window, inside the row for `full` vectors (pool_plan). */
static inline FC_V FC_ISA_SUFFIX(FC_FN(pool_column))(const FC_ISA_SUFFIX(FC_FN(pool_lanes)) *plan,
                                                     const FC_REAL *r, int64_t j, int64_t d,
                                                     FC_V *lo, FC_V *hi, const int kind)
{
    if (kind == 2 && d == 1 && plan->full) {
        if (j % 2 == 0) {
            *lo = FC_VLOAD(r + j);
            *hi = FC_VLOAD(r + j + FC_LANES);
            return FC_VEVEN(*lo, *hi);
        }
        return FC_VODD(*lo, *hi);
    }
    return FC_ISA_SUFFIX(FC_FN(pool_load))(plan, r + j * d, kind);
}

static inline void FC_ISA_SUFFIX(FC_FN(pool_store))(const FC_ISA_SUFFIX(FC_FN(pool_lanes)) *plan,
                                                    FC_REAL *p, FC_V v, const int kind)
{
    if (kind != 0 && plan->full) FC_VSTORE(p, v);
    else FC_VSTOREM(p, plan->m, v);
}

/* [*lo, *hi): the output columns whose whole window lies inside the row (pool.h); 0 if SIMD
 * cannot take this geometry (gather offsets and window positions as FC_REAL must stay
 * exact). */
static inline int FC_ISA_SUFFIX(FC_FN(pool_interior))(const fc_pool_columns *cols, size_t rows,
                                                      int64_t *lo, int64_t *hi)
{
    if (rows == 0 || cols->stride_w > ((int64_t)1 << 26) / FC_LANES ||
        cols->kernel_w > ((int64_t)1 << 20) || rows > ((size_t)1 << 20))
        return 0;
    *lo = cols->interior_begin;
    *hi = cols->interior_end;
    return *hi > *lo;
}

/* v wins over b: !(v <= b) and b is not NaN */
#define FC_POOL_TAKES(v, b) FC_MAND(FC_VNLE(v, b), FC_VORD(b))

/* Output columns [ow_begin, ow_end) whose windows overhang the row: each in lane 0 of a
 * vector, through the same fold as the interior, element by element in row-major order (the
 * scalar scan's order).  Not the scalar loop: its data-dependent branches mispredict on random
 * data, ~20 ns per column -- 40% of a 3x3/s2/p1 row on the CI machine. */
static inline void FC_ISA_SUFFIX(FC_FN(maxpool_edges))(const fc_pool_columns *cols,
                                                       int64_t ow_begin, int64_t ow_end,
                                                       size_t rows,
                                                       const FC_REAL *const *row_ptrs,
                                                       const int64_t *row_offsets, FC_REAL *y,
                                                       int64_t *indices)
{
    const FC_M lane0 = FC_TAIL_MASK(1);
    const int64_t d = cols->dilation_w;
    for (int64_t ow = ow_begin; ow < ow_end; ow++) {
        int64_t j_begin, j_end;
        fc_pool_valid_columns(cols, ow, &j_begin, &j_end);
        if (j_begin >= j_end) { /* no column inside the row (dilation): -inf, -1 */
            FC_FN(maxpool_columns)(cols, ow, ow + 1, rows, row_ptrs, row_offsets, y, indices);
            continue;
        }
        const int64_t start = ow * cols->stride_w - cols->pad_w;
        FC_V best = FC_VLOADM(lane0, row_ptrs[0] + start + j_begin * d);
        FC_V best_row = FC_VZERO(), best_col = FC_VSET1((FC_REAL)j_begin);
        for (size_t i = 0; i < rows; i++)
            for (int64_t j = i == 0 ? j_begin + 1 : j_begin; j < j_end; j++) {
                const FC_V v = FC_VLOADM(lane0, row_ptrs[i] + start + j * d);
                const FC_M take = FC_POOL_TAKES(v, best);
                best = FC_VBLEND(take, best, v);
                if (indices) {
                    best_row = FC_VBLEND(take, best_row, FC_VSET1((FC_REAL)i));
                    best_col = FC_VBLEND(take, best_col, FC_VSET1((FC_REAL)j));
                }
            }
        FC_VSTOREM(y + ow, lane0, best);
        if (indices) {
            FC_REAL win_row[FC_LANES], win_col[FC_LANES];
            FC_VSTORE(win_row, best_row);
            FC_VSTORE(win_col, best_col);
            indices[ow] = row_offsets[(size_t)win_row[0]] + start + (int64_t)win_col[0] * d;
        }
    }
}

static inline void FC_ISA_SUFFIX(FC_FN(maxpool_body))(const fc_pool_columns *cols, size_t rows,
                                                      const FC_REAL *const *row_ptrs,
                                                      const int64_t *row_offsets, FC_REAL *y,
                                                      int64_t *indices, const int with_indices,
                                                      const int kind, const int64_t fixed_kw)
{
    int64_t lo, hi;
    if (!FC_ISA_SUFFIX(FC_FN(pool_interior))(cols, rows, &lo, &hi)) {
        FC_FN(maxpool_columns)(cols, 0, cols->out_w, rows, row_ptrs, row_offsets, y, indices);
        return;
    }
    FC_ISA_SUFFIX(FC_FN(maxpool_edges))(cols, 0, lo, rows, row_ptrs, row_offsets, y, indices);
    const int64_t s = cols->stride_w, d = cols->dilation_w;
    const int64_t kw = fixed_kw ? fixed_kw : cols->kernel_w; /* constant: unrolled j loops */
    for (int64_t ow = lo; ow < hi; ow += FC_LANES) {
        const int64_t cnt = fc_min_i64(FC_LANES, hi - ow), start = ow * s - cols->pad_w;
        FC_ISA_SUFFIX(FC_FN(pool_lanes)) plan = {0}; /* fields a stride class never reads stay 0 */
        FC_ISA_SUFFIX(FC_FN(pool_plan))(&plan, cols, start, cnt, kind);
        FC_V best = FC_VZERO(), best_row = FC_VZERO(), best_col = FC_VZERO();
        for (size_t i = 0; i < rows; i++) {
            const FC_REAL *r = row_ptrs[i] + start;
            FC_V lo = FC_VZERO(), hi = FC_VZERO(), row_col = FC_VZERO();
            FC_V row_best = FC_ISA_SUFFIX(FC_FN(pool_column))(&plan, r, 0, d, &lo, &hi, kind);
            for (int64_t j = 1; j < kw; j++) {
                const FC_V v = FC_ISA_SUFFIX(FC_FN(pool_column))(&plan, r, j, d, &lo, &hi, kind);
                const FC_M take = FC_POOL_TAKES(v, row_best);
                row_best = FC_VBLEND(take, row_best, v);
                if (with_indices) row_col = FC_VBLEND(take, row_col, FC_VSET1((FC_REAL)j));
            }
            if (i == 0) {
                best = row_best;
                best_col = row_col;
                continue;
            }
            const FC_M take = FC_POOL_TAKES(row_best, best);
            best = FC_VBLEND(take, best, row_best);
            if (with_indices) {
                best_col = FC_VBLEND(take, best_col, row_col);
                best_row = FC_VBLEND(take, best_row, FC_VSET1((FC_REAL)i));
            }
        }
        FC_ISA_SUFFIX(FC_FN(pool_store))(&plan, y + ow, best, kind);
        if (with_indices) {
#ifdef FC_STORE_INDICES
            FC_STORE_INDICES(indices + ow, cnt, best_row, best_col, row_offsets, rows, start, s, d);
#else
            FC_REAL win_row[FC_LANES], win_col[FC_LANES];
            FC_VSTORE(win_row, best_row);
            FC_VSTORE(win_col, best_col);
            for (int64_t l = 0; l < cnt; l++)
                indices[ow + l] = row_offsets[(size_t)win_row[l]] + start + l * s +
                                  (int64_t)win_col[l] * d;
#endif
        }
    }
    FC_ISA_SUFFIX(FC_FN(maxpool_edges))(cols, hi, cols->out_w, rows, row_ptrs, row_offsets, y,
                                        indices);
}
#undef FC_POOL_TAKES

void FC_ISA_SUFFIX(FC_FN(maxpool_ukernel))(const fc_pool_columns *cols, size_t rows,
                                           const FC_REAL *const *row_ptrs,
                                           const int64_t *row_offsets, FC_REAL *y,
                                           int64_t *indices)
{
    /* one instantiation per stride class, with and without indices (without, the position
     * tracking disappears), and for the 2- and 3-wide windows of stride 2 (unrolled) */
#define FC_MAXPOOL_BODY(with_indices, kind, fixed_kw) \
    FC_ISA_SUFFIX(FC_FN(maxpool_body))(cols, rows, row_ptrs, row_offsets, y, indices, \
                                       with_indices, kind, fixed_kw)
    const int64_t s = cols->stride_w, kw = cols->kernel_w;
    if (indices) {
        if (s == 1) FC_MAXPOOL_BODY(1, 1, 0);
        else if (s == 2) FC_MAXPOOL_BODY(1, 2, 0);
        else FC_MAXPOOL_BODY(1, 0, 0);
    } else {
        if (s == 1) FC_MAXPOOL_BODY(0, 1, 0);
        else if (s == 2 && kw == 2) FC_MAXPOOL_BODY(0, 2, 2);
        else if (s == 2 && kw == 3) FC_MAXPOOL_BODY(0, 2, 3);
        else if (s == 2) FC_MAXPOOL_BODY(0, 2, 0);
        else FC_MAXPOOL_BODY(0, 0, 0);
    }
#undef FC_MAXPOOL_BODY
}

static inline void FC_ISA_SUFFIX(FC_FN(avgpool_body))(const fc_pool_columns *cols, size_t rows,
                                                      const FC_REAL *const *row_ptrs,
                                                      int64_t padded_rows, fc_avg_pool_rule rule,
                                                      FC_REAL *y, const int kind)
{
    int64_t lo, hi;
    if (!FC_ISA_SUFFIX(FC_FN(pool_interior))(cols, rows, &lo, &hi)) {
        FC_FN(avgpool_columns)(cols, 0, cols->out_w, rows, row_ptrs, padded_rows,
                               rule, y);
        return;
    }
    FC_FN(avgpool_columns)(cols, 0, lo, rows, row_ptrs, padded_rows, rule, y);
    const int64_t s = cols->stride_w, kw = cols->kernel_w;
    /* interior windows: every column inside the row, so the divisor is the same for all */
    const FC_V divisor = FC_VSET1(
        (FC_REAL)fc_avg_pool_divisor(rule, (int64_t)rows, kw, padded_rows, kw));
    for (int64_t ow = lo; ow < hi; ow += FC_LANES) {
        const int64_t cnt = fc_min_i64(FC_LANES, hi - ow), start = ow * s - cols->pad_w;
        FC_ISA_SUFFIX(FC_FN(pool_lanes)) plan = {0}; /* fields a stride class never reads stay 0 */
        FC_ISA_SUFFIX(FC_FN(pool_plan))(&plan, cols, start, cnt, kind);
        FC_V sum = FC_VZERO();
        for (size_t i = 0; i < rows; i++) {
            FC_V lo = FC_VZERO(), hi = FC_VZERO();
            for (int64_t j = 0; j < kw; j++)
                sum = FC_VADD(sum, FC_ISA_SUFFIX(FC_FN(pool_column))(&plan, row_ptrs[i] + start, j,
                                                                     1, &lo, &hi, kind));
        }
        FC_ISA_SUFFIX(FC_FN(pool_store))(&plan, y + ow, FC_VDIV(sum, divisor), kind);
    }
    FC_FN(avgpool_columns)(cols, hi, cols->out_w, rows, row_ptrs, padded_rows, rule,
                           y);
}

void FC_ISA_SUFFIX(FC_FN(avgpool_ukernel))(const fc_pool_columns *cols, size_t rows,
                                           const FC_REAL *const *row_ptrs, int64_t padded_rows,
                                           fc_avg_pool_rule rule, FC_REAL *y)
{
#define FC_AVGPOOL_BODY(kind) \
    FC_ISA_SUFFIX(FC_FN(avgpool_body))(cols, rows, row_ptrs, padded_rows, rule, y, \
                                       kind)
    if (cols->stride_w == 1) FC_AVGPOOL_BODY(1);
    else if (cols->stride_w == 2) FC_AVGPOOL_BODY(2);
    else FC_AVGPOOL_BODY(0);
#undef FC_AVGPOOL_BODY
}

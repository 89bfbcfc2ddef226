/* conv_transpose2d's forward as GEMMs that store each output element once (instantiated by
 * conv2d.c after conv2d_im2col.tmpl.h, whose im2col packer builds B).
 *
 * p is the conv2d whose input has y's shape (N, C, H, W) and whose output has x's (N, K, P,
 * Q); weight is (K, C / groups, R, S).  Output row oh receives x row i through tap r where
 * oh + pad_top = i * sh + r (dilation 1).  Split the output rows by their phase
 * a = (oh + pad_top) mod sh: the taps of phase a are r = a + t * sh, t < ta = ceil((R - a) / sh),
 * and with oh = u * sh + a - pad_top the phase's rows are a stride-1 correlation
 *   y_a[u] = sum over t of x[u - t] * w[a + t * sh],
 * likewise for the columns.  So each of the sh x sw phases (a, b) is a small stride-1 conv2d
 * of x with a sub-kernel of ta x tb taps: per group the GEMM C (Cg x pixels of the phase) =
 * A (Cg x Kg * ta * tb, the sub-kernel, turned) * B (im2col of x, conv2d's packer), and C is
 * stored with stride (sh, sw) into y, the bias as the microkernel's row start and ReLU fused
 * in it.  No zero fill, no scatter-add, no pass over y after the GEMM; every element of y is
 * one FMA chain over (k, tap) in a fixed order: bitwise the same for any thread count.  (The
 * backward-data path, dcol = W^T x then col2im, ran one item per (image, group): one thread at
 * batch 1, plus the zeroing, the adds and a pass for the bias.)
 *
 * Kernel == stride (U-Net's 2x2 s2): every phase has one tap and the same B, x itself, so the
 * phases are one GEMM whose rows are (c, r, s) (merged) and whose C goes to the output
 * pixels (i * sh + r - pad_top, j * sw + s - pad_left) inside y.
 *
 * Applies at dilation 1 with R >= sh and S >= sw (each phase has a tap) when the packed
 * weights fit the workspace; unless merged, to fewer than 4 (image, group) pairs of 8+ filters
 * per group (see the entry) with finite weights (a phase's im2col has zeros where x has no
 * row, and 0 * inf would make a NaN no scatter makes).  Work items: (image, group, phase,
 * block of filter rows, block of pixels), at least 4 per thread where the shape has them. */

/* One GEMM: a phase, or all phases merged. */
typedef struct FC_FN(ct_unit) {
    int64_t a, b;         /* the phase (merged: 0, 0 and the row says) */
    int64_t rows, red;    /* C's rows and the reduction, per group */
    int64_t u0, v0, hu, wv; /* B's pixels (u, v), u in [u0, u0 + hu), v in [v0, v0 + wv) */
    fc_conv2d_params q;   /* the stride-1 conv2d of x whose im2col is B */
    int64_t m_tiles, mt_per, m_blocks, tiles, blocks, nc;
    int64_t a_off, bias_off, items; /* where its A and bias panels start; its items */
    int64_t cols;         /* C's columns: hu x wv pixels, or on the grid (hu - 1) x wp + wv */
    int64_t base;         /* on the grid: pixel (0, 0) of the unit in the padded planes */
    const ptrdiff_t *grid_rows; /* on the grid: B's row (k, r', s') in the padded planes */
} FC_FN(ct_unit);

typedef struct FC_FN(ct_job) {
    const fc_conv2d_params *p;
    int64_t out_h, out_w, cg, kg, mr, nr, kc, nc, c_len, b_len, per_thread, pack_tasks;
    int merged;
    int64_t units;
    FC_FN(ct_unit) * unit;
    FC_FN(gemm_config) cfg;
    const FC_REAL *x, *weight;
    FC_REAL *y, *packed, *bias_panels, *scratch;
    const fc_epi *epi;
    const ptrdiff_t *x_rows; /* merged: B's row k is x's plane k (k * P * Q) */
    /* phases on the grid (ct_grid): x's planes with a border of zeros, hp x wp each, shared
     * by every phase and item (x_pad, x_pad_len values: the images and groups of the call,
     * then NR values of slack the junk columns of the last tile read) */
    FC_REAL *x_pad;
    int64_t hp, wp, pad_t, pad_l, x_pad_len, fill_tasks;
    int *finite;             /* per packing task: were its weights finite (phases only) */
    int64_t x_len;           /* the values of x */
} FC_FN(ct_job);

/* Row i of a unit's C (per group): its channel of y and its phase. */
static inline void FC_FN(ct_row)(const FC_FN(ct_job) * job, const FC_FN(ct_unit) * u, int64_t i,
                                 int64_t *c, int64_t *a, int64_t *b)
{
    if (!job->merged) {
        *c = i, *a = u->a, *b = u->b;
        return;
    }
    const int64_t taps = job->p->r * job->p->s;
    *c = i / taps, *a = i % taps / job->p->s, *b = i % job->p->s;
}

/* Rows [k_begin, k_end) of the weight (filters of x's channels, each a C / groups x R x S
 * block) into every unit's A panels: A[i][(k, r', s')] = weight[g * Kg + k][c][tap], the tap
 * turned (r = a + (ta - 1 - r') * sh); whether they were all finite.  Filter after filter, so
 * the weight is read once, in order: panel after panel strode over it a page per filter
 * (DRAM-bound: 40% of DCGAN's 512 -> 256 channels on 4 x 4).  Merged, row i of a panel is
 * value i of a filter's block: a copy.  Phases: the block's rows of one m tile transposed
 * (taps x MR, 4 x 4 tiles the compiler vectorises), then an MR-value copy per tap and phase
 * (one value at a time, a gather of stride R x S, cost a third of 256 -> 128 on 8 x 8). */
static int FC_FN(ct_pack_rows)(const FC_FN(ct_job) * job, int64_t k_begin, int64_t k_end)
{
    const fc_conv2d_params *p = job->p;
    const int64_t mr = job->mr, taps = p->r * p->s, block = job->cg * taps;
    const int64_t m_tiles = job->unit[0].m_tiles, rows = job->unit[0].rows;
    FC_REAL tmp[4096]; /* taps x MR (the driver applies at taps * mr <= 4096) */
    int finite = 1;
    for (int64_t t = 0; t < taps * mr; t++) tmp[t] = 0; /* the rows past the filters */
    for (int64_t f = k_begin; f < k_end; f++) {
        const int64_t g = f / job->kg, kk = f % job->kg;
        const FC_REAL *w = job->weight + f * block;
        if (!job->merged) finite &= FC_FN(all_finite)(w, block);
        for (int64_t mt = 0; mt < m_tiles; mt++) {
            const int64_t panel = g * m_tiles + mt, live = fc_min_i64(mr, rows - mt * mr);
            if (job->merged) {
                FC_REAL *dst = job->packed + (panel * job->unit[0].red + kk) * mr;
                FC_FN(gemm_pack_panel)(w + mt * mr, 1, 0, live, 1, mr, dst);
                continue;
            }
            FC_FN(gemm_transpose)(w + mt * mr * taps, taps, live, taps, tmp, mr);
            if (live < mr) /* (the previous tile's values) */
                for (int64_t t = 0; t < taps; t++)
                    for (int64_t i = live; i < mr; i++) tmp[t * mr + i] = 0;
            for (int64_t ui = 0; ui < job->units; ui++) {
                const FC_FN(ct_unit) *u = &job->unit[ui];
                const int64_t ta = u->q.r, tb = u->q.s;
                /* the last tap of the phase; tap (r', s') of the turned sub-kernel lies
                 * rr * sh rows and ss * sw columns before it */
                const int64_t last = (u->a + (ta - 1) * p->stride_h) * p->s + u->b +
                                     (tb - 1) * p->stride_w;
                FC_REAL *dst = job->packed + u->a_off + (panel * u->red + kk * ta * tb) * mr;
                for (int64_t rr = 0; rr < ta; rr++)
                    for (int64_t ss = 0; ss < tb; ss++, dst += mr)
                        FC_FN(gemm_pack_panel)(tmp + (last - rr * p->stride_h * p->s -
                                                      ss * p->stride_w) * mr,
                                               1, 0, mr, 1, mr, dst);
            }
        }
    }
    return finite;
}

/* One item's view for the frame's callbacks (gemm_block.ctx). */
typedef struct FC_FN(ct_item_ctx) {
    const FC_FN(ct_job) * job;
    const FC_FN(ct_unit) * u;
    const FC_REAL *x_group, *a;
    FC_REAL *b_buf, *y_group;
    int64_t pix0, row0;
} FC_FN(ct_item_ctx);

static const FC_REAL *FC_FN(ct_a)(FC_FN(gemm_block) *blk, int64_t k0, int64_t kc,
                                  int64_t *a_step)
{
    const FC_FN(ct_item_ctx) *it = blk->ctx;
    (void)kc;
    *a_step = it->u->red * it->job->mr;
    return it->a + k0 * it->job->mr;
}

/* merged: B is x itself, its rows read in place by the microkernel; a sub-panel whose last
 * row would read past the end of x is packed (zero past the block) */
static const FC_REAL *FC_FN(ct_b_in_place)(FC_FN(gemm_block) *blk, int64_t k0, int64_t kc,
                                           int64_t j0, const ptrdiff_t **rows)
{
    const FC_FN(ct_item_ctx) *it = blk->ctx;
    const FC_FN(ct_job) *job = it->job;
    const FC_REAL *b = it->x_group + it->pix0 + j0;
    if ((b - job->x) + job->x_rows[k0 + kc - 1] + job->nr <= job->x_len) {
        *rows = job->x_rows + k0;
        return b;
    }
    FC_FN(gemm_pack_panels)(b + job->x_rows[k0], 1, job->out_h * job->out_w,
                            fc_min_i64(job->nr, blk->cols - j0), kc, job->nr, it->b_buf);
    return it->b_buf;
}

/* phases on the grid: B's rows are runs of the padded planes, read in place (stride-1 runs
 * of every phase's taps, no im2col); a sub-panel whose last row would read past the slack is
 * packed */
static const FC_REAL *FC_FN(ct_b_grid)(FC_FN(gemm_block) *blk, int64_t k0, int64_t kc,
                                       int64_t j0, const ptrdiff_t **rows)
{
    const FC_FN(ct_item_ctx) *it = blk->ctx;
    const FC_FN(ct_job) *job = it->job;
    const FC_REAL *b = it->x_group + it->u->base + it->pix0 + j0;
    if ((b - job->x_pad) + it->u->grid_rows[k0 + kc - 1] + job->nr <= job->x_pad_len) {
        *rows = it->u->grid_rows + k0;
        return b;
    }
    FC_FN(pack_grid_panel)(b, it->u->grid_rows + k0, kc, 0, fc_min_i64(job->nr, blk->cols - j0),
                           job->nr, it->b_buf);
    return it->b_buf;
}

static void FC_FN(ct_pack_b)(FC_FN(gemm_block) *blk, int64_t k0, int64_t kc)
{
    const FC_FN(ct_item_ctx) *it = blk->ctx;
    FC_FN(pack_im2col_panel)(&it->u->q, it->u->wv, it->x_group, k0, kc, it->pix0, blk->cols,
                             it->job->nr, it->b_buf);
    blk->b = it->b_buf;
    blk->b_step = kc * it->job->nr;
}

/* C's rows to their pixels of y: (u, v) of the unit goes to (u * sh + a - pad_top,
 * v * sw + b - pad_left), the ones inside y (merged units with padding crop some). */
static void FC_FN(ct_store)(FC_FN(gemm_block) *blk)
{
    const FC_FN(ct_item_ctx) *it = blk->ctx;
    const FC_FN(ct_job) *job = it->job;
    const FC_FN(ct_unit) *u = it->u;
    const fc_conv2d_params *p = job->p;
    const fc_epi *epi = job->epi;
    const int64_t sh = p->stride_h, sw = p->stride_w, plane = p->h * p->w;
    if (epi->post && !epi->residual) /* the activation on C (no residual to line up) */
        FC_FN(epilogue_apply)(epi, blk->c, blk->rows, blk->cols, blk->ldc, 1);
    for (int64_t i = 0; i < blk->rows; i++) {
        int64_t c, a, b;
        FC_FN(ct_row)(job, u, it->row0 + i, &c, &a, &b);
        FC_REAL *y_c = it->y_group + c * plane;
        const FC_REAL *src = blk->c + i * blk->ldc;
        /* merged 2-wide taps (U-Net's 2x2 s2): rows (c, a, 0) and (c, a, 1) fill their
         * output rows' segments together, stored interleaved (contiguous; one strided row at
         * a time cost 8% of 512 -> 256 channels on 28 x 28) */
        const int pair = job->merged && p->s == 2 && sw == 2 && b == 0 && i + 1 < blk->rows;
        /* C's rows are wv pixels wide, or wp on the grid (the columns past wv are junk) */
        const int64_t width = job->x_pad ? job->wp : u->wv;
        int64_t uu = it->pix0 / width, vv = it->pix0 % width;
        for (int64_t j = 0, next; j < blk->cols; uu++, vv = 0, j = next) {
            next = j + fc_min_i64(width - vv, blk->cols - j);
            const int64_t n = fc_min_i64(u->wv - vv, blk->cols - j);
            if (n <= 0) continue;
            const int64_t oh = (u->u0 + uu) * sh + a - p->pad_top;
            const int64_t ow = (u->v0 + vv) * sw + b - p->pad_left;
            int64_t lo, hi;
            fc_valid_range(ow, sw, p->w, n, &lo, &hi);
            if (oh >= 0 && oh < p->h) {
                FC_REAL *dst = y_c + oh * p->w + ow;
                const FC_REAL *s = src + j;
                if (pair && ow >= 0 && ow + 2 * n <= p->w) {
                    const FC_REAL *s1 = s + blk->ldc;
                    for (int64_t k = 0; k < n; k++) dst[2 * k] = s[k], dst[2 * k + 1] = s1[k];
                    if (epi->residual) FC_FN(epilogue_apply)(epi, dst, 1, 2 * n, 2 * n, 1);
                    continue;
                }
                for (int64_t row = 0; row <= pair; row++, s += blk->ldc, dst++) {
                    fc_valid_range(ow + row, sw, p->w, n, &lo, &hi);
                    if (sw == 1)
                        memcpy(dst + lo, s + lo, (size_t)(hi - lo) * sizeof(FC_REAL));
                    else
                        for (int64_t k = lo; k < hi; k++) dst[k * sw] = s[k];
                    if (epi->residual && lo < hi) /* lined up with y: on the stored elements */
                        FC_FN(epilogue_apply)(epi, dst + lo * sw, 1, hi - lo, 0, sw);
                }
            }
        }
        i += pair;
    }
}

static void FC_FN(ct_item)(const FC_FN(ct_job) * job, int64_t task, int t)
{
    const fc_conv2d_params *p = job->p;
    int64_t ui = 0;
    while (task >= job->unit[ui].items) task -= job->unit[ui++].items;
    const FC_FN(ct_unit) *u = &job->unit[ui];
    const int64_t mr = job->mr, nr = job->nr;
    const int64_t pb = task % u->blocks, mb = task / u->blocks % u->m_blocks;
    const int64_t g = task / (u->blocks * u->m_blocks) % p->groups;
    const int64_t n = task / (u->blocks * u->m_blocks * p->groups);
    int64_t tile0, tile_end;
    fc_task_range(u->tiles, u->blocks, pb, &tile0, &tile_end);
    const int64_t mt0 = mb * u->mt_per, mt1 = fc_min_i64(u->m_tiles, mt0 + u->mt_per);
    FC_FN(ct_item_ctx) it = {job, u};
    it.pix0 = tile0 * nr;
    it.row0 = mt0 * mr;
    it.x_group = job->x_pad ? job->x_pad + (n * p->groups + g) * job->kg * job->hp * job->wp
                            : job->x + (n * p->k + g * job->kg) * job->out_h * job->out_w;
    it.y_group = job->y + (n * p->c + g * job->cg) * p->h * p->w;
    it.a = job->packed + u->a_off + (g * u->m_tiles + mt0) * u->red * mr;
    it.b_buf = job->scratch + t * job->per_thread;
    FC_REAL *edge = it.b_buf + job->b_len, *c = edge + mr * nr;
    FC_FN(gemm_block) blk = {&job->cfg, u->red, job->kc, mt1 - mt0,
                             fc_min_i64(mt1 * mr, u->rows) - mt0 * mr,
                             fc_min_i64(tile_end * nr, u->cols) - it.pix0};
    blk.a_panels = FC_FN(ct_a);
    if (job->merged)
        blk.b_panel = FC_FN(ct_b_in_place);
    else if (job->x_pad)
        blk.b_panel = FC_FN(ct_b_grid);
    else
        blk.b_pack = FC_FN(ct_pack_b);
    blk.c = c;
    blk.ldc = job->nc;
    blk.c_padded = 1;
    blk.edge = edge;
    blk.epilogue.init =
        job->bias_panels ? job->bias_panels + u->bias_off + (g * u->m_tiles + mt0) * mr : NULL;
    blk.epilogue.fused = job->epi->fused;
    blk.store = FC_FN(ct_store);
    blk.ctx = &it;
    FC_FN(gemm_run_block)(&blk);
}

/* Planes [begin, end) of x (all the images') into the padded copy of the grid: a border of
 * zeros around each. */
static void FC_FN(ct_fill_planes)(const FC_FN(ct_job) * job, int64_t begin, int64_t end)
{
    const int64_t h = job->out_h, w = job->out_w, hp = job->hp, wp = job->wp;
    const int64_t rows = fc_min_i64(h, hp - job->pad_t), cols = fc_min_i64(w, wp - job->pad_l);
    for (int64_t k = begin; k < end; k++) {
        FC_REAL *dst = job->x_pad + k * hp * wp;
        const FC_REAL *src = job->x + k * h * w;
        FC_FN(put_run)(dst, NULL, 0, job->pad_t * wp);
        for (int64_t i = 0; i < rows; i++) {
            FC_REAL *d = dst + (job->pad_t + i) * wp;
            FC_FN(put_run)(d, NULL, 0, job->pad_l);
            FC_FN(copy_run)(d + job->pad_l, src + i * w, cols);
            FC_FN(put_run)(d + job->pad_l + cols, NULL, 0, wp - job->pad_l - cols);
        }
        FC_FN(put_run)(dst + (job->pad_t + rows) * wp, NULL, 0, (hp - job->pad_t - rows) * wp);
    }
}

/* the packing tasks: ranges of the weight's filters, each recording whether its weights were
 * finite; then (on the grid) ranges of x's planes to the padded copy */
static void FC_FN(ct_pack_task)(void *ctx, int64_t phase, int64_t task, int thread)
{
    const FC_FN(ct_job) *job = ctx;
    (void)phase, (void)thread;
    int64_t begin, end;
    if (task >= job->pack_tasks) {
        const int64_t planes = job->p->n * job->p->k;
        fc_task_range(planes, job->fill_tasks, task - job->pack_tasks, &begin, &end);
        FC_FN(ct_fill_planes)(job, begin, end);
        return;
    }
    fc_task_range(job->p->k, job->pack_tasks, task, &begin, &end);
    job->finite[task] = FC_FN(ct_pack_rows)(job, begin, end);
}

static void FC_FN(ct_item_task)(void *ctx, int64_t phase, int64_t task, int thread)
{
    (void)phase;
    FC_FN(ct_item)(ctx, task, thread);
}

/* Whether the phases read B in place from one padded copy of x (conv2d's virtual grid,
 * fc_gemm_grid): each phase is a stride-1 conv2d of x with a ta x tb sub-kernel, so its
 * im2col row (k, r', s') is a run of x's padded plane k, r' rows and s' columns on from the
 * unit's pixel (0, 0), and one copy with the widest border any phase needs serves them all.
 * The packed im2col of the phases is runs of x's rows cut at every tap and phase, and each
 * value meets only the phase's Cg filters (64 -> 32 channels, 4x4 s2 p1 on 56 x 56: most of
 * each thread's time).  C is then grid-shaped: wp - wv junk columns per row, never stored.
 * Taken when the copy fits in max_workspace_bytes and the junk is at most a quarter of a row;
 * sets the units' cols, tiles, base and grid_rows, and job->x_pad to a non-NULL marker (the
 * driver allocates the copy with the weight panels). */
static void FC_FN(ct_grid)(FC_FN(ct_job) * job, int64_t limit)
{
    const fc_conv2d_params *p = job->p;
    int64_t pad_t = 0, pad_l = 0, hp = 0, wp = 0, wv_min = INT64_MAX;
    for (int64_t ui = 0; ui < job->units; ui++) {
        const FC_FN(ct_unit) *u = &job->unit[ui];
        pad_t = fc_max_i64(pad_t, u->q.pad_top);
        pad_l = fc_max_i64(pad_l, u->q.pad_left);
    }
    for (int64_t ui = 0; ui < job->units; ui++) {
        const FC_FN(ct_unit) *u = &job->unit[ui];
        if (u->cols == 0) continue;
        /* the last padded row and column a tap of the unit reads, plus one */
        hp = fc_max_i64(hp, pad_t - u->q.pad_top + u->hu + u->q.r - 1);
        wp = fc_max_i64(wp, pad_l - u->q.pad_left + u->wv + u->q.s - 1);
        wv_min = fc_min_i64(wv_min, u->wv);
    }
    int64_t len = 0;
    const int64_t dims[4] = {p->n * p->k, hp, wp, (int64_t)sizeof(FC_REAL)};
    if (hp == 0 || 4 * (wp - wv_min) > wp || fc_checked_product(dims, 4, &len) != FC_OK ||
        len > limit - job->nr * (int64_t)sizeof(FC_REAL))
        return;
    job->hp = hp, job->wp = wp, job->pad_t = pad_t, job->pad_l = pad_l;
    job->x_pad_len = p->n * p->k * hp * wp + job->nr;
    ptrdiff_t *rows = (ptrdiff_t *)(job->unit + job->units) + job->kg;
    for (int64_t ui = 0; ui < job->units; ui++) {
        FC_FN(ct_unit) *u = &job->unit[ui];
        u->cols = u->hu * u->wv == 0 ? 0 : (u->hu - 1) * wp + u->wv;
        u->tiles = fc_ceil_div(u->cols, job->nr);
        u->base = (pad_t - u->q.pad_top) * wp + pad_l - u->q.pad_left;
        u->grid_rows = rows;
        for (int64_t i = 0; i < u->red; i++) {
            const int64_t taps = u->q.r * u->q.s;
            rows[i] = (ptrdiff_t)(i / taps * hp * wp + i % taps / u->q.s * wp + i % u->q.s);
        }
        rows += u->red;
    }
    job->x_pad = (FC_REAL *)job->unit; /* a marker until allocated */
}

fc_status FC_FN(conv_transpose2d_phases)(const fc_conv2d_params *p, int64_t out_h,
                                         int64_t out_w, const FC_REAL *x, const FC_REAL *weight,
                                         const fc_epi *epi, FC_REAL *y, int *done)
{
    const int64_t sh = p->stride_h, sw = p->stride_w;
    *done = 0;
    if (p->dilation_h != 1 || p->dilation_w != 1 || p->r < sh || p->s < sw || p->n == 0 ||
        p->k == 0 || p->c == 0 || p->h * p->w == 0 || out_h * out_w == 0)
        return FC_OK;
    FC_FN(ct_job) job = {p, out_h, out_w, p->c / p->groups, p->k / p->groups};
    job.cfg = fc_kernels()->FC_MEMBER(gemm);
    const int64_t mr = job.mr = job.cfg.mr, nr = job.nr = job.cfg.nr;
    /* kernel == stride and every output pixel hit: one GEMM on x itself */
    job.merged = p->r == sh && p->s == sw && out_h * sh - p->pad_top >= p->h &&
                 out_w * sw - p->pad_left >= p->w;
    /* Separate phases (not merged) cost more per thread than the backward-data path: B is an
     * im2col of short runs per phase, and there are fewer rows per weight panel.  They are
     * taken where that path leaves threads idle, fewer than 4 (image, group) items, its unit
     * of work; the shape alone decides, so a result never depends on the thread count.  (CPU
     * time at 1 thread, this path against that one: 4x4 s2 p1 128 -> 64 channels on 8 x
     * 16 x 16 6.7 against 5.7 ms, 3x3 s1 64 -> 64 on 8 x 28 x 28 5.3 against 4.4 ms.)  Phases
     * of fewer filters than a microkernel tile has rows (DCGAN's last layer, 3 channels) waste
     * most of each tile: that path's rows are (c, r, s), R x S times more (3 channels 4 x 4
     * s2 p1 on 32 x 32: 0.35 ms here against 0.10). */
    if ((!job.merged && (job.cg < mr || p->n * p->groups >= 4)) || p->r * p->s * mr > 4096)
        return FC_OK;
    job.units = job.merged ? 1 : sh * sw;
    const int64_t unit_bytes = job.units * (int64_t)sizeof(FC_FN(ct_unit));
    /* then x_rows (merged) or each unit's grid_rows (at most Kg x R x S each) */
    const int64_t rows_len = job.kg + job.units * job.kg * p->r * p->s;
    FC_FN(ct_unit) *unit = job.unit =
        fc_aligned_alloc(unit_bytes + rows_len * (int64_t)sizeof(ptrdiff_t));
    if (!unit) return FC_ERR_OUT_OF_MEMORY;
    memset(unit, 0, (size_t)unit_bytes);
    ptrdiff_t *x_rows = (ptrdiff_t *)(unit + job.units);
    for (int64_t k = 0; k < job.kg; k++) x_rows[k] = (ptrdiff_t)(k * out_h * out_w);
    job.x_rows = x_rows;
    job.x_len = p->n * p->k * out_h * out_w;
    int64_t panels = 0, red_max = 0, macs = 0;
    for (int64_t ui = 0; ui < job.units; ui++) {
        FC_FN(ct_unit) *u = &unit[ui];
        fc_conv2d_params q = *p;
        q.h = out_h, q.w = out_w, q.stride_h = q.stride_w = 1;
        if (job.merged) {
            q.r = q.s = 1, q.pad_top = q.pad_left = 0;
            u->rows = job.cg * p->r * p->s;
            u->hu = out_h, u->wv = out_w;
        } else {
            u->a = ui / sw, u->b = ui % sw;
            q.r = fc_ceil_div(p->r - u->a, sh), q.s = fc_ceil_div(p->s - u->b, sw);
            u->u0 = p->pad_top > u->a ? fc_ceil_div(p->pad_top - u->a, sh) : 0;
            u->v0 = p->pad_left > u->b ? fc_ceil_div(p->pad_left - u->b, sw) : 0;
            u->hu = fc_max_i64(0, fc_ceil_div(p->h + p->pad_top - u->a, sh) - u->u0);
            u->wv = fc_max_i64(0, fc_ceil_div(p->w + p->pad_left - u->b, sw) - u->v0);
            q.pad_top = q.r - 1 - u->u0, q.pad_left = q.s - 1 - u->v0;
            u->rows = job.cg;
        }
        u->q = q;
        u->red = job.kg * q.r * q.s;
        u->m_tiles = fc_ceil_div(u->rows, mr);
        u->cols = u->hu * u->wv;
        u->tiles = fc_ceil_div(u->cols, nr);
        panels += p->groups * u->m_tiles;
        red_max = fc_max_i64(red_max, u->red);
        macs = fc_gemm_add_saturating(
            macs, fc_mul_saturating(fc_mul_saturating(u->rows * u->red, u->tiles * nr),
                                    p->n * p->groups));
    }
    const int64_t limit = fc_gemm_workspace_limit(p->max_workspace_bytes);
    if (!job.merged) FC_FN(ct_grid)(&job, limit);
    int threads = fc_region_threads(macs);
    /* C of a block: at most 128 rows (a 64 KiB strip at the widest block) beside B in L2 */
    const int64_t row_cap = fc_max_i64(1, 128 / mr);
    const int64_t nc_max = fc_max_i64(job.cfg.nc, nr);
    fc_gemm_plan plan;
    if (FC_FN(gemm_plan)(mr, nr, job.cfg.kc, nc_max, red_max, panels, threads, limit, 0,
                         row_cap * mr, 0, 0, &plan) != FC_OK ||
        plan.chunk_panels < panels) {
        fc_aligned_free(unit);
        return FC_OK; /* the weights do not fit whole: the backward-data path */
    }
    job.kc = plan.kc;
    /* items: at least 4 per thread where the shape has them, pixel blocks first, then blocks
     * of filter rows (each re-packs its B: a share 1 / rows of the work) */
    const int64_t per_unit = p->n * p->groups * job.units;
    const int64_t want = fc_ceil_div(4 * (int64_t)threads, per_unit);
    int64_t items = 0, nc = nr, rows_max = mr;
    for (int64_t ui = 0; ui < job.units; ui++) {
        FC_FN(ct_unit) *u = &unit[ui];
        u->blocks = fc_max_i64(1, fc_min_i64(u->tiles, fc_max_i64(fc_ceil_div(u->tiles,
                                                                             plan.nc / nr),
                                                                 want)));
        u->nc = fc_ceil_div(u->tiles, u->blocks) * nr;
        const int64_t m_blocks = fc_max_i64(fc_ceil_div(u->m_tiles, row_cap),
                                            fc_min_i64(u->m_tiles, fc_ceil_div(want, u->blocks)));
        u->mt_per = fc_ceil_div(u->m_tiles, m_blocks);
        u->m_blocks = fc_ceil_div(u->m_tiles, u->mt_per);
        u->items = u->tiles == 0 ? 0 : p->n * p->groups * u->m_blocks * u->blocks;
        items += u->items;
        nc = fc_max_i64(nc, u->nc);
        rows_max = fc_max_i64(rows_max, u->mt_per * mr);
    }
    threads = (int)fc_max_i64(1, fc_min_i64(threads, items));
    /* every item's C in a scratch of the tallest block, its row stride the widest block */
    job.nc = nc;
    job.c_len = rows_max * nc;
    job.b_len = job.kc * nc;
    job.per_thread = job.b_len + mr * nr + job.c_len;
    int64_t a_len = 0, bias_len = 0;
    for (int64_t ui = 0; ui < job.units; ui++) {
        unit[ui].a_off = a_len;
        unit[ui].bias_off = bias_len;
        a_len += p->groups * unit[ui].m_tiles * unit[ui].red * mr;
        bias_len += p->groups * unit[ui].m_tiles * mr;
    }
    FC_REAL *packed, *scratch;
    const int64_t pad_len = job.x_pad ? job.x_pad_len : 0;
    const fc_status status = FC_FN(alloc_workspace)(
        1, a_len + (epi->bias ? bias_len : 0) + pad_len, 1, threads, job.per_thread, &packed,
        &scratch);
    if (status != FC_OK) {
        fc_aligned_free(unit);
        return status;
    }
    job.packed = packed;
    job.bias_panels = epi->bias ? packed + a_len : NULL;
    if (job.x_pad) { /* the marker becomes the copy (ct_grid); the slack zero */
        job.x_pad = packed + a_len + (epi->bias ? bias_len : 0);
        FC_FN(put_run)(job.x_pad + pad_len - nr, NULL, 0, nr);
    }
    job.scratch = scratch;
    job.x = x, job.weight = weight, job.y = y, job.epi = epi;
    job.pack_tasks = threads == 1 ? 1 : fc_min_i64(fc_min_i64(p->k, 4 * (int64_t)threads), 64);
    job.fill_tasks = !job.x_pad ? 0 : threads == 1 ? 1 : fc_min_i64(p->n * p->k, 4 * threads);
    /* the bias as MR-value panels per (unit, group, m tile), zero past the filters */
    for (int64_t ui = 0; job.bias_panels && ui < job.units; ui++)
        for (int64_t i = 0; i < p->groups * unit[0].m_tiles * mr; i++) {
            const int64_t g = i / (unit[0].m_tiles * mr), row = i % (unit[0].m_tiles * mr);
            int64_t c = 0, a, b;
            if (row < unit[0].rows) FC_FN(ct_row)(&job, &unit[ui], row, &c, &a, &b);
            job.bias_panels[unit[ui].bias_off + i] =
                row < unit[0].rows ? ((const FC_REAL *)epi->bias)[g * job.cg + c] : 0;
        }
    int finite[64]; /* pack_tasks <= 4 x threads <= 64 */
    job.finite = finite;
    /* two regions: the weights packed (and checked), then the items (none if a weight is not
     * finite: a phase's im2col zeros times inf would make NaNs no scatter makes) */
    fc_parallel_for(threads, job.pack_tasks + job.fill_tasks, FC_FN(ct_pack_task), &job);
    int all_finite = 1;
    for (int64_t i = 0; i < job.pack_tasks; i++) all_finite &= finite[i];
    if (all_finite) fc_parallel_for(threads, items, FC_FN(ct_item_task), &job);
    fc_aligned_free(packed);
    fc_aligned_free(scratch);
    fc_aligned_free(unit);
    *done = all_finite;
    return FC_OK;
}

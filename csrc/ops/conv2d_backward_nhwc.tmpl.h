/* conv2d backward on channels-last data (fc_conv2d_backward_nhwc): x (N, H, W, C),
 * grad_output (N, P, Q, K), the weights (K, C / groups, R, S) as in NCHW.  Instantiated by
 * conv2d_backward.c after the GEMM frame (ops/gemm_frame.tmpl.h), whose block, packers and
 * microkernel both gradients run on.
 *
 * In NHWC grad_output is a (N * P * Q) x K matrix and the im2col row of a pixel is, tap by
 * tap, Cg contiguous values of x.  Per group g the columns of the reduction are taken in that
 * order, j = (r * S + s) * Cg + c ("tap-major"; the weights' own order is (c, r, s)):
 *   grad_weight_g^T-order (Kg x red) = G_g^T (Kg x NPQ) * col_g (NPQ x red): a block of the
 *     frame per (group, block of filters, block of columns) over the whole batch's pixels:
 *     A = grad_output's rows (MR filters contiguous per pixel: copies), B = im2col rows
 *     packed per kc pixels (copies of Cg runs), C a scratch block stored to grad_weight in
 *     the (c, r, s) order at the end.
 *   dcol_g (NPQ x red) = G_g (NPQ x Kg) * W'_g (Kg x red), W' the weights as tap-major
 *     NR-column panels (packed once, shared), then col2im: per pixel, per tap, Cg values
 *     added to one pixel of grad_input (the vadd member).  A block of the frame per block of
 *     pixels of an item (image, group, band of input rows); an item computes the output rows
 *     whose windows reach its band and adds only into its band, so bands split an image
 *     between threads without reordering a sum.
 *   grad_bias[k] = the sum over the batch's pixels of G[., k], pixels ascending.
 * Each element of grad_weight adds its products pixel after pixel over the whole batch (one
 * FMA chain, storing between kc blocks is exact); each element of grad_input receives its
 * terms pixel after pixel, taps ascending, from zero.  None of it depends on the blocking,
 * the bands, the threads or the schedule: results are bitwise identical for any thread count.
 * (The orders differ from the NCHW drivers': the results agree within the sums' rounding.)
 *
 * Depthwise layers (groups == C == K) run a pass of their own (bw_dw_nhwc below): the GEMM
 * would give each group a 1-filter panel (MobileNet's 3x3 layers ran 300x slower than NCHW).
 *
 * Workspace: the packed W' (shared, grad_input only) and per thread one item's scratch; the
 * blocks shrink to fit threads x max_workspace_bytes, FC_ERR_WORKSPACE_TOO_SMALL when even
 * the smallest (one MR panel, NR columns, 16 pixels deep) does not. */

typedef struct FC_FN(bw_nhwc_job) {
    const fc_conv2d_params *p;
    int64_t out_h, out_w, pixels; /* pixels: N * P * Q, grad_weight's reduction */
    FC_FN(gemm_config) cfg;
    const FC_REAL *g, *x, *weight, *zeros; /* zeros: Cg of them, the taps in the padding */
    FC_REAL *gx, *gw, *gb;
    int64_t cg, kg, red, taps;
    /* grad_input: tiles of NR columns of W' per group; blocks of gi_panels x MR pixels;
     * bands of input rows per (image, group) */
    int64_t gi_tiles, gi_kc, gi_panels, gi_bands, gi_items;
    /* grad_weight: items of gw_rows filters x gw_cols columns, gw_kc pixels per kc block */
    int64_t gw_rows, gw_cols, gw_kc, gw_row_blocks, gw_col_blocks, gw_items;
    int64_t gb_tasks, pack_tasks, per_thread;
    FC_REAL *packed_wt, *scratch;
    FC_FN(vadd_ukernel_fn) vadd;
} FC_FN(bw_nhwc_job);

/* One item's view for the frame's callbacks (gemm_block.ctx). */
typedef struct FC_FN(bw_nhwc_ctx) {
    const FC_FN(bw_nhwc_job) *job;
    int64_t grp, pix0, f0, col0, h0, h1; /* group, first pixel / filter / column, band */
    FC_REAL *a_buf, *b_buf;
} FC_FN(bw_nhwc_ctx);

/* x at tap `tap` of output pixel `pix` (its group's first channel), or job->zeros in the
 * padding */
static inline const FC_REAL *FC_FN(bw_nhwc_tap)(const FC_FN(bw_nhwc_job) *job, int64_t pix,
                                                int64_t grp, int64_t tap)
{
    const fc_conv2d_params *p = job->p;
    const int64_t pq = job->out_h * job->out_w, n = pix / pq;
    const int64_t ih = pix % pq / job->out_w * p->stride_h - p->pad_top +
                       tap / p->s * p->dilation_h;
    const int64_t iw = pix % job->out_w * p->stride_w - p->pad_left + tap % p->s * p->dilation_w;
    if (ih < 0 || ih >= p->h || iw < 0 || iw >= p->w) return job->zeros;
    return job->x + ((n * p->h + ih) * p->w + iw) * p->c + grp * job->cg;
}

/* W'_g as B panels: panel (g, t) holds columns [t * NR, (t + 1) * NR) of W'_g (tap-major) as
 * Kg x NR, zero past red.  Packs panels [begin, end) (a task's share), filter by filter: a
 * filter's weights are one contiguous row, read within L1 (panel by panel, each value was a
 * cache miss Cg * R * S floats from the last: 5 ms of ResNet's 256 x 3 x 3 layer). */
static void FC_FN(bw_nhwc_pack_wt)(const FC_FN(bw_nhwc_job) *job, int64_t begin, int64_t end)
{
    const int64_t nr = job->cfg.nr, kg = job->kg, cg = job->cg, taps = job->taps;
    const int64_t tiles = job->gi_tiles;
    for (int64_t first = begin; first < end;) {
        const int64_t grp = first / tiles, last = fc_min_i64(end, (grp + 1) * tiles);
        for (int64_t k = 0; k < kg; k++) {
            const FC_REAL *row = job->weight + (grp * kg + k) * job->red;
            for (int64_t panel = first; panel < last; panel++) {
                FC_REAL *dst = job->packed_wt + (panel * kg + k) * nr;
                const int64_t j0 = panel % tiles * nr, live = fc_min_i64(nr, job->red - j0);
                int64_t tap = j0 / cg, c = j0 % cg;
                for (int64_t u = 0; u < live; u++) {
                    dst[u] = row[c * taps + tap];
                    if (++c == cg) c = 0, tap++;
                }
                for (int64_t u = live; u < nr; u++) dst[u] = 0;
            }
        }
        first = last;
    }
}

/* ---- grad_input ---------------------------------------------------------------------------- */

/* A: grad_output's rows of the block's pixels, filters [k0, k0 + kc) of the group, as
 * kc x MR panels (a transpose: the filters are the reduction). */
static const FC_REAL *FC_FN(bw_nhwc_gi_a)(FC_FN(gemm_block) *blk, int64_t k0, int64_t kc,
                                          int64_t *a_step)
{
    const FC_FN(bw_nhwc_ctx) *it = blk->ctx;
    const FC_FN(bw_nhwc_job) *job = it->job;
    const int64_t mr = job->cfg.mr;
    FC_FN(gemm_pack_panels)(job->g + it->pix0 * job->p->k + it->grp * job->kg + k0, job->p->k,
                            1, blk->rows, kc, mr, it->a_buf);
    *a_step = kc * mr;
    return it->a_buf;
}

static const FC_REAL *FC_FN(bw_nhwc_gi_b)(FC_FN(gemm_block) *blk, int64_t k0, int64_t kc,
                                          int64_t j0, const ptrdiff_t **rows)
{
    const FC_FN(bw_nhwc_ctx) *it = blk->ctx;
    const FC_FN(bw_nhwc_job) *job = it->job;
    const int64_t nr = job->cfg.nr;
    (void)kc;
    *rows = NULL;
    return job->packed_wt + ((it->grp * job->gi_tiles + j0 / nr) * job->kg + k0) * nr;
}

/* col2im: the block's dcol rows (pixels ascending), each tap's Cg values added to the input
 * pixel it came from when that lies in the item's band. */
static void FC_FN(bw_nhwc_gi_store)(FC_FN(gemm_block) *blk)
{
    const FC_FN(bw_nhwc_ctx) *it = blk->ctx;
    const FC_FN(bw_nhwc_job) *job = it->job;
    const fc_conv2d_params *p = job->p;
    const int64_t pq = job->out_h * job->out_w, cg = job->cg;
    for (int64_t i = 0; i < blk->rows; i++) {
        const int64_t pix = it->pix0 + i, n = pix / pq;
        const int64_t h0 = pix % pq / job->out_w * p->stride_h - p->pad_top;
        const int64_t w0 = pix % job->out_w * p->stride_w - p->pad_left;
        for (int64_t r = 0; r < p->r; r++) {
            const int64_t ih = h0 + r * p->dilation_h;
            if (ih < it->h0 || ih >= it->h1) continue;
            for (int64_t s = 0; s < p->s; s++) {
                const int64_t iw = w0 + s * p->dilation_w;
                if (iw < 0 || iw >= p->w) continue;
                job->vadd((size_t)cg, blk->c + i * blk->ldc + (r * p->s + s) * cg,
                          job->gx + ((n * p->h + ih) * p->w + iw) * p->c + it->grp * cg);
            }
        }
    }
}

/* grad_input of (image, group, band): the band's part zeroed, then per block of the output
 * rows that reach it, dcol = G * W' (the frame) added back by col2im. */
static void FC_FN(bw_nhwc_gi_item)(const FC_FN(bw_nhwc_job) *job, int64_t item, FC_REAL *scratch)
{
    const fc_conv2d_params *p = job->p;
    const int64_t mr = job->cfg.mr, nr = job->cfg.nr, cg = job->cg;
    const int64_t band = item % job->gi_bands, grp = item / job->gi_bands % p->groups;
    const int64_t n = item / (job->gi_bands * p->groups);
    FC_FN(bw_nhwc_ctx) it = {job, grp};
    fc_task_range(p->h, job->gi_bands, band, &it.h0, &it.h1);
    for (int64_t ih = it.h0; ih < it.h1; ih++)
        for (int64_t iw = 0; iw < p->w; iw++)
            memset(job->gx + ((n * p->h + ih) * p->w + iw) * p->c + grp * cg, 0,
                   (size_t)cg * sizeof(FC_REAL));
    /* output rows oh with oh * sh - pt + r * dh in [h0, h1) for some r */
    const int64_t oh_lo = fc_max_i64(
        0, -fc_floor_div(-(it.h0 + p->pad_top - (p->r - 1) * p->dilation_h), p->stride_h));
    const int64_t oh_hi = fc_min_i64(job->out_h,
                                     fc_floor_div(it.h1 - 1 + p->pad_top, p->stride_h) + 1);
    if (oh_lo >= oh_hi) return;
    const int64_t ldc = job->gi_tiles * nr, block = job->gi_panels * mr;
    FC_REAL *dcol = scratch, *edge = dcol + block * ldc;
    it.a_buf = edge + mr * nr;
    FC_FN(gemm_block) blk = {&job->cfg, job->kg, job->gi_kc};
    blk.a_panels = FC_FN(bw_nhwc_gi_a);
    blk.b_panel = FC_FN(bw_nhwc_gi_b);
    blk.c = dcol;
    blk.ldc = ldc;
    blk.c_padded = 1;
    blk.edge = edge;
    blk.store = FC_FN(bw_nhwc_gi_store);
    blk.ctx = &it;
    blk.cols = job->red;
    const int64_t end = (n * job->out_h + oh_hi) * job->out_w;
    for (it.pix0 = (n * job->out_h + oh_lo) * job->out_w; it.pix0 < end; it.pix0 += block) {
        blk.rows = fc_min_i64(block, end - it.pix0);
        blk.m_panels = fc_ceil_div(blk.rows, mr);
        FC_FN(gemm_run_block)(&blk);
    }
}

/* ---- grad_weight --------------------------------------------------------------------------- */

/* A: grad_output at pixels [k0, k0 + kc), the item's filters, as kc x MR panels (each pixel's
 * MR filters are contiguous: copies). */
static const FC_REAL *FC_FN(bw_nhwc_gw_a)(FC_FN(gemm_block) *blk, int64_t k0, int64_t kc,
                                          int64_t *a_step)
{
    const FC_FN(bw_nhwc_ctx) *it = blk->ctx;
    const FC_FN(bw_nhwc_job) *job = it->job;
    const int64_t mr = job->cfg.mr;
    FC_FN(gemm_pack_panels)(job->g + k0 * job->p->k + it->grp * job->kg + it->f0, 1, job->p->k,
                            blk->rows, kc, mr, it->a_buf);
    *a_step = kc * mr;
    return it->a_buf;
}

/* B: the im2col rows of pixels [k0, k0 + kc), the item's columns, as kc x NR panels: per
 * pixel its columns' runs of channels (one per tap), cut where a panel ends. */
static void FC_FN(bw_nhwc_gw_b)(FC_FN(gemm_block) *blk, int64_t k0, int64_t kc)
{
    const FC_FN(bw_nhwc_ctx) *it = blk->ctx;
    const FC_FN(bw_nhwc_job) *job = it->job;
    const int64_t nr = job->cfg.nr, cg = job->cg, cols = blk->cols;
    const int64_t tail = fc_ceil_div(cols, nr) * nr - cols; /* zero columns of the last panel */
    for (int64_t pp = 0; pp < kc; pp++) {
        for (int64_t q = 0; q < cols;) {
            const int64_t j = it->col0 + q, c = j % cg;
            const int64_t run = fc_min_i64(fc_min_i64(cg - c, cols - q), nr - q % nr);
            FC_FN(put_run)(it->b_buf + ((q / nr) * kc + pp) * nr + q % nr,
                           FC_FN(bw_nhwc_tap)(job, k0 + pp, it->grp, j / cg) + c, 1, run);
            q += run;
        }
        if (tail)
            FC_FN(put_run)(it->b_buf + ((cols / nr) * kc + pp) * nr + cols % nr, NULL, 0, tail);
    }
    blk->b = it->b_buf;
    blk->b_step = kc * nr;
}

/* The finished block to grad_weight, its tap-major columns in the weights' (c, r, s) order. */
static void FC_FN(bw_nhwc_gw_store)(FC_FN(gemm_block) *blk)
{
    const FC_FN(bw_nhwc_ctx) *it = blk->ctx;
    const FC_FN(bw_nhwc_job) *job = it->job;
    const int64_t cg = job->cg, taps = job->taps;
    for (int64_t i = 0; i < blk->rows; i++) {
        FC_REAL *dst = job->gw + (it->grp * job->kg + it->f0 + i) * job->red;
        int64_t tap = it->col0 / cg, c = it->col0 % cg;
        for (int64_t q = 0; q < blk->cols; q++) {
            dst[c * taps + tap] = blk->c[i * blk->ldc + q];
            if (++c == cg) c = 0, tap++;
        }
    }
}

/* grad_weight of (group, block of filters, block of columns) over the whole batch. */
static void FC_FN(bw_nhwc_gw_item)(const FC_FN(bw_nhwc_job) *job, int64_t item, FC_REAL *scratch)
{
    const int64_t mr = job->cfg.mr, nr = job->cfg.nr;
    const int64_t cb = item % job->gw_col_blocks, rb = item / job->gw_col_blocks % job->gw_row_blocks;
    FC_FN(bw_nhwc_ctx) it = {job, item / (job->gw_col_blocks * job->gw_row_blocks)};
    it.f0 = rb * job->gw_rows;
    it.col0 = cb * job->gw_cols;
    FC_FN(gemm_block) blk = {&job->cfg, job->pixels, job->gw_kc};
    blk.rows = fc_min_i64(job->gw_rows, job->kg - it.f0);
    blk.cols = fc_min_i64(job->gw_cols, job->red - it.col0);
    blk.m_panels = fc_ceil_div(blk.rows, mr);
    const int64_t ldc = fc_ceil_div(blk.cols, nr) * nr;
    blk.c = scratch;
    blk.ldc = ldc;
    blk.c_padded = 1;
    blk.edge = scratch + blk.m_panels * mr * ldc;
    it.a_buf = blk.edge + mr * nr;
    it.b_buf = it.a_buf + blk.m_panels * mr * job->gw_kc;
    blk.a_panels = FC_FN(bw_nhwc_gw_a);
    blk.b_pack = FC_FN(bw_nhwc_gw_b);
    blk.store = FC_FN(bw_nhwc_gw_store);
    blk.ctx = &it;
    FC_FN(gemm_run_block)(&blk);
}

/* grad_bias[k] for k in [k_begin, k_end): the batch's pixels ascending, vectors along k */
static void FC_FN(bw_nhwc_grad_bias)(const FC_FN(bw_nhwc_job) *job, int64_t k_begin,
                                     int64_t k_end)
{
    const int64_t k = job->p->k;
    FC_REAL *gb = job->gb;
    for (int64_t i = k_begin; i < k_end; i++) gb[i] = 0;
    for (int64_t pix = 0; pix < job->pixels; pix++) {
        const FC_REAL *row = job->g + pix * k;
        for (int64_t i = k_begin; i < k_end; i++) gb[i] += row[i];
    }
}

/* Phase 0 packs W' in ranges; phase 1 runs the grad_input items, the grad_weight items, then
 * grad_bias in ranges of filters. */
static void FC_FN(bw_nhwc_task)(void *ctx, int64_t phase, int64_t task, int t)
{
    const FC_FN(bw_nhwc_job) *job = ctx;
    FC_REAL *scratch = job->scratch + t * job->per_thread;
    int64_t begin, end;
    if (phase == 0) {
        fc_task_range(job->p->groups * job->gi_tiles, job->pack_tasks, task, &begin, &end);
        FC_FN(bw_nhwc_pack_wt)(job, begin, end);
    } else if (task < job->gi_items) {
        FC_FN(bw_nhwc_gi_item)(job, task, scratch);
    } else if ((task -= job->gi_items) < job->gw_items) {
        FC_FN(bw_nhwc_gw_item)(job, task, scratch);
    } else {
        fc_task_range(job->p->k, job->gb_tasks, task - job->gw_items, &begin, &end);
        FC_FN(bw_nhwc_grad_bias)(job, begin, end);
    }
}

/* Elements of scratch per thread: grad_input's dcol block, edge tile and A; grad_weight's C
 * block, edge tile, A and B. */
static int64_t FC_FN(bw_nhwc_scratch)(const FC_FN(bw_nhwc_job) *job, int gx, int gw)
{
    const int64_t mr = job->cfg.mr, nr = job->cfg.nr;
    const int64_t gi = fc_gemm_add_saturating(
        fc_mul_saturating(job->gi_panels * mr, job->gi_tiles * nr + job->gi_kc), mr * nr);
    const int64_t rows = fc_ceil_div(job->gw_rows, mr) * mr;
    const int64_t cols = fc_ceil_div(job->gw_cols, nr) * nr;
    const int64_t gwn = fc_gemm_add_saturating(
        fc_mul_saturating(rows + job->gw_kc, cols) + mr * nr,
        fc_mul_saturating(rows, job->gw_kc));
    return fc_max_i64(gx ? gi : 0, gw ? gwn : 0);
}

/* The team, the blocking and the workspace of one call; *min_bytes the least
 * max_workspace_bytes that would do. */
static fc_status FC_FN(bw_nhwc_setup)(const fc_conv2d_params *p, int64_t out_h, int64_t out_w,
                                      int gx, int gw, int gb, FC_FN(bw_nhwc_job) *job,
                                      int *threads, int64_t *min_bytes)
{
    const FC_FN(gemm_config) cfg = fc_kernels()->FC_MEMBER(gemm);
    const int64_t mr = cfg.mr, nr = cfg.nr, size = (int64_t)sizeof(FC_REAL);
    job->p = p;
    job->out_h = out_h;
    job->out_w = out_w;
    job->cfg = cfg;
    job->cg = p->c / p->groups;
    job->kg = p->k / p->groups;
    job->taps = p->r * p->s;
    job->red = job->cg * job->taps;
    job->pixels = p->n * out_h * out_w;
    job->gi_tiles = fc_ceil_div(job->red, nr);
    job->gi_kc = fc_min_i64(cfg.kc, job->kg);
    const int64_t macs = fc_mul_saturating(fc_mul_saturating(job->pixels, p->k), job->red);
    const int want = fc_region_threads(fc_mul_saturating(macs, (gx != 0) + (gw != 0)) +
                                       (gb ? job->pixels * p->k : 0));
    /* grad_input: bands of input rows when the (image, group) items are fewer than 2 per
     * thread (a batch of one image); a band recomputes the output rows it shares with the
     * next, so no more than needed, and none thinner than twice the filter's extent (4 bands
     * of ResNet's 14 x 14 layer recomputed 1.6x the rows) */
    const int64_t images = p->n * p->groups;
    const int64_t extent = (p->r - 1) * p->dilation_h + 1;
    job->gi_bands = want > 1 && images < 2 * want
                        ? fc_max_i64(1, fc_min_i64(p->h / (2 * extent),
                                                   fc_ceil_div(2 * want, images)))
                        : 1;
    job->gi_items = gx ? images * job->gi_bands : 0;
    /* grad_weight: up to 16 panels of filters (A of 16 x MR x kc beside the C block in L2)
     * and 256 columns per item, more column blocks (then row blocks) until every thread has
     * some 2 items; a split never changes a sum, only who computes it */
    job->gw_kc = fc_min_i64(cfg.kc, fc_max_i64(job->pixels, 1));
    job->gw_rows = fc_min_i64(job->kg, 16 * mr);
    job->gw_cols = fc_min_i64(fc_ceil_div(job->red, nr) * nr, fc_ceil_div(256, nr) * nr);
    const int64_t target = want > 1 ? 2 * want : 1;
    while (gw && job->gw_cols > nr &&
           p->groups * fc_ceil_div(job->kg, job->gw_rows) * fc_ceil_div(job->red, job->gw_cols) <
               target)
        job->gw_cols = fc_max_i64(nr, job->gw_cols / 2 / nr * nr);
    /* grad_input's blocks of pixels: A (their kc x MR panels) within ~192 KiB of L2, which
     * every NR-wide sub-panel of W' meets; W' is streamed once per block, so the blocks are
     * as large as that allows (blocks of 24 pixels streamed ResNet 256x14x14's 2.4 MB of W'
     * 14 times: 6x slower than NCHW), up to 32 panels and no more than a band's pixels */
    const int64_t band_pixels = (fc_ceil_div(out_h, job->gi_bands) + extent) * out_w;
    job->gi_panels = fc_max_i64(
        1, fc_min_i64(fc_min_i64(32, fc_ceil_div(band_pixels, mr)),
                      ((int64_t)192 << 10) / (size * job->gi_kc * mr)));
    const int64_t packed = gx ? fc_mul_saturating(p->groups * job->gi_tiles * nr, job->kg) : 0;
    job->gw_row_blocks = fc_ceil_div(job->kg, job->gw_rows);
    job->gw_col_blocks = fc_ceil_div(job->red, job->gw_cols);
    job->gw_items = gw ? p->groups * job->gw_row_blocks * job->gw_col_blocks : 0;
    job->gb_tasks = gb ? fc_min_i64(p->k, fc_max_i64(1, 2 * want)) : 0;
    *threads = (int)fc_max_i64(
        1, fc_min_i64(want, job->gi_items + job->gw_items + job->gb_tasks));
    /* the least: one MR panel of pixels and of filters, NR columns, 16 deep */
    const int64_t limit = fc_gemm_workspace_limit(p->max_workspace_bytes);
    FC_FN(bw_nhwc_job) small = *job;
    small.gi_panels = 1;
    small.gw_cols = fc_min_i64(job->gw_cols, nr);
    small.gw_rows = fc_min_i64(job->gw_rows, mr);
    small.gw_kc = fc_min_i64(job->gw_kc, 16);
    small.gi_kc = fc_min_i64(job->gi_kc, 16);
    const int64_t least = fc_gemm_add_saturating(
        packed, fc_mul_saturating(*threads, FC_FN(bw_nhwc_scratch)(&small, gx, gw)));
    *min_bytes = fc_ceil_div(fc_mul_saturating(least, size), *threads);
    const int64_t budget = fc_mul_saturating(*threads, limit) / size;
    if (least > budget) return FC_ERR_WORKSPACE_TOO_SMALL;
    /* shrink to fit: grad_input's pixels, then grad_weight's columns, filters, pixels (kc
     * blocks only cut where the accumulators are stored: exact) */
    while (fc_gemm_add_saturating(
               packed, fc_mul_saturating(*threads, FC_FN(bw_nhwc_scratch)(job, gx, gw))) >
           budget) {
        if (gx && job->gi_panels > 1) job->gi_panels /= 2;
        else if (gw && job->gw_cols > nr) job->gw_cols = fc_max_i64(nr, job->gw_cols / 2 / nr * nr);
        else if (gw && job->gw_rows > mr) job->gw_rows = fc_max_i64(mr, job->gw_rows / 2 / mr * mr);
        else if (gw && job->gw_kc > 16) job->gw_kc /= 2;
        else job->gi_kc /= 2;
    }
    job->gw_row_blocks = fc_ceil_div(job->kg, job->gw_rows);
    job->gw_col_blocks = fc_ceil_div(job->red, job->gw_cols);
    job->gw_items = gw ? p->groups * job->gw_row_blocks * job->gw_col_blocks : 0;
    job->per_thread = FC_FN(bw_nhwc_scratch)(job, gx, gw);
    return FC_OK;
}

static fc_status FC_FN(conv2d_backward_nhwc)(const fc_conv2d_params *p, int64_t out_h,
                                             int64_t out_w, const FC_REAL *g, const FC_REAL *x,
                                             const FC_REAL *weight, FC_REAL *gx, FC_REAL *gw,
                                             FC_REAL *gb)
{
    FC_FN(bw_nhwc_job) job = {p};
    int threads;
    int64_t min_bytes;
    FC_RETURN_IF_ERROR(FC_FN(bw_nhwc_setup)(p, out_h, out_w, gx != NULL, gw != NULL, gb != NULL,
                                            &job, &threads, &min_bytes));
    job.g = g;
    job.x = x;
    job.weight = weight;
    job.gx = gx;
    job.gw = gw;
    job.gb = gb;
    job.vadd = fc_kernels()->FC_MEMBER(vadd);
    /* one shared allocation: W' (grad_input's panels), then Cg zeros (the padding's taps) */
    const int64_t panels = gx ? p->groups * job.gi_tiles : 0;
    const int64_t shared = fc_mul_saturating(panels * job.kg, job.cfg.nr);
    FC_RETURN_IF_ERROR(FC_FN(alloc_workspace)(1, shared + job.cg, 1, threads, job.per_thread,
                                              &job.packed_wt, &job.scratch));
    memset(job.packed_wt + shared, 0, (size_t)job.cg * sizeof(FC_REAL));
    job.zeros = job.packed_wt + shared;
    job.pack_tasks = fc_min_i64(panels, threads == 1 ? 1 : 2 * threads);
    const int64_t tasks[2] = {job.pack_tasks, job.gi_items + job.gw_items + job.gb_tasks};
    const fc_parallel_job parallel = {FC_FN(bw_nhwc_task), &job, 2, tasks};
    fc_parallel_run(threads, &parallel);
    fc_aligned_free(job.packed_wt);
    fc_aligned_free(job.scratch);
    return FC_OK;
}

/* ---- depthwise (groups == C == K) -------------------------------------------------------------
 * grad_input, gathered: per input pixel, its channels are one call of the forward's
 * dwconv_nhwc kernel over the R * S taps in (r, s) order, tap (r, s) reading the grad_output
 * pixel whose window put that tap on this pixel (a run of zeros when none does), with the
 * weights as taps x C: each element is +0 then one product per tap, taps ascending.  (A tap
 * with no pixel adds 0 * w: exact for finite weights; with an infinite or NaN weight the
 * GEMM above takes grad_input, adding real terms only.)
 * grad_weight: per range of channels, every pixel of the batch in order, one multiply-add per
 * tap and channel (the dwconv_nhwc member's fn2: vectors along the channels, a run of an
 * output row's pixels with the accumulators in registers), taps in the padding skipped.
 * Both orders are fixed by the shape: bitwise the same for any thread count. */
typedef struct FC_FN(bw_dw_nhwc_job) {
    const fc_conv2d_params *p;
    int64_t out_h, out_w, gx_tasks, gw_tasks, gb_tasks;
    const FC_REAL *g, *x, *wt, *zeros;
    FC_REAL *gx, *gw, *gb;
    FC_FN(bw_nhwc_job) bias; /* grad_bias's view (bw_nhwc_grad_bias) */
} FC_FN(bw_dw_nhwc_job);

#ifndef FC_DW_NHWC_SOURCE_ONCE
#define FC_DW_NHWC_SOURCE_ONCE
/* the output row (or column) whose window puts tap offset `off` on input row (column) i:
 * -1 when none does (a stride that skips it, or outside the output) */
static inline int64_t fc_dw_nhwc_source(int64_t i, int64_t off, int64_t stride, int64_t out)
{
    const int64_t a = i - off;
    if (a < 0 || (stride > 1 && a % stride)) return -1;
    const int64_t o = stride > 1 ? a / stride : a;
    return o < out ? o : -1;
}
#endif

static void FC_FN(bw_dw_nhwc_gx)(const FC_FN(bw_dw_nhwc_job) *job, int64_t begin, int64_t end)
{
    const fc_conv2d_params *p = job->p;
    const FC_FN(dwconv_nhwc_ukernel_fn) kernel = fc_kernels()->FC_MEMBER(dwconv_nhwc);
    const int64_t c = p->c, hw = p->h * p->w;
    const FC_REAL *ptrs[FC_DW_NHWC_STACK_TAPS];
    const size_t steps[FC_DW_NHWC_STACK_TAPS] = {0}; /* one pixel per call */
    int64_t oh[FC_DW_NHWC_STACK_TAPS], ow[FC_DW_NHWC_STACK_TAPS];
    for (int64_t pix = begin; pix < end; pix++) {
        const int64_t n = pix / hw, ih = pix % hw / p->w, iw = pix % p->w;
        if (pix == begin || iw == 0) /* the rows' sources change with the input row only */
            for (int64_t r = 0; r < p->r; r++)
                oh[r] = fc_dw_nhwc_source(ih, r * p->dilation_h - p->pad_top, p->stride_h,
                                          job->out_h);
        for (int64_t s = 0; s < p->s; s++)
            ow[s] = fc_dw_nhwc_source(iw, s * p->dilation_w - p->pad_left, p->stride_w,
                                      job->out_w);
        for (int64_t r = 0; r < p->r; r++)
            for (int64_t s = 0; s < p->s; s++)
                ptrs[r * p->s + s] =
                    oh[r] >= 0 && ow[s] >= 0
                        ? job->g + ((n * job->out_h + oh[r]) * job->out_w + ow[s]) * c
                        : job->zeros;
        kernel((size_t)c, 1, 1, (size_t)(p->r * p->s), ptrs, steps, job->wt, (size_t)c, NULL,
               job->gx + pix * c, (size_t)c, (size_t)c);
    }
}

/* the channels of one grad_weight task at most: its sums, taps x channels, on the stack */
#define FC_DW_NHWC_GW_CHANNELS 64

static void FC_FN(bw_dw_nhwc_gw)(const FC_FN(bw_dw_nhwc_job) *job, int64_t c0, int64_t c1)
{
    const fc_conv2d_params *p = job->p;
    const FC_FN(dwconv_nhwc_gw_ukernel_fn) kernel = fc_kernels()->FC_MEMBER(dwconv_nhwc_gw);
    const int64_t c = p->c, taps = p->r * p->s, w = c1 - c0, out_w = job->out_w;
    /* tap-major, so that the channels' multiply-adds are vectors (grad_weight's (c, r, s)
     * order would put them taps apart) */
    FC_REAL acc[FC_DW_NHWC_STACK_TAPS * FC_DW_NHWC_GW_CHANNELS];
    for (int64_t i = 0; i < taps * w; i++) acc[i] = 0;
    /* the output columns [q0, q1) whose taps are all inside the image's columns: one run per
     * output row; the columns outside it one by one with their inside taps only */
    int64_t q0 = 0, q1 = out_w;
    while (q0 < out_w && q0 * p->stride_w - p->pad_left < 0) q0++;
    while (q1 > q0 &&
           (q1 - 1) * p->stride_w - p->pad_left + (p->s - 1) * p->dilation_w >= p->w)
        q1--;
    const FC_REAL *xp[FC_DW_NHWC_STACK_TAPS];
    FC_REAL *ap[FC_DW_NHWC_STACK_TAPS];
    for (int64_t n = 0; n < p->n; n++)
        for (int64_t oh = 0; oh < job->out_h; oh++) {
            const FC_REAL *g_row = job->g + (n * job->out_h + oh) * out_w * c + c0;
            /* ow in [q0, q1) runs from column q0 in one call, else alone (ascending) */
            for (int64_t ow = 0; ow < out_w; ow = ow == q0 && q0 < q1 ? q1 : ow + 1) {
                const int64_t pixels = ow == q0 && q0 < q1 ? q1 - q0 : 1;
                size_t nt = 0;
                for (int64_t r = 0; r < p->r; r++) {
                    const int64_t ih = oh * p->stride_h - p->pad_top + r * p->dilation_h;
                    if (ih < 0 || ih >= p->h) continue;
                    for (int64_t s = 0; s < p->s; s++) {
                        const int64_t iw = ow * p->stride_w - p->pad_left + s * p->dilation_w;
                        if (iw < 0 || iw >= p->w) continue;
                        xp[nt] = job->x + ((n * p->h + ih) * p->w + iw) * c + c0;
                        ap[nt++] = acc + (r * p->s + s) * w;
                    }
                }
                kernel((size_t)w, (size_t)pixels, nt, xp, (size_t)(p->stride_w * c),
                       g_row + ow * c, (size_t)c, ap);
            }
        }
    for (int64_t ch = 0; ch < w; ch++)
        for (int64_t t = 0; t < taps; t++) job->gw[(c0 + ch) * taps + t] = acc[t * w + ch];
}

static void FC_FN(bw_dw_nhwc_task)(void *ctx, int64_t phase, int64_t task, int t)
{
    (void)phase, (void)t;
    const FC_FN(bw_dw_nhwc_job) *job = ctx;
    const fc_conv2d_params *p = job->p;
    int64_t begin, end;
    if (task < job->gx_tasks) {
        fc_task_range(p->n * p->h * p->w, job->gx_tasks, task, &begin, &end);
        FC_FN(bw_dw_nhwc_gx)(job, begin, end);
    } else if ((task -= job->gx_tasks) < job->gw_tasks) {
        fc_task_range(p->c, job->gw_tasks, task, &begin, &end);
        FC_FN(bw_dw_nhwc_gw)(job, begin, end);
    } else {
        fc_task_range(p->k, job->gb_tasks, task - job->gw_tasks, &begin, &end);
        FC_FN(bw_nhwc_grad_bias)(&job->bias, begin, end);
    }
}

/* The depthwise pass for the gradients asked (gx NULL: the GEMM takes it, or nobody). */
static fc_status FC_FN(conv2d_backward_dw_nhwc)(const fc_conv2d_params *p, int64_t out_h,
                                                int64_t out_w, const FC_REAL *g,
                                                const FC_REAL *x, const FC_REAL *weight,
                                                FC_REAL *gx, FC_REAL *gw, FC_REAL *gb)
{
    const int64_t c = p->c, taps = p->r * p->s, pixels = p->n * out_h * out_w;
    FC_REAL *wt;
    FC_RETURN_IF_ERROR(FC_FN(dw_nhwc_weights)(p, weight, &wt));
    const FC_REAL *zeros = wt + taps * c;
    const int64_t work = fc_mul_saturating(fc_mul_saturating(pixels, c), taps);
    const int threads = fc_region_threads(fc_mul_saturating(work, (gx != NULL) + (gw != NULL)));
    FC_FN(bw_dw_nhwc_job) job = {p, out_h, out_w};
    job.g = g;
    job.x = x;
    job.wt = wt;
    job.zeros = zeros;
    job.gx = gx;
    job.gw = gw;
    job.gb = gb;
    job.bias.p = p;
    job.bias.pixels = pixels;
    job.bias.g = g;
    job.bias.gb = gb;
    /* grad_input: ranges of input pixels; grad_weight: ranges of at least 16 channels (each
     * streams the batch's rows for its channels), about 2 per thread */
    const int64_t in_pixels = p->n * p->h * p->w;
    job.gx_tasks = !gx ? 0 : threads == 1 ? 1
                                : fc_task_count(in_pixels, c * taps, FC_MIN_WORK_PER_THREAD / 2);
    job.gw_tasks = !gw ? 0 : fc_max_i64(fc_ceil_div(c, FC_DW_NHWC_GW_CHANNELS),
                                        fc_min_i64(2 * threads, c / 16));
    job.gb_tasks = gb ? fc_min_i64(p->k, fc_max_i64(1, 2 * threads)) : 0;
    fc_parallel_for(threads, job.gx_tasks + job.gw_tasks + job.gb_tasks,
                    FC_FN(bw_dw_nhwc_task), &job);
    fc_aligned_free(wt);
    return FC_OK;
}

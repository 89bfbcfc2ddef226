/* conv2d on channels-last data (fc_conv2d_forward_nhwc): x (N, H, W, C), y (N, P, Q, K), the
 * weights (K, C / groups, R, S) as in NCHW.  Instantiated by conv2d.c after the GEMM frame.
 *
 * In NHWC the output is the transposed GEMM of the NCHW drivers: per group g,
 *   Y_g[NPQ x Kg] = col_g[NPQ x red] * W_g^T[red x Kg],  red = Cg * R * S,
 * whose rows are all the output pixels of the batch (y is (N * P * Q) x K, so a group's block
 * of C is y + g * Kg with ldc = K: the microkernel stores straight into y).  A = the im2col
 * rows of MR pixels, packed by each item (a tap of a pixel is Cg contiguous values of x);
 * B = the weights as NR-filter panels (the NCHW drivers' weight panels, with NR rows: shared,
 * packed once per call).  The reduction runs in the NCHW order, bias then (c, r, s)
 * ascending, and the bias is written into C first (the frame's "accumulate": the block then
 * starts from it), so every element is the same fused sum as the NCHW GEMM drivers compute:
 * bitwise equal to conv2d's im2col/pointwise result, transposed.
 *
 * Work item: (group, block of m_panels x MR output pixels), over the whole reduction; each
 * output element is one item's.  Workspace: the packed weights (shared) and per thread the
 * item's A (m_panels x red x MR) and one MR x NR edge tile; m_panels shrinks to fit
 * threads x max_workspace_bytes, FC_ERR_WORKSPACE_TOO_SMALL when even one panel does not. */

typedef struct FC_FN(nhwc_job) {
    const fc_conv2d_params *p;
    int64_t out_h, out_w, pixels; /* pixels: N * P * Q, the GEMM's rows */
    const FC_REAL *x, *weight;
    FC_REAL *y;
    const fc_epi *epi;
    FC_FN(gemm_config) cfg;
    int64_t cg, kg, red, n_tiles, m_panels, blocks, per_thread, pack_tasks;
    FC_REAL *packed_w, *scratch;
} FC_FN(nhwc_job);

typedef struct FC_FN(nhwc_item_ctx) {
    const FC_FN(nhwc_job) *job;
    const FC_REAL *a; /* the item's packed A, all of the reduction */
    int64_t g;
} FC_FN(nhwc_item_ctx);

/* The item's A: rows [pix0, pix0 + count) of col_g as MR-pixel panels of red x MR, zero past
 * the last pixel and for taps in the padding.  Element (c, r, s) of pixel i goes to
 * a[((c * R + r) * S + s) * MR + i]: one tap of one pixel is a run of Cg values of x, written
 * with the stride R * S * MR. */
static void FC_FN(nhwc_pack_a)(const FC_FN(nhwc_job) *job, int64_t g, int64_t pix0,
                               int64_t count, FC_REAL *a)
{
    const fc_conv2d_params *p = job->p;
    const int64_t mr = job->cfg.mr, cg = job->cg, taps = p->r * p->s, step = taps * mr;
    const int64_t panels = fc_ceil_div(count, mr);
    memset(a, 0, (size_t)(panels * job->red * mr) * sizeof(FC_REAL));
    const int64_t pq = job->out_h * job->out_w;
    for (int64_t i = 0; i < count; i++) {
        const int64_t pix = pix0 + i, n = pix / pq, oh = pix % pq / job->out_w,
                      ow = pix % job->out_w;
        FC_REAL *panel = a + (i / mr) * job->red * mr + i % mr;
        int64_t r0, r1, s0, s1;
        const int64_t h0 = oh * p->stride_h - p->pad_top, w0 = ow * p->stride_w - p->pad_left;
        fc_valid_range(h0, p->dilation_h, p->h, p->r, &r0, &r1);
        fc_valid_range(w0, p->dilation_w, p->w, p->s, &s0, &s1);
        for (int64_t r = r0; r < r1; r++)
            for (int64_t s = s0; s < s1; s++) {
                const FC_REAL *src =
                    job->x + ((n * p->h + h0 + r * p->dilation_h) * p->w + w0 +
                              s * p->dilation_w) * p->c + g * cg;
                FC_REAL *dst = panel + (r * p->s + s) * mr;
                for (int64_t c = 0; c < cg; c++) dst[c * step] = src[c];
            }
    }
}

static const FC_REAL *FC_FN(nhwc_item_a)(FC_FN(gemm_block) *blk, int64_t k0, int64_t kc,
                                         int64_t *a_step)
{
    const FC_FN(nhwc_item_ctx) *it = blk->ctx;
    (void)kc;
    *a_step = it->job->red * it->job->cfg.mr;
    return it->a + k0 * it->job->cfg.mr;
}

/* B: the group's weight panel of filters [j0, j0 + NR), rows [k0, k0 + kc). */
static const FC_REAL *FC_FN(nhwc_item_b)(FC_FN(gemm_block) *blk, int64_t k0, int64_t kc,
                                         int64_t j0, const ptrdiff_t **rows)
{
    const FC_FN(nhwc_item_ctx) *it = blk->ctx;
    const FC_FN(nhwc_job) *job = it->job;
    const int64_t nr = job->cfg.nr;
    (void)kc;
    *rows = NULL;
    return job->packed_w + ((it->g * job->n_tiles + j0 / nr) * job->red + k0) * nr;
}

static void FC_FN(nhwc_item)(const FC_FN(nhwc_job) *job, int64_t item, int t)
{
    const fc_conv2d_params *p = job->p;
    const int64_t mr = job->cfg.mr, nr = job->cfg.nr;
    const int64_t g = item / job->blocks, b = item % job->blocks;
    const int64_t pix0 = b * job->m_panels * mr;
    const int64_t rows = fc_min_i64(job->m_panels * mr, job->pixels - pix0);
    FC_REAL *a = job->scratch + t * job->per_thread;
    FC_REAL *edge = a + job->m_panels * job->red * mr;
    FC_FN(nhwc_pack_a)(job, g, pix0, rows, a);
    FC_REAL *c = job->y + pix0 * p->k + g * job->kg;
    const FC_REAL *bias = job->epi->bias;
    if (bias) /* where each sum starts (accumulate) */
        for (int64_t i = 0; i < rows; i++)
            memcpy(c + i * p->k, bias + g * job->kg, (size_t)job->kg * sizeof(FC_REAL));
    FC_FN(nhwc_item_ctx) it = {job, a, g};
    FC_FN(gemm_block) blk = {&job->cfg, job->red, fc_min_i64(job->cfg.kc, job->red),
                             fc_ceil_div(rows, mr), rows, job->kg};
    blk.a_panels = FC_FN(nhwc_item_a);
    blk.b_panel = FC_FN(nhwc_item_b);
    blk.c = c;
    blk.ldc = p->k;
    blk.edge = edge;
    blk.epilogue.accumulate = bias != NULL;
    blk.epilogue.fused = job->epi->fused;
    blk.epilogue.post = job->epi->post ? job->epi : NULL;
    blk.ctx = &it;
    (void)nr;
    FC_FN(gemm_run_block)(&blk);
}

static void FC_FN(nhwc_task)(void *ctx, int64_t phase, int64_t task, int thread)
{
    const FC_FN(nhwc_job) *job = ctx;
    if (phase == 0) {
        const int64_t panels = job->p->groups * job->n_tiles;
        int64_t begin, end;
        fc_task_range(panels, job->pack_tasks, task, &begin, &end);
        FC_FN(pack_weight_panels)(job->p, job->weight, job->cfg.nr, 0, begin, end,
                                  job->packed_w);
    } else {
        FC_FN(nhwc_item)(job, task, thread);
    }
}

/* The team, m_panels and the workspace of conv2d_nhwc; *min_bytes the least
 * max_workspace_bytes that would do. */
static fc_status FC_FN(nhwc_setup)(const fc_conv2d_params *p, int64_t out_h, int64_t out_w,
                                   FC_FN(nhwc_job) *job, int *threads, int64_t *min_bytes)
{
    const FC_FN(gemm_config) cfg = fc_kernels()->FC_MEMBER(gemm);
    const int64_t mr = cfg.mr, nr = cfg.nr, size = (int64_t)sizeof(FC_REAL);
    job->cfg = cfg;
    job->cg = p->c / p->groups;
    job->kg = p->k / p->groups;
    job->red = job->cg * p->r * p->s;
    job->pixels = p->n * out_h * out_w;
    job->n_tiles = fc_ceil_div(job->kg, nr);
    const int64_t panels_total = fc_ceil_div(job->pixels, mr);
    const int64_t macs = fc_mul_saturating(
        fc_mul_saturating(panels_total * mr, job->n_tiles * nr * p->groups), job->red);
    *threads = (int)fc_min_i64(fc_region_threads(macs), panels_total * p->groups);
    const int64_t packed = fc_mul_saturating(p->groups * job->n_tiles * nr, job->red);
    const int64_t one = fc_gemm_add_saturating(fc_mul_saturating(job->red, mr), mr * nr);
    *min_bytes = fc_ceil_div(
        fc_mul_saturating(fc_gemm_add_saturating(packed, fc_mul_saturating(*threads, one)),
                          size),
        *threads);
    const int64_t budget =
        fc_mul_saturating(*threads, fc_gemm_workspace_limit(p->max_workspace_bytes)) / size;
    if (fc_gemm_add_saturating(packed, fc_mul_saturating(*threads, one)) > budget)
        return FC_ERR_WORKSPACE_TOO_SMALL;
    /* A of one item within ~192 KiB (a share of the 1 MiB L2 beside B's sub-panel), and
     * some 4 items per thread so that a late thread leaves little behind */
    int64_t m_panels = fc_max_i64(1, ((int64_t)192 << 10) / (size * job->red * mr));
    m_panels = fc_min_i64(m_panels, fc_max_i64(1, panels_total * p->groups / (4 * *threads)));
    m_panels = fc_min_i64(m_panels, panels_total);
    while (m_panels > 1 &&
           fc_gemm_add_saturating(
               packed, fc_mul_saturating(*threads, m_panels * job->red * mr + mr * nr)) > budget)
        m_panels /= 2;
    job->m_panels = m_panels;
    job->blocks = fc_ceil_div(panels_total, m_panels);
    job->per_thread = m_panels * job->red * mr + mr * nr;
    return FC_OK;
}

static fc_status FC_FN(conv2d_nhwc)(const fc_conv2d_params *p, int64_t out_h, int64_t out_w,
                                    const FC_REAL *x, const FC_REAL *weight, const fc_epi *epi,
                                    FC_REAL *y)
{
    FC_FN(nhwc_job) job = {p, out_h, out_w, 0, x, weight, y, epi};
    int threads;
    int64_t min_bytes;
    FC_RETURN_IF_ERROR(FC_FN(nhwc_setup)(p, out_h, out_w, &job, &threads, &min_bytes));
    const int64_t panels = p->groups * job.n_tiles;
    FC_RETURN_IF_ERROR(FC_FN(alloc_workspace)(panels, job.red, job.cfg.nr, threads,
                                              job.per_thread, &job.packed_w, &job.scratch));
    job.pack_tasks = threads == 1 ? 1
                                  : fc_min_i64(panels, fc_task_count(panels, job.red * job.cfg.nr,
                                                                     (int64_t)1 << 14));
    const int64_t tasks[2] = {job.pack_tasks, p->groups * job.blocks};
    const fc_parallel_job parallel = {FC_FN(nhwc_task), &job, 2, tasks};
    fc_parallel_run(threads, &parallel);
    fc_aligned_free(job.packed_w);
    fc_aligned_free(job.scratch);
    return FC_OK;
}

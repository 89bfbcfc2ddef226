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
 * Work item: (group, block of m_panels x MR output pixels, block of NR-filter tiles), over the
 * whole reduction; each output element is one item's.  The pixel block is sized so that its
 * A panels' kc-deep slice (m_panels x kc x MR, what the frame's macro-kernel walks against
 * each kc x NR sub-panel of B) stays in L2: every item then streams the weights once, and a
 * layer with few pixels and many filters (ResNet's 7x7 stage: 49 pixels, 2.4 M weights)
 * reads them once rather than once per panel.  Few pixel blocks are cut along the filters
 * too (each such item packs its own A), so that both threads get work.  Workspace: the
 * packed weights (shared) and per thread the item's A (m_panels x red x MR) and one MR x NR
 * edge tile; m_panels shrinks to fit threads x max_workspace_bytes,
 * FC_ERR_WORKSPACE_TOO_SMALL when even one panel does not. */

#ifndef FC_NHWC_MAX_MR
/* the most pixels per A panel the pack holds pointers for: every GEMM member's MR is at most
 * 8 (kernels/gemm/members.c); conv2d_nhwc refuses a larger one */
#define FC_NHWC_MAX_MR 16
#endif

#ifndef FC_NHWC_TRANSPOSE_ONCE
#define FC_NHWC_TRANSPOSE_ONCE
/* dst[v * ld + u] = s_u[v] for u, v < 4: four pixels' runs of four channels to four rows of
 * an A panel.  SSE2 (baseline of x86-64, no dispatch needed) loads each run as a vector and
 * transposes in registers; gcc's own code for the constant-size loops loaded elements one
 * by one and reloaded the pointers (the pack was 40% of VGG's 3x3 layer in NHWC). */
#if defined(__SSE2__)
#include <emmintrin.h>
static inline void fc_f32_nhwc_transpose4(const float *s0, const float *s1, const float *s2,
                                          const float *s3, float *dst, int64_t ld)
{
    __m128 r0 = _mm_loadu_ps(s0), r1 = _mm_loadu_ps(s1), r2 = _mm_loadu_ps(s2),
           r3 = _mm_loadu_ps(s3);
    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
    _mm_storeu_ps(dst, r0);
    _mm_storeu_ps(dst + ld, r1);
    _mm_storeu_ps(dst + 2 * ld, r2);
    _mm_storeu_ps(dst + 3 * ld, r3);
}

static inline void fc_f64_nhwc_transpose4(const double *s0, const double *s1, const double *s2,
                                          const double *s3, double *dst, int64_t ld)
{
    for (int v = 0; v < 4; v += 2) {
        const __m128d a = _mm_loadu_pd(s0 + v), b = _mm_loadu_pd(s1 + v);
        const __m128d c = _mm_loadu_pd(s2 + v), d = _mm_loadu_pd(s3 + v);
        _mm_storeu_pd(dst + v * ld, _mm_unpacklo_pd(a, b));
        _mm_storeu_pd(dst + v * ld + 2, _mm_unpacklo_pd(c, d));
        _mm_storeu_pd(dst + (v + 1) * ld, _mm_unpackhi_pd(a, b));
        _mm_storeu_pd(dst + (v + 1) * ld + 2, _mm_unpackhi_pd(c, d));
    }
}
#else
#define FC_NHWC_TRANSPOSE4_GENERIC(real, name)                                                \
    static inline void name(const real *s0, const real *s1, const real *s2, const real *s3,   \
                            real *dst, int64_t ld)                                            \
    {                                                                                         \
        for (int v = 0; v < 4; v++) {                                                         \
            dst[v * ld] = s0[v];                                                              \
            dst[v * ld + 1] = s1[v];                                                          \
            dst[v * ld + 2] = s2[v];                                                          \
            dst[v * ld + 3] = s3[v];                                                          \
        }                                                                                     \
    }
FC_NHWC_TRANSPOSE4_GENERIC(float, fc_f32_nhwc_transpose4)
FC_NHWC_TRANSPOSE4_GENERIC(double, fc_f64_nhwc_transpose4)
#endif
#endif

typedef struct FC_FN(nhwc_job) {
    const fc_conv2d_params *p;
    int64_t out_h, out_w, pixels; /* pixels: N * P * Q, the GEMM's rows */
    const FC_REAL *x, *weight;
    FC_REAL *y;
    const fc_epi *epi;
    FC_FN(gemm_config) cfg;
    int64_t cg, kg, red, n_tiles, m_panels, blocks, f_blocks, per_thread, pack_tasks;
    FC_REAL *packed_w, *scratch;
    const FC_REAL *zeros; /* Cg zeros: the taps in the padding */
} FC_FN(nhwc_job);

typedef struct FC_FN(nhwc_item_ctx) {
    const FC_FN(nhwc_job) *job;
    const FC_REAL *a; /* the item's packed A, all of the reduction */
    int64_t g, tile0;  /* its group and first NR-filter tile */
} FC_FN(nhwc_item_ctx);

/* The item's A: rows [pix0, pix0 + count) of col_g as MR-pixel panels of red x MR, zero past
 * the last pixel and for taps in the padding.  Element (c, r, s) of pixel i goes to
 * a[((c * R + r) * S + s) * MR + i]: per tap, the MR pixels' runs of Cg contiguous channels
 * (or job->zeros) are transposed by the GEMM member's NHWC pack where it has one, else 4
 * pixels x 4 channels at a time (nhwc_transpose4): the reference of the members' packs. */
static void FC_FN(nhwc_pack_a)(const FC_FN(nhwc_job) *job, int64_t g, int64_t pix0,
                               int64_t count, FC_REAL *a)
{
    const fc_conv2d_params *p = job->p;
    const int64_t mr = job->cfg.mr, cg = job->cg, step = p->r * p->s * mr;
    const int64_t pq = job->out_h * job->out_w;
    const FC_REAL *src[FC_NHWC_MAX_MR];
    /* the pixels' (row, column) of tap (0, 0) and their offset in x; a pixel past count
     * reads zeros (live = 0: no sentinel row, which a huge dilation could bring back in
     * range).  Locals, not p->: the stores to src[] could alias *p for gcc. */
    int64_t h0[FC_NHWC_MAX_MR], w0[FC_NHWC_MAX_MR], at[FC_NHWC_MAX_MR];
    int live[FC_NHWC_MAX_MR];
    const int64_t h = p->h, w = p->w, c_all = p->c, dh = p->dilation_h, dw = p->dilation_w;
    const FC_REAL *const x = job->x + g * cg, *const zeros = job->zeros;
    const FC_FN(gemm_nhwc_pack_fn) pack = job->cfg.nhwc_pack;
    /* the pixel's image and output row and column, stepped (no divisions per pixel) */
    int64_t n = pix0 / pq, oh = pix0 % pq / job->out_w, ow = pix0 % job->out_w;
    for (int64_t i0 = 0; i0 < count; i0 += mr) {
        FC_REAL *panel = a + (i0 / mr) * job->red * mr;
        for (int64_t i = 0; i < mr; i++) {
            live[i] = i0 + i < count;
            h0[i] = oh * p->stride_h - p->pad_top;
            w0[i] = ow * p->stride_w - p->pad_left;
            at[i] = n * h * w * c_all;
            if (++ow == job->out_w) {
                ow = 0;
                if (++oh == job->out_h) oh = 0, n++;
            }
        }
        for (int64_t r = 0; r < p->r; r++)
            for (int64_t s = 0; s < p->s; s++) {
                for (int64_t i = 0; i < mr; i++) {
                    const int64_t ih = h0[i] + r * dh, iw = w0[i] + s * dw;
                    src[i] = live[i] && (uint64_t)ih < (uint64_t)h && (uint64_t)iw < (uint64_t)w
                                 ? x + at[i] + (ih * w + iw) * c_all
                                 : zeros;
                }
                FC_REAL *dst = panel + (r * p->s + s) * mr;
                if (pack) { /* the member's (gemm.h), this loop's bits */
                    pack(src, cg, dst, step);
                    continue;
                }
                int64_t c = 0;
                for (; c + 4 <= cg; c += 4) {
                    int64_t i = 0;
                    for (; i + 4 <= mr; i += 4)
                        FC_FN(nhwc_transpose4)(src[i] + c, src[i + 1] + c, src[i + 2] + c,
                                               src[i + 3] + c, dst + c * step + i, step);
                    for (; i < mr; i++) /* AVX2's MR of 6 */
                        for (int v = 0; v < 4; v++) dst[(c + v) * step + i] = src[i][c + v];
                }
                for (; c < cg; c++)
                    for (int64_t i = 0; i < mr; i++) dst[c * step + i] = src[i][c];
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
    return job->packed_w + ((it->g * job->n_tiles + it->tile0 + j0 / nr) * job->red + k0) * nr;
}

static void FC_FN(nhwc_item)(const FC_FN(nhwc_job) *job, int64_t item, int t)
{
    const fc_conv2d_params *p = job->p;
    const int64_t mr = job->cfg.mr, nr = job->cfg.nr;
    const int64_t g = item / (job->blocks * job->f_blocks);
    const int64_t b = item / job->f_blocks % job->blocks;
    int64_t tile0, tile_end;
    fc_task_range(job->n_tiles, job->f_blocks, item % job->f_blocks, &tile0, &tile_end);
    const int64_t f0 = tile0 * nr, cols = fc_min_i64(tile_end * nr, job->kg) - f0;
    const int64_t pix0 = b * job->m_panels * mr;
    const int64_t rows = fc_min_i64(job->m_panels * mr, job->pixels - pix0);
    FC_REAL *a = job->scratch + t * job->per_thread;
    FC_REAL *edge = a + job->m_panels * job->red * mr;
    FC_FN(nhwc_pack_a)(job, g, pix0, rows, a);
    FC_REAL *c = job->y + pix0 * p->k + g * job->kg + f0;
    const FC_REAL *bias = job->epi->bias;
    if (bias) /* where each sum starts (accumulate) */
        for (int64_t i = 0; i < rows; i++)
            memcpy(c + i * p->k, bias + g * job->kg + f0, (size_t)cols * sizeof(FC_REAL));
    FC_FN(nhwc_item_ctx) it = {job, a, g, tile0};
    FC_FN(gemm_block) blk = {&job->cfg, job->red, fc_min_i64(job->cfg.kc, job->red),
                             fc_ceil_div(rows, mr), rows, cols};
    blk.a_panels = FC_FN(nhwc_item_a);
    blk.b_panel = FC_FN(nhwc_item_b);
    blk.c = c;
    blk.ldc = p->k;
    blk.edge = edge;
    blk.epilogue.accumulate = bias != NULL;
    blk.epilogue.fused = job->epi->fused;
    blk.epilogue.post = job->epi->post ? job->epi : NULL;
    blk.ctx = &it;
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
    /* the kc-deep slice of an item's A within ~192 KiB of L2, beside B's sub-panel in L1;
     * but one panel when a group's weights and the panel fit in a 48 KiB L1d together: A is
     * then multiplied while it is in L1, not written to L2 and read back (the 2-core AVX-512
     * Xeon: the grouped layer, Cg = Kg = 32, went from 0.84 to 0.91 of its NCHW time; two
     * panels, past L1, were no better than 21) */
    const int64_t kc = fc_min_i64(cfg.kc, job->red);
    const int64_t l1_fit = (job->n_tiles * nr + mr) * job->red * size <= ((int64_t)48 << 10);
    int64_t m_panels =
        l1_fit ? 1
               : fc_min_i64(fc_max_i64(1, ((int64_t)192 << 10) / (size * kc * mr)), panels_total);
    /* some 4 items per thread, so that a late thread leaves little behind.  Smaller pixel
     * blocks first when all the weights stay in a 1-2 MiB L2 (each block streams them from
     * there): filter blocks repeat the pack of A, which cost Inception's 1x7 (37 panels,
     * 458 KiB of weights) 0.83 of its NCHW time at 2 threads.  Else more filter blocks first
     * (they read the weights once), then smaller pixel blocks. */
    const int64_t target = *threads > 1 ? 4 * *threads : 1;
    int64_t f_blocks = 1, pixel_items = p->groups * fc_ceil_div(panels_total, m_panels);
    if (pixel_items < target && packed * size <= ((int64_t)512 << 10)) {
        m_panels = fc_max_i64(1, panels_total * p->groups / target);
        pixel_items = p->groups * fc_ceil_div(panels_total, m_panels);
    }
    if (pixel_items < target) {
        f_blocks = fc_min_i64(job->n_tiles, fc_ceil_div(target, pixel_items));
        if (pixel_items * f_blocks < target)
            m_panels = fc_max_i64(1, panels_total * p->groups * f_blocks / target);
    }
    while (m_panels > 1 &&
           fc_gemm_add_saturating(
               packed, fc_mul_saturating(*threads, m_panels * job->red * mr + mr * nr)) > budget)
        m_panels /= 2;
    job->m_panels = m_panels;
    job->blocks = fc_ceil_div(panels_total, m_panels);
    job->f_blocks = f_blocks;
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
    if (job.cfg.mr > FC_NHWC_MAX_MR) return FC_ERR_INVALID_ARGUMENT;
    FC_REAL *zeros = fc_aligned_alloc(job.cg * (int64_t)sizeof(FC_REAL));
    if (!zeros) return FC_ERR_OUT_OF_MEMORY;
    memset(zeros, 0, (size_t)job.cg * sizeof(FC_REAL));
    job.zeros = zeros;
    const fc_status st = FC_FN(alloc_workspace)(panels, job.red, job.cfg.nr, threads,
                                                job.per_thread, &job.packed_w, &job.scratch);
    if (st != FC_OK) {
        fc_aligned_free(zeros);
        return st;
    }
    job.pack_tasks = threads == 1 ? 1
                                  : fc_min_i64(panels, fc_task_count(panels, job.red * job.cfg.nr,
                                                                     (int64_t)1 << 14));
    const int64_t tasks[2] = {job.pack_tasks, p->groups * job.blocks * job.f_blocks};
    const fc_parallel_job parallel = {FC_FN(nhwc_task), &job, 2, tasks};
    fc_parallel_run(threads, &parallel);
    fc_aligned_free(job.packed_w);
    fc_aligned_free(job.scratch);
    fc_aligned_free(zeros);
    return FC_OK;
}

/* ---- depthwise, one filter per channel (groups == C == K) ------------------------------------
 * The GEMM above would give each group a 1-filter B panel of NR columns, 1/NR of it useful
 * (MobileNet's 3x3 depthwise layer ran 140x slower than NCHW's depthwise driver).  Here a
 * work item is an output row of a block of channels (one block unless the rows are too few
 * to share among the threads); a task's consecutive rows of one image go to the dwconv_nhwc
 * kernel some rows at a time, cut at the columns into blocks whose every tap is, in each
 * row, either inside the image for all the block's pixels or in the padding for all of them:
 * the columns whose window is inside the image's columns make one block (the kernel's step
 * moves a tap along the row), each edge column its own.  The kernel sums each pixel over its
 * R * S taps in (r, s) order, a tap in the padding read as a run of zeros (step 0) as the NCHW
 * depthwise driver's padded rows do: the same fused sums, so its result transposed, bit for
 * bit.  The weights are transposed once to taps x C (the kernel's vectors run along the
 * channels). */
typedef struct FC_FN(dw_nhwc_job) {
    const fc_conv2d_params *p;
    int64_t out_h, out_w, tasks, c_blocks, call_rows;
    int64_t col0, col1; /* the output columns whose taps are all inside the image's columns */
    const FC_REAL *x, *wt, *zeros;
    FC_REAL *y;
    const fc_epi *epi;
} FC_FN(dw_nhwc_job);

/* the (row, tap) pointers of one kernel call at most, and its rows at most (fewer calls and
 * pointer lists: 3x3, 8 rows of a 56-wide map are 3 calls) */
#define FC_DW_NHWC_CALL_PTRS 256
#define FC_DW_NHWC_CALL_ROWS 8

/* Output rows [oh0, oh0 + rows) of image n, pixels [ow, ow + count) of each (one block, see
 * above), channels [c0, c1): one kernel call. */
static void FC_FN(dw_nhwc_block)(const FC_FN(dw_nhwc_job) *job,
                                 FC_FN(dwconv_nhwc_ukernel_fn) kernel, int64_t n, int64_t oh0,
                                 int64_t rows, int64_t ow, int64_t count, int64_t c0, int64_t c1)
{
    const fc_conv2d_params *p = job->p;
    const int64_t c = p->c, taps = p->r * p->s, row_len = job->out_w * c;
    const FC_REAL *ptrs[FC_DW_NHWC_CALL_PTRS];
    size_t steps[FC_DW_NHWC_CALL_PTRS];
    const int64_t w0 = ow * p->stride_w - p->pad_left, last = (count - 1) * p->stride_w;
    for (int64_t j = 0; j < rows; j++) {
        const int64_t h0 = (oh0 + j) * p->stride_h - p->pad_top;
        for (int64_t r = 0; r < p->r; r++)
            for (int64_t s = 0; s < p->s; s++) {
                const int64_t ih = h0 + r * p->dilation_h, iw = w0 + s * p->dilation_w;
                const int inside = ih >= 0 && ih < p->h && iw >= 0 && iw + last < p->w;
                const int64_t t = j * taps + r * p->s + s;
                ptrs[t] = inside ? job->x + ((n * p->h + ih) * p->w + iw) * c + c0 : job->zeros;
                steps[t] = inside ? (size_t)(p->stride_w * c) : 0;
            }
    }
    kernel((size_t)(c1 - c0), (size_t)rows, (size_t)count, (size_t)taps, ptrs, steps,
           job->wt + c0, (size_t)c, job->epi->bias ? (const FC_REAL *)job->epi->bias + c0 : NULL,
           job->y + ((n * job->out_h + oh0) * job->out_w + ow) * c + c0, (size_t)c,
           (size_t)row_len);
}

static void FC_FN(dw_nhwc_task)(void *ctx, int64_t phase, int64_t i, int t)
{
    (void)phase, (void)t;
    const FC_FN(dw_nhwc_job) *job = ctx;
    const fc_conv2d_params *p = job->p;
    const FC_FN(dwconv_nhwc_ukernel_fn) kernel = fc_kernels()->FC_MEMBER(dwconv_nhwc);
    const int64_t c = p->c, out_h = job->out_h, out_w = job->out_w, all_rows = p->n * out_h;
    int64_t begin, end;
    fc_task_range(all_rows * job->c_blocks, job->tasks, i, &begin, &end);
    for (int64_t item = begin; item < end;) {
        /* rows of one image and one block of channels (in whole vectors of 16) */
        const int64_t cb = item / all_rows, row = item % all_rows, n = row / out_h;
        const int64_t oh0 = row % out_h;
        const int64_t rows = fc_min_i64(fc_min_i64(job->call_rows, out_h - oh0), end - item);
        int64_t c0, c1;
        fc_task_range(fc_ceil_div(c, 16), job->c_blocks, cb, &c0, &c1);
        c0 *= 16;
        c1 = fc_min_i64(c1 * 16, c);
        /* the interior columns in one block, each edge column alone */
        for (int64_t ow = 0; ow < out_w;) {
            const int64_t count = ow == job->col0 && job->col0 < job->col1 ? job->col1 - ow : 1;
            FC_FN(dw_nhwc_block)(job, kernel, n, oh0, rows, ow, count, c0, c1);
            ow += count;
        }
        /* the activation and residual on the finished rows, as the NCHW drivers do */
        if (job->epi->activation != FC_ACTIVATION_NONE || job->epi->residual)
            FC_FN(epilogue_apply)(job->epi, job->y + row * out_w * c + c0, rows * out_w,
                                  c1 - c0, c, 1);
        item += rows;
    }
}

/* The depthwise weights as the kernel reads them, taps x C (its vectors run along the
 * channels), then C zeros (a tap in the padding); the caller frees *wt.  Also the NHWC
 * depthwise backward's (ops/conv2d_depthwise.h). */
fc_status FC_FN(dw_nhwc_weights)(const fc_conv2d_params *p, const FC_REAL *weight, FC_REAL **wt)
{
    const int64_t c = p->c, taps = p->r * p->s;
    int64_t bytes;
    const int64_t dims[3] = {taps + 1, c, (int64_t)sizeof(FC_REAL)};
    FC_RETURN_IF_ERROR(fc_checked_product(dims, 3, &bytes));
    FC_REAL *w = fc_aligned_alloc(bytes);
    if (!w) return FC_ERR_OUT_OF_MEMORY;
    for (int64_t ch = 0; ch < c; ch++)
        for (int64_t t = 0; t < taps; t++) w[t * c + ch] = weight[ch * taps + t];
    memset(w + taps * c, 0, (size_t)c * sizeof(FC_REAL));
    *wt = w;
    return FC_OK;
}

static fc_status FC_FN(conv2d_dw_nhwc)(const fc_conv2d_params *p, int64_t out_h, int64_t out_w,
                                       const FC_REAL *x, const FC_REAL *weight,
                                       const fc_epi *epi, FC_REAL *y)
{
    const int64_t c = p->c, taps = p->r * p->s, pixels = p->n * out_h * out_w;
    FC_REAL *wt;
    FC_RETURN_IF_ERROR(FC_FN(dw_nhwc_weights)(p, weight, &wt));
    const FC_REAL *zeros = wt + taps * c;
    const int64_t work = fc_mul_saturating(pixels * c, taps);
    const int threads = (int)fc_min_i64(fc_region_threads(work), pixels);
    const int64_t all_rows = p->n * out_h;
    /* some 4 items per thread: blocks of channels too when the rows are fewer (a 7x7 map) */
    const int64_t c_blocks =
        threads == 1 || all_rows >= 4 * threads
            ? 1
            : fc_min_i64(fc_ceil_div(c, 16), fc_ceil_div(4 * threads, all_rows));
    const int64_t items = all_rows * c_blocks;
    FC_FN(dw_nhwc_job) job = {p, out_h, out_w,
                              threads == 1 ? 1
                                           : fc_task_count(items, work / items,
                                                           FC_MIN_WORK_PER_THREAD / 2),
                              c_blocks,
                              fc_max_i64(1, fc_min_i64(FC_DW_NHWC_CALL_ROWS,
                                                       FC_DW_NHWC_CALL_PTRS / taps)),
                              0, out_w, x, wt, zeros, y, epi};
    while (job.col0 < out_w && job.col0 * p->stride_w - p->pad_left < 0) job.col0++;
    while (job.col1 > job.col0 &&
           (job.col1 - 1) * p->stride_w - p->pad_left + (p->s - 1) * p->dilation_w >= p->w)
        job.col1--;
    fc_parallel_for(threads, job.tasks, FC_FN(dw_nhwc_task), &job);
    fc_aligned_free(wt);
    return FC_OK;
}

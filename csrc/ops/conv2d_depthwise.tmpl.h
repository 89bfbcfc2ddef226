/* conv2d driver: depthwise convolution, groups == C, forward and backward (instantiated by
 * conv2d.c; conv2d_backward.c calls the backward through ops/conv2d_depthwise.h). */

/* ---- depthwise ------------------------------------------------------------------------------
 * Each output channel k reads only input channel k / M (M = K / C, the channel multiplier).  A
 * work item is (image, input channel, tile of output rows): its thread copies the input rows
 * the tile reads into its padded-row buffer (ops/conv2d_common.tmpl.h), then runs the
 * microkernel once for each of the M output channels of that input channel, so the copy is
 * shared by all M filters.  Tiles of rows, not whole planes, are what the threads split: a
 * single 1024 x 1024 image still keeps both cores busy.
 *
 * The input may be "spread" (grad_input's use, below): plane element (i, j) of the src_h x
 * src_w planes x is the convolution's input element (i * up_h, j * up_w), zero in between;
 * up_h = up_w = 1 is x itself.
 *
 * `in_place` (an input that is not spread, column stride 2, or 1 with a 3x3 filter): no
 * copy; the member's fn3 reads the planes' rows where they are, through a list of row pointers (the padding rows
 * point at a row of zeros) and masked loads at the row ends, with the same sums as the copy.
 * The copy cost more than the arithmetic: MobileNet's 56x56x256 3x3 layer took 345 us at one
 * thread with it (43% in the copy), 3.2 MB read + 3.2 MB written take 217 us (memcpy), and
 * 71% of the stride-2 layer (96 x 112 x 112) was its de-interleaving copy (Xeon, 2 cores). */
typedef struct FC_FN(depthwise_job) {
    const fc_conv2d_params *p;
    int64_t out_h, out_w;
    const FC_REAL *x, *weight, *bias;
    FC_REAL *y;
    const fc_epi *epi;
    FC_FN(dwconv_config) cfg;
    int64_t tile_rows, row_blocks, buf_rows, row_len;
    int shared, in_place;
    size_t row_step, tap_step; /* output row / filter row moves, in buffer rows */
    int64_t tasks; /* ranges of items */
    FC_REAL *scratch; /* per thread: the padded rows, or in place the row pointers */
    size_t *tap_col;
    ptrdiff_t *tap_off; /* in place: tap s's column offset, s * dilation_w - pad_left */
    FC_REAL *zero_row;  /* in place: the rows of the top and bottom padding */
    int64_t src_h, src_w, up_h, up_w;
} FC_FN(depthwise_job);

/* Buffer row b of a spread input (its convolution stride is 1, so one phase): zeros, and the
 * source row's values every up_w columns. */
static void FC_FN(pack_spread_row)(const fc_conv2d_params *p, int64_t up_w, int64_t src_w,
                                   const FC_REAL *x_row, FC_REAL *dst)
{
    const int64_t len = FC_FN(padded_row_len)(p);
    for (int64_t i = 0; i < len; i++) dst[i] = 0;
    if (x_row)
        for (int64_t j = 0; j < src_w; j++) dst[p->pad_left + j * up_w] = x_row[j];
}

/* The buffer rows that output rows [oh0, oh0 + rows) read. */
static int64_t FC_FN(depthwise_tile_span)(const FC_FN(depthwise_job) * job, int64_t rows)
{
    const fc_conv2d_params *p = job->p;
    return job->shared ? (rows - 1) * p->stride_h + (p->r - 1) * p->dilation_h + 1 : rows * p->r;
}

/* The plane's row that buffer row b of the tile at output row oh0 holds, or NULL for a row of
 * zeros (padding, or a spread input's row between two source rows). */
static const FC_REAL *FC_FN(depthwise_source_row)(const FC_FN(depthwise_job) * job,
                                                  const FC_REAL *plane, int64_t oh0, int64_t b)
{
    const fc_conv2d_params *p = job->p;
    const int64_t ih = job->shared ? oh0 * p->stride_h - p->pad_top + b
                                   : (oh0 + b / p->r) * p->stride_h - p->pad_top +
                                         (b % p->r) * p->dilation_h;
    /* (no division unless spread: the forward packs ~17k rows per call) */
    return ih < 0 || ih >= p->h ? NULL
           : job->up_h == 1     ? plane + ih * job->src_w
           : ih % job->up_h     ? NULL
                                : plane + (ih / job->up_h) * job->src_w;
}

/* In place: the rows that output rows [oh0, oh0 + rows) of one plane read, the padding's
 * pointing at the zero row.  (Shared rows in a loop without calls: it fills ~17k pointers per
 * call of MobileNet's 56x56x256 layer, 5-8% of it through depthwise_source_row.) */
static void FC_FN(depthwise_tile_row_pointers)(const FC_FN(depthwise_job) * job,
                                               const FC_REAL *plane, int64_t oh0, int64_t rows,
                                               const FC_REAL **row_ptrs)
{
    const fc_conv2d_params *p = job->p;
    const int64_t span = FC_FN(depthwise_tile_span)(job, rows);
    if (!job->shared) {
        for (int64_t b = 0; b < span; b++) {
            const FC_REAL *row = FC_FN(depthwise_source_row)(job, plane, oh0, b);
            row_ptrs[b] = row ? row : job->zero_row;
        }
        return;
    }
    const int64_t ih0 = oh0 * p->stride_h - p->pad_top, w = job->src_w;
    for (int64_t b = 0; b < span; b++)
        row_ptrs[b] = ih0 + b >= 0 && ih0 + b < p->h ? plane + (ih0 + b) * w : job->zero_row;
}

/* The padded rows that output rows [oh0, oh0 + rows) of one plane read, into buf. */
static void FC_FN(depthwise_pack_tile)(const FC_FN(depthwise_job) * job, const FC_REAL *plane,
                                       int64_t oh0, int64_t rows, FC_REAL *buf)
{
    const fc_conv2d_params *p = job->p;
    const int64_t packed = FC_FN(depthwise_tile_span)(job, rows);
    for (int64_t b = 0; b < packed; b++) {
        const FC_REAL *row = FC_FN(depthwise_source_row)(job, plane, oh0, b);
        if (job->up_w == 1)
            FC_FN(pack_padded_row)(p, row, buf + b * job->row_len);
        else
            FC_FN(pack_spread_row)(p, job->up_w, job->src_w, row, buf + b * job->row_len);
    }
}

static void FC_FN(depthwise_task)(void *ctx, int64_t phase, int64_t task, int thread)
{
    (void)phase;
    const FC_FN(depthwise_job) *job = ctx;
    const fc_conv2d_params *p = job->p;
    const int64_t out_h = job->out_h, tile_rows = job->tile_rows, row_len = job->row_len;
    const int64_t mult = p->k / p->c, taps = p->r * p->s;
    FC_REAL *buf = job->scratch + (int64_t)thread * job->buf_rows * row_len;
    const FC_REAL **row_ptrs = (const FC_REAL **)(void *)job->scratch + thread * job->buf_rows;
    int64_t begin, end;
    fc_task_range(p->n * p->c * job->row_blocks, job->tasks, task, &begin, &end);
    for (int64_t item = begin; item < end; item++) {
        const int64_t oh0 = (item % job->row_blocks) * tile_rows;
        const int64_t c = (item / job->row_blocks) % p->c, n = item / (job->row_blocks * p->c);
        const int64_t rows = fc_min_i64(tile_rows, out_h - oh0);
        const FC_REAL *plane = job->x + (n * p->c + c) * job->src_h * job->src_w;
        if (job->in_place)
            FC_FN(depthwise_tile_row_pointers)(job, plane, oh0, rows, row_ptrs);
        else
            FC_FN(depthwise_pack_tile)(job, plane, oh0, rows, buf);
        for (int64_t k = c * mult; k < (c + 1) * mult; k++) {
            FC_REAL *y = job->y + ((n * p->k + k) * out_h + oh0) * job->out_w;
            const FC_REAL bias = job->bias ? job->bias[k] : 0;
            if (job->in_place)
                job->cfg.direct((size_t)rows, (size_t)job->out_w, (size_t)p->r, (size_t)p->s,
                                row_ptrs, job->row_step, job->tap_step, (size_t)p->w,
                                (size_t)p->stride_w, job->tap_off, job->weight + k * taps, bias,
                                job->epi->fused, y, (size_t)job->out_w);
            else
                job->cfg.ukernel((size_t)rows, (size_t)job->out_w, (size_t)p->r, (size_t)p->s,
                                 buf, job->row_step * (size_t)row_len,
                                 job->tap_step * (size_t)row_len, job->tap_col,
                                 job->weight + k * taps, bias, job->epi->fused, y,
                                 (size_t)job->out_w);
            if (job->epi->post) /* the tile's rows are contiguous in y */
                FC_FN(epilogue_apply)(job->epi, y, 1, rows * job->out_w, 0, 1);
        }
    }
}

static void FC_FN(depthwise_job_free)(FC_FN(depthwise_job) * job)
{
    fc_aligned_free(job->scratch);
    fc_aligned_free(job->tap_col);
    fc_aligned_free(job->tap_off);
    fc_aligned_free(job->zero_row);
}

/* The blocking, buffers and task count of a depthwise pass over p's geometry (x spread by up_h,
 * up_w from src_h x src_w planes), for `threads` threads: what the forward and both gradients
 * share.  may_read_in_place: the pass runs depthwise_task (the forward's kernels), which reads
 * the planes in place where it can.  Free with depthwise_job_free. */
static fc_status FC_FN(depthwise_job_init)(FC_FN(depthwise_job) * job,
                                           const fc_conv2d_params *p, int64_t out_h,
                                           int64_t out_w, int64_t up_h, int64_t up_w,
                                           int may_read_in_place, int threads)
{
    const FC_FN(dwconv_config) cfg = fc_kernels()->FC_MEMBER(dwconv);
    const int64_t tile_rows = fc_min_i64(cfg.tile_rows, out_h);
    const int64_t row_blocks = fc_ceil_div(out_h, tile_rows);
    const int64_t items = p->n * p->c * row_blocks;
    const int64_t macs = fc_mul_saturating(p->n * p->k * out_h * out_w, p->r * p->s);
    const int64_t row_len = FC_FN(padded_row_len)(p);
    /* The buffer holds each input row of a tile once (`shared`: with stride 1 a row read by R
     * output rows is copied once) unless that span is longer than R rows per output row (a
     * stride or dilation much larger than the filter): then it holds the R rows of each output
     * row, output row i's filter row r at buffer row i * R + r. */
    const int64_t span =
        fc_mul_saturating(tile_rows - 1, p->stride_h) + (p->r - 1) * p->dilation_h + 1;
    const int shared = span <= fc_mul_saturating(tile_rows, p->r);
    const int64_t buf_rows = shared ? span : tile_rows * p->r;
    *job = (FC_FN(depthwise_job)){
        .p = p,
        .out_h = out_h,
        .out_w = out_w,
        .cfg = cfg,
        .tile_rows = tile_rows,
        .row_blocks = row_blocks,
        .buf_rows = buf_rows,
        .row_len = row_len,
        .shared = shared,
        /* measured (one thread, Xeon): in place is 1.3-2.8x faster at stride 2 (3x3 and 5x5)
         * and 1.06-1.5x for 3x3 at stride 1 on 7-56 wide planes, but 8% slower on 112 wide
         * and 20% slower for 5x5 at stride 1 (28x28x240), which keep the copy.  Filters
         * smaller than 3x3 (the strided grad_input's phases) do too little per copied row:
         * the copy was 35% of a 576 x 14 x 14 stride-2 layer's grad_input (Zen 3) */
        .in_place = may_read_in_place && up_h == 1 && up_w == 1 &&
                    (p->stride_w == 2 || (p->stride_w == 1 && p->r <= 3 && p->s <= 3)),
        .row_step = (size_t)(shared ? p->stride_h : p->r),
        .tap_step = (size_t)(shared ? p->dilation_h : 1),
        .tasks = threads == 1 ? 1 : fc_task_count(items, macs / items, FC_MIN_WORK_PER_THREAD / 2),
        .src_h = up_h == 1 ? p->h : (p->h - 1) / up_h + 1,
        .src_w = up_w == 1 ? p->w : (p->w - 1) / up_w + 1,
        .up_h = up_h,
        .up_w = up_w};
    int64_t scratch_bytes;
    const int64_t scratch_dims[4] = {
        threads, buf_rows, job->in_place ? 1 : row_len,
        (int64_t)(job->in_place ? sizeof(FC_REAL *) : sizeof(FC_REAL))};
    FC_RETURN_IF_ERROR(fc_checked_product(scratch_dims, 4, &scratch_bytes));
    job->scratch = fc_aligned_alloc(scratch_bytes);
    job->tap_col = FC_FN(padded_tap_columns)(p);
    fc_status status = job->scratch && job->tap_col ? FC_OK : FC_ERR_OUT_OF_MEMORY;
    if (status == FC_OK && job->in_place) {
        job->tap_off = fc_aligned_alloc(p->s * (int64_t)sizeof(ptrdiff_t));
        job->zero_row = fc_aligned_alloc(fc_max_i64(p->w, 1) * (int64_t)sizeof(FC_REAL));
        if (job->tap_off && job->zero_row) {
            for (int64_t s = 0; s < p->s; s++)
                job->tap_off[s] = (ptrdiff_t)(s * p->dilation_w - p->pad_left);
            for (int64_t j = 0; j < p->w; j++) job->zero_row[j] = 0;
        } else {
            status = FC_ERR_OUT_OF_MEMORY;
        }
    }
    if (status != FC_OK) FC_FN(depthwise_job_free)(job);
    return status;
}

static fc_status FC_FN(conv2d_depthwise)(const fc_conv2d_params *p, int64_t out_h,
                                         int64_t out_w, const FC_REAL *x, const FC_REAL *weight,
                                         const fc_epi *epi, FC_REAL *y)
{
    const int64_t tile_rows = fc_min_i64(fc_kernels()->FC_MEMBER(dwconv).tile_rows, out_h);
    const int64_t macs = fc_mul_saturating(p->n * p->k * out_h * out_w, p->r * p->s);
    const int threads = (int)fc_min_i64(fc_region_threads(macs),
                                        p->n * p->c * fc_ceil_div(out_h, tile_rows));
    FC_FN(depthwise_job) job;
    FC_RETURN_IF_ERROR(FC_FN(depthwise_job_init)(&job, p, out_h, out_w, 1, 1, 1, threads));
    job.x = x;
    job.weight = weight;
    job.bias = epi->bias;
    job.epi = epi;
    job.y = y;
    fc_parallel_for(threads, job.tasks, FC_FN(depthwise_task), &job);
    FC_FN(depthwise_job_free)(&job);
    return FC_OK;
}

/* ---- backward -------------------------------------------------------------------------------
 * grad_input (M = 1): gx[c] is the full correlation of grad_output[c], spread by the stride
 * (stride_h - 1 zero rows between its rows, likewise columns), with filter c turned by 180
 * degrees: a depthwise convolution of stride 1, padding dilation * (R - 1) - pad on top and
 * whatever makes H rows below (likewise columns), which the forward's tasks run as they are.
 * Each gx element gets exactly the reference's terms (the spread zeros and the padding add
 * products with 0 only, exact for finite weights; non-finite weights take the reference).
 *
 * grad_weight and grad_bias: gw[k, r, s] = sum over images and output pixels of
 * g[k] * x[c] at the tap, on the forward's padded-row buffers; one task per input channel
 * walks every image and tile in order and adds each tile's sums (the member's fn2), so the
 * result depends on the shapes and the member only, never on the threads.  Both kinds of
 * tasks share one parallel region, the grad_weight channels first (the longer tasks). */

/* The spread geometry of grad_input into q, or 0 when depthwise grad_input does not apply (a
 * channel multiplier, a padding above dilation * (R - 1), pathological widths). */
int FC_FN(conv2d_depthwise_grad_input_geometry)(const fc_conv2d_params *p, int64_t out_h,
                                                int64_t out_w, fc_conv2d_params *q)
{
    if (p->groups != p->c || p->k != p->c || p->c < 2) return 0;
    const int64_t reach_h = p->dilation_h * (p->r - 1), reach_w = p->dilation_w * (p->s - 1);
    *q = *p;
    q->h = (out_h - 1) * p->stride_h + 1;
    q->w = (out_w - 1) * p->stride_w + 1;
    q->stride_h = q->stride_w = 1;
    q->pad_top = reach_h - p->pad_top;
    q->pad_bottom = p->h - q->h - q->pad_top + reach_h;
    q->pad_left = reach_w - p->pad_left;
    q->pad_right = p->w - q->w - q->pad_left + reach_w;
    return q->pad_top >= 0 && q->pad_bottom >= 0 && q->pad_left >= 0 && q->pad_right >= 0 &&
           FC_FN(padded_rows_fit)(q, p->w);
}

int FC_FN(conv2d_depthwise_grad_weight_applies)(const fc_conv2d_params *p, int64_t out_w)
{
    return p->groups == p->c && p->c >= 2 && FC_FN(padded_rows_fit)(p, out_w);
}

typedef struct FC_FN(depthwise_bw_job) {
    FC_FN(depthwise_job) gi, gw;
    int64_t gw_tasks;
    const FC_REAL *g;
    FC_REAL *grad_weight, *grad_bias;
} FC_FN(depthwise_bw_job);

/* grad_weight (and grad_bias) of the M filters of input channel c. */
static void FC_FN(depthwise_grad_weight_channel)(const FC_FN(depthwise_bw_job) * job, int64_t c,
                                                 int thread)
{
    const FC_FN(depthwise_job) *j = &job->gw;
    const fc_conv2d_params *p = j->p;
    const int64_t mult = p->k / p->c, taps = p->r * p->s;
    FC_REAL *buf = j->scratch + (int64_t)thread * j->buf_rows * j->row_len;
    FC_REAL *gb = job->grad_bias;
    for (int64_t i = c * mult * taps; i < (c + 1) * mult * taps; i++) job->grad_weight[i] = 0;
    if (gb)
        for (int64_t k = c * mult; k < (c + 1) * mult; k++) gb[k] = 0;
    for (int64_t n = 0; n < p->n; n++)
        for (int64_t oh0 = 0; oh0 < j->out_h; oh0 += j->tile_rows) {
            const int64_t rows = fc_min_i64(j->tile_rows, j->out_h - oh0);
            FC_FN(depthwise_pack_tile)(j, j->x + (n * p->c + c) * p->h * p->w, oh0, rows, buf);
            for (int64_t k = c * mult; k < (c + 1) * mult; k++)
                j->cfg.gw((size_t)rows, (size_t)j->out_w, (size_t)p->r, (size_t)p->s, buf,
                          j->row_step * (size_t)j->row_len, j->tap_step * (size_t)j->row_len,
                          j->tap_col,
                          job->g + ((n * p->k + k) * j->out_h + oh0) * j->out_w,
                          (size_t)j->out_w, job->grad_weight + k * taps, gb ? gb + k : NULL);
        }
}

static void FC_FN(depthwise_bw_task)(void *ctx, int64_t phase, int64_t task, int thread)
{
    FC_FN(depthwise_bw_job) *job = ctx;
    if (task < job->gw_tasks)
        FC_FN(depthwise_grad_weight_channel)(job, task, thread);
    else
        FC_FN(depthwise_task)(&job->gi, phase, task - job->gw_tasks, thread);
}

/* ---- grad_input of a strided layer, phase by phase -----------------------------------------
 * With stride > 1 (dilation 1) the spread input above is mostly zeros: of a 3x3 stride-2
 * layer's 9 products per gx element, 2.25 on average are not zero.  Phase (a, b) of gx, the
 * elements (a + sh u, b + sw v), gets only the taps r = ra + sh m, s = rb + sw n with
 * ra = (a + pad_top) mod sh, rb = (b + pad_left) mod sw: the taps' grad_output rows are
 * u + qa - m (qa = (a + pad_top - ra) / sh), so the phase is a stride-1 depthwise correlation
 * of grad_output with the sub-filter of those taps turned by 180 degrees, padding Ma - 1 - qa
 * on top (likewise columns).  The forward's tasks run it into a phase plane, which is then
 * spread into gx.  Each element's non-zero terms are summed in the spread path's order (taps
 * descending), and the spread path's other terms are products with 0, so the bits are the
 * same (finite weights; the caller routes non-finite ones to the reference). */
#ifndef FC_DW_MAX_PHASES
#define FC_DW_MAX_PHASES 64 /* stride_h * stride_w, beyond which the spread path runs */
#endif
typedef struct FC_FN(depthwise_phase) {
    int64_t rows, cols;  /* the phase's gx rows and columns */
    int64_t ra, rb, ma, mb; /* first tap and tap count, down and across */
    fc_conv2d_params q;  /* the phase's stride-1 correlation of grad_output */
} FC_FN(depthwise_phase);

static FC_FN(depthwise_phase) FC_FN(depthwise_phase_geometry)(const fc_conv2d_params *p,
                                                               int64_t out_h, int64_t out_w,
                                                               int64_t a, int64_t b)
{
    FC_FN(depthwise_phase) f = {0};
    const int64_t sh = p->stride_h, sw = p->stride_w;
    f.rows = p->h > a ? fc_ceil_div(p->h - a, sh) : 0;
    f.cols = p->w > b ? fc_ceil_div(p->w - b, sw) : 0;
    f.ra = (a + p->pad_top) % sh;
    f.rb = (b + p->pad_left) % sw;
    f.ma = f.ra < p->r ? (p->r - 1 - f.ra) / sh + 1 : 0;
    f.mb = f.rb < p->s ? (p->s - 1 - f.rb) / sw + 1 : 0;
    const int64_t qa = (a + p->pad_top - f.ra) / sh, qb = (b + p->pad_left - f.rb) / sw;
    f.q = *p;
    f.q.h = out_h;
    f.q.w = out_w;
    f.q.r = f.ma;
    f.q.s = f.mb;
    f.q.stride_h = f.q.stride_w = 1;
    f.q.pad_top = f.ma - 1 - qa;
    f.q.pad_bottom = f.rows + qa - out_h;
    f.q.pad_left = f.mb - 1 - qb;
    f.q.pad_right = f.cols + qb - out_w;
    return f;
}

/* Whether every phase of p's grad_input is such a correlation (M = 1, dilation 1, a stride,
 * non-negative paddings: a padding past the filter's reach leaves grad_output rows no phase
 * reads, which the general path handles), on planes wide enough to gain: phase by phase
 * against the spread input, 3x3 stride 2, one thread, CPU time (Zen 3): 96 x 112 x 112
 * 0.78 -> 0.66 ms, 144 x 56 x 56 0.36 -> 0.28 ms, but 576 x 14 x 14 0.16 -> 0.27 ms (phase rows
 * of 7 columns: the per-row work of sh * sw passes over 7-wide rows outweighs the products
 * saved). */
#ifndef FC_DW_PHASES_MIN_COLS
#define FC_DW_PHASES_MIN_COLS 16
#endif
static int FC_FN(depthwise_phases_apply)(const fc_conv2d_params *p, int64_t out_h,
                                         int64_t out_w)
{
    if (p->k != p->c || p->dilation_h != 1 || p->dilation_w != 1 ||
        p->w / p->stride_w < FC_DW_PHASES_MIN_COLS ||
        (p->stride_h == 1 && p->stride_w == 1) || p->stride_h * p->stride_w > FC_DW_MAX_PHASES)
        return 0;
    for (int64_t a = 0; a < p->stride_h; a++)
        for (int64_t b = 0; b < p->stride_w; b++) {
            const FC_FN(depthwise_phase) f =
                FC_FN(depthwise_phase_geometry)(p, out_h, out_w, a, b);
            if (!f.rows || !f.cols || !f.ma || !f.mb) continue; /* zeros, or nothing */
            if (f.q.pad_top < 0 || f.q.pad_bottom < 0 || f.q.pad_left < 0 ||
                f.q.pad_right < 0 || !FC_FN(padded_rows_fit)(&f.q, f.cols))
                return 0;
        }
    return 1;
}

/* The phases' planes: phase (a, b) at phase[a * sw + b] (NULL: no tap reaches it, zeros),
 * planes of rows[a] x cols[b]. */
typedef struct FC_FN(depthwise_interleave_job) {
    const FC_REAL *phase[FC_DW_MAX_PHASES];
    int64_t rows[FC_DW_MAX_PHASES], cols[FC_DW_MAX_PHASES];
    FC_REAL *gx;
    int64_t planes, sh, sw, h, w, tasks;
} FC_FN(depthwise_interleave_job);

/* gx rows of planes [begin, end), each written once from its phases' rows (one pass over gx:
 * spreading phase by phase wrote every cache line of gx sh * sw times). */
static void FC_FN(depthwise_interleave_task)(void *ctx, int64_t phase, int64_t task, int thread)
{
    (void)phase;
    (void)thread;
    const FC_FN(depthwise_interleave_job) *j = ctx;
    const int64_t sw = j->sw;
    int64_t begin, end;
    fc_task_range(j->planes * j->h, j->tasks, task, &begin, &end);
    for (int64_t item = begin; item < end; item++) {
        const int64_t pl = item / j->h, i = item % j->h, a = i % j->sh, u = i / j->sh;
        FC_REAL *dst = j->gx + item * j->w;
        const FC_REAL *src[FC_DW_MAX_PHASES];
        for (int64_t b = 0; b < sw; b++) {
            const FC_REAL *ph = j->phase[a * sw + b];
            src[b] = ph ? ph + (pl * j->rows[a] + u) * j->cols[b] : NULL;
        }
        if (sw == 2 && src[0] && src[1]) { /* MobileNet's: a loop the compiler vectorises */
            const FC_REAL *s0 = src[0], *s1 = src[1];
            const int64_t pairs = j->w / 2;
            for (int64_t v = 0; v < pairs; v++) {
                dst[2 * v] = s0[v];
                dst[2 * v + 1] = s1[v];
            }
            if (j->w % 2) dst[j->w - 1] = s0[pairs];
            continue;
        }
        for (int64_t b = 0; b < sw; b++)
            for (int64_t v = 0; b + v * sw < j->w; v++)
                dst[b + v * sw] = src[b] ? src[b][v] : 0;
    }
}

static fc_status FC_FN(depthwise_grad_input_phases)(const fc_conv2d_params *p, int64_t out_h,
                                                    int64_t out_w, const FC_REAL *g,
                                                    const FC_REAL *weight, FC_REAL *gx,
                                                    int threads)
{
    const int64_t planes = p->n * p->c, sh = p->stride_h, sw = p->stride_w;
    /* the phases' planes together hold as many elements as gx */
    FC_REAL *phase_planes = fc_aligned_alloc(planes * p->h * p->w * (int64_t)sizeof(FC_REAL));
    FC_REAL *sub = fc_aligned_alloc(p->c * p->r * p->s * (int64_t)sizeof(FC_REAL));
    fc_status status = phase_planes && sub ? FC_OK : FC_ERR_OUT_OF_MEMORY;
    const fc_epi none = {0};
    FC_FN(depthwise_interleave_job) inter = {
        .gx = gx, .planes = planes, .sh = sh, .sw = sw, .h = p->h, .w = p->w,
        .tasks = fc_min_i64(threads, planes * p->h)};
    FC_REAL *next = phase_planes;
    for (int64_t a = 0; a < sh && status == FC_OK; a++)
        for (int64_t b = 0; b < sw && status == FC_OK; b++) {
            const FC_FN(depthwise_phase) f =
                FC_FN(depthwise_phase_geometry)(p, out_h, out_w, a, b);
            inter.rows[a] = f.rows;
            inter.cols[b] = f.cols;
            if (!f.rows || !f.cols || !f.ma || !f.mb) continue;
            for (int64_t c = 0; c < p->c; c++)
                for (int64_t m = 0; m < f.ma; m++)
                    for (int64_t n = 0; n < f.mb; n++)
                        sub[(c * f.ma + m) * f.mb + n] =
                            weight[(c * p->r + f.ra + (f.ma - 1 - m) * sh) * p->s + f.rb +
                                   (f.mb - 1 - n) * sw];
            FC_FN(depthwise_job) job;
            status = FC_FN(depthwise_job_init)(&job, &f.q, f.rows, f.cols, 1, 1, 1, threads);
            if (status != FC_OK) break;
            job.x = g;
            job.weight = sub;
            job.epi = &none;
            job.y = next;
            fc_parallel_for(threads, job.tasks, FC_FN(depthwise_task), &job);
            FC_FN(depthwise_job_free)(&job);
            inter.phase[a * sw + b] = next;
            next += planes * f.rows * f.cols;
        }
    if (status == FC_OK)
        fc_parallel_for((int)inter.tasks, inter.tasks, FC_FN(depthwise_interleave_task), &inter);
    fc_aligned_free(phase_planes);
    fc_aligned_free(sub);
    return status;
}

/* The gradients asked (gx: only where depthwise_grad_input_geometry applies; gw: where
 * depthwise_grad_weight_applies; gb only with gw) of conv2d(x, weight) with groups == C. */
fc_status FC_FN(conv2d_depthwise_backward)(const fc_conv2d_params *p, int64_t out_h,
                                           int64_t out_w, const FC_REAL *g, const FC_REAL *x,
                                           const FC_REAL *weight, FC_REAL *gx, FC_REAL *gw,
                                           FC_REAL *gb)
{
    const int64_t taps = p->r * p->s;
    const int finite = !gx || FC_FN(all_finite)(weight, p->k * taps);
    if (gx && !finite) { /* 0 * inf in the spread zeros: the reference's loop, which skips them */
        FC_RETURN_IF_ERROR(fc_ref_conv2d_backward(
            p, sizeof(FC_REAL) == sizeof(float) ? FC_FLOAT32 : FC_FLOAT64, g, x, weight, gx, NULL,
            NULL));
        gx = NULL;
    }
    if (!gx && !gw) return FC_OK;
    if (gx && FC_FN(depthwise_phases_apply)(p, out_h, out_w)) {
        const int64_t gx_macs = fc_mul_saturating(p->n * p->c * p->h * p->w, taps);
        FC_RETURN_IF_ERROR(FC_FN(depthwise_grad_input_phases)(
            p, out_h, out_w, g, weight, gx,
            (int)fc_min_i64(fc_region_threads(gx_macs / (p->stride_h * p->stride_w)),
                            p->n * p->c)));
        gx = NULL;
        if (!gw) return FC_OK;
    }
    const int64_t macs = fc_mul_saturating(p->n * p->k * out_h * out_w, taps);
    const int threads = (int)fc_min_i64(fc_region_threads(fc_mul_saturating(macs, !!gx + !!gw)),
                                        (gx ? p->n * p->c : 0) + (gw ? p->c : 0));
    FC_FN(depthwise_bw_job) job = {.g = g, .grad_weight = gw, .grad_bias = gb};
    fc_conv2d_params q;
    FC_REAL *flipped = NULL;
    const fc_epi none = {0};
    fc_status status = FC_OK;
    if (gx) {
        (void)FC_FN(conv2d_depthwise_grad_input_geometry)(p, out_h, out_w, &q);
        flipped = fc_aligned_alloc(p->k * taps * (int64_t)sizeof(FC_REAL));
        if (!flipped) return FC_ERR_OUT_OF_MEMORY;
        for (int64_t k = 0; k < p->k; k++)
            for (int64_t t = 0; t < taps; t++)
                flipped[k * taps + t] = weight[k * taps + taps - 1 - t];
        status = FC_FN(depthwise_job_init)(&job.gi, &q, p->h, p->w, p->stride_h, p->stride_w,
                                           1, threads);
        if (status != FC_OK) {
            fc_aligned_free(flipped);
            return status;
        }
        job.gi.x = g;
        job.gi.weight = flipped;
        job.gi.epi = &none;
        job.gi.y = gx;
    }
    if (gw) {
        status = FC_FN(depthwise_job_init)(&job.gw, p, out_h, out_w, 1, 1, 0, threads);
        if (status != FC_OK) {
            if (gx) FC_FN(depthwise_job_free)(&job.gi);
            fc_aligned_free(flipped);
            return status;
        }
        job.gw.x = x;
        job.gw_tasks = p->c;
    }
    fc_parallel_for(threads, job.gw_tasks + (gx ? job.gi.tasks : 0), FC_FN(depthwise_bw_task),
                    &job);
    if (gx) FC_FN(depthwise_job_free)(&job.gi);
    if (gw) FC_FN(depthwise_job_free)(&job.gw);
    fc_aligned_free(flipped);
    return FC_OK;
}

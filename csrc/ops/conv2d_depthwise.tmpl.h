/* conv2d driver: depthwise convolution, groups == C (instantiated by conv2d.c). */

/* ---- depthwise ------------------------------------------------------------------------------
 * Each output channel k reads only input channel k / M (M = K / C, the channel multiplier).  A
 * work item is (image, input channel, tile of output rows): its thread copies the input rows
 * the tile reads into its padded-row buffer (ops/conv2d_common.tmpl.h), then runs the
 * microkernel once for each of the M output channels of that input channel, so the copy is
 * shared by all M filters.  Tiles of rows, not whole planes, are what the threads split: a
 * single 1024 x 1024 image still keeps both cores busy. */
typedef struct FC_FN(depthwise_job) {
    const fc_conv2d_params *p;
    int64_t out_h, out_w;
    const FC_REAL *x, *weight, *bias;
    FC_REAL *y;
    const fc_epi *epi;
    FC_FN(dwconv_config) cfg;
    int64_t tile_rows, row_blocks, buf_rows, row_len;
    int shared;
    size_t row_stride, tap_row_stride;
    int64_t tasks; /* ranges of items */
    FC_REAL *scratch;
    const size_t *tap_col;
} FC_FN(depthwise_job);

static void FC_FN(depthwise_task)(void *ctx, int64_t phase, int64_t task, int thread)
{
    (void)phase;
    const FC_FN(depthwise_job) *job = ctx;
    const fc_conv2d_params *p = job->p;
    const int64_t out_h = job->out_h, tile_rows = job->tile_rows, row_len = job->row_len;
    const int64_t mult = p->k / p->c, taps = p->r * p->s;
    FC_REAL *buf = job->scratch + (int64_t)thread * job->buf_rows * row_len;
    int64_t begin, end;
    fc_task_range(p->n * p->c * job->row_blocks, job->tasks, task, &begin, &end);
    for (int64_t item = begin; item < end; item++) {
        const int64_t oh0 = (item % job->row_blocks) * tile_rows;
        const int64_t c = (item / job->row_blocks) % p->c, n = item / (job->row_blocks * p->c);
        const int64_t rows = fc_min_i64(tile_rows, out_h - oh0);
        const FC_REAL *plane = job->x + (n * p->c + c) * p->h * p->w;
        const int64_t packed = job->shared
                                   ? (rows - 1) * p->stride_h + (p->r - 1) * p->dilation_h + 1
                                   : rows * p->r;
        for (int64_t b = 0; b < packed; b++) {
            const int64_t ih = job->shared ? oh0 * p->stride_h - p->pad_top + b
                                           : (oh0 + b / p->r) * p->stride_h - p->pad_top +
                                                 (b % p->r) * p->dilation_h;
            FC_FN(pack_padded_row)(p, (ih < 0 || ih >= p->h) ? NULL : plane + ih * p->w,
                                   buf + b * row_len);
        }
        for (int64_t k = c * mult; k < (c + 1) * mult; k++) {
            FC_REAL *y = job->y + ((n * p->k + k) * out_h + oh0) * job->out_w;
            job->cfg.ukernel((size_t)rows, (size_t)job->out_w, (size_t)p->r, (size_t)p->s, buf,
                             job->row_stride, job->tap_row_stride, job->tap_col,
                             job->weight + k * taps, job->bias ? job->bias[k] : 0,
                             job->epi->fused, y, (size_t)job->out_w);
            if (job->epi->post) /* the tile's rows are contiguous in y */
                FC_FN(epilogue_apply)(job->epi, y, 1, rows * job->out_w, 0, 1);
        }
    }
}

static fc_status FC_FN(conv2d_depthwise)(const fc_conv2d_params *p, int64_t out_h,
                                         int64_t out_w, const FC_REAL *x, const FC_REAL *weight,
                                         const fc_epi *epi, FC_REAL *y)
{
    const FC_FN(dwconv_config) cfg = fc_kernels()->FC_MEMBER(dwconv);
    const int64_t taps = p->r * p->s;
    const int64_t tile_rows = fc_min_i64(cfg.tile_rows, out_h);
    const int64_t row_blocks = fc_ceil_div(out_h, tile_rows);
    const int64_t items = p->n * p->c * row_blocks;
    const int64_t macs = fc_mul_saturating(p->n * p->k * out_h * out_w, taps);
    const int threads = (int)fc_min_i64(fc_region_threads(macs), items);
    const int64_t row_len = FC_FN(padded_row_len)(p);
    /* The buffer holds each input row of a tile once (`shared`: with stride 1 a row read by R
     * output rows is copied once) unless that span is longer than R rows per output row (a
     * stride or dilation much larger than the filter): then it holds the R rows of each output
     * row, output row i's filter row r at buffer row i * R + r. */
    const int64_t span =
        fc_mul_saturating(tile_rows - 1, p->stride_h) + (p->r - 1) * p->dilation_h + 1;
    const int shared = span <= fc_mul_saturating(tile_rows, p->r);
    const int64_t buf_rows = shared ? span : tile_rows * p->r;
    const size_t row_stride = (size_t)((shared ? p->stride_h : p->r) * row_len);
    const size_t tap_row_stride = (size_t)((shared ? p->dilation_h : 1) * row_len);

    int64_t scratch_bytes;
    const int64_t scratch_dims[4] = {threads, buf_rows, row_len, (int64_t)sizeof(FC_REAL)};
    FC_RETURN_IF_ERROR(fc_checked_product(scratch_dims, 4, &scratch_bytes));
    FC_REAL *scratch = fc_aligned_alloc(scratch_bytes);
    size_t *tap_col = FC_FN(padded_tap_columns)(p);
    if (!scratch || !tap_col) {
        fc_aligned_free(scratch);
        fc_aligned_free(tap_col);
        return FC_ERR_OUT_OF_MEMORY;
    }

    FC_FN(depthwise_job) job = {p, out_h, out_w, x, weight, epi->bias, y, epi, cfg, tile_rows,
                                row_blocks, buf_rows, row_len, shared, row_stride,
                                tap_row_stride,
                                threads == 1 ? 1
                                             : fc_task_count(items, macs / items,
                                                             FC_MIN_WORK_PER_THREAD / 2),
                                scratch, tap_col};
    fc_parallel_for(threads, job.tasks, FC_FN(depthwise_task), &job);
    fc_aligned_free(scratch);
    fc_aligned_free(tap_col);
    return FC_OK;
}

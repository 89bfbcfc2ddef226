/* filter2d driver for one sum type FC_REAL (instantiated by filter2d.c).
 *
 * A work item is (image, tile of rows, tile of columns, channel).  Its thread builds the
 * bordered strip the tile reads -- tile rows + kh - 1 rows of tile columns + kw - 1 pixels,
 * converted to FC_REAL, the border filled by fc_border_index -- in its scratch, and runs the
 * depthwise microkernel (kernels/dwconv) over it: once with the kh x kw kernel, or, separably,
 * once with 1 x kw over every strip row and once with kh x 1 over those row sums.  No padded
 * copy of the whole image is made; each input row is converted (tile_rows + kh - 1) /
 * tile_rows times.  The tile is then rounded and stored into its channel of y (or written by
 * the microkernel in place when y is one channel of the sum type).  Every output element is
 * summed by one task in a fixed order, so the result is the same for any thread count. */
typedef struct FC_FN(filter2d_job) {
    const fc_filter2d_params *p;
    const char *x;
    char *y;
    const FC_REAL *k2, *kx, *ky; /* k2: the 2-D kernel, or NULL for the separable pair */
    FC_FN(dwconv_ukernel_fn) ukernel;
    int64_t tile_rows, tile_cols, row_blocks, col_blocks, items, tasks;
    int64_t buf_len, mid_len, per_thread; /* scratch segments, in elements */
    FC_REAL *scratch;
    const size_t *tap_col; /* 0, 1, ..., kw - 1 */
    int direct;
} FC_FN(filter2d_job);

/* Strip row: pixels j0 - anchor_x ... j0 + cols + kw - 2 - anchor_x of input row iy (any
 * integer; the border rule maps it) of image n, channel ch, converted. */
static void FC_FN(filter2d_strip_row)(const FC_FN(filter2d_job) *job, int64_t n, int64_t ch,
                                      int64_t iy, int64_t j0, int64_t cols, FC_REAL *dst)
{
    const fc_filter2d_params *p = job->p;
    const int64_t len = cols + p->kw - 1, first = j0 - p->anchor_x;
    const FC_REAL value = (FC_REAL)p->value;
    iy = fc_border_index(iy, p->h, p->border);
    if (iy < 0) {
        for (int64_t t = 0; t < len; t++) dst[t] = value;
        return;
    }
    const int64_t size = fc_pixel_size(p->x_type), sw = p->x_strides[2];
    const char *row = job->x + (n * p->x_strides[0] + iy * p->x_strides[1] +
                                ch * p->x_strides[3]) * size;
    /* the columns inside the image in one converting copy, the border pixel by pixel */
    const int64_t lo = fc_min_i64(fc_max_i64(-first, 0), len);
    const int64_t hi = fc_max_i64(fc_min_i64(p->w - first, len), lo);
    if (hi > lo) FC_FN(filter2d_load_row)(dst + lo, row + (first + lo) * sw * size, hi - lo, sw,
                                          p->x_type);
    /* the border columns: [0, lo), then [hi, len) */
    for (int64_t t = lo > 0 ? 0 : hi; t < len; t = t + 1 == lo ? hi : t + 1) {
        const int64_t ix = fc_border_index(first + t, p->w, p->border);
        if (ix < 0)
            dst[t] = value;
        else
            FC_FN(filter2d_load_row)(dst + t, row + ix * sw * size, 1, 1, p->x_type);
    }
}

static void FC_FN(filter2d_task)(void *ctx, int64_t phase, int64_t task, int thread)
{
    (void)phase;
    const FC_FN(filter2d_job) *job = ctx;
    const fc_filter2d_params *p = job->p;
    const int64_t kh = p->kh, kw = p->kw, c = p->c;
    FC_REAL *buf = job->scratch + (int64_t)thread * job->per_thread;
    FC_REAL *mid = buf + job->buf_len, *tile = mid + job->mid_len;
    int64_t begin, end;
    fc_task_range(job->items, job->tasks, task, &begin, &end);
    for (int64_t item = begin; item < end; item++) {
        /* channel fastest: neighbouring items read the same lines of an interleaved image */
        const int64_t ch = item % c, rest = item / c;
        const int64_t cb = rest % job->col_blocks, rb = (rest / job->col_blocks) % job->row_blocks;
        const int64_t n = rest / (job->col_blocks * job->row_blocks);
        const int64_t i0 = rb * job->tile_rows, j0 = cb * job->tile_cols;
        const int64_t rows = fc_min_i64(job->tile_rows, p->h - i0);
        const int64_t cols = fc_min_i64(job->tile_cols, p->w - j0);
        const int64_t in_rows = rows + kh - 1, row_len = cols + kw - 1;
        for (int64_t b = 0; b < in_rows; b++)
            FC_FN(filter2d_strip_row)(job, n, ch, i0 + b - p->anchor_y, j0, cols,
                                      buf + b * row_len);
        FC_REAL *out = job->direct ? (FC_REAL *)job->y + (n * p->h + i0) * p->w + j0 : tile;
        const size_t out_stride = (size_t)(job->direct ? p->w : cols);
        if (job->k2) {
            job->ukernel((size_t)rows, (size_t)cols, (size_t)kh, (size_t)kw, buf,
                         (size_t)row_len, (size_t)row_len, job->tap_col, job->k2, (FC_REAL)p->delta, 0, out,
                         out_stride);
        } else {
            job->ukernel((size_t)in_rows, (size_t)cols, 1, (size_t)kw, buf, (size_t)row_len,
                         (size_t)row_len, job->tap_col, job->kx, 0, 0, mid, (size_t)cols);
            job->ukernel((size_t)rows, (size_t)cols, (size_t)kh, 1, mid, (size_t)cols,
                         (size_t)cols, job->tap_col, job->ky, (FC_REAL)p->delta, 0, out, out_stride);
        }
        if (job->direct) continue;
        const int64_t ysize = fc_pixel_size(p->y_type);
        for (int64_t i = 0; i < rows; i++)
            FC_FN(filter2d_store_row)(
                job->y + (((n * p->h + i0 + i) * p->w + j0) * c + ch) * ysize, c,
                tile + i * cols, cols, p->y_type);
    }
}

/* Elements rounded up to 64 bytes, so each scratch segment starts on a cache line. */
static int64_t FC_FN(filter2d_lines)(int64_t elements)
{
    const int64_t per_line = 64 / (int64_t)sizeof(FC_REAL);
    return fc_ceil_div(elements, per_line) * per_line;
}

static fc_status FC_FN(filter2d_run)(const fc_filter2d_params *p, const void *x,
                                     const double *kernel, const double *kx, const double *ky,
                                     void *y)
{
    const FC_FN(dwconv_config) cfg = fc_kernels()->FC_MEMBER(dwconv);
    const int64_t kh = p->kh, kw = p->kw;
    /* Tiles of 32+ rows (the depthwise driver's, measured there) and at least 2 (kh - 1), so
     * a tall kernel's extra strip rows stay under half the work; at most ~1024 columns, so a
     * strip of a 4096-wide image (and its row sums) stays in a 1 MiB L2. */
    const int64_t tile_rows = fc_min_i64(fc_max_i64(cfg.tile_rows, 2 * (kh - 1)), p->h);
    const int64_t col_blocks = fc_ceil_div(p->w, 1024);
    const int64_t tile_cols = fc_ceil_div(p->w, col_blocks);
    const int64_t row_blocks = fc_ceil_div(p->h, tile_rows);
    const int64_t items = p->n * row_blocks * col_blocks * p->c;
    const int64_t taps = kernel ? kh * kw : kh + kw;
    const int64_t macs = fc_mul_saturating(p->n * p->h * p->w * p->c, taps);
    const int threads = (int)fc_min_i64(fc_region_threads(macs), items);
    const int sum_type = sizeof(FC_REAL) == 4 ? FC_PIXEL_F32 : FC_PIXEL_F64;
    const int direct = p->c == 1 && (int)p->y_type == sum_type;
    const int64_t in_rows = tile_rows + kh - 1;
    const int64_t buf_len = FC_FN(filter2d_lines)(in_rows * (tile_cols + kw - 1));
    const int64_t mid_len = kernel ? 0 : FC_FN(filter2d_lines)(in_rows * tile_cols);
    const int64_t tile_len = direct ? 0 : FC_FN(filter2d_lines)(tile_rows * tile_cols);
    const int64_t per_thread = buf_len + mid_len + tile_len;

    int64_t scratch_bytes;
    const int64_t dims[3] = {threads, per_thread, (int64_t)sizeof(FC_REAL)};
    FC_RETURN_IF_ERROR(fc_checked_product(dims, 3, &scratch_bytes));
    FC_REAL *scratch = fc_aligned_alloc(scratch_bytes);
    FC_REAL *weights = fc_aligned_alloc(taps * (int64_t)sizeof(FC_REAL));
    size_t *tap_col = fc_aligned_alloc(kw * (int64_t)sizeof(size_t));
    if (!scratch || !weights || !tap_col) {
        fc_aligned_free(scratch);
        fc_aligned_free(weights);
        fc_aligned_free(tap_col);
        return FC_ERR_OUT_OF_MEMORY;
    }
    for (int64_t s = 0; s < kw; s++) tap_col[s] = (size_t)s;
    FC_FN(filter2d_job) job = {p, x, y, NULL, NULL, NULL, cfg.ukernel, tile_rows,
                               tile_cols, row_blocks, col_blocks, items, 1, buf_len, mid_len,
                               per_thread, scratch, tap_col, direct};
    if (kernel) {
        for (int64_t t = 0; t < taps; t++) weights[t] = (FC_REAL)kernel[t];
        job.k2 = weights;
    } else {
        for (int64_t s = 0; s < kw; s++) weights[s] = (FC_REAL)kx[s];
        for (int64_t r = 0; r < kh; r++) weights[kw + r] = (FC_REAL)ky[r];
        job.kx = weights;
        job.ky = weights + kw;
    }
    if (threads > 1)
        job.tasks = fc_task_count(items, macs / items, FC_MIN_WORK_PER_THREAD / 2);
    fc_parallel_for(threads, job.tasks, FC_FN(filter2d_task), &job);
    fc_aligned_free(scratch);
    fc_aligned_free(weights);
    fc_aligned_free(tap_col);
    return FC_OK;
}

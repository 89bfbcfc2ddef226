/* filter2d driver for one sum type FC_REAL (instantiated by filter2d.c).
 *
 * A work item is (image, block of rows, block of columns).  Its thread streams down the
 * block: each input row the block reads (block rows + kh - 1 of them) is built once -- tile
 * columns + kw - 1 pixels, converted to FC_REAL, channels interleaved as in the image, the
 * border filled by fc_border_index -- and appended to a window of rows in the thread's
 * scratch; separably, the window gets that row's 1 x kw sums instead.  Every FC_F2D_GROUP
 * output rows, the depthwise microkernel (kernels/dwconv) sums them from the window: the
 * kh x kw kernel over the converted rows, or kh x 1 over the row sums.  The window's rows are
 * consecutive with one stride, as the microkernel reads them; when it is full, the rows still
 * needed (at most kh + FC_F2D_GROUP - 2) move to its top, so with a window of twice that many
 * rows each row moves less than once (writing every row twice, into a doubled ring, cost a
 * Gaussian 8%).  So each input row is converted (and row summed) once per block, not once per
 * tile of 32 rows: a tall separable kernel (a Gaussian of sigma 5 has kh 41) recomputed up to
 * half its row sums before.  The channels stay interleaved: a row is (tile columns + kw - 1)
 * * C values whose tap s sits s * C values to the right, so the microkernel filters every
 * channel in one sweep and the rows are stored as
 * contiguous rows (de-interleaving per channel made each item's loads and stores strided, 7x
 * slower for 3-channel images).  The group is then rounded and stored into y, or written
 * there by the microkernel in place when y is of the sum type.  Every output element is
 * summed by one task in a fixed order (delta, then the taps as the reference), so the result
 * is the same for any thread count and blocking.  A 2-D kernel's taps of weight 0 are left
 * out (FC_SKIP_ZERO_TAPS), as cv2.filter2D leaves them out: a quarter fewer multiply-adds for
 * a kernel with a quarter zeros, and a NaN or inf pixel under a zero tap stays out of the
 * sum, as in OpenCV; the separable passes keep them, as cv2.sepFilter2D does. */

/* Output rows per microkernel call: a multiple of the members' register rows (2), few enough
 * that the window stays small. */
#ifndef FC_F2D_GROUP
#define FC_F2D_GROUP 4
#endif

typedef struct FC_FN(filter2d_job) {
    const fc_filter2d_params *p;
    const char *x;
    char *y;
    const FC_REAL *k2, *kx, *ky; /* k2: the 2-D kernel, or NULL for the separable pair */
    FC_FN(dwconv_ukernel_fn) ukernel;
    int64_t tile_rows, tile_cols, row_blocks, col_blocks, items, tasks;
    int64_t window_rows, window_len, line_len, per_thread; /* scratch segments, in elements */
    FC_REAL *scratch;
    const size_t *tap_col; /* 0, C, 2C, ..., (kw - 1) C */
    int direct;
    unsigned k2_fused; /* the 2-D kernel's flags for the microkernel */
    /* in_place: a 2-D kernel's outputs whose taps fall inside the image read it in place (see
     * filter2d_run); edge_group: output rows per microkernel call in the edge columns beside
     * them */
    int in_place;
    int64_t edge_group;
} FC_FN(filter2d_job);

/* Strip row: pixels j0 - anchor_x ... j0 + cols + kw - 2 - anchor_x of input row iy (any
 * integer; the border rule maps it) of image n, every channel, converted and interleaved. */
static void FC_FN(filter2d_strip_row)(const FC_FN(filter2d_job) *job, int64_t n, int64_t iy,
                                      int64_t j0, int64_t cols, FC_REAL *dst)
{
    const fc_filter2d_params *p = job->p;
    const int64_t c = p->c, len = cols + p->kw - 1, first = j0 - p->anchor_x;
    const FC_REAL value = (FC_REAL)p->value;
    iy = fc_border_index(iy, p->h, p->border);
    if (iy < 0) {
        for (int64_t t = 0; t < len * c; t++) dst[t] = value;
        return;
    }
    const int64_t size = fc_pixel_size(p->x_type), sw = p->x_strides[2], sc = p->x_strides[3];
    const char *row = job->x + (n * p->x_strides[0] + iy * p->x_strides[1]) * size;
    /* the pixels inside the image in one converting copy (per channel when the channels are
     * not packed), the border pixel by pixel */
    const int64_t lo = fc_min_i64(fc_max_i64(-first, 0), len);
    const int64_t hi = fc_max_i64(fc_min_i64(p->w - first, len), lo);
    const char *inside = row + (first + lo) * sw * size;
    if (hi == lo) {
    } else if (c == 1 || (sc == 1 && sw == c)) {
        FC_FN(filter2d_load_row)(dst + lo * c, 1, inside, (hi - lo) * c, c == 1 ? sw : 1,
                                 p->x_type);
    } else {
        for (int64_t ch = 0; ch < c; ch++)
            FC_FN(filter2d_load_row)(dst + lo * c + ch, c, inside + ch * sc * size, hi - lo, sw,
                                     p->x_type);
    }
    /* the border pixels: [0, lo), then [hi, len) */
    for (int64_t t = lo > 0 ? 0 : hi; t < len; t = t + 1 == lo ? hi : t + 1) {
        const int64_t ix = fc_border_index(first + t, p->w, p->border);
        if (ix < 0)
            for (int64_t ch = 0; ch < c; ch++) dst[t * c + ch] = value;
        else
            FC_FN(filter2d_load_row)(dst + t * c, 1, row + ix * sw * size, c, sc, p->x_type);
    }
}

/* Output rows [i0 + done, i0 + done + g) of the item, from the window rows they read. */
static void FC_FN(filter2d_group)(const FC_FN(filter2d_job) *job, const FC_REAL *src,
                                  int64_t slot_len, int64_t y_offset, int64_t g, int64_t width,
                                  FC_REAL *tile)
{
    const fc_filter2d_params *p = job->p;
    const int64_t y_row = p->w * p->c;
    FC_REAL *out = job->direct ? (FC_REAL *)job->y + y_offset : tile;
    const size_t out_stride = (size_t)(job->direct ? y_row : width);
    const FC_REAL delta = (FC_REAL)p->delta;
    if (job->k2)
        job->ukernel((size_t)g, (size_t)width, (size_t)p->kh, (size_t)p->kw, src,
                     (size_t)slot_len, (size_t)slot_len, job->tap_col, job->k2, delta,
                     job->k2_fused, out, out_stride);
    else
        job->ukernel((size_t)g, (size_t)width, (size_t)p->kh, 1, src, (size_t)slot_len,
                     (size_t)slot_len, job->tap_col, job->ky, delta, 0, out, out_stride);
    if (job->direct) return;
    const int64_t ysize = fc_pixel_size(p->y_type);
    for (int64_t i = 0; i < g; i++)
        FC_FN(filter2d_store_row)(job->y + (y_offset + i * y_row) * ysize, 1, tile + i * width,
                                  width, p->y_type);
}

/* Window rows for calls of `group` output rows: twice the kh + group - 1 rows a call reads,
 * so that each row moves less than once (see the top of the file). */
static int64_t FC_FN(filter2d_window_rows)(int64_t kh, int64_t group)
{
    return 2 * (kh + group - 1);
}

/* Output rows [i0, i0 + rows) x columns [j0, j0 + cols) of image n through the window of
 * converted rows, `group` output rows per microkernel call with a window of `window_rows`
 * rows (the caller's choice: the job's for whole rows, more for a narrow edge strip, whose
 * window rows are short). */
static void FC_FN(filter2d_window_region)(const FC_FN(filter2d_job) *job, FC_REAL *window,
                                          FC_REAL *line, FC_REAL *tile, int64_t n, int64_t i0,
                                          int64_t rows, int64_t j0, int64_t cols, int64_t group,
                                          int64_t window_rows)
{
    const fc_filter2d_params *p = job->p;
    const int64_t kh = p->kh, kw = p->kw, c = p->c;
    if (rows <= 0 || cols <= 0) return;
    const int64_t row_len = (cols + kw - 1) * c, width = cols * c;
    const int64_t slot_len = job->k2 ? row_len : width; /* a window row's values */
    const int64_t y_offset = ((n * p->h + i0) * p->w + j0) * c;
    int64_t done = 0;  /* output rows written */
    int64_t first = 0; /* the input row in the window's top row */
    for (int64_t b = 0; b < rows + kh - 1; b++) {
        if (b - first == window_rows) { /* full: keep rows done ... b - 1 */
            memmove(window, window + (done - first) * slot_len,
                    (size_t)((b - done) * slot_len) * sizeof(FC_REAL));
            first = done;
        }
        FC_REAL *slot = window + (b - first) * slot_len;
        if (job->k2) {
            FC_FN(filter2d_strip_row)(job, n, i0 + b - p->anchor_y, j0, cols, slot);
        } else {
            FC_FN(filter2d_strip_row)(job, n, i0 + b - p->anchor_y, j0, cols, line);
            job->ukernel(1, (size_t)width, 1, (size_t)kw, line, (size_t)row_len,
                         (size_t)row_len, job->tap_col, job->kx, 0, 0, slot, (size_t)width);
        }
        /* output row i reads input rows i ... i + kh - 1 */
        const int64_t ready = b - kh + 2;
        if (ready - done < group && !(b == rows + kh - 2 && ready > done)) continue;
        FC_FN(filter2d_group)(job, window + (done - first) * slot_len, slot_len,
                              y_offset + done * p->w * c, ready - done, width, tile);
        done = ready;
    }
}

/* Output rows [i0, i0 + rows) x columns [j0, j0 + cols) of image n whose every tap falls inside
 * the image, read where they are (job->in_place: the image is of the sum type, its pixels'
 * channels packed, its rows at a positive stride): no converted copy of the rows. */
static void FC_FN(filter2d_inside_region)(const FC_FN(filter2d_job) *job, FC_REAL *tile,
                                          int64_t n, int64_t i0, int64_t rows, int64_t j0,
                                          int64_t cols)
{
    const fc_filter2d_params *p = job->p;
    const int64_t c = p->c, x_row = p->x_strides[1];
    const FC_REAL *x = (const FC_REAL *)job->x + n * p->x_strides[0] +
                       (i0 - p->anchor_y) * x_row + (j0 - p->anchor_x) * c;
    const int64_t y_offset = ((n * p->h + i0) * p->w + j0) * c;
    for (int64_t done = 0; done < rows; done += FC_F2D_GROUP)
        FC_FN(filter2d_group)(job, x + done * x_row, x_row, y_offset + done * p->w * c,
                              fc_min_i64(FC_F2D_GROUP, rows - done), cols * c, tile);
}

static void FC_FN(filter2d_task)(void *ctx, int64_t phase, int64_t task, int thread)
{
    (void)phase;
    const FC_FN(filter2d_job) *job = ctx;
    const fc_filter2d_params *p = job->p;
    FC_REAL *window = job->scratch + (int64_t)thread * job->per_thread;
    FC_REAL *line = window + job->window_len, *tile = line + job->line_len;
    int64_t begin, end;
    fc_task_range(job->items, job->tasks, task, &begin, &end);
    for (int64_t item = begin; item < end; item++) {
        const int64_t cb = item % job->col_blocks, rb = (item / job->col_blocks) % job->row_blocks;
        const int64_t n = item / (job->col_blocks * job->row_blocks);
        const int64_t i0 = rb * job->tile_rows, j0 = cb * job->tile_cols;
        const int64_t i1 = fc_min_i64(i0 + job->tile_rows, p->h);
        const int64_t j1 = fc_min_i64(j0 + job->tile_cols, p->w);
        /* the outputs whose taps all fall inside the image: rows [il, ir), columns [jl, jr) */
        const int64_t il = fc_min_i64(fc_max_i64(p->anchor_y, i0), i1);
        const int64_t ir = fc_max_i64(fc_min_i64(p->h - p->kh + 1 + p->anchor_y, i1), il);
        const int64_t jl = fc_min_i64(fc_max_i64(p->anchor_x, j0), j1);
        const int64_t jr = fc_max_i64(fc_min_i64(p->w - p->kw + 1 + p->anchor_x, j1), jl);
        if (!job->in_place || ir == il || jr == jl) {
            FC_FN(filter2d_window_region)(job, window, line, tile, n, i0, i1 - i0, j0, j1 - j0,
                                          FC_F2D_GROUP, job->window_rows);
            continue;
        }
        /* the frame around them through the window (the rows above and below whole, the edge
         * columns beside in groups of up to edge_group rows: a window row there holds a few
         * pixels), the inside in place */
        FC_FN(filter2d_window_region)(job, window, line, tile, n, i0, il - i0, j0, j1 - j0,
                                      FC_F2D_GROUP, job->window_rows);
        FC_FN(filter2d_window_region)(job, window, line, tile, n, ir, i1 - ir, j0, j1 - j0,
                                      FC_F2D_GROUP, job->window_rows);
        const int64_t edge_window_rows = FC_FN(filter2d_window_rows)(p->kh, job->edge_group);
        FC_FN(filter2d_window_region)(job, window, line, tile, n, il, ir - il, j0, jl - j0,
                                      job->edge_group, edge_window_rows);
        FC_FN(filter2d_window_region)(job, window, line, tile, n, il, ir - il, jr, j1 - jr,
                                      job->edge_group, edge_window_rows);
        FC_FN(filter2d_inside_region)(job, tile, n, il, ir - il, jl, jr - jl);
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
    const int64_t kh = p->kh, kw = p->kw, c = p->c;
    /* Blocks of 64+ rows, and at least 4 (kh - 1), so the extra rows a block reads (row sums,
     * for a separable kernel) stay under a quarter of its work; as wide as the image while
     * the window stays under 256 KiB of the 1 MiB L2, in blocks of columns beyond.  Whole
     * rows stream through the prefetchers: 3 blocks of a 1024 x 1024 x 3 uint8 image (1 KiB
     * pieces of its rows) made a 3x3 filter 1.3x slower (Zen 4 EPYC). */
    const int64_t tile_rows = fc_min_i64(fc_max_i64(64, 4 * (kh - 1)), p->h);
    const int64_t window_rows = FC_FN(filter2d_window_rows)(kh, FC_F2D_GROUP);
    const int64_t row_bytes = fc_mul_saturating(
        fc_mul_saturating(kernel ? p->w + kw - 1 : p->w, c), (int64_t)sizeof(FC_REAL));
    const int64_t col_blocks = fc_min_i64(
        fc_ceil_div(fc_mul_saturating(window_rows, row_bytes), (int64_t)256 << 10), p->w);
    const int64_t tile_cols = fc_ceil_div(p->w, col_blocks);
    const int64_t row_blocks = fc_ceil_div(p->h, tile_rows);
    const int64_t items = p->n * row_blocks * col_blocks;
    const int64_t taps = kernel ? kh * kw : kh + kw;
    const int64_t macs = fc_mul_saturating(p->n * p->h * p->w * c, taps);
    const int threads = (int)fc_min_i64(fc_region_threads(macs), items);
    const int sum_type = sizeof(FC_REAL) == 4 ? FC_PIXEL_F32 : FC_PIXEL_F64;
    const int direct = (int)p->y_type == sum_type;
    int64_t window_len, line_len, tile_len, per_thread, scratch_bytes, row_values;
    const int64_t row_dims[2] = {tile_cols + kw - 1, c};
    FC_RETURN_IF_ERROR(fc_checked_product(row_dims, 2, &row_values));
    /* the window's rows: converted input rows, or (separably) row sums of tile_cols * c */
    const int64_t window_dims[2] = {window_rows, kernel ? row_values : tile_cols * c};
    FC_RETURN_IF_ERROR(fc_checked_product(window_dims, 2, &window_len));
    window_len = FC_FN(filter2d_lines)(window_len);
    line_len = kernel ? 0 : FC_FN(filter2d_lines)(row_values);
    tile_len = direct ? 0 : FC_FN(filter2d_lines)(FC_F2D_GROUP * tile_cols * c);
    per_thread = window_len + line_len + tile_len;
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
    for (int64_t s = 0; s < kw; s++) tap_col[s] = (size_t)(s * c);
    FC_FN(filter2d_job) job = {p, x, y, NULL, NULL, NULL, cfg.ukernel, tile_rows, tile_cols,
                               row_blocks, col_blocks, items, 1, window_rows, window_len, line_len,
                               per_thread, scratch, tap_col, direct, 0, 0, FC_F2D_GROUP};
    /* A 2-D kernel over an image of the sum type whose pixels' channels are packed and whose
     * rows lie at a positive stride reads the image in place wherever every tap falls inside
     * it: the window's converted copy of each row would be a plain copy there (a 3x3 filter
     * of a float32 image spent about a fifth of its time in it), and the same values in the
     * same order make the same sums.  Float32 1024^2, fastconv in place / through the window,
     * one thread, CPU time, medians of 40 interleaved calls (Zen 3 EPYC AVX2): 3x3 1.30x (1.69x
     * without zero taps), 5x5 1.05-1.07x; 7x7 0.99x (0.85x without zero taps) but 1.03x on
     * 1000-wide rows.  Rows a multiple of 4 KiB apart fall in the same sets of the L1 cache, and
     * 7 of them plus the output row outnumber its 8 ways (the window's rows are kw - 1 pixels
     * longer): taller kernels read such images through the window. */
    const int64_t edge_cols = fc_min_i64(kw - 1, tile_cols);
    const int set_aliased = kh > 5 && (p->x_strides[1] * (int64_t)sizeof(FC_REAL)) % 4096 == 0;
    job.in_place = kernel && p->x_type == sum_type && p->x_strides[1] > 0 &&
                   p->x_strides[2] == c && (c == 1 || p->x_strides[3] == 1) &&
                   (uintptr_t)x % sizeof(FC_REAL) == 0 && edge_cols > 0 && !set_aliased;
    if (job.in_place) {
        /* the edge columns beside the inside are at most kw - 1 wide: their window rows are
         * short, so a call takes up to 32 rows, as many as the window and the tile hold */
        const int64_t edge_len = (edge_cols + kw - 1) * c;
        int64_t group = fc_min_i64(32, window_len / (2 * edge_len) - kh + 1);
        if (!direct) group = fc_min_i64(group, tile_len / (edge_cols * c));
        job.edge_group = fc_max_i64(FC_F2D_GROUP, group);
    }
    if (kernel) {
        int zero_taps = 0;
        for (int64_t t = 0; t < taps; t++) {
            weights[t] = (FC_REAL)kernel[t];
            zero_taps |= weights[t] == 0;
        }
        job.k2 = weights;
        /* without zero taps to skip, the microkernel may take its register tile of rows
         * (each loaded vector feeding several rows) rather than the list of taps */
        job.k2_fused = FC_SKIP_ZERO_TAPS | (zero_taps ? 0 : FC_DENSE_TAPS);
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

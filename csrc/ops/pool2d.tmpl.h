/* Pooling drivers for one dtype (instantiated by pool2d.c).  A work item is one output row of
 * one plane; the driver resolves which window rows lie inside the plane and hands them to the
 * row microkernel.  Each output element belongs to one item, so one thread. */

/* Window rows of output row oh that lie inside the plane, in window order; returns how many.
 * *padded_rows counts those inside the padded plane (the count_include_pad divisor). */
static size_t FC_FN(pool_window_rows)(const fc_pool2d_params *p, const FC_REAL *plane,
                                      int64_t oh, const FC_REAL **row_ptrs,
                                      int64_t *row_offsets, int64_t *padded_rows)
{
    size_t rows = 0;
    int64_t padded = 0;
    for (int64_t i = 0; i < p->kernel_h; i++) {
        const int64_t ih = oh * p->stride_h - p->pad_h + i * p->dilation_h;
        if (ih < p->h + p->pad_h) padded++;
        if (ih < 0 || ih >= p->h) continue;
        row_ptrs[rows] = plane + ih * p->w;
        row_offsets[rows] = ih * p->w;
        rows++;
    }
    *padded_rows = padded;
    return rows;
}

static fc_status FC_FN(pool2d)(const fc_pool2d_params *p, int64_t out_h, int64_t out_w,
                               const FC_REAL *x, FC_REAL *y, int64_t *indices, int is_max)
{
    const fc_kernel_table *kernels = fc_kernels();
    const FC_FN(maxpool_ukernel_fn) max_row = kernels->FC_MEMBER(maxpool);
    const FC_FN(avgpool_ukernel_fn) avg_row = kernels->FC_MEMBER(avgpool);
    const fc_pool_columns cols = {out_w, p->w, p->kernel_w, p->stride_w, p->pad_w,
                                  p->dilation_w};
    const int64_t items = p->n * p->c * out_h;
    const int64_t visits =
        fc_mul_saturating(fc_mul_saturating(items * out_w, p->kernel_h), p->kernel_w);
    const int threads = (int)fc_min_i64(fc_region_threads(visits), items);
    /* per thread: a row pointer and a row offset for each window row */
    int64_t scratch_size;
    const int64_t dims[3] = {threads, p->kernel_h, (int64_t)(sizeof(void *) + sizeof(int64_t))};
    FC_RETURN_IF_ERROR(fc_checked_product(dims, 3, &scratch_size));
    char *scratch = fc_aligned_alloc(scratch_size);
    if (!scratch) return FC_ERR_OUT_OF_MEMORY;

#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        const int t = fc_thread_index();
        const int team = fc_team_size();
        const FC_REAL **row_ptrs =
            (const FC_REAL **)(scratch + (int64_t)t * p->kernel_h * (int64_t)sizeof(void *));
        int64_t *row_offsets =
            (int64_t *)(scratch + (int64_t)threads * p->kernel_h * (int64_t)sizeof(void *)) +
            (int64_t)t * p->kernel_h;
        int64_t begin, end;
        fc_partition(items, team, t, &begin, &end);
        for (int64_t item = begin; item < end; item++) {
            const int64_t plane = item / out_h, oh = item % out_h;
            int64_t padded_rows;
            const size_t rows = FC_FN(pool_window_rows)(p, x + plane * p->h * p->w, oh,
                                                        row_ptrs, row_offsets, &padded_rows);
            const int64_t o = plane * out_h * out_w + oh * out_w;
            if (is_max)
                max_row(&cols, rows, row_ptrs, row_offsets, y + o, indices ? indices + o : NULL);
            else
                avg_row(&cols, rows, row_ptrs, padded_rows, p->count_include_pad, y + o);
        }
    }
    fc_aligned_free(scratch);
    return FC_OK;
}

/* Channels-last pooling drivers for one dtype (instantiated by pool2d.c): x (N, H, W, C),
 * y (N, P, Q, C), indices (N, P, Q, C), each the flat index ih * W + iw into its H x W plane
 * as torch defines them for channels_last tensors (so max_pool2d_backward reads them as in
 * NCHW).  A work item is one output pixel: the driver lists the window's pixels that lie in
 * the plane, in row-major window order, and the pool_nhwc kernel folds their runs of C
 * values, a vector of channels at a time.  Each output element belongs to one item, whose
 * arithmetic is the NCHW kernels' (kernels/pool_nhwc/simd.tmpl.h): the NCHW result, bit for
 * bit, transposed. */

typedef struct FC_FN(pool_nhwc_job) {
    const fc_pool2d_params *p;
    int64_t out_h, out_w;
    const FC_REAL *x;
    FC_REAL *y;
    int64_t *indices;
    int is_max;
    int64_t tasks; /* ranges of output pixels */
    char *scratch; /* per thread: a pointer and an offset (8 bytes each) per window pixel */
} FC_FN(pool_nhwc_job);

/* Windows up to this many pixels list them on the stack; larger ones in the job's scratch. */
#define FC_POOL_NHWC_STACK 64

static void FC_FN(pool_nhwc_task)(void *ctx, int64_t phase, int64_t i, int t)
{
    (void)phase;
    const FC_FN(pool_nhwc_job) *job = ctx;
    const fc_pool2d_params *p = job->p;
    const int64_t window = p->kernel_h * p->kernel_w, c = p->c;
    FC_FN(maxpool_nhwc_ukernel_fn) max_px = fc_kernels()->FC_MEMBER(maxpool_nhwc);
    const FC_FN(avgpool_nhwc_ukernel_fn) avg_px = fc_kernels()->FC_MEMBER(avgpool_nhwc);
    /* the SIMD members keep the window position as FC_REAL: exact below 2**24 */
    if (window >= ((int64_t)1 << 24)) max_px = FC_FN(maxpool_nhwc_ukernel__scalar);
    const FC_REAL *stack_ptrs[FC_POOL_NHWC_STACK];
    int64_t stack_offsets[FC_POOL_NHWC_STACK];
    const FC_REAL **ptrs = stack_ptrs;
    int64_t *offsets = stack_offsets;
    if (job->scratch) {
        ptrs = (const FC_REAL **)(job->scratch + (int64_t)t * window * 16);
        offsets = (int64_t *)(job->scratch + (int64_t)t * window * 16 + window * 8);
    }
    const int64_t pq = job->out_h * job->out_w;
    int64_t begin, end;
    fc_task_range(p->n * pq, job->tasks, i, &begin, &end);
    for (int64_t pix = begin; pix < end; pix++) {
        const int64_t n = pix / pq, oh = pix % pq / job->out_w, ow = pix % job->out_w;
        const int64_t h0 = oh * p->stride_h - p->pad_h, w0 = ow * p->stride_w - p->pad_w;
        int64_t i0, i1, j0, j1;
        fc_valid_range(h0, p->dilation_h, p->h, p->kernel_h, &i0, &i1);
        fc_valid_range(w0, p->dilation_w, p->w, p->kernel_w, &j0, &j1);
        size_t count = 0;
        const FC_REAL *plane = job->x + n * p->h * p->w * c;
        for (int64_t a = i0; a < i1; a++)
            for (int64_t b = j0; b < j1; b++) {
                const int64_t at = (h0 + a * p->dilation_h) * p->w + w0 + b * p->dilation_w;
                ptrs[count] = plane + at * c;
                offsets[count++] = at;
            }
        if (job->is_max)
            max_px((size_t)c, count, ptrs, offsets, job->y + pix * c,
                   job->indices ? job->indices + pix * c : NULL);
        else
            avg_px((size_t)c, count, ptrs, (FC_REAL)fc_avg_pool_divisor_at(p, oh, ow),
                   job->y + pix * c);
    }
}

static fc_status FC_FN(pool2d_nhwc)(const fc_pool2d_params *p, int64_t out_h, int64_t out_w,
                                    const FC_REAL *x, FC_REAL *y, int64_t *indices, int is_max)
{
    const int64_t items = p->n * out_h * out_w;
    const int64_t visits =
        fc_mul_saturating(fc_mul_saturating(items * p->c, p->kernel_h), p->kernel_w);
    const int threads = (int)fc_min_i64(fc_region_threads(visits), items);
    const int64_t tasks =
        threads == 1 ? 1 : fc_task_count(items, visits / items, FC_MIN_WORK_PER_THREAD / 2);
    FC_FN(pool_nhwc_job) job = {p, out_h, out_w, x, y, indices, is_max, tasks, NULL};
    if (p->kernel_h * p->kernel_w > FC_POOL_NHWC_STACK) {
        int64_t scratch_size;
        const int64_t dims[4] = {threads, p->kernel_h, p->kernel_w, 16};
        FC_RETURN_IF_ERROR(fc_checked_product(dims, 4, &scratch_size));
        job.scratch = fc_aligned_alloc(scratch_size);
        if (!job.scratch) return FC_ERR_OUT_OF_MEMORY;
    }
    fc_parallel_for(threads, tasks, FC_FN(pool_nhwc_task), &job);
    fc_aligned_free(job.scratch);
    return FC_OK;
}

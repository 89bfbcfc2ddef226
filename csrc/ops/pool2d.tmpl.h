/* Pooling drivers for one dtype (instantiated by pool2d.c).  A work item is one output row of
 * one plane; the driver resolves which window rows lie inside the plane and hands them to the
 * row microkernel.  Each output element belongs to one item, so one thread. */

/* Window rows of output row oh that lie inside the plane, in window order; returns how many.
 * *padded_rows counts those inside the padded plane (average pooling's divisor, dilation 1). */
static size_t FC_FN(pool_window_rows)(const fc_pool2d_params *p, const FC_REAL *plane,
                                      int64_t oh, const FC_REAL **row_ptrs,
                                      int64_t *row_offsets, int64_t *padded_rows)
{
    const int64_t start = oh * p->stride_h - p->pad_h;
    int64_t i0, i1, ih0, ih1;
    fc_valid_range(start, p->dilation_h, p->h, p->kernel_h, &i0, &i1);
    for (int64_t i = i0; i < i1; i++) {
        const int64_t ih = start + i * p->dilation_h;
        row_ptrs[i - i0] = plane + ih * p->w;
        row_offsets[i - i0] = ih * p->w;
    }
    fc_avg_pool_window(oh, p->stride_h, p->pad_h, p->kernel_h, p->h, &ih0, &ih1, padded_rows);
    return (size_t)(i1 - i0);
}

typedef struct FC_FN(pool_job) {
    const fc_pool2d_params *p;
    int64_t out_h, out_w;
    const FC_REAL *x;
    FC_REAL *y;
    int64_t *indices;
    int is_max;
    int64_t tasks; /* ranges of output rows */
    fc_pool_columns cols;
    char *scratch; /* per thread: kernel_h row pointers, then kernel_h row offsets */
} FC_FN(pool_job);

#ifndef FC_POOL_PREFETCH_ROWS
#define FC_POOL_PREFETCH_ROWS 8
#endif
/* Window rows on the stack up to this kernel height; taller kernels use the job's scratch. */
#define FC_POOL_STACK_ROWS 16

/* Task i: a contiguous range of output rows (plane-major). */
static void FC_FN(pool_task)(void *ctx, int64_t phase, int64_t i, int t)
{
    (void)phase;
    const FC_FN(pool_job) *job = ctx;
    const fc_pool2d_params *p = job->p;
    const fc_kernel_table *kernels = fc_kernels();
    const FC_FN(maxpool_ukernel_fn) max_row = kernels->FC_MEMBER(maxpool);
    const FC_FN(avgpool_ukernel_fn) avg_row = kernels->FC_MEMBER(avgpool);
    const int64_t out_h = job->out_h, out_w = job->out_w;
    const fc_pool_columns *cols = &job->cols;
    const FC_REAL *stack_ptrs[FC_POOL_STACK_ROWS];
    int64_t stack_offsets[FC_POOL_STACK_ROWS];
    const FC_REAL **row_ptrs = stack_ptrs;
    int64_t *row_offsets = stack_offsets;
    if (job->scratch) {
        row_ptrs = (const FC_REAL **)(job->scratch + (int64_t)t * p->kernel_h * 16);
        row_offsets = (int64_t *)(job->scratch + (int64_t)t * p->kernel_h * 16 + p->kernel_h * 8);
    }
    int64_t begin, end;
    fc_task_range(p->n * p->c * out_h, job->tasks, i, &begin, &end);
    int64_t plane = begin / out_h, oh = begin % out_h;
    /* Software prefetch of the input rows FC_POOL_PREFETCH_ROWS output rows ahead (8 measured
     * best of 2, 4, 8, 16 on 112-wide rows): one output row reads only ~2 input rows, too
     * little for the hardware prefetchers to run far enough ahead of DRAM; without it 2x2/s2
     * ran ~1.6x slower than its in-cache speed on the EPYC CI machine.  A prefetch never
     * faults, so the range may run past the plane or x. */
    /* (unsigned: with a stride near 2**62 this wraps, harmlessly for a prefetch address) */
    const uint64_t ahead = (uint64_t)FC_POOL_PREFETCH_ROWS * (uint64_t)p->stride_h *
                           (uint64_t)p->w * sizeof(FC_REAL);
    /* input consumed per output row: a stride past the kernel skips rows that need no
     * prefetch (and a stride of 2**40 made this loop run for minutes; found by the fuzzer) */
    const int64_t span = fc_min_i64(p->stride_h, p->kernel_h) * p->w;
    for (int64_t item = begin; item < end; item++) {
        {
            const int64_t ih = oh * p->stride_h - p->pad_h + p->kernel_h - 1;
            /* as an integer: the address may lie outside x, where pointer arithmetic may not */
            const uintptr_t from = (uintptr_t)job->x +
                (uintptr_t)((plane * p->h * p->w + ih * p->w) * (int64_t)sizeof(FC_REAL)) +
                (uintptr_t)ahead;
            for (int64_t b = 0; b < span * (int64_t)sizeof(FC_REAL); b += 64)
                __builtin_prefetch((const void *)(from + (uintptr_t)b));
        }
        int64_t padded_rows;
        const size_t rows = FC_FN(pool_window_rows)(p, job->x + plane * p->h * p->w, oh,
                                                    row_ptrs, row_offsets, &padded_rows);
        const int64_t o = item * out_w;
        if (job->is_max)
            max_row(cols, rows, row_ptrs, row_offsets, job->y + o,
                    job->indices ? job->indices + o : NULL);
        else
            avg_row(cols, rows, row_ptrs, padded_rows, fc_avg_pool_rule_of(job->p), job->y + o);
        if (++oh == out_h) {
            oh = 0;
            plane++;
        }
    }
}

static fc_status FC_FN(pool2d)(const fc_pool2d_params *p, int64_t out_h, int64_t out_w,
                               const FC_REAL *x, FC_REAL *y, int64_t *indices, int is_max)
{
    const int64_t items = p->n * p->c * out_h;
    const int64_t visits =
        fc_mul_saturating(fc_mul_saturating(items * out_w, p->kernel_h), p->kernel_w);
    const int threads = (int)fc_min_i64(fc_region_threads(visits), items);
    const int64_t tasks =
        threads == 1 ? 1 : fc_task_count(items, visits / items, FC_MIN_WORK_PER_THREAD / 2);
    FC_FN(pool_job) job = {
        p, out_h, out_w, x, y, indices, is_max, tasks,
        fc_pool_columns_init(out_w, p->w, p->kernel_w, p->stride_w, p->pad_w, p->dilation_w),
        NULL};
    if (p->kernel_h > FC_POOL_STACK_ROWS) {
        /* a row pointer and a row offset (8 bytes each) per window row and thread */
        int64_t scratch_size;
        const int64_t dims[3] = {threads, p->kernel_h, 16};
        FC_RETURN_IF_ERROR(fc_checked_product(dims, 3, &scratch_size));
        job.scratch = fc_aligned_alloc(scratch_size);
        if (!job.scratch) return FC_ERR_OUT_OF_MEMORY;
    }
    fc_parallel_for(threads, tasks, FC_FN(pool_task), &job);
    fc_aligned_free(job.scratch);
    return FC_OK;
}

/* conv2d driver: direct convolution (instantiated by conv2d.c). */

/* ---- direct ---------------------------------------------------------------------------------
 * Phase 0 packs the weights into panels of KB filters; in phase 1 a task is a range of output
 * rows (image, group, output row), each with all its blocks of KB filters: its thread copies
 * the Cg * R input rows one output row reads into its padded-row buffer once
 * (ops/conv2d_common.tmpl.h), and the microkernel computes the KB output rows of each block
 * from it with the whole reduction held in registers, the bias and the fusable part of the
 * epilogue fused, writing y once (the rest of the epilogue follows on the rows just written). */
typedef struct FC_FN(direct_job) {
    const fc_conv2d_params *p;
    int64_t out_h, out_w;
    const FC_REAL *x, *weight, *bias;
    FC_REAL *y;
    const fc_epi *epi;
    FC_FN(dconv_config) cfg;
    int64_t cg, kg, red, k_blocks, panels, row_len, window, pack_tasks, row_tasks;
    FC_REAL *packed_w, *scratch;
    const size_t *tap_col;
} FC_FN(direct_job);

static void FC_FN(direct_task)(void *ctx, int64_t phase, int64_t task, int t)
{
    const FC_FN(direct_job) *job = ctx;
    const fc_conv2d_params *p = job->p;
    const int64_t kb = job->cfg.kb, cg = job->cg, kg = job->kg, out_h = job->out_h;
    int64_t begin, end;
    if (phase == 0) {
        fc_task_range(job->panels, job->pack_tasks, task, &begin, &end);
        FC_FN(pack_weight_panels)(p, job->weight, kb, 0, begin, end, job->packed_w);
        return;
    }
    FC_REAL *buf = job->scratch + (int64_t)t * (job->window + kb), *bias_block = buf + job->window;
    fc_task_range(p->n * p->groups * out_h, job->row_tasks, task, &begin, &end);
    for (int64_t out_row = begin; out_row < end; out_row++) {
        const int64_t oh = out_row % out_h, g = (out_row / out_h) % p->groups;
        const int64_t n = out_row / (out_h * p->groups);
        for (int64_t c = 0; c < cg; c++)
            for (int64_t r = 0; r < p->r; r++) {
                const int64_t ih = oh * p->stride_h - p->pad_top + r * p->dilation_h;
                const FC_REAL *x_row =
                    (ih < 0 || ih >= p->h) ? NULL
                                           : job->x + ((n * p->c + g * cg + c) * p->h + ih) * p->w;
                FC_FN(pack_padded_row)(p, x_row, buf + (c * p->r + r) * job->row_len);
            }
        for (int64_t block = 0; block < job->k_blocks; block++) {
            const int64_t k0 = block * kb, rows = fc_min_i64(kb, kg - k0);
            for (int64_t i = 0; i < kb; i++)
                bias_block[i] = (job->bias && i < rows) ? job->bias[g * kg + k0 + i] : 0;
            FC_REAL *y = job->y + ((n * p->k + g * kg + k0) * out_h + oh) * job->out_w;
            job->cfg.ukernel((size_t)rows, (size_t)job->out_w, (size_t)cg, (size_t)p->r,
                             (size_t)p->s, buf, (size_t)job->row_len, job->tap_col,
                             job->packed_w + (g * job->k_blocks + block) * job->red * kb,
                             bias_block, job->epi->fused, y, (size_t)(out_h * job->out_w));
            if (job->epi->post)
                FC_FN(epilogue_apply)(job->epi, y, rows, job->out_w, out_h * job->out_w, 1);
        }
    }
}

static fc_status FC_FN(conv2d_direct)(const fc_conv2d_params *p, int64_t out_h, int64_t out_w,
                                      const FC_REAL *x, const FC_REAL *weight,
                                      const fc_epi *epi, FC_REAL *y)
{
    FC_FN(direct_job) job = {p, out_h, out_w, x, weight, epi->bias, y, epi,
                             fc_kernels()->FC_MEMBER(dconv)};
    const int64_t kb = job.cfg.kb;
    job.cg = p->c / p->groups;
    job.kg = p->k / p->groups;
    job.red = job.cg * p->r * p->s;
    job.k_blocks = fc_ceil_div(job.kg, kb);
    job.panels = p->groups * job.k_blocks;
    const int64_t out_rows = p->n * p->groups * out_h;
    const int64_t macs = fc_mul_saturating(out_rows * job.k_blocks * kb * out_w, job.red);
    const int threads =
        (int)fc_min_i64(fc_region_threads(macs), fc_max_i64(out_rows, job.panels));
    job.row_len = FC_FN(padded_row_len)(p);
    job.pack_tasks = threads == 1 ? 1 : fc_task_count(job.panels, job.red * kb, (int64_t)1 << 14);
    job.row_tasks =
        threads == 1 ? 1 : fc_task_count(out_rows, macs / out_rows, FC_MIN_WORK_PER_THREAD);

    /* per thread: the window of Cg * R padded rows, then the block's KB bias values */
    const int64_t window_dims[3] = {job.cg, p->r, job.row_len};
    FC_RETURN_IF_ERROR(fc_checked_product(window_dims, 3, &job.window));
    if (job.window > INT64_MAX - kb) return FC_ERR_SIZE_OVERFLOW;
    FC_RETURN_IF_ERROR(FC_FN(alloc_workspace)(job.panels, job.red, kb, threads, job.window + kb,
                                              &job.packed_w, &job.scratch));
    size_t *tap_col = FC_FN(padded_tap_columns)(p);
    if (!tap_col) {
        fc_aligned_free(job.packed_w);
        fc_aligned_free(job.scratch);
        return FC_ERR_OUT_OF_MEMORY;
    }
    job.tap_col = tap_col;
    const int64_t tasks[2] = {job.pack_tasks, job.row_tasks};
    const fc_parallel_job parallel = {FC_FN(direct_task), &job, 2, tasks};
    fc_parallel_run(threads, &parallel);
    fc_aligned_free(job.packed_w);
    fc_aligned_free(job.scratch);
    fc_aligned_free(tap_col);
    return FC_OK;
}

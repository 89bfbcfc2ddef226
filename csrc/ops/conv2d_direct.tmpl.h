/* conv2d driver: direct convolution (instantiated by conv2d.c). */

/* ---- direct ---------------------------------------------------------------------------------
 * A work item is (image, group, block of KB filters, output row).  Its thread accumulates the
 * KB output rows in a private buffer, one filter tap at a time over the whole row (the
 * microkernel), and writes y once at the end with bias already in and ReLU applied. */
static fc_status FC_FN(conv2d_direct)(const fc_conv2d_params *p, int64_t out_h, int64_t out_w,
                                      const FC_REAL *x, const FC_REAL *weight,
                                      const FC_REAL *bias, FC_REAL *y, int relu)
{
    const FC_FN(dconv_config) cfg = fc_kernels()->FC_MEMBER(dconv);
    const int64_t kb = cfg.kb;
    const int64_t cg = p->c / p->groups, kg = p->k / p->groups;
    const int64_t red = cg * p->r * p->s;
    const int64_t k_blocks = fc_ceil_div(kg, kb);
    const int64_t panels = p->groups * k_blocks;
    const int64_t items = p->n * panels * out_h;
    const int64_t macs = fc_mul_saturating(items * kb * out_w, red);
    const int threads = (int)fc_min_i64(fc_region_threads(macs), fc_max_i64(items, panels));

    FC_REAL *packed_w, *acc_all;
    FC_RETURN_IF_ERROR(FC_FN(alloc_workspace)(panels, red, kb, threads, kb * out_w, &packed_w,
                                              &acc_all));

#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        const int t = fc_thread_index();
        const int team = fc_team_size();
        FC_FN(pack_weight_panels)(p, weight, kb, packed_w, t, team);
#pragma omp barrier
        FC_REAL *acc = acc_all + (int64_t)t * kb * out_w;
        int64_t begin, end;
        fc_partition(items, team, t, &begin, &end);
        for (int64_t item = begin; item < end; item++) {
            const int64_t oh = item % out_h, panel = (item / out_h) % panels;
            const int64_t n = item / (out_h * panels);
            const int64_t g = panel / k_blocks, k0 = (panel % k_blocks) * kb;
            const int64_t rows = fc_min_i64(kb, kg - k0);
            for (int64_t i = 0; i < kb; i++) {
                const FC_REAL start = (bias && i < rows) ? bias[g * kg + k0 + i] : 0;
                for (int64_t ow = 0; ow < out_w; ow++) acc[i * out_w + ow] = start;
            }
            const FC_REAL *w_panel = packed_w + panel * red * kb;
            for (int64_t c = 0; c < cg; c++)
                for (int64_t r = 0; r < p->r; r++) {
                    const int64_t ih = oh * p->stride_h - p->pad_top + r * p->dilation_h;
                    if (ih < 0 || ih >= p->h) continue;
                    const FC_REAL *x_row = x + ((n * p->c + g * cg + c) * p->h + ih) * p->w;
                    for (int64_t s = 0; s < p->s; s++) {
                        /* output columns whose tap lands inside the row */
                        const int64_t offset = s * p->dilation_w - p->pad_left;
                        const int64_t ow_begin =
                            offset < 0 ? fc_ceil_div(-offset, p->stride_w) : 0;
                        const int64_t last = p->w - 1 - offset;
                        const int64_t ow_end =
                            last < 0 ? 0 : fc_min_i64(out_w, last / p->stride_w + 1);
                        if (ow_begin >= ow_end) continue;
                        cfg.ukernel((size_t)(ow_end - ow_begin),
                                    x_row + ow_begin * p->stride_w + offset,
                                    (size_t)p->stride_w, w_panel + ((c * p->r + r) * p->s + s) * kb,
                                    acc + ow_begin, (size_t)out_w);
                    }
                }
            FC_REAL *y_row = y + ((n * p->k + g * kg + k0) * out_h + oh) * out_w;
            for (int64_t i = 0; i < rows; i++)
                for (int64_t ow = 0; ow < out_w; ow++) {
                    FC_REAL v = acc[i * out_w + ow];
                    y_row[i * out_h * out_w + ow] = relu ? FC_RELU(v) : v;
                }
        }
    }
    fc_aligned_free(packed_w);
    fc_aligned_free(acc_all);
    return FC_OK;
}

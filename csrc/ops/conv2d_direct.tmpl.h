/* conv2d driver: direct convolution (instantiated by conv2d.c). */

/* ---- direct ---------------------------------------------------------------------------------
 * A work item is (image, group, output row, block of KB filters), the filter block innermost so
 * that consecutive items of a thread share the input window: the thread copies the Cg * R input
 * rows one output row reads into its padded-row buffer once (ops/conv2d_common.tmpl.h), and the
 * microkernel computes the KB output rows from it with the whole reduction held in registers,
 * bias and ReLU fused, writing y once. */
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
    const int64_t items = p->n * p->groups * out_h * k_blocks;
    const int64_t macs = fc_mul_saturating(items * kb * out_w, red);
    const int threads = (int)fc_min_i64(fc_region_threads(macs), fc_max_i64(items, panels));
    const int64_t row_len = FC_FN(padded_row_len)(p);

    /* per thread: the window of Cg * R padded rows, then the block's KB bias values */
    int64_t window;
    const int64_t window_dims[3] = {cg, p->r, row_len};
    FC_RETURN_IF_ERROR(fc_checked_product(window_dims, 3, &window));
    if (window > INT64_MAX - kb) return FC_ERR_SIZE_OVERFLOW;
    FC_REAL *packed_w, *scratch;
    FC_RETURN_IF_ERROR(FC_FN(alloc_workspace)(panels, red, kb, threads, window + kb, &packed_w,
                                              &scratch));
    size_t *tap_col = FC_FN(padded_tap_columns)(p);
    if (!tap_col) {
        fc_aligned_free(packed_w);
        fc_aligned_free(scratch);
        return FC_ERR_OUT_OF_MEMORY;
    }

#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        const int t = fc_thread_index();
        const int team = fc_team_size();
        FC_FN(pack_weight_panels)(p, weight, kb, packed_w, t, team);
#pragma omp barrier
        FC_REAL *buf = scratch + (int64_t)t * (window + kb), *bias_block = buf + window;
        int64_t begin, end, window_of = -1; /* the output row whose window buf holds */
        fc_partition(items, team, t, &begin, &end);
        for (int64_t item = begin; item < end; item++) {
            const int64_t block = item % k_blocks, out_row = item / k_blocks;
            const int64_t oh = out_row % out_h, g = (out_row / out_h) % p->groups;
            const int64_t n = out_row / (out_h * p->groups);
            if (out_row != window_of) {
                for (int64_t c = 0; c < cg; c++)
                    for (int64_t r = 0; r < p->r; r++) {
                        const int64_t ih = oh * p->stride_h - p->pad_top + r * p->dilation_h;
                        const FC_REAL *x_row =
                            (ih < 0 || ih >= p->h)
                                ? NULL
                                : x + ((n * p->c + g * cg + c) * p->h + ih) * p->w;
                        FC_FN(pack_padded_row)(p, x_row, buf + (c * p->r + r) * row_len);
                    }
                window_of = out_row;
            }
            const int64_t k0 = block * kb, rows = fc_min_i64(kb, kg - k0);
            for (int64_t i = 0; i < kb; i++)
                bias_block[i] = (bias && i < rows) ? bias[g * kg + k0 + i] : 0;
            cfg.ukernel((size_t)rows, (size_t)out_w, (size_t)cg, (size_t)p->r, (size_t)p->s, buf,
                        (size_t)row_len, tap_col, packed_w + (g * k_blocks + block) * red * kb,
                        bias_block, relu, y + ((n * p->k + g * kg + k0) * out_h + oh) * out_w,
                        (size_t)(out_h * out_w));
        }
    }
    fc_aligned_free(packed_w);
    fc_aligned_free(scratch);
    fc_aligned_free(tap_col);
    return FC_OK;
}

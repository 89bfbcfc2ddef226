/* Naive pooling backward: every output element sends its gradient back to its window, in
 * output order.  Instantiated per dtype by pool2d_backward.c. */
static void FC_FN(ref_max_pool2d_backward)(int64_t planes, int64_t in_size, int64_t out_size,
                                           const FC_REAL *g, const int64_t *indices,
                                           FC_REAL *gx)
{
    for (int64_t i = 0; i < planes * in_size; i++) gx[i] = 0;
    for (int64_t plane = 0; plane < planes; plane++)
        for (int64_t o = 0; o < out_size; o++) {
            const int64_t index = indices[plane * out_size + o];
            if (index >= 0) gx[plane * in_size + index] += g[plane * out_size + o];
        }
}

static void FC_FN(ref_avg_pool2d_backward)(const fc_pool2d_params *p, int64_t out_h,
                                           int64_t out_w, const FC_REAL *g, FC_REAL *gx)
{
    for (int64_t i = 0; i < p->n * p->c * p->h * p->w; i++) gx[i] = 0;
    for (int64_t plane = 0; plane < p->n * p->c; plane++)
        for (int64_t oh = 0; oh < out_h; oh++)
            for (int64_t ow = 0; ow < out_w; ow++) {
                const FC_REAL share = g[(plane * out_h + oh) * out_w + ow] /
                                      (FC_REAL)fc_avg_pool_divisor_at(p, oh, ow);
                for (int64_t i = 0; i < p->kernel_h; i++)
                    for (int64_t j = 0; j < p->kernel_w; j++) {
                        int64_t ih = oh * p->stride_h - p->pad_h + i;
                        int64_t iw = ow * p->stride_w - p->pad_w + j;
                        if (ih < 0 || ih >= p->h || iw < 0 || iw >= p->w) continue;
                        gx[(plane * p->h + ih) * p->w + iw] += share;
                    }
            }
}

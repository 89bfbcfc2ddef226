/* Naive pooling: every window position visited and bounds-checked.  Instantiated per dtype by
 * pool2d.c. */
static void FC_FN(ref_max_pool2d_forward)(const fc_pool2d_params *p, int64_t out_h,
                                          int64_t out_w, const FC_REAL *x, FC_REAL *y,
                                          int64_t *indices)
{
    for (int64_t plane = 0; plane < p->n * p->c; plane++)
        for (int64_t oh = 0; oh < out_h; oh++)
            for (int64_t ow = 0; ow < out_w; ow++) {
                FC_REAL best = -(FC_REAL)INFINITY;
                int64_t best_index = -1;
                for (int64_t i = 0; i < p->kernel_h; i++)
                    for (int64_t j = 0; j < p->kernel_w; j++) {
                        int64_t ih = oh * p->stride_h - p->pad_h + i * p->dilation_h;
                        int64_t iw = ow * p->stride_w - p->pad_w + j * p->dilation_w;
                        if (ih < 0 || ih >= p->h || iw < 0 || iw >= p->w) continue;
                        FC_REAL v = x[(plane * p->h + ih) * p->w + iw];
                        if (isnan(best)) continue; /* the first NaN wins and stays */
                        if (best_index < 0 || v > best || isnan(v)) {
                            best = v;
                            best_index = ih * p->w + iw;
                        }
                    }
                int64_t o = (plane * out_h + oh) * out_w + ow;
                y[o] = best;
                if (indices) indices[o] = best_index;
            }
}

static void FC_FN(ref_avg_pool2d_forward)(const fc_pool2d_params *p, int64_t out_h,
                                          int64_t out_w, const FC_REAL *x, FC_REAL *y)
{
    for (int64_t plane = 0; plane < p->n * p->c; plane++)
        for (int64_t oh = 0; oh < out_h; oh++)
            for (int64_t ow = 0; ow < out_w; ow++) {
                FC_REAL sum = 0;
                for (int64_t i = 0; i < p->kernel_h; i++)
                    for (int64_t j = 0; j < p->kernel_w; j++) {
                        int64_t ih = oh * p->stride_h - p->pad_h + i;
                        int64_t iw = ow * p->stride_w - p->pad_w + j;
                        if (ih < 0 || ih >= p->h || iw < 0 || iw >= p->w) continue;
                        sum += x[(plane * p->h + ih) * p->w + iw];
                    }
                y[(plane * out_h + oh) * out_w + ow] =
                    sum / (FC_REAL)fc_avg_pool_divisor_at(p, oh, ow);
            }
}

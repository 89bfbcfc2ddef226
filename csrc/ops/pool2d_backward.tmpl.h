/* Pooling backward drivers for one dtype (instantiated by pool2d_backward.c).  A work item is
 * one plane: its thread zeroes the plane of grad_input, then sends every output gradient back
 * to its window in output order, so overlapping windows accumulate in a fixed order. */

static void FC_FN(max_pool2d_backward_planes)(int64_t begin, int64_t end, int64_t in_size,
                                              int64_t out_size, const FC_REAL *g,
                                              const int64_t *indices, FC_REAL *gx)
{
    for (int64_t plane = begin; plane < end; plane++) {
        FC_REAL *dst = gx + plane * in_size;
        const FC_REAL *src = g + plane * out_size;
        const int64_t *idx = indices + plane * out_size;
        for (int64_t i = 0; i < in_size; i++) dst[i] = 0;
        for (int64_t o = 0; o < out_size; o++)
            if (idx[o] >= 0) dst[idx[o]] += src[o];
    }
}

static void FC_FN(avg_pool2d_backward_planes)(const fc_pool2d_params *p, int64_t out_h,
                                              int64_t out_w, int64_t begin, int64_t end,
                                              const FC_REAL *g, FC_REAL *gx)
{
    for (int64_t plane = begin; plane < end; plane++) {
        FC_REAL *dst = gx + plane * p->h * p->w;
        const FC_REAL *src = g + plane * out_h * out_w;
        for (int64_t i = 0; i < p->h * p->w; i++) dst[i] = 0;
        for (int64_t oh = 0; oh < out_h; oh++) {
            int64_t h0, h1, rows_padded;
            fc_avg_pool_window(oh, p->stride_h, p->pad_h, p->kernel_h, p->h, &h0, &h1,
                               &rows_padded);
            for (int64_t ow = 0; ow < out_w; ow++) {
                int64_t w0, w1, cols_padded;
                fc_avg_pool_window(ow, p->stride_w, p->pad_w, p->kernel_w, p->w, &w0, &w1,
                                   &cols_padded);
                const int64_t divisor = fc_avg_pool_divisor(fc_avg_pool_rule_of(p), h1 - h0,
                                                            w1 - w0, rows_padded, cols_padded);
                const FC_REAL share = src[oh * out_w + ow] / (FC_REAL)divisor;
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++) dst[ih * p->w + iw] += share;
            }
        }
    }
}

/* Channels last: a work item is channels [c0, c1) of image n.  Its thread zeroes them in the
 * image's grad_input, then sends the output gradients back in output order, each channel
 * adding in the order of its NCHW plane above: the NCHW result, transposed, bit for bit. */
static void FC_FN(max_pool2d_backward_nhwc_block)(int64_t n, int64_t c0, int64_t c1,
                                                  int64_t c, int64_t in_size, int64_t out_size,
                                                  const FC_REAL *g, const int64_t *indices,
                                                  FC_REAL *gx)
{
    FC_REAL *dst = gx + n * in_size * c;
    for (int64_t i = 0; i < in_size; i++)
        for (int64_t ch = c0; ch < c1; ch++) dst[i * c + ch] = 0;
    const FC_REAL *src = g + n * out_size * c;
    const int64_t *idx = indices + n * out_size * c;
    for (int64_t o = 0; o < out_size; o++)
        for (int64_t ch = c0; ch < c1; ch++) {
            const int64_t at = idx[o * c + ch];
            if (at >= 0) dst[at * c + ch] += src[o * c + ch];
        }
}

static void FC_FN(avg_pool2d_backward_nhwc_block)(const fc_pool2d_params *p, int64_t out_h,
                                                  int64_t out_w, int64_t n, int64_t c0,
                                                  int64_t c1, const FC_REAL *g, FC_REAL *gx)
{
    const int64_t c = p->c;
    FC_REAL *dst = gx + n * p->h * p->w * c;
    const FC_REAL *src = g + n * out_h * out_w * c;
    for (int64_t i = 0; i < p->h * p->w; i++)
        for (int64_t ch = c0; ch < c1; ch++) dst[i * c + ch] = 0;
    for (int64_t oh = 0; oh < out_h; oh++) {
        int64_t h0, h1, rows_padded;
        fc_avg_pool_window(oh, p->stride_h, p->pad_h, p->kernel_h, p->h, &h0, &h1, &rows_padded);
        for (int64_t ow = 0; ow < out_w; ow++) {
            int64_t w0, w1, cols_padded;
            fc_avg_pool_window(ow, p->stride_w, p->pad_w, p->kernel_w, p->w, &w0, &w1,
                               &cols_padded);
            const FC_REAL divisor = (FC_REAL)fc_avg_pool_divisor(
                fc_avg_pool_rule_of(p), h1 - h0, w1 - w0, rows_padded, cols_padded);
            const FC_REAL *go = src + (oh * out_w + ow) * c;
            for (int64_t ih = h0; ih < h1; ih++)
                for (int64_t iw = w0; iw < w1; iw++) {
                    FC_REAL *d = dst + (ih * p->w + iw) * c;
                    for (int64_t ch = c0; ch < c1; ch++) d[ch] += go[ch] / divisor;
                }
        }
    }
}

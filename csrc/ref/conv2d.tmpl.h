/* Naive convolution: one output element at a time, every tap bounds-checked.  Instantiated per
 * dtype by conv2d.c.  Summation order: bias, then c, r, s ascending (the optimised drivers use
 * the same order, so integer-valued inputs agree bitwise). */
static void FC_FN(ref_conv2d_forward)(const fc_conv2d_params *p, int64_t out_h, int64_t out_w,
                                      const FC_REAL *x, const FC_REAL *weight,
                                      const fc_epi *epi, FC_REAL *y)
{
    const FC_REAL *bias = epi->bias;
    const int64_t c_per_group = p->c / p->groups, k_per_group = p->k / p->groups;
    for (int64_t n = 0; n < p->n; n++)
        for (int64_t k = 0; k < p->k; k++) {
            const int64_t group = k / k_per_group;
            for (int64_t oh = 0; oh < out_h; oh++)
                for (int64_t ow = 0; ow < out_w; ow++) {
                    FC_REAL acc = bias ? bias[k] : (FC_REAL)0;
                    for (int64_t c = 0; c < c_per_group; c++)
                        for (int64_t r = 0; r < p->r; r++)
                            for (int64_t s = 0; s < p->s; s++) {
                                int64_t ih = oh * p->stride_h - p->pad_top + r * p->dilation_h;
                                int64_t iw = ow * p->stride_w - p->pad_left + s * p->dilation_w;
                                if (ih < 0 || ih >= p->h || iw < 0 || iw >= p->w) continue;
                                int64_t xc = group * c_per_group + c;
                                acc += weight[((k * c_per_group + c) * p->r + r) * p->s + s] *
                                       x[((n * p->c + xc) * p->h + ih) * p->w + iw];
                            }
                    const int64_t i = ((n * p->k + k) * out_h + oh) * out_w + ow;
                    y[i] = FC_FN(epilogue_value)(epi, acc, i);
                }
        }
}

/* Naive conv2d backward: the forward's loop nest (ref/conv2d.tmpl.h) with each product sent
 * back to the operands it came from.  Instantiated per dtype by conv2d_backward.c.  Every sum
 * runs n, then oh, ow ascending (and k for grad_input), one term at a time.  nhwc: x, grad_input
 * (N, H, W, C) and grad_output (N, P, Q, K), the same loops and sums. */
static void FC_FN(ref_conv2d_backward)(const fc_conv2d_params *p, int64_t out_h, int64_t out_w,
                                       const FC_REAL *g, const FC_REAL *x,
                                       const FC_REAL *weight, FC_REAL *gx, FC_REAL *gw,
                                       FC_REAL *gb, int nhwc)
{
    const int64_t cg = p->c / p->groups, kg = p->k / p->groups;
    if (gx)
        for (int64_t i = 0; i < p->n * p->c * p->h * p->w; i++) gx[i] = 0;
    if (gw)
        for (int64_t i = 0; i < p->k * cg * p->r * p->s; i++) gw[i] = 0;
    if (gb)
        for (int64_t k = 0; k < p->k; k++) gb[k] = 0;
    for (int64_t n = 0; n < p->n; n++)
        for (int64_t k = 0; k < p->k; k++) {
            const int64_t group = k / kg;
            for (int64_t oh = 0; oh < out_h; oh++)
                for (int64_t ow = 0; ow < out_w; ow++) {
                    const FC_REAL go = nhwc ? g[((n * out_h + oh) * out_w + ow) * p->k + k]
                                            : g[((n * p->k + k) * out_h + oh) * out_w + ow];
                    if (gb) gb[k] += go;
                    for (int64_t c = 0; c < cg; c++)
                        for (int64_t r = 0; r < p->r; r++)
                            for (int64_t s = 0; s < p->s; s++) {
                                int64_t ih = oh * p->stride_h - p->pad_top + r * p->dilation_h;
                                int64_t iw = ow * p->stride_w - p->pad_left + s * p->dilation_w;
                                if (ih < 0 || ih >= p->h || iw < 0 || iw >= p->w) continue;
                                const int64_t wi = ((k * cg + c) * p->r + r) * p->s + s;
                                const int64_t ch = group * cg + c;
                                const int64_t xi = nhwc ? ((n * p->h + ih) * p->w + iw) * p->c + ch
                                                        : ((n * p->c + ch) * p->h + ih) * p->w + iw;
                                if (gw) gw[wi] += go * x[xi];
                                if (gx) gx[xi] += go * weight[wi];
                            }
                }
        }
}

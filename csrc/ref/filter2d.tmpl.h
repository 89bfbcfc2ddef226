/* Reference filter2d for one sum type FC_REAL (instantiated by ref/filter2d.c).  The 2-D
 * sum leaves out the taps of weight 0, as cv2.filter2D does. */

/* Pixel (iy, ix) of image n, channel ch, in FC_REAL, or the constant border value. */
static FC_REAL FC_FN(ref_pixel)(const fc_filter2d_params *p, const char *x, int64_t n,
                                int64_t ch, int64_t iy, int64_t ix)
{
    iy = fc_border_index(iy, p->h, p->border);
    ix = fc_border_index(ix, p->w, p->border);
    if (iy < 0 || ix < 0) return (FC_REAL)p->value;
    const int64_t *st = p->x_strides;
    FC_REAL v;
    FC_FN(filter2d_load_row)(&v, 1, x + (n * st[0] + iy * st[1] + ix * st[2] + ch * st[3]) *
                                         fc_pixel_size(p->x_type),
                             1, 1, p->x_type);
    return v;
}

static fc_status FC_FN(ref_filter2d_run)(const fc_filter2d_params *p, const void *x,
                                         const double *kernel, const double *kx,
                                         const double *ky, void *y)
{
    const int64_t kh = p->kh, kw = p->kw, ay = p->anchor_y, ax = p->anchor_x;
    const int64_t ysize = fc_pixel_size(p->y_type);
    for (int64_t n = 0; n < p->n; n++)
        for (int64_t i = 0; i < p->h; i++)
            for (int64_t j = 0; j < p->w; j++)
                for (int64_t ch = 0; ch < p->c; ch++) {
                    FC_REAL acc = (FC_REAL)p->delta;
                    for (int64_t r = 0; r < kh; r++) {
                        FC_REAL row = 0;
                        for (int64_t s = 0; s < kw; s++) {
                            /* a 2-D kernel's taps of weight 0 are left out, as
                             * cv2.filter2D does (a NaN or inf pixel under them does not
                             * reach the sum); cv2.sepFilter2D keeps the separable ones */
                            if (kernel && (FC_REAL)kernel[r * kw + s] == 0) continue;
                            const FC_REAL v = FC_FN(ref_pixel)(p, x, n, ch, i + r - ay,
                                                               j + s - ax);
                            if (kernel)
                                acc += (FC_REAL)kernel[r * kw + s] * v;
                            else
                                row += (FC_REAL)kx[s] * v;
                        }
                        if (!kernel) acc += (FC_REAL)ky[r] * row;
                    }
                    FC_FN(filter2d_store_row)(
                        (char *)y + (((n * p->h + i) * p->w + j) * p->c + ch) * ysize, 1, &acc,
                        1, p->y_type);
                }
    return FC_OK;
}

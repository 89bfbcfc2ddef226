/* Adaptive average pooling for one dtype (instantiated by adaptive_pool2d.c): planes
 * [begin, end) of the forward and of the backward.  The window of each output row is resolved
 * once per row, its columns once per plane row; each window is summed row by row, left to right
 * (the reference's order: the results are bitwise the reference's). */

static void FC_FN(adaptive_forward_planes)(const adaptive_job *job, int64_t begin, int64_t end)
{
    const int64_t h = job->h, w = job->w, oh_n = job->out_h, ow_n = job->out_w;
    for (int64_t plane = begin; plane < end; plane++) {
        const FC_REAL *x = (const FC_REAL *)job->in + plane * h * w;
        FC_REAL *y = (FC_REAL *)job->out + plane * oh_n * ow_n;
        for (int64_t oh = 0; oh < oh_n; oh++) {
            int64_t h0, h1;
            fc_adaptive_window(oh, h, oh_n, &h0, &h1);
            for (int64_t ow = 0; ow < ow_n; ow++) {
                int64_t w0, w1;
                fc_adaptive_window(ow, w, ow_n, &w0, &w1);
                FC_REAL sum = 0;
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++) sum += x[ih * w + iw];
                y[oh * ow_n + ow] = sum / (FC_REAL)((h1 - h0) * (w1 - w0));
            }
        }
    }
}

static void FC_FN(adaptive_backward_planes)(const adaptive_job *job, int64_t begin, int64_t end)
{
    const int64_t h = job->h, w = job->w, oh_n = job->out_h, ow_n = job->out_w;
    for (int64_t plane = begin; plane < end; plane++) {
        const FC_REAL *g = (const FC_REAL *)job->in + plane * oh_n * ow_n;
        FC_REAL *gx = (FC_REAL *)job->out + plane * h * w;
        for (int64_t i = 0; i < h * w; i++) gx[i] = 0;
        for (int64_t oh = 0; oh < oh_n; oh++) {
            int64_t h0, h1;
            fc_adaptive_window(oh, h, oh_n, &h0, &h1);
            for (int64_t ow = 0; ow < ow_n; ow++) {
                int64_t w0, w1;
                fc_adaptive_window(ow, w, ow_n, &w0, &w1);
                const FC_REAL share = g[oh * ow_n + ow] / (FC_REAL)((h1 - h0) * (w1 - w0));
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++) gx[ih * w + iw] += share;
            }
        }
    }
}

/* Adaptive average pooling for one dtype (instantiated by adaptive_pool2d.c): planes
 * [begin, end) of the forward (job->in: x, job->out: y) or of the backward (job->in:
 * grad_output, job->out: grad_input), one walk over the windows for both.  Each window is
 * summed row by row, left to right (the reference's order: the results are bitwise the
 * reference's); the backward spreads each output's share over its window in the same order. */

static void FC_FN(adaptive_planes)(const adaptive_job *job, int64_t begin, int64_t end)
{
    const int64_t h = job->h, w = job->w, oh_n = job->out_h, ow_n = job->out_w;
    for (int64_t plane = begin; plane < end; plane++) {
        const int64_t in_size = job->backward ? oh_n * ow_n : h * w;
        const int64_t out_size = job->backward ? h * w : oh_n * ow_n;
        const FC_REAL *in = (const FC_REAL *)job->in + plane * in_size;
        FC_REAL *out = (FC_REAL *)job->out + plane * out_size;
        if (job->backward)
            for (int64_t i = 0; i < out_size; i++) out[i] = 0;
        for (int64_t oh = 0; oh < oh_n; oh++) {
            int64_t h0, h1;
            fc_adaptive_window(oh, h, oh_n, &h0, &h1);
            for (int64_t ow = 0; ow < ow_n; ow++) {
                int64_t w0, w1;
                fc_adaptive_window(ow, w, ow_n, &w0, &w1);
                const FC_REAL count = (FC_REAL)((h1 - h0) * (w1 - w0));
                if (job->backward) {
                    const FC_REAL share = in[oh * ow_n + ow] / count;
                    for (int64_t ih = h0; ih < h1; ih++)
                        for (int64_t iw = w0; iw < w1; iw++) out[ih * w + iw] += share;
                } else {
                    FC_REAL sum = 0;
                    for (int64_t ih = h0; ih < h1; ih++)
                        for (int64_t iw = w0; iw < w1; iw++) sum += in[ih * w + iw];
                    out[oh * ow_n + ow] = sum / count;
                }
            }
        }
    }
}

/* Batch normalisation for one dtype (instantiated by batch_norm.c): channels [begin, end) of
 * the forward and of the backward.
 *
 * Every channel sum is taken over the channel's N rows of HW elements in eight interleaved
 * partial sums of doubles (element j of a row goes to sum j % 8, the rows in order), added
 * pairwise at the end: a fixed order, so the bits depend on the shape alone, and a loop the
 * compiler vectorises at the baseline target (this file is not one of the per-ISA kernel
 * families: every FASTCONV_ISA path runs the same code).  Doubles because a channel of a
 * 224x224 batch sums ~10^6 floats, where float partial sums would lose ~3 digits. */

#define FC_BN_LANES 8

/* acc[0..8) += the value of element j of row x_row (an expression of `v`, x_row[j] as double,
 * and of `gv`, g_row[j] as double), over the channel's n rows. */
#define FC_BN_SUM(acc, expr)                                                                   \
    for (int64_t r = 0; r < n; r++) {                                                          \
        const FC_REAL *x_row = x + r * stride;                                                 \
        const FC_REAL *g_row = g ? g + r * stride : x_row;                                     \
        (void)g_row;                                                                           \
        int64_t j = 0;                                                                         \
        for (; j + FC_BN_LANES <= hw; j += FC_BN_LANES)                                        \
            for (int k = 0; k < FC_BN_LANES; k++) {                                            \
                const double v = x_row[j + k], gv = g_row[j + k];                              \
                (void)v, (void)gv;                                                             \
                acc[k] += (expr);                                                              \
            }                                                                                  \
        for (int k = 0; j + k < hw; k++) {                                                     \
            const double v = x_row[j + k], gv = g_row[j + k];                                  \
            (void)v, (void)gv;                                                                 \
            acc[k] += (expr);                                                                  \
        }                                                                                      \
    }

static double FC_FN(bn_total)(const double *acc)
{
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

static void FC_FN(bn_forward_channels)(const bn_job *job, int64_t begin, int64_t end)
{
    const fc_batch_norm_params *p = job->p;
    const int64_t n = p->n, hw = p->hw, stride = p->c * hw, count = n * hw;
    const FC_REAL *g = NULL;
    for (int64_t ch = begin; ch < end; ch++) {
        const FC_REAL *x = (const FC_REAL *)job->x + ch * hw;
        FC_REAL *y = (FC_REAL *)job->y + ch * hw;
        FC_REAL *rm = job->running_mean, *rv = job->running_var;
        double mean, invstd;
        if (p->training) {
            double acc[FC_BN_LANES] = {0};
            FC_BN_SUM(acc, v)
            mean = FC_FN(bn_total)(acc) / (double)count;
            /* the mean the outputs subtract, as save_mean holds it (the backward's input) */
            const double m = (double)(FC_REAL)mean;
            double acc2[FC_BN_LANES] = {0};
            FC_BN_SUM(acc2, (v - m) * (v - m))
            const double var = FC_FN(bn_total)(acc2) / (double)count;
            invstd = 1.0 / sqrt(var + p->eps);
            if (rm) {
                rm[ch] = (FC_REAL)((1.0 - p->momentum) * (double)rm[ch] + p->momentum * mean);
                rv[ch] = (FC_REAL)((1.0 - p->momentum) * (double)rv[ch] +
                                   p->momentum * var * (double)count / (double)(count - 1));
            }
        } else {
            mean = (double)rm[ch];
            invstd = 1.0 / sqrt((double)rv[ch] + p->eps);
        }
        const FC_REAL w = job->weight ? ((const FC_REAL *)job->weight)[ch] : (FC_REAL)1;
        const FC_REAL b = job->bias ? ((const FC_REAL *)job->bias)[ch] : (FC_REAL)0;
        const FC_REAL mean_r = (FC_REAL)mean, scale = (FC_REAL)(invstd * (double)w);
        if (job->save_mean) ((FC_REAL *)job->save_mean)[ch] = mean_r;
        if (job->save_invstd) ((FC_REAL *)job->save_invstd)[ch] = (FC_REAL)invstd;
        /* (x - mean) first: exact for x near the mean (Sterbenz), where x * scale + shift
         * would cancel */
        for (int64_t r = 0; r < n; r++)
            for (int64_t j = 0; j < hw; j++)
                y[r * stride + j] = (x[r * stride + j] - mean_r) * scale + b;
    }
}

static void FC_FN(bn_backward_channels)(const bn_job *job, int64_t begin, int64_t end)
{
    const fc_batch_norm_params *p = job->p;
    const int64_t n = p->n, hw = p->hw, stride = p->c * hw, count = n * hw;
    for (int64_t ch = begin; ch < end; ch++) {
        const FC_REAL *x = (const FC_REAL *)job->x + ch * hw;
        const FC_REAL *g = (const FC_REAL *)job->g + ch * hw;
        const FC_REAL mean_r = ((const FC_REAL *)job->mean)[ch];
        const double m = (double)mean_r, invstd = (double)((const FC_REAL *)job->invstd)[ch];
        double acc_g[FC_BN_LANES] = {0}, acc_gx[FC_BN_LANES] = {0};
        FC_BN_SUM(acc_g, gv)
        FC_BN_SUM(acc_gx, gv * (v - m))
        const double sum_g = FC_FN(bn_total)(acc_g), sum_gx = FC_FN(bn_total)(acc_gx);
        if (job->grad_weight) ((FC_REAL *)job->grad_weight)[ch] = (FC_REAL)(sum_gx * invstd);
        if (job->grad_bias) ((FC_REAL *)job->grad_bias)[ch] = (FC_REAL)sum_g;
        if (!job->grad_input) continue;
        FC_REAL *gx = (FC_REAL *)job->grad_input + ch * hw;
        const double w = job->weight ? (double)((const FC_REAL *)job->weight)[ch] : 1.0;
        const FC_REAL scale = (FC_REAL)(invstd * w);
        if (p->training) {
            /* the batch's mean and variance depend on x too: the gradient's projections on
             * them (the mean of g, and of g (x - mean) invstd^2) come off */
            const FC_REAL mean_g = (FC_REAL)(sum_g / (double)count);
            const FC_REAL k = (FC_REAL)(sum_gx * invstd * invstd / (double)count);
            for (int64_t r = 0; r < n; r++)
                for (int64_t j = 0; j < hw; j++) {
                    const int64_t i = r * stride + j;
                    gx[i] = (g[i] - mean_g - (x[i] - mean_r) * k) * scale;
                }
        } else {
            for (int64_t r = 0; r < n; r++)
                for (int64_t j = 0; j < hw; j++) gx[r * stride + j] = g[r * stride + j] * scale;
        }
    }
}

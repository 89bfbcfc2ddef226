/* The scalar members of kernels/pool_nhwc (pool_nhwc.h), and the SIMD members' channel tail:
 * channels [c0, channels), one at a time, the window scanned in order. */
static inline void FC_FN(maxpool_nhwc_channels)(size_t c0, size_t channels, size_t count,
                                                const FC_REAL *const *ptrs,
                                                const int64_t *offsets, FC_REAL *y,
                                                int64_t *indices)
{
    for (size_t c = c0; c < channels; c++) {
        FC_REAL best = -(FC_REAL)INFINITY;
        int64_t best_index = -1;
        for (size_t k = 0; k < count; k++) {
            const FC_REAL v = ptrs[k][c];
            if (k == 0 || (!(v <= best) && !isnan(best))) {
                best = v;
                best_index = offsets ? offsets[k] : 0;
            }
        }
        y[c] = best;
        if (indices) indices[c] = best_index;
    }
}

static inline void FC_FN(avgpool_nhwc_channels)(size_t c0, size_t channels, size_t count,
                                                const FC_REAL *const *ptrs, FC_REAL divisor,
                                                FC_REAL *y)
{
    for (size_t c = c0; c < channels; c++) {
        FC_REAL sum = 0;
        for (size_t k = 0; k < count; k++) sum += ptrs[k][c];
        y[c] = sum / divisor;
    }
}

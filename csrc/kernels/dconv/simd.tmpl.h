/* The SIMD direct-convolution members (AVX2, AVX-512, NEON), written once over the vector
 * macros of simd/vec_<isa>_f32.h and simd/f32_vec_ops.h.  The including file defines FC_DCONV_FN
 * (the symbol), FC_DC_KB (output channels per block, the packed weights' panel width) and
 * FC_DC_NV (vectors of output columns per block, at most 3).
 *
 * Register tile: KB channels x NV vectors of one output row, kept in registers over the whole
 * reduction (c, r, s ascending); per tap, NV loads of the input row and KB broadcast weights
 * feed KB * NV FMAs.  y is written once, after the epilogue. */

FC_INLINE void dc_block(const int nv, const int part, FC_M tail, size_t rows,
                        size_t steps, size_t s, const float *x, size_t x_stride,
                        const size_t *tap_col, const float *w, const float *bias, unsigned fused,
                        float *y, size_t y_stride)
{
    FC_V acc[FC_DC_KB][3];
#pragma GCC unroll 16
    for (int i = 0; i < FC_DC_KB; i++) {
        const FC_V b = FC_VSET1(bias[i]);
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++) acc[i][v] = b;
    }
    for (size_t row = 0; row < steps; row++) { /* row = c * R + r */
        const float *x_row = x + row * x_stride;
        const float *w_row = w + row * s * FC_DC_KB;
        for (size_t ss = 0; ss < s; ss++) {
            const float *xp = x_row + tap_col[ss];
            const float *wp = w_row + ss * FC_DC_KB;
            FC_V xv[3];
#pragma GCC unroll 3
            for (int v = 0; v < nv; v++) xv[v] = fc_vload(xp + v * FC_LANES, part && v == nv - 1, tail);
#pragma GCC unroll 16
            for (int i = 0; i < FC_DC_KB; i++) {
                const FC_V wv = FC_VSET1(wp[i]);
#pragma GCC unroll 3
                for (int v = 0; v < nv; v++) acc[i][v] = FC_VFMA(wv, xv[v], acc[i][v]);
            }
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < FC_DC_KB; i++) {
        if ((size_t)i >= rows) break;
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++)
            fc_vstore_out(y + i * y_stride + v * FC_LANES, acc[i][v], fused, part && v == nv - 1,
                          tail);
    }
}

#define FC_DC_BLOCK(nv, part) \
    dc_block(nv, part, tail, rows, steps, s, x + j, x_stride, tap_col, w, bias, fused, y + j, \
             y_stride)

void FC_DCONV_FN(size_t rows, size_t cols, size_t channels, size_t r, size_t s, const float *x,
                 size_t x_stride, const size_t *tap_col, const float *w, const float *bias,
                 unsigned fused, float *y, size_t y_stride)
{
    const size_t steps = channels * r;
    FC_M tail;
    size_t j;
    FC_COLUMN_BLOCKS(cols, FC_DC_NV, FC_DC_BLOCK);
}
#undef FC_DC_BLOCK

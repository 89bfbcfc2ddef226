/* The SIMD members of the Winograd family (winograd.h), written once: FC_LANES tiles (input,
 * output) or panel positions (filter) per step, the tail through the lane mask.  The
 * including file includes its target header, dtype_f32.h and vec_<isa>_f32.h, defines
 *   FC_WINO_ISA                 the symbols' suffix (avx2, avx512, neon)
 *   WINO_VSUB(a, b) WINO_VMUL(a, b)   vector subtract and multiply
 *   WINO_IDX_LOAD(p)            FC_LANES int32 from p, as FC_VIDX
 *   WINO_IDX_VALID(idx)         the FC_M mask of the lanes with idx >= 0
 *   WINO_MASK_ALL(m)            whether every lane of m is set
 *   WINO_GATHER(p, idx)         FC_VGATHERM without a mask (a masked gather consumes its
 *                               mask register: 16% of the filter transform's time was
 *                               copying it back on Zen 4)
 *   WINO_INTERLEAVE(o, y)       the 4 vectors o of the floats 4 t + j = lane t of y[j]
 * and sets fp-contract off (transforms.tmpl.h). */
#define WINO_T FC_V
#define WINO_ADD(a, b) FC_VADD(a, b)
#define WINO_SUB(a, b) WINO_VSUB(a, b)
#define WINO_MUL(k, a) WINO_VMUL(FC_VSET1(k), a)
#include "kernels/winograd/transforms.tmpl.h"

#define WINO_NAME_(kind, isa) fc_f32_winograd_##kind##_4x4__##isa
#define WINO_NAME(kind, isa) WINO_NAME_(kind, isa)

static inline __attribute__((always_inline)) void wino_store(float *p, FC_V v, size_t cnt)
{
    if (cnt == FC_LANES)
        FC_VSTORE(p, v);
    else
        FC_VSTOREM(p, FC_TAIL_MASK(cnt), v);
}

/* Columns 4 t + c, c < 6, of FC_LANES tiles from one strip row: the four phases of a stride-4
 * de-interleave of 4 * FC_LANES contiguous values, and phases 0 and 1 once more from 4 values
 * on (columns 4 and 5 are columns 0 and 1 of the next tile).  No gathers. */
static inline __attribute__((always_inline)) void wino_patch_row(const float *row, FC_V x[6])
{
    const FC_V a0 = FC_VLOAD(row), a1 = FC_VLOAD(row + FC_LANES);
    const FC_V a2 = FC_VLOAD(row + 2 * FC_LANES), a3 = FC_VLOAD(row + 3 * FC_LANES);
    const FC_V e01 = FC_VEVEN(a0, a1), e23 = FC_VEVEN(a2, a3);
    const FC_V o01 = FC_VODD(a0, a1), o23 = FC_VODD(a2, a3);
    x[0] = FC_VEVEN(e01, e23);
    x[1] = FC_VEVEN(o01, o23);
    x[2] = FC_VODD(e01, e23);
    x[3] = FC_VODD(o01, o23);
    const float *next = row + 4;
    const FC_V b0 = FC_VLOAD(next), b1 = FC_VLOAD(next + FC_LANES);
    const FC_V b2 = FC_VLOAD(next + 2 * FC_LANES), b3 = FC_VLOAD(next + 3 * FC_LANES);
    x[4] = FC_VEVEN(FC_VEVEN(b0, b1), FC_VEVEN(b2, b3));
    x[5] = FC_VEVEN(FC_VODD(b0, b1), FC_VODD(b2, b3));
}

void WINO_NAME(input, FC_WINO_ISA)(size_t tiles, const float *d, size_t ld, float *v,
                                   size_t v_stride)
{
    for (size_t t0 = 0; t0 < tiles; t0 += FC_LANES) {
        const size_t cnt = tiles - t0 < FC_LANES ? tiles - t0 : FC_LANES;
        FC_V p[6][6], out[6][6];
        #pragma GCC unroll 6
        for (int r = 0; r < 6; r++) wino_patch_row(d + r * ld + 4 * t0, p[r]);
        wino_input_2d(p, out);
        #pragma GCC unroll 6
        for (int i = 0; i < 6; i++)
            #pragma GCC unroll 6
            for (int j = 0; j < 6; j++) wino_store(v + (6 * i + j) * v_stride + t0, out[i][j], cnt);
    }
}

void WINO_NAME(output, FC_WINO_ISA)(size_t tiles, const float *m, size_t m_stride, float bias,
                                    int relu, float *o, size_t o_stride)
{
    const FC_V scale = FC_VSET1(FC_WINOGRAD_INV_SCALE), b = FC_VSET1(bias);
    for (size_t t0 = 0; t0 < tiles; t0 += FC_LANES) {
        const size_t cnt = tiles - t0 < FC_LANES ? tiles - t0 : FC_LANES;
        FC_V s[6][6], out[4][4];
#pragma GCC unroll 6
        for (int i = 0; i < 6; i++)
#pragma GCC unroll 6
            for (int j = 0; j < 6; j++) s[i][j] = FC_VLOAD(m + (6 * i + j) * m_stride + t0);
        wino_output_2d(s, out);
        #pragma GCC unroll 4
        for (int i = 0; i < 4; i++) {
            FC_V y[4];
            #pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                y[j] = FC_VADD(WINO_VMUL(out[i][j], scale), b);
                if (relu) y[j] = FC_VRELU(y[j]);
            }
            /* lane t of y[j] is column 4 t + j of the row: 4 cnt floats */
            FC_V row[4];
            WINO_INTERLEAVE(row, y);
            for (size_t q = 0; q < 4 && q * FC_LANES < 4 * cnt; q++)
                wino_store(o + i * o_stride + 4 * t0 + q * FC_LANES, row[q],
                           4 * cnt - q * FC_LANES < FC_LANES ? 4 * cnt - q * FC_LANES : FC_LANES);
        }
    }
}

void WINO_NAME(filter, FC_WINO_ISA)(size_t n, const float *w, const int32_t *off, int flip,
                                    float *u, size_t u_stride)
{
    for (size_t q0 = 0; q0 < n; q0 += FC_LANES) {
        const size_t cnt = n - q0 < FC_LANES ? n - q0 : FC_LANES;
        const FC_VIDX idx = WINO_IDX_LOAD(off + q0);
        const FC_M valid = FC_MAND(WINO_IDX_VALID(idx), FC_TAIL_MASK(cnt));
        FC_V g[3][3], out[6][6];
        if (WINO_MASK_ALL(valid)) { /* a whole panel of real filters: no mask to thread */
            #pragma GCC unroll 9
            for (int k = 0; k < 9; k++)
                g[k / 3][k % 3] = WINO_GATHER(w + (flip ? 8 - k : k), idx);
        } else {
            #pragma GCC unroll 9
            for (int k = 0; k < 9; k++)
                g[k / 3][k % 3] = FC_VGATHERM(valid, w + (flip ? 8 - k : k), idx);
        }
        wino_filter_2d(g, out);
        #pragma GCC unroll 6
        for (int i = 0; i < 6; i++)
            #pragma GCC unroll 6
            for (int j = 0; j < 6; j++) wino_store(u + (6 * i + j) * u_stride + q0, out[i][j], cnt);
    }
}

#undef WINO_NAME
#undef WINO_NAME_

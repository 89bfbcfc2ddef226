/* The scalar member of the Winograd family (winograd.h): one tile (or filter) at a time. */
#pragma GCC optimize("fp-contract=off")
#include "common/relu.h"
#include "kernels/winograd/winograd.h"

#define WINO_T float
#define WINO_ADD(a, b) ((a) + (b))
#define WINO_SUB(a, b) ((a) - (b))
#define WINO_MUL(k, a) ((k) * (a))
#include "kernels/winograd/transforms.tmpl.h"

void fc_f32_winograd_input_4x4__scalar(size_t tiles, const float *d, size_t ld, float *v,
                                       size_t v_stride)
{
    for (size_t t = 0; t < tiles; t++) {
        float p[6][6], out[6][6];
        for (int r = 0; r < 6; r++)
            for (int c = 0; c < 6; c++) p[r][c] = d[r * ld + 4 * t + c];
        wino_input_2d(p, out);
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++) v[(6 * i + j) * v_stride + t] = out[i][j];
    }
}

void fc_f32_winograd_output_4x4__scalar(size_t tiles, const float *m, size_t m_stride,
                                        float bias, int relu, float *o, size_t o_stride)
{
    for (size_t t = 0; t < tiles; t++) {
        float s[6][6], out[4][4];
        for (int xi = 0; xi < 36; xi++) s[xi / 6][xi % 6] = m[xi * m_stride + t];
        wino_output_2d(s, out);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                float y = out[i][j] * FC_WINOGRAD_INV_SCALE + bias;
                o[i * o_stride + 4 * t + j] = relu ? FC_RELU(y) : y;
            }
    }
}

void fc_f32_winograd_filter_4x4__scalar(size_t n, const float *w, const int32_t *off, int flip,
                                        float *u, size_t u_stride)
{
    for (size_t q = 0; q < n; q++) {
        float g[3][3], out[6][6];
        for (int k = 0; k < 9; k++)
            g[k / 3][k % 3] = off[q] >= 0 ? w[off[q] + (flip ? 8 - k : k)] : 0.0f;
        wino_filter_2d(g, out);
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++) u[(6 * i + j) * u_stride + q] = out[i][j];
    }
}

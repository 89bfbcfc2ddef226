/* The 1-D transforms of F(4x4, 3x3), written once for the scalar member and every SIMD member
 * (winograd.h).  The including file defines, for its element type:
 *   WINO_T          float or a vector of floats
 *   WINO_ADD(a, b)  WINO_SUB(a, b)  WINO_MUL(k, a)  (k a float constant)
 * and compiles with fp-contract off (the product a stage stores is rounded before the next
 * stage adds it), so that every member rounds as the scalar member does.  Each transform
 * takes its operands in the order shown; none reorders a sum. */

/* B^T: t = B^T d for the rows [4 0 -5 0 1 0], [0 -4 -4 1 1 0], [0 4 -4 -1 1 0],
 * [0 -2 -1 2 1 0], [0 2 -1 -2 1 0], [0 4 0 -5 0 1]: only products by 2 and 4 (exact). */
static inline __attribute__((always_inline)) void wino_bt(const WINO_T d[6], WINO_T t[6])
{
    const WINO_T d42 = WINO_SUB(d[4], d[2]), d31 = WINO_SUB(d[3], d[1]);
    t[0] = WINO_ADD(WINO_MUL(4.0f, WINO_SUB(d[0], d[2])), d42);
    t[1] = WINO_SUB(WINO_ADD(d[3], d[4]), WINO_MUL(4.0f, WINO_ADD(d[1], d[2])));
    t[2] = WINO_ADD(WINO_SUB(d[4], d[3]), WINO_MUL(4.0f, WINO_SUB(d[1], d[2])));
    t[3] = WINO_ADD(d42, WINO_MUL(2.0f, d31));
    t[4] = WINO_SUB(d42, WINO_MUL(2.0f, d31));
    t[5] = WINO_ADD(WINO_MUL(4.0f, WINO_SUB(d[1], d[3])), WINO_SUB(d[5], d[3]));
}

/* G' = 24 G: u = G' g for the rows [6 0 0], [-4 -4 -4], [-4 4 -4], [1 2 4], [1 -2 4],
 * [0 0 24]. */
static inline __attribute__((always_inline)) void wino_g(const WINO_T g[3], WINO_T u[6])
{
    const WINO_T s02 = WINO_ADD(g[0], g[2]), s04 = WINO_ADD(g[0], WINO_MUL(4.0f, g[2]));
    const WINO_T g12 = WINO_MUL(2.0f, g[1]);
    u[0] = WINO_MUL(6.0f, g[0]);
    u[1] = WINO_MUL(-4.0f, WINO_ADD(s02, g[1]));
    u[2] = WINO_MUL(-4.0f, WINO_SUB(s02, g[1]));
    u[3] = WINO_ADD(s04, g12);
    u[4] = WINO_SUB(s04, g12);
    u[5] = WINO_MUL(24.0f, g[2]);
}

/* A^T: o = A^T m for the rows [1 1 1 1 1 0], [0 1 -1 2 -2 0], [0 1 1 4 4 0],
 * [0 1 -1 8 -8 1]. */
static inline __attribute__((always_inline)) void wino_at(const WINO_T m[6], WINO_T o[4])
{
    const WINO_T a = WINO_ADD(m[1], m[2]), b = WINO_SUB(m[1], m[2]);
    const WINO_T c = WINO_ADD(m[3], m[4]), e = WINO_SUB(m[3], m[4]);
    o[0] = WINO_ADD(WINO_ADD(m[0], a), c);
    o[1] = WINO_ADD(b, WINO_MUL(2.0f, e));
    o[2] = WINO_ADD(a, WINO_MUL(4.0f, c));
    o[3] = WINO_ADD(WINO_ADD(b, WINO_MUL(8.0f, e)), m[5]);
}

/* The 2-D transforms from the 1-D ones: rows first (index j), then columns (index i). */
static inline __attribute__((always_inline)) void wino_input_2d(WINO_T d[6][6],
                                                                WINO_T v[6][6])
{
    WINO_T h[6][6];
    #pragma GCC unroll 6
    for (int r = 0; r < 6; r++) wino_bt(d[r], h[r]);
    #pragma GCC unroll 6
    for (int j = 0; j < 6; j++) {
        WINO_T col[6], out[6];
        #pragma GCC unroll 6
        for (int r = 0; r < 6; r++) col[r] = h[r][j];
        wino_bt(col, out);
        #pragma GCC unroll 6
        for (int i = 0; i < 6; i++) v[i][j] = out[i];
    }
}

static inline __attribute__((always_inline)) void wino_filter_2d(WINO_T g[3][3],
                                                                 WINO_T u[6][6])
{
    WINO_T h[3][6];
    #pragma GCC unroll 3
    for (int r = 0; r < 3; r++) wino_g(g[r], h[r]);
    #pragma GCC unroll 6
    for (int j = 0; j < 6; j++) {
        WINO_T col[3] = {h[0][j], h[1][j], h[2][j]}, out[6];
        wino_g(col, out);
        #pragma GCC unroll 6
        for (int i = 0; i < 6; i++) u[i][j] = out[i];
    }
}

static inline __attribute__((always_inline)) void wino_output_2d(WINO_T m[6][6],
                                                                 WINO_T o[4][4])
{
    WINO_T h[6][4];
    #pragma GCC unroll 6
    for (int i = 0; i < 6; i++) wino_at(m[i], h[i]);
    #pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        WINO_T col[6], out[4];
        #pragma GCC unroll 6
        for (int i = 0; i < 6; i++) col[i] = h[i][j];
        wino_at(col, out);
        #pragma GCC unroll 4
        for (int i = 0; i < 4; i++) o[i][j] = out[i];
    }
}

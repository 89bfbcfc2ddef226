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

/* The 2-D transforms from the 1-D ones: fn (n values -> m) along every row of the n x n
 * block `in` (index j), then along every column of the result (index i), into m x m `out`. */
#define WINO_2D(fn, n, m, in, out)                                                          \
    do {                                                                                   \
        WINO_T h_[n][m];                                                                   \
        _Pragma("GCC unroll 6") for (int r_ = 0; r_ < (n); r_++) fn(in[r_], h_[r_]);       \
        _Pragma("GCC unroll 6") for (int j_ = 0; j_ < (m); j_++) {                         \
            WINO_T col_[n], o_[m];                                                         \
            _Pragma("GCC unroll 6") for (int r_ = 0; r_ < (n); r_++) col_[r_] = h_[r_][j_]; \
            fn(col_, o_);                                                                  \
            _Pragma("GCC unroll 6") for (int i_ = 0; i_ < (m); i_++) out[i_][j_] = o_[i_]; \
        }                                                                                  \
    } while (0)

static inline __attribute__((always_inline)) void wino_input_2d(WINO_T d[6][6],
                                                                WINO_T v[6][6])
{
    WINO_2D(wino_bt, 6, 6, d, v);
}

static inline __attribute__((always_inline)) void wino_filter_2d(WINO_T g[3][3],
                                                                 WINO_T u[6][6])
{
    WINO_2D(wino_g, 3, 6, g, u);
}

static inline __attribute__((always_inline)) void wino_output_2d(WINO_T m[6][6],
                                                                 WINO_T o[4][4])
{
    WINO_2D(wino_at, 6, 4, m, o);
}

#undef WINO_2D

/* The per-dtype half of test_members.c (instantiated with simd/dtype_f32.h, dtype_f64.h).
 *
 * Each family has a "logical" problem (a whole GEMM, a whole output row block, ...) that any
 * member can compute by tiling it with its own tile sizes, so a SIMD member and its scalar twin
 * are compared on the same problem; the scalar member is compared with a naive loop here.
 * Integer-valued inputs make every sum exact (compared bitwise); real-valued inputs are
 * compared within a bound that grows with the reduction length. */

/* n zeroed elements (t_alloc: with slack past the end) */
#define T_NEW(n) ((FC_REAL *)t_alloc((n) * sizeof(FC_REAL)))

static FC_REAL FC_FN(t_value)(int integer)
{
    return integer ? (FC_REAL)((int)(t_rand() % 9) - 4) : (FC_REAL)t_uniform();
}

static void FC_FN(t_fill)(FC_REAL *p, size_t n, int integer)
{
    for (size_t i = 0; i < n; i++) p[i] = FC_FN(t_value)(integer);
}

/* First index where got and want differ (bits, or |got - want| > tol * bound[i] when bound),
 * -1 if none.  Two NaNs are equal when compared arithmetically (payloads of sums may follow
 * the operand order). */
static long FC_FN(t_mismatch)(const FC_REAL *got, const FC_REAL *want, size_t n,
                              const FC_REAL *bound, double tol)
{
    for (size_t i = 0; i < n; i++) {
        if (memcmp(&got[i], &want[i], sizeof(FC_REAL)) == 0) continue;
        if (bound) {
            if (got[i] != got[i] && want[i] != want[i]) continue;
            double d = (double)got[i] - (double)want[i];
            if (d < 0) d = -d;
            if (d <= tol * (double)bound[i]) continue;
        }
        return (long)i;
    }
    return -1;
}

static void FC_FN(t_report)(t_result *r, const char *what, const FC_REAL *got,
                            const FC_REAL *want, long at)
{
    T_FAIL(r, "%s: element %ld is %.17g, expected %.17g", what, at, (double)got[at],
           (double)want[at]);
}

/* ---- gemm: C[M x N] (+)= A[M x K] B[K x N], through the member's MR x NR tiles -------- */

/* rows_twin 0: the packed kernel; 1: the "rows" twin, B rows in place; 2: the twin with A
 * rows in place too (lda > 0); 3: A in place, B packed (b_rows NULL) */
static void FC_FN(t_gemm_run)(const fc_member *m, int rows_twin, size_t M, size_t N, size_t K,
                              const FC_REAL *A, const FC_REAL *B, const FC_REAL *init,
                              unsigned flags, size_t split, FC_REAL *C)
{
    const size_t mr = (size_t)m->mr, nr = (size_t)m->nr, ldb = nr + 3; /* rows: a gap */
    const size_t lda = rows_twin >= 2 ? K + 2 : 0; /* A in place: rows with a gap (99s) */
    const int b_in_place = rows_twin == 1 || rows_twin == 2;
    FC_REAL *a = T_NEW((K + 1) * mr + mr * lda);
    FC_REAL *b = T_NEW((K + 1) * ldb);
    FC_REAL *c = T_NEW(mr * nr), *ip = T_NEW(mr);
    ptrdiff_t *b_rows = t_alloc((K + 1) * sizeof(ptrdiff_t));
    for (size_t i0 = 0; i0 < M; i0 += mr)
        for (size_t j0 = 0; j0 < N; j0 += nr) {
            for (size_t p = 0; p < K; p++) {
                for (size_t i = 0; i < mr; i++)
                    a[lda ? i * lda + p : p * mr + i] = i0 + i < M ? A[(i0 + i) * K + p] : 0;
                const size_t width = b_in_place ? ldb : nr; /* the gap holds 99s */
                for (size_t j = 0; j < width; j++)
                    b[p * width + j] =
                        j < nr && j0 + j < N ? B[p * N + j0 + j] : (FC_REAL)(j < nr ? 0 : 99);
                b_rows[p] = (ptrdiff_t)(p * ldb);
            }
            for (size_t i = 0; i < mr && lda; i++)
                for (size_t p = K; p < lda; p++) a[i * lda + p] = 99;
            for (size_t i = 0; i < mr; i++) ip[i] = init && i0 + i < M ? init[i0 + i] : 0;
            for (size_t t = 0; t < mr * nr; t++) c[t] = (FC_REAL)NAN;
            for (size_t i = 0; i < mr; i++)
                for (size_t j = 0; j < nr; j++)
                    if (flags & FC_GEMM_ACCUMULATE)
                        c[i * nr + j] =
                            i0 + i < M && j0 + j < N ? C[(i0 + i) * N + j0 + j] : 0;
            /* one call, or two blocks of the reduction: [0, split) then [split, K) */
            const size_t k1 = split ? split : K;
            const unsigned f1 = split ? flags & ~FC_GEMM_RELU : flags;
            const FC_REAL *init1 = init || (flags & FC_GEMM_ACCUMULATE) ? ip : NULL;
            if (rows_twin) {
                const ptrdiff_t *rows = b_in_place ? b_rows : NULL;
                const size_t ld = b_in_place ? ldb : nr;
                ((FC_FN(gemm_rows_ukernel_fn))m->fn2)(k1, a, lda, b, rows, c, nr, init1, f1);
                if (split)
                    ((FC_FN(gemm_rows_ukernel_fn))m->fn2)(
                        K - split, a + split * (lda ? 1 : mr), lda, b + split * ld, rows, c, nr,
                        NULL, flags | FC_GEMM_ACCUMULATE);
            } else {
                ((FC_FN(gemm_ukernel_fn))m->fn)(k1, a, b, c, nr, init1, f1);
                if (split)
                    ((FC_FN(gemm_ukernel_fn))m->fn)(K - split, a + split * mr, b + split * nr,
                                                    c, nr, NULL, flags | FC_GEMM_ACCUMULATE);
            }
            for (size_t i = 0; i + i0 < M && i < mr; i++)
                for (size_t j = 0; j + j0 < N && j < nr; j++)
                    C[(i0 + i) * N + j0 + j] = c[i * nr + j];
        }
    free(a), free(b), free(c), free(ip), free(b_rows);
}

static void FC_FN(t_gemm_ref)(size_t M, size_t N, size_t K, const FC_REAL *A, const FC_REAL *B,
                              const FC_REAL *init, unsigned flags, FC_REAL *C, FC_REAL *bound)
{
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            FC_REAL s = (flags & FC_GEMM_ACCUMULATE) ? C[i * N + j] : init ? init[i] : 0;
            FC_REAL bnd = s < 0 ? -s : s;
            for (size_t p = 0; p < K; p++) {
                const FC_REAL t = A[i * K + p] * B[p * N + j];
                s += t;
                bnd += t < 0 ? -t : t;
            }
            C[i * N + j] = (flags & FC_GEMM_RELU) ? FC_RELU(s) : s;
            bound[i * N + j] = bnd;
        }
}

static void FC_FN(t_gemm)(const fc_member *m, const fc_member *twin, t_result *r)
{
    const size_t mr = (size_t)m->mr, nr = (size_t)m->nr;
    const size_t ms[] = {mr - 1, mr, mr + 1, 2 * mr + 1}, ns[] = {nr - 1, nr, nr + 1, 2 * nr + 3};
    const size_t ks[] = {1, 7, 64, 301};
    for (size_t mi = 0; mi < 4; mi++)
        for (size_t ni = 0; ni < 4; ni++)
            for (size_t ki = 0; ki < 4; ki++)
                for (int variant = 0; variant < 5; variant++) {
                    const size_t M = ms[mi], N = ns[ni], K = ks[ki];
                    if (M == 0 || N == 0) continue;
                    const int integer = variant != 4;
                    FC_REAL *A = T_NEW(M * K), *B = T_NEW(K * N);
                    FC_REAL *init = T_NEW(M), *C0 = T_NEW(M * N);
                    FC_REAL *got = T_NEW(M * N), *want = T_NEW(M * N);
                    FC_REAL *bound = T_NEW(M * N);
                    FC_FN(t_fill)(A, M * K, integer);
                    FC_FN(t_fill)(B, K * N, integer);
                    FC_FN(t_fill)(init, M, integer);
                    FC_FN(t_fill)(C0, M * N, integer);
                    if (variant == 3) { /* NaN in A and -0 starts: NaN stays NaN, relu(-0) = +0 */
                        A[(M * K) / 2] = (FC_REAL)NAN;
                        for (size_t i = 0; i < M; i++) init[i] = (FC_REAL)-0.0;
                        for (size_t t = 0; t < M * K; t += 2) A[t] = 0;
                    }
                    /* 0: plain; 1: bias + relu; 2: accumulate onto C; 3: NaN, -0, relu;
                     * 4: real-valued, bias, relu, the reduction in two blocks */
                    const unsigned flags = variant == 0 ? 0 : variant == 2 ? FC_GEMM_ACCUMULATE
                                                                             : FC_GEMM_RELU;
                    const FC_REAL *ip = variant == 0 || variant == 2 ? NULL : init;
                    const size_t split = variant == 4 && K > 1 ? K / 2 : 0;
                    for (int rows_twin = 0; rows_twin < 4; rows_twin++) {
                        memcpy(got, C0, M * N * sizeof(FC_REAL));
                        memcpy(want, C0, M * N * sizeof(FC_REAL));
                        FC_FN(t_gemm_run)(m, rows_twin, M, N, K, A, B, ip, flags, split, got);
                        FC_FN(t_gemm_ref)(M, N, K, A, B, ip, flags, want, bound);
                        if (twin != m) {
                            memcpy(want, C0, M * N * sizeof(FC_REAL));
                            FC_FN(t_gemm_run)(twin, rows_twin, M, N, K, A, B, ip, flags, split,
                                              want);
                        }
                        const long at = FC_FN(t_mismatch)(got, want, M * N, integer ? NULL : bound,
                                                          4.0 * (double)(K + 1) * T_EPS);
                        r->cases++;
                        if (at >= 0) {
                            char what[160];
                            snprintf(what, sizeof what, "%s M %zu N %zu K %zu variant %d",
                                     rows_twin == 0   ? "packed"
                                     : rows_twin == 1 ? "rows twin"
                                     : rows_twin == 2 ? "rows twin, A in place"
                                                      : "rows twin, A in place, B packed",
                                     M, N, K, variant);
                            FC_FN(t_report)(r, what, got, want, at);
                        }
                    }
                    free(A), free(B), free(init), free(C0), free(got), free(want), free(bound);
                }
}

/* ---- gemm im2col run (gemm.h): against its formula, bit for bit (it moves values) -------- */

static void FC_FN(t_gemm_im2col_run)(const fc_member *m, t_result *r)
{
    const int64_t nr = m->nr, lanes[] = {1, 3, nr / 2 - 1, nr / 2, nr / 2 + 1, nr - 1, nr};
    const int64_t h = 5, w = 7, c = 3;
    FC_REAL *x = T_NEW(c * h * w);
    FC_FN(t_fill)(x, (size_t)(c * h * w), 1);
    /* filters 1x1, 3x3, 5x5 at dilation 2 (wider than w), 1x7 */
    for (int64_t f = 0; f < 4; f++) {
        const int64_t fr[] = {1, 3, 5, 1}, fs[] = {1, 3, 5, 7}, dil = f == 2 ? 2 : 1;
        const int64_t red = c * fr[f] * fs[f];
        for (int64_t ih0 = -2 * fr[f]; ih0 <= h; ih0++)
            for (int64_t iw0 = -2 * fs[f] - 1; iw0 <= w + 1; iw0++)
                for (size_t li = 0; li < sizeof lanes / sizeof lanes[0]; li++)
                    for (int64_t b = 0; b < 3; b++) { /* blocks of the reduction */
                        const int64_t red0 = b == 0 ? 0 : b == 1 ? 1 : red / 2;
                        const int64_t n = lanes[li], kc = b == 0 ? red : b == 1 ? red - 2 : 1;
                        if (n < 1 || kc < 1) continue;
                        FC_REAL *got = T_NEW(kc * nr), *want = T_NEW(kc * nr);
                        for (int64_t i = 0; i < kc * nr; i++) got[i] = want[i] = (FC_REAL)-77;
                        for (int64_t k = 0; k < kc; k++) {
                            const int64_t rr = red0 + k, ch = rr / (fr[f] * fs[f]);
                            const int64_t ih = ih0 + rr / fs[f] % fr[f] * dil;
                            for (int64_t l = 0; l < n; l++) {
                                const int64_t iw = iw0 + rr % fs[f] * dil + l;
                                want[k * nr + l] = ih >= 0 && ih < h && iw >= 0 && iw < w
                                                       ? x[(ch * h + ih) * w + iw]
                                                       : 0;
                            }
                        }
                        ((FC_FN(gemm_im2col_run_fn))m->fn3)(x, h, w, fr[f], fs[f], dil, dil, ih0,
                                                            iw0, red0, kc, n, got, nr);
                        r->cases++;
                        if (memcmp(got, want, (size_t)(kc * nr) * sizeof(FC_REAL)) != 0) {
                            long at = 0;
                            while (memcmp(got + at, want + at, sizeof(FC_REAL)) == 0) at++;
                            char what[160];
                            snprintf(what, sizeof what,
                                     "im2col run %lldx%lld ih0 %lld iw0 %lld n %lld red0 %lld",
                                     (long long)fr[f], (long long)fs[f], (long long)ih0,
                                     (long long)iw0, (long long)n, (long long)red0);
                            FC_FN(t_report)(r, what, got, want, at);
                        }
                        free(got), free(want);
                    }
    }
    free(x);
}

/* ---- gemm NHWC pack (gemm.h): against its formula, bit for bit (it moves values) -------- */

/* cg around the 8-channel step (tile - 1, tile, tile + 1, and two steps), step MR (1x1) or a
 * tap's of a 3x3; one source repeated (a tap in the padding reads one run of zeros). */
static void FC_FN(t_gemm_nhwc_pack)(const fc_member *m, t_result *r)
{
    const int64_t mr = m->mr, cgs[] = {1, 3, 7, 8, 9, 15, 16, 17, 24, 33};
    for (size_t ci = 0; ci < sizeof cgs / sizeof cgs[0]; ci++)
        for (int64_t st = 0; st < 2; st++) {
            const int64_t cg = cgs[ci], step = st ? 9 * mr : mr, size = cg * step + mr;
            FC_REAL *x = T_NEW(mr * cg), *got = T_NEW(size), *want = T_NEW(size);
            FC_FN(t_fill)(x, (size_t)(mr * cg), 0);
            const FC_REAL *src[16];
            for (int64_t i = 0; i < mr; i++) src[i] = x + (i == 2 ? 5 : i) % mr * cg;
            for (int64_t i = 0; i < size; i++) got[i] = want[i] = (FC_REAL)-77;
            for (int64_t c = 0; c < cg; c++)
                for (int64_t i = 0; i < mr; i++) want[c * step + i] = src[i][c];
            ((FC_FN(gemm_nhwc_pack_fn))m->fn4)(src, cg, got, step);
            r->cases++;
            if (memcmp(got, want, (size_t)size * sizeof(FC_REAL)) != 0) {
                long at = 0;
                while (memcmp(got + at, want + at, sizeof(FC_REAL)) == 0) at++;
                char what[96];
                snprintf(what, sizeof what, "nhwc pack cg %lld step %lld", (long long)cg,
                         (long long)step);
                FC_FN(t_report)(r, what, got, want, at);
            }
            free(x), free(got), free(want);
        }
}

/* ---- gemm_nt: out[i][j] = sum over images m, p < kc of A[i][m a_step + p] B_j[m b_step + p] */

static void FC_FN(t_gemm_nt_run)(const fc_member *m, size_t M, size_t N, size_t images,
                                 size_t kc, const FC_REAL *A, size_t lda, size_t a_step,
                                 const FC_REAL *const *Brows, size_t b_step, const FC_REAL *zero,
                                 FC_REAL *out)
{
    const size_t mr = (size_t)m->mr, nr = (size_t)m->nr, lanes = (size_t)m->lanes;
    FC_REAL *acc = T_NEW(mr * nr * lanes);
    FC_REAL *a = T_NEW(mr * lda);
    const FC_REAL **b = t_alloc(nr * sizeof(FC_REAL *));
    for (size_t i0 = 0; i0 < M; i0 += mr)
        for (size_t j0 = 0; j0 < N; j0 += nr) {
            for (size_t i = 0; i < mr; i++)
                for (size_t t = 0; t < lda; t++)
                    a[i * lda + t] = i0 + i < M ? A[(i0 + i) * lda + t] : 0;
            for (size_t j = 0; j < nr; j++) b[j] = j0 + j < N ? Brows[j0 + j] : zero;
            for (size_t t = 0; t < mr * nr * lanes; t++) acc[t] = (FC_REAL)NAN;
            /* the first image alone, then the others accumulated */
            ((FC_FN(gemm_nt_ukernel_fn))m->fn)(1, kc, a, lda, a_step, b, b_step, acc, 0);
            for (size_t j = 0; j < nr; j++) b[j] += b_step;
            if (images > 1)
                ((FC_FN(gemm_nt_ukernel_fn))m->fn)(images - 1, kc, a + a_step, lda, a_step, b,
                                                   b_step, acc, FC_GEMM_ACCUMULATE);
            for (size_t i = 0; i + i0 < M && i < mr; i++)
                for (size_t j = 0; j + j0 < N && j < nr; j++) {
                    FC_REAL s = 0;
                    for (size_t l = 0; l < lanes; l++) s += acc[(i * nr + j) * lanes + l];
                    out[(i0 + i) * N + j0 + j] = s;
                }
        }
    free(acc), free(a), free(b);
}

static void FC_FN(t_gemm_nt)(const fc_member *m, const fc_member *twin, t_result *r)
{
    const size_t mr = (size_t)m->mr, nr = (size_t)m->nr;
    const size_t ms[] = {mr - 1, mr, mr + 1, 2 * mr + 1}, ns[] = {nr - 1, nr, nr + 1};
    const size_t kcs[] = {16, 48, 304};
    for (size_t mi = 0; mi < 4; mi++)
        for (size_t ni = 0; ni < 3; ni++)
            for (size_t ki = 0; ki < 3; ki++)
                for (int integer = 1; integer >= 0; integer--) {
                    const size_t M = ms[mi], N = ns[ni], kc = kcs[ki], images = 3;
                    if (M == 0 || N == 0) continue;
                    const size_t a_step = kc + 16, lda = images * a_step, b_step = kc + 32;
                    FC_REAL *A = T_NEW(M * lda);
                    FC_REAL *B = T_NEW(N * images * b_step);
                    FC_REAL *zero = T_NEW(images * b_step);
                    const FC_REAL **rows = t_alloc(N * sizeof(FC_REAL *));
                    FC_REAL *got = T_NEW(M * N), *want = T_NEW(M * N);
                    FC_REAL *bound = T_NEW(M * N);
                    FC_FN(t_fill)(A, M * lda, integer);
                    FC_FN(t_fill)(B, N * images * b_step, integer);
                    for (size_t j = 0; j < N; j++) rows[j] = B + j * images * b_step;
                    for (size_t i = 0; i < M; i++)
                        for (size_t j = 0; j < N; j++) {
                            FC_REAL s = 0, bnd = 0;
                            for (size_t im = 0; im < images; im++)
                                for (size_t p = 0; p < kc; p++) {
                                    const FC_REAL t = A[i * lda + im * a_step + p] *
                                                      rows[j][im * b_step + p];
                                    s += t;
                                    bnd += t < 0 ? -t : t;
                                }
                            want[i * N + j] = s;
                            bound[i * N + j] = bnd;
                        }
                    FC_FN(t_gemm_nt_run)(m, M, N, images, kc, A, lda, a_step, rows, b_step,
                                         zero, got);
                    if (twin != m)
                        FC_FN(t_gemm_nt_run)(twin, M, N, images, kc, A, lda, a_step, rows,
                                             b_step, zero, want);
                    const long at = FC_FN(t_mismatch)(got, want, M * N, integer ? NULL : bound,
                                                      4.0 * (double)(images * kc) * T_EPS);
                    r->cases++;
                    if (at >= 0) {
                        char what[128];
                        snprintf(what, sizeof what, "M %zu N %zu kc %zu integer %d", M, N, kc,
                                 integer);
                        FC_FN(t_report)(r, what, got, want, at);
                    }
                    free(A), free(B), free(zero), free(rows), free(got), free(want), free(bound);
                }
}

/* ---- dconv: K filters over one output row block, through the member's KB panels ------ */

typedef struct {
    size_t K, cols, C, R, S, x_stride, y_stride;
    const size_t *tap_col;
    const FC_REAL *x, *W, *bias; /* W[k][(c R + r) S + s] */
    unsigned fused; /* kernels/fused.h */
} FC_FN(t_dconv_case);

static void FC_FN(t_dconv_run)(const fc_member *m, const FC_FN(t_dconv_case) *k, FC_REAL *y)
{
    const size_t kb = (size_t)m->mr, steps = k->C * k->R * k->S;
    FC_REAL *w = T_NEW((steps + 1) * kb), *bias = T_NEW(kb);
    for (size_t k0 = 0; k0 < k->K; k0 += kb) {
        for (size_t step = 0; step < steps; step++)
            for (size_t i = 0; i < kb; i++)
                w[step * kb + i] = k0 + i < k->K ? k->W[(k0 + i) * steps + step] : 0;
        for (size_t i = 0; i < kb; i++) bias[i] = k0 + i < k->K ? k->bias[k0 + i] : 0;
        const size_t rows = k->K - k0 < kb ? k->K - k0 : kb;
        ((FC_FN(dconv_ukernel_fn))m->fn)(rows, k->cols, k->C, k->R, k->S, k->x, k->x_stride,
                                        k->tap_col, w, bias, k->fused, y + k0 * k->y_stride,
                                        k->y_stride);
    }
    free(w), free(bias);
}

#define T_SENTINEL ((FC_REAL)12345.5)

/* y's columns past cols must be untouched; then compare the first cols of each row. */
static void FC_FN(t_compare_rows)(t_result *r, const char *what, size_t rows, size_t cols,
                                  size_t stride, const FC_REAL *got, const FC_REAL *want,
                                  const FC_REAL *bound, double tol)
{
    for (size_t i = 0; i < rows; i++) {
        for (size_t j = cols; j < stride; j++)
            if (got[i * stride + j] != T_SENTINEL) {
                T_FAIL(r, "%s: wrote past the row end (row %zu, column %zu)", what, i, j);
                return;
            }
        const long at = FC_FN(t_mismatch)(got + i * stride, want + i * stride, cols,
                                          bound ? bound + i * stride : NULL, tol);
        if (at >= 0) {
            char where[200];
            snprintf(where, sizeof where, "%s, row %zu", what, i);
            FC_FN(t_report)(r, where, got + i * stride, want + i * stride, at);
            return;
        }
    }
}

static void FC_FN(t_dconv)(const fc_member *m, const fc_member *twin, t_result *r)
{
    const size_t kb = (size_t)m->mr, nr = (size_t)m->nr;
    const size_t kss[] = {1, kb - 1, kb, kb + 1, 2 * kb + 1};
    const size_t colss[] = {1, nr - 1, nr, nr + 1, 2 * nr + 1, 47};
    const size_t rs[][2] = {{3, 3}, {1, 2}};
    for (size_t ki = 0; ki < 5; ki++)
        for (size_t ci = 0; ci < 6; ci++)
            for (size_t shape = 0; shape < 4; shape++)
                for (int integer = 1; integer >= 0; integer--) {
                    FC_FN(t_dconv_case) k;
                    k.K = kss[ki], k.cols = colss[ci], k.C = shape % 2 ? 3 : 1;
                    k.R = rs[shape / 2][0], k.S = rs[shape / 2][1];
                    if (k.K == 0 || k.cols == 0) continue;
                    const size_t dil = 1 + shape % 2, steps = k.C * k.R * k.S;
                    size_t tap_col[3];
                    for (size_t s = 0; s < k.S; s++) tap_col[s] = s * dil;
                    k.tap_col = tap_col;
                    k.x_stride = k.cols + (k.S - 1) * dil + 2, k.y_stride = k.cols + 5;
                    k.fused = ci % 2 ? FC_FUSED_RELU : 0;
                    FC_REAL *x = T_NEW(k.C * k.R * k.x_stride);
                    FC_REAL *W = T_NEW(k.K * steps), *bias = T_NEW(k.K);
                    const size_t ny = k.K * k.y_stride;
                    FC_REAL *got = T_NEW(ny), *want = T_NEW(ny);
                    FC_REAL *bound = T_NEW(ny);
                    FC_FN(t_fill)(x, k.C * k.R * k.x_stride, integer);
                    FC_FN(t_fill)(W, k.K * steps, integer);
                    FC_FN(t_fill)(bias, k.K, integer);
                    if (integer && ci == 2) x[k.x_stride / 2] = (FC_REAL)NAN;
                    k.x = x, k.W = W, k.bias = bias;
                    for (size_t t = 0; t < ny; t++) got[t] = want[t] = T_SENTINEL;
                    for (size_t kk = 0; kk < k.K; kk++)
                        for (size_t j = 0; j < k.cols; j++) {
                            FC_REAL s = bias[kk], bnd = s < 0 ? -s : s;
                            for (size_t step = 0; step < steps; step++) {
                                const FC_REAL t = W[kk * steps + step] *
                                                  x[(step / k.S) * k.x_stride +
                                                    tap_col[step % k.S] + j];
                                s += t;
                                bnd += t < 0 ? -t : t;
                            }
                            want[kk * k.y_stride + j] = k.fused ? FC_RELU(s) : s;
                            bound[kk * k.y_stride + j] = bnd;
                        }
                    FC_FN(t_dconv_run)(m, &k, got);
                    if (twin != m) FC_FN(t_dconv_run)(twin, &k, want);
                    char what[128];
                    snprintf(what, sizeof what, "K %zu cols %zu C %zu %zux%zu integer %d", k.K,
                             k.cols, k.C, k.R, k.S, integer);
                    FC_FN(t_compare_rows)(r, what, k.K, k.cols, k.y_stride, got, want,
                                          integer ? NULL : bound,
                                          4.0 * (double)(steps + 1) * T_EPS);
                    r->cases++;
                    free(x), free(W), free(bias), free(got), free(want), free(bound);
                }
}

/* ---- dwconv: one channel's filter over a tile of output rows -------------------------- */

static void FC_FN(t_dwconv)(const fc_member *m, const fc_member *twin, t_result *r)
{
    const size_t mr = (size_t)m->mr, nr = (size_t)m->nr;
    const size_t rowss[] = {1, 2, mr + 1, mr + 2, 7};
    /* 5 nr + 1: filter2d's tap list (1 row x 8 vectors) runs its 8-vector and 4-vector blocks
     * and a partial one there (AVX2: 64 + 32 + 25 columns; AVX-512: 2 x 128 + 64 + 1) */
    const size_t colss[] = {1, nr - 1, nr, nr + 1, 2 * nr + 3, 5 * nr + 1};
    /* 3x3, 5x5 and 7x7 are the members' unrolled sizes; 1x9, a row of the separable pass
     * (the tap list without skips) */
    const size_t rs[][2] = {{3, 3}, {2, 5}, {1, 1}, {5, 5}, {7, 7}, {1, 9}};
    const size_t sd[][2] = {{1, 1}, {2, 1}, {2, 2}}; /* (stride_h, dilation_h) */
    for (size_t ri = 0; ri < 5; ri++)
        for (size_t ci = 0; ci < 6; ci++)
            for (size_t shape = 0; shape < 18; shape++)
                for (int integer = 1; integer >= 0; integer--) {
                    const size_t rows = rowss[ri], cols = colss[ci];
                    const size_t R = rs[shape % 6][0], S = rs[shape % 6][1];
                    const size_t stride_h = sd[shape / 6][0], dil_h = sd[shape / 6][1];
                    if (cols == 0) continue;
                    const size_t dil_w = 1 + ci % 2, width = cols + (S - 1) * dil_w + 3;
                    const size_t in_rows = (rows - 1) * stride_h + (R - 1) * dil_h + 1;
                    const size_t y_stride = cols + 4;
                    size_t tap_col[9];
                    for (size_t s = 0; s < S; s++) tap_col[s] = s * dil_w;
                    FC_REAL *x = T_NEW(in_rows * width), *w = T_NEW(R * S);
                    FC_REAL *got = T_NEW(rows * y_stride);
                    FC_REAL *want = T_NEW(rows * y_stride);
                    FC_REAL *bound = T_NEW(rows * y_stride);
                    FC_FN(t_fill)(x, in_rows * width, integer);
                    FC_FN(t_fill)(w, R * S, integer);
                    const FC_REAL bias = FC_FN(t_value)(integer);
                    /* every other case leaves zero taps out: the first is 0 and
                     * its first pixel NaN, which then reaches no output */
                    const int skip = (int)((ri + ci) % 2);
                    /* the fused ReLU on and off for each of the 6 shapes, across its three
                     * (stride_h, dilation_h) */
                    const int relu = (int)((shape + shape / 6) % 2);
                    /* half the others: a kernel without zero taps, as filter2d says with
                     * FC_DENSE_TAPS (the register tile of rows where stride_h == dilation_h) */
                    const int dense = !skip && (ri + shape) % 2;
                    const unsigned fused = (relu ? FC_FUSED_RELU : 0) |
                                           (skip || dense ? FC_SKIP_ZERO_TAPS : 0) |
                                           (dense ? FC_DENSE_TAPS : 0);
                    if (skip) w[0] = 0, x[0] = (FC_REAL)NAN;
                    if (dense)
                        for (size_t t = 0; t < R * S; t++)
                            if (w[t] == 0) w[t] = 1;
                    for (size_t t = 0; t < rows * y_stride; t++) got[t] = want[t] = T_SENTINEL;
                    for (size_t i = 0; i < rows; i++)
                        for (size_t j = 0; j < cols; j++) {
                            FC_REAL s = bias, bnd = s < 0 ? -s : s;
                            for (size_t rr = 0; rr < R; rr++)
                                for (size_t ss = 0; ss < S; ss++) {
                                    if (skip && w[rr * S + ss] == 0) continue;
                                    const FC_REAL t = w[rr * S + ss] *
                                                      x[(i * stride_h + rr * dil_h) * width +
                                                        tap_col[ss] + j];
                                    s += t;
                                    bnd += t < 0 ? -t : t;
                                }
                            want[i * y_stride + j] = relu ? FC_RELU(s) : s;
                            bound[i * y_stride + j] = bnd;
                        }
                    ((FC_FN(dwconv_ukernel_fn))m->fn)(rows, cols, R, S, x, stride_h * width,
                                                     dil_h * width, tap_col, w, bias, fused, got,
                                                     y_stride);
                    if (twin != m)
                        ((FC_FN(dwconv_ukernel_fn))twin->fn)(rows, cols, R, S, x,
                                                            stride_h * width, dil_h * width,
                                                            tap_col, w, bias, fused, want,
                                                            y_stride);
                    char what[128];
                    snprintf(what, sizeof what, "rows %zu cols %zu %zux%zu stride_h %zu integer %d",
                             rows, cols, R, S, stride_h, integer);
                    FC_FN(t_compare_rows)(r, what, rows, cols, y_stride, got, want,
                                          integer ? NULL : bound,
                                          4.0 * (double)(R * S + 1) * T_EPS);
                    r->cases++;
                    free(x), free(w), free(got), free(want), free(bound);
                }
}

/* fn3, the in-place kernel: rows of x_w columns between NaN guards (a read past either end of
 * a row, or a masked load that still lands there, gives NaN), left padding 0, 1, 2 or 5 and
 * right padding -1 (a row wider than read) to 2, rows narrower than the filter, column stride
 * 1 and 2, 3x3 (the fixed path), 2x5, 1x1 and 2x9 (more taps than the edge masks' table),
 * shared and unshared rows.  Against the twin, a naive loop (the scalar member), and at column
 * stride 1 against fn on the same rows zero-padded into a buffer: the same bits, as fn3
 * promises (kernels/dwconv/dwconv.h), with and without FC_SKIP_ZERO_TAPS. */
static void FC_FN(t_dwconv_direct)(const fc_member *m, const fc_member *twin, t_result *r)
{
    const size_t mr = (size_t)m->mr, nr = (size_t)m->nr, guard = 64;
    const size_t rowss[] = {1, 2, mr + 1, mr + 2, 7};
    const size_t colss[] = {1, nr - 1, nr, nr + 1, 2 * nr + 3};
    const size_t rs[][2] = {{3, 3}, {2, 5}, {1, 1}, {2, 9}};
    const size_t steps[][2] = {{1, 1}, {2, 1}, {2, 2}}; /* (row_step, tap_step) */
    const ptrdiff_t lefts[] = {0, 1, 2, 5};
    for (size_t ri = 0; ri < 5; ri++)
        for (size_t ci = 0; ci < 5; ci++)
            for (size_t shape = 0; shape < 12; shape++)
                for (size_t sw = 1; sw <= 2; sw++)
                    for (int integer = 1; integer >= 0; integer--) {
                        const size_t rows = rowss[ri], cols = colss[ci];
                        if (cols == 0) continue;
                        const size_t R = rs[shape % 4][0], S = rs[shape % 4][1];
                        const size_t row_step = steps[shape / 4][0];
                        const size_t tap_step = steps[shape / 4][1];
                        const size_t dil_w = 1 + (ci + sw) % 2;
                        const ptrdiff_t left = lefts[(ci + shape) % 4];
                        const ptrdiff_t right = (ptrdiff_t)((ri + shape + sw) % 4) - 1;
                        /* the padded width the taps read, and the row inside it */
                        const ptrdiff_t span = (ptrdiff_t)((cols - 1) * sw + (S - 1) * dil_w + 1);
                        const size_t x_w =
                            span - left - right >= 1 ? (size_t)(span - left - right) : 1;
                        const size_t in_rows = (rows - 1) * row_step + (R - 1) * tap_step + 1;
                        const size_t ld = x_w + 2 * guard, y_stride = cols + 4;
                        FC_REAL *x = T_NEW(in_rows * ld), *w = T_NEW(R * S);
                        const FC_REAL **x_rows = t_alloc(in_rows * sizeof(FC_REAL *));
                        FC_REAL *got = T_NEW(rows * y_stride), *want = T_NEW(rows * y_stride);
                        FC_REAL *bound = T_NEW(rows * y_stride);
                        ptrdiff_t tap_col[9];
                        for (size_t ss = 0; ss < S; ss++)
                            tap_col[ss] = (ptrdiff_t)(ss * dil_w) - left;
                        for (size_t t = 0; t < in_rows * ld; t++)
                            x[t] = t % ld < guard || t % ld >= guard + x_w
                                       ? (FC_REAL)NAN
                                       : FC_FN(t_value)(integer);
                        for (size_t t = 0; t < in_rows; t++) x_rows[t] = x + t * ld + guard;
                        FC_FN(t_fill)(w, R * S, integer);
                        const FC_REAL bias = FC_FN(t_value)(integer);
                        /* every other case leaves zero taps out (FC_SKIP_ZERO_TAPS): filter
                         * row 0 is 0 and the first pixel of input row 0, which only it reads,
                         * NaN, which then reaches no output */
                        const int skip = (int)((ri + sw) % 2);
                        if (skip) {
                            for (size_t ss = 0; ss < S; ss++) w[ss] = 0;
                            x[guard] = (FC_REAL)NAN;
                        }
                        const unsigned fused = ((shape + ci) % 2 ? FC_FUSED_RELU : 0) |
                                               (skip ? FC_SKIP_ZERO_TAPS : 0);
                        for (size_t t = 0; t < rows * y_stride; t++)
                            got[t] = want[t] = T_SENTINEL;
                        for (size_t i = 0; i < rows; i++)
                            for (size_t j = 0; j < cols; j++) {
                                FC_REAL sum = bias, bnd = sum < 0 ? -sum : sum;
                                for (size_t rr = 0; rr < R; rr++)
                                    for (size_t ss = 0; ss < S; ss++) {
                                        if (skip && w[rr * S + ss] == 0) continue;
                                        const ptrdiff_t c = (ptrdiff_t)(j * sw) + tap_col[ss];
                                        const FC_REAL *row =
                                            x_rows[i * row_step + rr * tap_step];
                                        const FC_REAL t =
                                            w[rr * S + ss] *
                                            (c >= 0 && c < (ptrdiff_t)x_w ? row[c] : 0);
                                        sum += t;
                                        bnd += t < 0 ? -t : t;
                                    }
                                want[i * y_stride + j] =
                                    fused & FC_FUSED_RELU ? FC_RELU(sum) : sum;
                                bound[i * y_stride + j] = bnd;
                            }
                        ((FC_FN(dwconv_direct_ukernel_fn))m->fn3)(rows, cols, R, S, x_rows,
                                                                 row_step, tap_step, x_w, sw,
                                                                 tap_col, w, bias, fused, got,
                                                                 y_stride);
                        if (twin != m)
                            ((FC_FN(dwconv_direct_ukernel_fn))twin->fn3)(
                                rows, cols, R, S, x_rows, row_step, tap_step, x_w, sw, tap_col,
                                w, bias, fused, want, y_stride);
                        char what[160];
                        snprintf(what, sizeof what,
                                 "direct rows %zu cols %zu %zux%zu steps %zu/%zu stride_w %zu "
                                 "x_w %zu left %td integer %d skip %d",
                                 rows, cols, R, S, row_step, tap_step, sw, x_w, left, integer,
                                 skip);
                        FC_FN(t_compare_rows)(r, what, rows, cols, y_stride, got, want,
                                              integer ? NULL : bound,
                                              4.0 * (double)(R * S + 1) * T_EPS);
                        if (sw == 1) { /* fn on the same rows, zero-padded: the same bits */
                            FC_REAL *buf = T_NEW(in_rows * (size_t)span);
                            size_t buf_col[9];
                            for (size_t t = 0; t < in_rows; t++)
                                for (ptrdiff_t k = 0; k < span; k++)
                                    buf[t * (size_t)span + (size_t)k] =
                                        k - left >= 0 && k - left < (ptrdiff_t)x_w
                                            ? x_rows[t][k - left]
                                            : 0;
                            for (size_t ss = 0; ss < S; ss++) buf_col[ss] = ss * dil_w;
                            for (size_t t = 0; t < rows * y_stride; t++) want[t] = T_SENTINEL;
                            ((FC_FN(dwconv_ukernel_fn))m->fn)(rows, cols, R, S, buf,
                                                             row_step * (size_t)span,
                                                             tap_step * (size_t)span, buf_col, w,
                                                             bias, fused, want, y_stride);
                            snprintf(what + strlen(what), sizeof what - strlen(what), " vs fn");
                            FC_FN(t_compare_rows)(r, what, rows, cols, y_stride, got, want, NULL,
                                                  0);
                            free(buf);
                        }
                        r->cases++;
                        free(x), free(w), free(x_rows), free(got), free(want), free(bound);
                    }
}

/* The weight gradient's kernel (fn2) on the same kind of buffer: gw (and gb) start nonzero,
 * so the kernel must add; column counts around 4, 8 and 16 lanes and the member's width;
 * 3x3 and 5x5 (9 + 9 + 7 taps a pass), a 4x3 (9 + 3) and 1x1; with and without the bias. */
static void FC_FN(t_dwconv_gw)(const fc_member *m, const fc_member *twin, t_result *r)
{
    const size_t nr = (size_t)m->nr;
    const size_t rowss[] = {1, 2, 7};
    const size_t colss[] = {1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, nr - 1, nr, nr + 1};
    const size_t rs[][2] = {{3, 3}, {5, 5}, {4, 3}, {1, 1}};
    for (size_t ri = 0; ri < 3; ri++)
        for (size_t ci = 0; ci < sizeof colss / sizeof colss[0]; ci++)
            for (size_t shape = 0; shape < 8; shape++)
                for (int integer = 1; integer >= 0; integer--) {
                    const size_t rows = rowss[ri], cols = colss[ci];
                    const size_t R = rs[shape % 4][0], S = rs[shape % 4][1];
                    const size_t stride_h = 1 + shape / 4, dil_w = 1 + ci % 2;
                    const size_t width = cols + (S - 1) * dil_w + 3, g_stride = cols + 2;
                    const size_t in_rows = (rows - 1) * stride_h + R;
                    const int with_gb = (ci + shape) % 2;
                    size_t tap_col[7];
                    for (size_t s = 0; s < S; s++) tap_col[s] = s * dil_w;
                    FC_REAL *x = T_NEW(in_rows * width), *g = T_NEW(rows * g_stride);
                    FC_REAL *got = T_NEW(R * S + 1), *want = T_NEW(R * S + 1);
                    FC_REAL *bound = T_NEW(R * S + 1);
                    FC_FN(t_fill)(x, in_rows * width, integer);
                    FC_FN(t_fill)(g, rows * g_stride, integer);
                    FC_FN(t_fill)(got, R * S + 1, integer);
                    for (size_t t = 0; t <= R * S; t++) {
                        want[t] = got[t];
                        bound[t] = got[t] < 0 ? -got[t] : got[t];
                    }
                    for (size_t t = 0; t <= R * S; t++) {
                        FC_REAL sum = 0;
                        for (size_t i = 0; i < rows; i++)
                            for (size_t j = 0; j < cols; j++) {
                                const FC_REAL v =
                                    t == R * S ? g[i * g_stride + j]
                                               : g[i * g_stride + j] *
                                                     x[(i * stride_h + t / S) * width +
                                                       tap_col[t % S] + j];
                                sum += v;
                                bound[t] += v < 0 ? -v : v;
                            }
                        if (t < R * S || with_gb) want[t] += sum;
                    }
                    if (twin != m) { /* the twin's sums from the same start */
                        for (size_t t = 0; t <= R * S; t++) want[t] = got[t];
                        ((FC_FN(dwconv_gw_ukernel_fn))twin->fn2)(
                            rows, cols, R, S, x, stride_h * width, width, tap_col, g, g_stride,
                            want, with_gb ? want + R * S : NULL);
                    }
                    ((FC_FN(dwconv_gw_ukernel_fn))m->fn2)(rows, cols, R, S, x, stride_h * width,
                                                         width, tap_col, g, g_stride, got,
                                                         with_gb ? got + R * S : NULL);
                    char what[128];
                    snprintf(what, sizeof what,
                             "gw rows %zu cols %zu %zux%zu stride_h %zu gb %d integer %d", rows,
                             cols, R, S, stride_h, with_gb, integer);
                    FC_FN(t_compare_rows)(r, what, 1, R * S + 1, R * S + 1, got, want,
                                          integer ? NULL : bound,
                                          2.0 * (double)(rows * cols + 2) * T_EPS);
                    r->cases++;
                    free(x), free(g), free(got), free(want), free(bound);
                }
}

/* ---- pool: one output row, max (with and without indices) and average --------------- */

/* Small integers (ties), quiet NaNs of distinct payloads, +-inf, +-0. */
static FC_REAL FC_FN(t_special)(uint64_t k, int finite)
{
    switch (finite ? 9 : k % 12) {
    case 0: return FC_FN(t_nan)(1);
    case 1: return FC_FN(t_nan)(2);
    case 2: return (FC_REAL)INFINITY;
    case 3: return (FC_REAL)-INFINITY;
    case 4: return (FC_REAL)0.0;
    case 5: return (FC_REAL)-0.0;
    default: return (FC_REAL)((int)(t_rand() % 5) - 2);
    }
}

static void FC_FN(t_naive_maxpool)(const fc_pool_columns *cols, size_t rows,
                                   const FC_REAL *const *row_ptrs, const int64_t *row_offsets,
                                   FC_REAL *y, int64_t *indices)
{
    for (int64_t ow = 0; ow < cols->out_w; ow++) {
        FC_REAL best = (FC_REAL)-INFINITY;
        int64_t at = -1, stop = 0;
        for (size_t i = 0; i < rows && !stop; i++)
            for (int64_t j = 0; j < cols->kernel_w && !stop; j++) {
                const int64_t iw = ow * cols->stride_w - cols->pad_w + j * cols->dilation_w;
                if (iw < 0 || iw >= cols->in_w) continue;
                const FC_REAL v = row_ptrs[i][iw];
                if (at < 0 || v > best || v != v) best = v, at = row_offsets[i] + iw;
                if (v != v) stop = 1;
            }
        y[ow] = best;
        if (indices) indices[ow] = at;
    }
}

static void FC_FN(t_pool)(const fc_member *m, const fc_member *twin, t_result *r)
{
    const int64_t lanes = m->nr;
    /* (kernel, stride, pad, dilation) */
    const int64_t geo[][4] = {{2, 2, 0, 1}, {3, 2, 1, 1}, {3, 1, 1, 1}, {2, 1, 1, 1},
                              {3, 3, 1, 1}, {5, 3, 2, 1}, {3, 1, 1, 2}, {3, 2, 1, 3}};
    for (size_t g = 0; g < sizeof geo / sizeof geo[0]; g++)
        for (int64_t in_w = 1; in_w <= 3 * lanes * geo[g][1] + 9; in_w++)
            for (int ceil_mode = 0; ceil_mode < 2; ceil_mode++) {
                const int64_t k = geo[g][0], s = geo[g][1], pad = geo[g][2], d = geo[g][3];
                const int64_t span = d * (k - 1) + 1, room = in_w + 2 * pad - span;
                if (room < 0 || pad > (k - 1) * d / 2 + 1) continue;
                int64_t out_w = room / s + 1;
                if (ceil_mode && room % s != 0 && (out_w) * s < in_w + pad) out_w++;
                const fc_pool_columns cols = fc_pool_columns_init(out_w, in_w, k, s, pad, d);
                const size_t rows = 1 + (size_t)(in_w % 3);
                FC_REAL *x = T_NEW((size_t)(rows * in_w));
                const FC_REAL *row_ptrs[3];
                int64_t row_offsets[3];
                for (size_t i = 0; i < rows; i++)
                    row_ptrs[i] = x + i * in_w, row_offsets[i] = (int64_t)(i * in_w) + 5;
                FC_REAL *got = T_NEW((size_t)(out_w + 1));
                FC_REAL *want = T_NEW((size_t)(out_w + 1));
                int64_t *gi = t_alloc((size_t)(out_w + 1) * sizeof(int64_t));
                int64_t *wi = t_alloc((size_t)(out_w + 1) * sizeof(int64_t));
                char what[160];
                for (int pass = 0; pass < 3; pass++) { /* max + indices, max, average */
                    for (int64_t t = 0; t < rows * in_w; t++)
                        x[t] = FC_FN(t_special)(t_rand(), pass == 2);
                    for (int64_t t = 0; t <= out_w; t++)
                        got[t] = want[t] = T_SENTINEL, gi[t] = wi[t] = -7;
                    if (pass < 2) {
                        ((FC_FN(maxpool_ukernel_fn))m->fn)(&cols, rows, row_ptrs, row_offsets,
                                                          got, pass ? NULL : gi);
                        if (twin != m)
                            ((FC_FN(maxpool_ukernel_fn))twin->fn)(&cols, rows, row_ptrs,
                                                                 row_offsets, want,
                                                                 pass ? NULL : wi);
                        else
                            FC_FN(t_naive_maxpool)(&cols, rows, row_ptrs, row_offsets, want,
                                                   pass ? NULL : wi);
                    } else {
                        /* the three divisor rules: exclude, include the padding, override */
                        for (int inc = 0; inc < 3; inc++) {
                            const fc_avg_pool_rule rule = {inc == 1, inc == 2 ? -3 : 0};
                            ((FC_FN(avgpool_ukernel_fn))m->fn2)(&cols, rows, row_ptrs,
                                                               (int64_t)rows + inc, rule, got);
                            ((FC_FN(avgpool_ukernel_fn))twin->fn2)(&cols, rows, row_ptrs,
                                                                  (int64_t)rows + inc, rule,
                                                                  want);
                            if (memcmp(got, want, (size_t)(out_w + 1) * sizeof(FC_REAL)) != 0)
                                break;
                        }
                    }
                    snprintf(what, sizeof what, "%s k %lld s %lld pad %lld d %lld in_w %lld "
                             "out_w %lld rows %zu ceil %d", pass == 2 ? "avg" : "max",
                             (long long)k, (long long)s, (long long)pad, (long long)d,
                             (long long)in_w, (long long)out_w, rows, ceil_mode);
                    FC_FN(t_compare_rows)(r, what, 1, (size_t)out_w, (size_t)out_w + 1, got,
                                          want, NULL, 0);
                    if (pass == 0)
                        for (int64_t t = 0; t < out_w; t++)
                            if (gi[t] != wi[t]) {
                                T_FAIL(r, "%s: index %lld is %lld, expected %lld", what,
                                       (long long)t, (long long)gi[t], (long long)wi[t]);
                                break;
                            }
                    r->cases++;
                }
                free(x), free(got), free(want), free(gi), free(wi);
            }
}

/* ---- relu, relu_backward, vadd: n around the vector loop, offsets, in place ---------- */

static void FC_FN(t_elementwise)(const fc_member *m, const fc_member *twin, t_result *r)
{
    const size_t step = (size_t)m->nr, max_n = 3 * step + 7;
    FC_REAL *x = T_NEW((max_n + 8)), *g = T_NEW((max_n + 8));
    FC_REAL *got = T_NEW((max_n + 9)), *want = T_NEW((max_n + 9));
    FC_REAL *zeros = T_NEW((max_n + 9)); /* calloc: +0 */
    (void)twin;
    r->against = m->family == FC_FAMILY_RELU            ? "the rule x > 0 or NaN ? x : +0"
                 : m->family == FC_FAMILY_RELU_BACKWARD ? "the rule y <= 0 ? +0 : g"
                                                        : "the sum y + x";
    for (size_t n = 0; n <= max_n; n++)
        for (size_t off = 0; off < 4; off++)
            for (int variant = 0; variant < 3; variant++) {
                for (size_t t = 0; t < n + off; t++) x[t] = FC_FN(t_special)(t_rand(), 0);
                for (size_t t = 0; t < n + off; t++) g[t] = FC_FN(t_special)(t_rand(), 0);
                for (size_t t = 0; t < n + off + 1; t++) got[t] = want[t] = T_SENTINEL;
                const FC_REAL *xs = x + off;
                FC_REAL *gy = got + off, *wy = want + off;
                switch (m->family) {
                case FC_FAMILY_RELU: {
                    /* 0: out of place, 1: in place, 2: the streaming variant (y != x) */
                    if (variant == 1) memcpy(gy, xs, n * sizeof(FC_REAL));
                    ((FC_FN(relu_ukernel_fn))(variant == 2 ? m->fn2 : m->fn))(
                        n, variant == 1 ? gy : xs, gy);
                    for (size_t t = 0; t < n; t++) wy[t] = FC_RELU(xs[t]);
                    break;
                }
                case FC_FAMILY_RELU_BACKWARD:
                    if (variant == 1) memcpy(gy, g, n * sizeof(FC_REAL));
                    ((FC_FN(relu_backward_ukernel_fn))m->fn)(n, variant == 1 ? gy : g, xs, gy);
                    for (size_t t = 0; t < n; t++) wy[t] = xs[t] <= 0 ? (FC_REAL)0 : g[t];
                    break;
                default: /* vadd: two NaNs add to a NaN of either payload */
                    for (size_t t = 0; t < n; t++) gy[t] = g[t], wy[t] = g[t] + xs[t];
                    ((FC_FN(vadd_ukernel_fn))m->fn)(n, xs, gy);
                    break;
                }
                char what[96];
                snprintf(what, sizeof what, "n %zu offset %zu variant %d", n, off, variant);
                FC_FN(t_compare_rows)(r, what, 1, n, n + 1, gy, wy,
                                      m->family == FC_FAMILY_VADD ? zeros : NULL, 0);
                r->cases++;
            }
    free(x), free(g), free(got), free(want), free(zeros);
}

/* ---- epilogue: every activation of the table, with and without a residual ------------- */

#define T_EPI_VALUE(NAME, name, fused, formula, grad) \
    case FC_ACTIVATION_##NAME: return formula;

/* The table's formula on one element (common/epilogue.h), as the references apply it. */
static FC_REAL FC_FN(t_activate)(fc_activation activation, FC_REAL alpha, FC_REAL v)
{
    (void)alpha;
    switch (activation) { FC_ACTIVATION_LIST(T_EPI_VALUE) }
    return v;
}
#undef T_EPI_VALUE

/* Bitwise against the formula element by element, n around the vector loop, offsets, NaN
 * (one per sum: which of two NaNs an add keeps is the compiler's choice), +-inf, +-0. */
static void FC_FN(t_epilogue)(const fc_member *m, const fc_member *twin, t_result *r)
{
#define T_EPI_ENUM(NAME, name, fused, formula, grad) FC_ACTIVATION_##NAME,
    static const fc_activation activations[] = {FC_ACTIVATION_LIST(T_EPI_ENUM)};
#undef T_EPI_ENUM
    const size_t step = (size_t)m->nr, max_n = 3 * step + 7;
    FC_REAL *t = T_NEW((max_n + 8)), *res = T_NEW((max_n + 8));
    FC_REAL *got = T_NEW((max_n + 9)), *want = T_NEW((max_n + 9));
    (void)twin;
    r->against = "the table's formula per element";
    for (size_t a = 0; a < sizeof activations / sizeof activations[0]; a++)
        for (size_t n = 0; n <= max_n; n++)
            for (size_t off = 0; off < 4; off++)
                for (int with_res = 0; with_res < 2; with_res++) {
                    const FC_REAL alpha = (FC_REAL)0.25;
                    for (size_t k = 0; k < n + off; k++) {
                        t[k] = FC_FN(t_special)(t_rand(), 0);
                        res[k] = FC_FN(t_special)(t_rand(), 0);
                        if (t[k] != t[k] && res[k] != res[k]) res[k] = (FC_REAL)-0.0;
                    }
                    for (size_t k = 0; k < n + off + 1; k++) got[k] = want[k] = T_SENTINEL;
                    FC_REAL *gy = got + off, *wy = want + off;
                    const FC_REAL *rs = with_res ? res + off : NULL;
                    for (size_t k = 0; k < n; k++) {
                        gy[k] = t[off + k];
                        wy[k] = FC_FN(t_activate)(activations[a], alpha,
                                                  rs ? t[off + k] + rs[k] : t[off + k]);
                    }
                    ((FC_FN(epilogue_ukernel_fn))m->fn)(activations[a], alpha, n, rs, gy);
                    char what[96];
                    snprintf(what, sizeof what, "activation %d n %zu offset %zu residual %d",
                             (int)activations[a], n, off, with_res);
                    FC_FN(t_compare_rows)(r, what, 1, n, n + 1, gy, wy, NULL, 0);
                    r->cases++;
                }
    free(t), free(res), free(got), free(want);
}

/* ---- pool_nhwc: channels around the vector loop, windows of 0 to 6 pixels, NaN, +-inf --- */
static void FC_FN(t_pool_nhwc)(const fc_member *m, const fc_member *twin, t_result *r)
{
    for (size_t channels = 1; channels <= 3 * (size_t)m->nr + 3; channels++)
        for (size_t count = 0; count <= 6; count++) {
            /* the pixels' runs a row apart, with a gap, as in an (H, W, C) image */
            const size_t ld = channels + 3;
            FC_REAL *x = T_NEW(count * ld + 1);
            const FC_REAL *ptrs[6];
            int64_t offsets[6];
            for (size_t k = 0; k < count; k++)
                ptrs[k] = x + (count - 1 - k) * ld, offsets[k] = (int64_t)(7 * k + 2);
            FC_REAL *got = T_NEW(channels + 1), *want = T_NEW(channels + 1);
            int64_t *gi = t_alloc((channels + 1) * sizeof(int64_t));
            int64_t *wi = t_alloc((channels + 1) * sizeof(int64_t));
            for (int pass = 0; pass < 3; pass++) { /* max + indices, max, average */
                for (size_t t = 0; t < count * ld; t++) x[t] = FC_FN(t_special)(t_rand(), pass == 2);
                for (size_t t = 0; t <= channels; t++)
                    got[t] = want[t] = T_SENTINEL, gi[t] = wi[t] = -7;
                if (pass < 2) {
                    ((FC_FN(maxpool_nhwc_ukernel_fn))m->fn)(channels, count, ptrs, offsets, got,
                                                           pass ? NULL : gi);
                    if (twin != m) {
                        ((FC_FN(maxpool_nhwc_ukernel_fn))twin->fn)(channels, count, ptrs,
                                                                  offsets, want,
                                                                  pass ? NULL : wi);
                    } else { /* the naive scan: the first NaN, else the first maximum */
                        for (size_t c = 0; c < channels; c++) {
                            want[c] = (FC_REAL)-INFINITY, wi[c] = -1;
                            for (size_t k = 0; k < count; k++) {
                                const FC_REAL v = ptrs[k][c];
                                if (wi[c] >= 0 && want[c] != want[c]) break;
                                if (wi[c] < 0 || v > want[c] || v != v)
                                    want[c] = v, wi[c] = offsets[k];
                            }
                        }
                    }
                } else {
                    const FC_REAL divisor = (FC_REAL)(count ? count + 1 : 1);
                    ((FC_FN(avgpool_nhwc_ukernel_fn))m->fn2)(channels, count, ptrs, divisor, got);
                    if (twin != m)
                        ((FC_FN(avgpool_nhwc_ukernel_fn))twin->fn2)(channels, count, ptrs,
                                                                   divisor, want);
                    else
                        for (size_t c = 0; c < channels; c++) {
                            FC_REAL sum = 0;
                            for (size_t k = 0; k < count; k++) sum += ptrs[k][c];
                            want[c] = sum / divisor;
                        }
                }
                char what[96];
                snprintf(what, sizeof what, "%s channels %zu count %zu",
                         pass == 2 ? "avg" : "max", channels, count);
                FC_FN(t_compare_rows)(r, what, 1, channels, channels + 1, got, want, NULL, 0);
                if (pass == 0)
                    for (size_t t = 0; t < channels; t++)
                        if (gi[t] != wi[t]) {
                            T_FAIL(r, "%s: index %zu is %lld, expected %lld", what, t,
                                   (long long)gi[t], (long long)wi[t]);
                            break;
                        }
                r->cases++;
            }
            free(x), free(got), free(want), free(gi), free(wi);
        }
}

/* ---- dwconv_nhwc: channels around the vector, 0 to 9 taps, blocks of 1 to 3 rows of 1 to 13
 * pixels (the 8-, 4- and 1-pixel steps), a tap with step 0 (the padding's zeros) in one row,
 * taps reading consecutive pixels in another,
 * a gap after each pixel's outputs, a bias or none; integer values (exact sums: FMA or not,
 * the twin must agree bitwise) --------------------------------------------------------- */
static void FC_FN(t_dwconv_nhwc)(const fc_member *m, const fc_member *twin, t_result *r)
{
    for (size_t channels = 1; channels <= 5 * (size_t)m->nr + 3; channels++)
        for (size_t taps = 0; taps <= 9; taps += 3)
            for (size_t pixels = 1; pixels <= 13; pixels += taps == 9 ? 1 : 4)
                for (size_t rows = 1; rows <= 3; rows += 2)
                    for (int with_bias = 0; with_bias < 2; with_bias++) {
                        const size_t ld = channels + 2, step = ld + 1;
                        const size_t len = (9 + rows) * ld + 13 * step + 1;
                        FC_REAL *x = T_NEW(len), *w = T_NEW(9 * ld + 1), *b = T_NEW(channels);
                        FC_FN(t_fill)(x, len, 1);
                        FC_FN(t_fill)(w, 9 * ld, 1);
                        FC_FN(t_fill)(b, channels, 1);
                        const FC_REAL *ptrs[27];
                        size_t steps[27];
                        /* row 2: taps 0-2 and 3-5 read consecutive pixels (the kernels'
                         * shared loads), 6-8 three copies of one run with step 0 */
                        for (size_t j = 0; j < rows; j++)
                            for (size_t t = 0; t < taps; t++) {
                                ptrs[j * taps + t] = j < 2 ? x + (8 - t + j) * ld
                                                     : t < 6 ? x + t * step + (t / 3) * ld
                                                             : x + ld;
                                steps[j * taps + t] = (j == 1 && t == 4) || (j == 2 && t >= 6)
                                                          ? 0 : step;
                            }
                        const size_t ys = channels + 1, out = rows * pixels * ys;
                        FC_REAL *got = T_NEW(out), *want = T_NEW(out);
                        for (size_t c = 0; c < out; c++) got[c] = want[c] = T_SENTINEL;
                        const FC_REAL *bias = with_bias ? b : NULL;
                        ((FC_FN(dwconv_nhwc_ukernel_fn))m->fn)(channels, rows, pixels, taps,
                                                               ptrs, steps, w, ld, bias, got,
                                                               ys, pixels * ys);
                        if (twin != m)
                            ((FC_FN(dwconv_nhwc_ukernel_fn))twin->fn)(
                                channels, rows, pixels, taps, ptrs, steps, w, ld, bias, want,
                                ys, pixels * ys);
                        else
                            for (size_t q = 0; q < rows * pixels; q++)
                                for (size_t c = 0; c < channels; c++) {
                                    const size_t j = q / pixels, p = q % pixels;
                                    FC_REAL v = bias ? bias[c] : 0;
                                    for (size_t t = 0; t < taps; t++)
                                        v += w[t * ld + c] *
                                             ptrs[j * taps + t][p * steps[j * taps + t] + c];
                                    want[q * ys + c] = v;
                                }
                        char what[112];
                        snprintf(what, sizeof what,
                                 "channels %zu taps %zu rows %zu pixels %zu bias %d", channels,
                                 taps, rows, pixels, with_bias);
                        FC_FN(t_compare_rows)(r, what, rows * pixels, channels, ys, got, want,
                                              NULL, 0);
                        r->cases++;
                        free(x), free(w), free(b), free(got), free(want);
                    }
}

/* ---- dwconv_nhwc fn2 (the weight gradient): channels around the vector, 0 to 11 taps (two
 * passes of up to 9), runs of 0 to 5 pixels at column steps 1 and 2, accumulators that start
 * nonzero; integer values, so the twin and a naive loop must agree bitwise ------------------ */
static void FC_FN(t_dwconv_nhwc_gw)(const fc_member *m, const fc_member *twin, t_result *r)
{
    for (size_t channels = 1; channels <= 3 * (size_t)m->nr + 1; channels++)
        for (size_t taps = 0; taps <= 11; taps += taps < 9 ? 3 : 2)
            for (size_t pixels = 0; pixels <= 5; pixels += 1 + (pixels > 1))
                for (size_t step = 1; step <= 2; step++) {
                    const size_t ld = channels + 1, x_step = step * ld, g_step = ld + 2;
                    const size_t x_len = (11 + step * 5) * ld + 1, a_ld = channels + 1;
                    FC_REAL *x = T_NEW(x_len), *g = T_NEW(6 * g_step);
                    FC_REAL *got = T_NEW(11 * a_ld), *want = T_NEW(11 * a_ld);
                    FC_FN(t_fill)(x, x_len, 1);
                    FC_FN(t_fill)(g, 6 * g_step, 1);
                    FC_FN(t_fill)(got, 11 * a_ld, 1);
                    for (size_t t = 0; t < 11; t++)
                        got[t * a_ld + channels] = T_SENTINEL;
                    memcpy(want, got, 11 * a_ld * sizeof *got);
                    const FC_REAL *ptrs[11];
                    FC_REAL *ga[11], *wa[11];
                    for (size_t t = 0; t < 11; t++) {
                        ptrs[t] = x + (10 - t) * ld; /* taps out of order, as a driver's may be */
                        ga[t] = got + t * a_ld, wa[t] = want + t * a_ld;
                    }
                    ((FC_FN(dwconv_nhwc_gw_ukernel_fn))m->fn2)(channels, pixels, taps, ptrs,
                                                               x_step, g, g_step, ga);
                    if (twin != m)
                        ((FC_FN(dwconv_nhwc_gw_ukernel_fn))twin->fn2)(
                            channels, pixels, taps, ptrs, x_step, g, g_step, wa);
                    else
                        for (size_t t = 0; t < taps; t++)
                            for (size_t c = 0; c < channels; c++)
                                for (size_t q = 0; q < pixels; q++)
                                    wa[t][c] += g[q * g_step + c] * ptrs[t][q * x_step + c];
                    char what[96];
                    snprintf(what, sizeof what, "gw channels %zu taps %zu pixels %zu step %zu",
                             channels, taps, pixels, step);
                    FC_FN(t_compare_rows)(r, what, 11, channels, a_ld, got, want, NULL, 0);
                    r->cases++;
                    free(x), free(g), free(got), free(want);
                }
}

static void FC_FN(t_member)(const fc_member *m, const fc_member *twin, t_result *r)
{
    switch (m->family) {
    case FC_FAMILY_GEMM:
        FC_FN(t_gemm)(m, twin, r);
        if (m->fn3) FC_FN(t_gemm_im2col_run)(m, r);
        if (m->fn4) FC_FN(t_gemm_nhwc_pack)(m, r);
        break;
    case FC_FAMILY_GEMM_NT: FC_FN(t_gemm_nt)(m, twin, r); break;
    case FC_FAMILY_DCONV: FC_FN(t_dconv)(m, twin, r); break;
    case FC_FAMILY_DWCONV:
        FC_FN(t_dwconv)(m, twin, r);
        FC_FN(t_dwconv_direct)(m, twin, r);
        FC_FN(t_dwconv_gw)(m, twin, r);
        break;
    case FC_FAMILY_POOL: FC_FN(t_pool)(m, twin, r); break;
    case FC_FAMILY_POOL_NHWC: FC_FN(t_pool_nhwc)(m, twin, r); break;
    case FC_FAMILY_DWCONV_NHWC:
        FC_FN(t_dwconv_nhwc)(m, twin, r);
        FC_FN(t_dwconv_nhwc_gw)(m, twin, r);
        break;
    case FC_FAMILY_EPILOGUE: FC_FN(t_epilogue)(m, twin, r); break;
    default: FC_FN(t_elementwise)(m, twin, r); break;
    }
}

#undef T_SENTINEL
#undef T_NEW

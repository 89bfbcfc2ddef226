/* Every member of every kernel family (kernels/<family>/members.c) against its scalar twin,
 * and every scalar member against a naive loop here: at tile edges (tile - 1, tile, tile + 1,
 * odd sizes), reductions of 1 to 300+, NaN, +-inf and -0 inputs (ReLU: NaN stays NaN, -0 ->
 * +0), outputs never written past their end.  Bitwise where the twin adds in the same order
 * (and on integer-valued inputs, whose sums are exact), else within a bound that grows with
 * the reduction.  One line per member; the exit status is the number of failed members.
 *
 *   test_members [--isa NAME]   only members up to NAME (default: the CPU's best path)
 *
 * Built and run by csrc/tests/run_c_tests.sh (natively, and for aarch64 under qemu). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/epilogue.h"
#include "common/relu.h"
#include "dispatch.h"

typedef struct t_result {
    long cases;
    int failed;
    const char *against; /* what the member was compared with, when not its twin */
    char msg[400];
} t_result;

#define T_FAIL(r, ...)                                                  \
    do {                                                                \
        if (!(r)->failed) {                                             \
            (r)->failed = 1;                                            \
            snprintf((r)->msg, sizeof (r)->msg, __VA_ARGS__);           \
        }                                                               \
    } while (0)

static uint64_t t_state = 0x9E3779B97F4A7C15u;
static uint64_t t_rand(void)
{
    t_state ^= t_state << 13, t_state ^= t_state >> 7, t_state ^= t_state << 17;
    return t_state;
}
static double t_uniform(void) { return (double)(t_rand() >> 11) / 9007199254740992.0 * 2 - 1; }

/* Zeroed, with 256 bytes of slack: a kernel's store past an output row's end shows as a
 * changed sentinel inside the buffer instead of a corrupted heap. */
static void *t_alloc(size_t bytes)
{
    void *p = calloc(bytes + 256, 1);
    if (!p) {
        fprintf(stderr, "test_members: out of memory\n");
        exit(125);
    }
    return p;
}

/* quiet NaNs with a payload k, to see which NaN a kernel keeps */
static float fc_f32_t_nan(uint32_t k)
{
    const uint32_t bits = 0x7FC00000u | k;
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}
static double fc_f64_t_nan(uint64_t k)
{
    const uint64_t bits = 0x7FF8000000000000u | k;
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

#include "simd/dtype_f32.h"
#define T_EPS FLT_EPSILON
#include "tests/test_members.tmpl.h"
#undef T_EPS
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#define T_EPS DBL_EPSILON
#include "tests/test_members.tmpl.h"
#undef T_EPS
#include "simd/dtype_end.h"

/* index_check: in-range arrays, and one bad index (-2, limit, INT64_MAX, INT64_MIN) at every
 * position of lengths around the vector, against the twin and the rule. */
static void t_index_check(const fc_member *m, const fc_member *twin, t_result *r)
{
    const fc_index_check_ukernel_fn fn = (fc_index_check_ukernel_fn)m->fn;
    const fc_index_check_ukernel_fn ref = (fc_index_check_ukernel_fn)twin->fn;
    const int64_t bad[] = {-2, 37, INT64_MAX, INT64_MIN};
    const size_t max_n = 3 * (size_t)m->nr + 5;
    int64_t *v = t_alloc((max_n + 1) * sizeof(int64_t));
    for (size_t n = 0; n <= max_n; n++)
        for (size_t at = 0; at <= n; at++)
            for (size_t b = 0; b < 4; b++) {
                for (size_t i = 0; i < n; i++) v[i] = (int64_t)(t_rand() % 38) - 1; /* [-1, 37) */
                v[n] = bad[b]; /* past the end: must not be read as part of the array */
                const int want = at == n;
                if (at < n) v[at] = bad[b];
                const int got = fn(n, v, 37);
                r->cases++;
                if (got != want || ref(n, v, 37) != want) {
                    T_FAIL(r, "n %zu, bad index %lld at %zu: returned %d, expected %d", n,
                           (long long)bad[b], at, got, want);
                    free(v);
                    return;
                }
            }
    free(v);
}

/* winograd (f32): each transform at tile counts around the lanes (1 .. 3 lanes + 5), on
 * integer-valued and real inputs; a member against its twin bitwise (winograd.h: every member
 * rounds as the scalar one), the scalar member against the matrix products here in double
 * (exact for integer inputs); nothing written past the tiles, no filter lane loaded past n. */
static const double t_wino_bt[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0},
                                       {0, 4, -4, -1, 1, 0}, {0, -2, -1, 2, 1, 0},
                                       {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
static const double t_wino_g[6][3] = {{6, 0, 0}, {-4, -4, -4}, {-4, 4, -4},
                                      {1, 2, 4}, {1, -2, 4},   {0, 0, 24}};
static const double t_wino_at[4][6] = {
    {1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};

/* v = B^T d B of one 6x6 patch, and the same with |.| (the bound) */
static void t_wino_input_ref(const double *d, double *v, double *bound)
{
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) {
            double sum = 0, abs_sum = 0;
            for (int a = 0; a < 6; a++)
                for (int c = 0; c < 6; c++) {
                    const double term = t_wino_bt[i][a] * d[a * 6 + c] * t_wino_bt[j][c];
                    sum += term, abs_sum += fabs(term);
                }
            v[i * 6 + j] = sum, bound[i * 6 + j] = abs_sum;
        }
}

static float t_wino_value(int integer) { return integer ? (float)((int)(t_rand() % 9) - 4) : (float)t_uniform(); }

/* got against want: bitwise (bound NULL), else |got - want| <= 8 eps bound (+ tiny) */
static int t_wino_check(t_result *r, const char *what, size_t tiles, float got, double want,
                        double bound, int bitwise, float twin)
{
    if (bitwise ? memcmp(&got, &twin, sizeof got) == 0
                : fabs((double)got - want) <= 8 * FLT_EPSILON * bound + 1e-30)
        return 0;
    T_FAIL(r, "%s, %zu tiles: %.9g, expected %.9g", what, tiles, (double)got,
           bitwise ? (double)twin : want);
    return 1;
}

static void t_winograd(const fc_member *m, const fc_member *twin, t_result *r)
{
    const fc_f32_winograd_input_fn in = (fc_f32_winograd_input_fn)m->fn;
    const fc_f32_winograd_output_fn out = (fc_f32_winograd_output_fn)m->fn2;
    const fc_f32_winograd_filter_fn filt = (fc_f32_winograd_filter_fn)m->fn3;
    const int vs_twin = twin != m;
    const size_t max_tiles = 3 * (size_t)m->nr + 5;
    const float sentinel = 12345.0f;
    for (size_t tiles = 1; tiles <= max_tiles; tiles++)
        for (int integer = 0; integer < 2; integer++) {
            /* input: a strip of 6 rows, ld a little wider than the kernel reads */
            const size_t ld = FC_WINOGRAD_STRIP_COLS(tiles) + 3, vs = tiles + 3;
            float *d = t_alloc(6 * ld * sizeof(float));
            float *v = t_alloc(36 * vs * sizeof(float)), *v2 = t_alloc(36 * vs * sizeof(float));
            for (size_t i = 0; i < 6 * ld; i++) d[i] = t_wino_value(integer);
            for (size_t i = 0; i < 36 * vs; i++) v[i] = v2[i] = sentinel;
            in(tiles, d, ld, v, vs);
            if (vs_twin) ((fc_f32_winograd_input_fn)twin->fn)(tiles, d, ld, v2, vs);
            for (size_t t = 0; t < vs && !r->failed; t++) {
                double patch[36], want[36], bound[36];
                for (int a = 0; a < 6; a++)
                    for (int b = 0; b < 6; b++) patch[a * 6 + b] = t < tiles ? d[a * ld + 4 * t + b] : 0;
                t_wino_input_ref(patch, want, bound);
                for (int xi = 0; xi < 36; xi++) {
                    const float got = v[xi * vs + t];
                    if (t >= tiles) {
                        if (got != sentinel) T_FAIL(r, "input, %zu tiles: wrote tile %zu", tiles, t);
                    } else if (t_wino_check(r, "input", tiles, got, want[xi], bound[xi],
                                            vs_twin, v2[xi * vs + t]))
                        break;
                }
            }
            free(d), free(v), free(v2);
            r->cases++;
            /* output: M rows readable up to whole vectors, 4 rows of 4 tiles columns */
            const size_t ms = (tiles + 15) / 16 * 16 + 3, os = 4 * tiles + 5;
            float *mm = t_alloc(36 * ms * sizeof(float));
            float *o = t_alloc(4 * os * sizeof(float)), *o2 = t_alloc(4 * os * sizeof(float));
            for (size_t i = 0; i < 36 * ms; i++) mm[i] = t_wino_value(integer) * (integer ? 576 : 1);
            const float bias = t_wino_value(integer);
            for (int relu = 0; relu < 2 && !r->failed; relu++) {
                for (size_t i = 0; i < 4 * os; i++) o[i] = o2[i] = sentinel;
                out(tiles, mm, ms, bias, relu, o, os);
                if (vs_twin) ((fc_f32_winograd_output_fn)twin->fn2)(tiles, mm, ms, bias, relu, o2, os);
                for (size_t t = 0; t < tiles && !r->failed; t++) {
                    double mt[36], want[16], bound[16];
                    for (int xi = 0; xi < 36; xi++) mt[xi] = mm[xi * ms + t];
                    for (int i = 0; i < 4; i++)
                        for (int j = 0; j < 4; j++) {
                            double s = 0, b = 0;
                            for (int a = 0; a < 6; a++)
                                for (int c = 0; c < 6; c++) {
                                    s += t_wino_at[i][a] * mt[a * 6 + c] * t_wino_at[j][c];
                                    b += fabs(t_wino_at[i][a] * mt[a * 6 + c] * t_wino_at[j][c]);
                                }
                            want[i * 4 + j] = s / 576 + bias;
                            bound[i * 4 + j] = b / 576 + fabs(bias);
                            if (relu) want[i * 4 + j] = want[i * 4 + j] > 0 ? want[i * 4 + j] : 0;
                        }
                    for (int i = 0; i < 4; i++)
                        for (int j = 0; j < 4; j++)
                            if (t_wino_check(r, relu ? "output relu" : "output", tiles,
                                             o[i * os + 4 * t + j], want[i * 4 + j],
                                             bound[i * 4 + j], vs_twin, o2[i * os + 4 * t + j]))
                                i = 4, j = 4;
                }
                for (int i = 0; i < 4; i++)
                    for (size_t c = 4 * tiles; c < os; c++)
                        if (o[i * os + c] != sentinel)
                            T_FAIL(r, "output, %zu tiles: wrote column %zu of row %d", tiles, c, i);
            }
            free(mm), free(o), free(o2);
            r->cases++;
            /* filter: n = tiles panel positions, some zero (off -1); offsets past n huge */
            const size_t n = tiles, us = n + 3, filters = 7;
            float *w = t_alloc(filters * 9 * sizeof(float));
            int32_t *off = t_alloc(((n + 15) / 16 * 16) * sizeof(int32_t));
            float *u = t_alloc(36 * us * sizeof(float)), *u2 = t_alloc(36 * us * sizeof(float));
            for (size_t i = 0; i < filters * 9; i++) w[i] = t_wino_value(integer);
            for (size_t q = 0; q < (n + 15) / 16 * 16; q++)
                off[q] = q >= n ? INT32_MAX / 2 : t_rand() % 5 == 0 ? -1 : (int32_t)(t_rand() % filters) * 9;
            for (size_t i = 0; i < 36 * us; i++) u[i] = u2[i] = sentinel;
            const int flip = (int)(tiles % 2); /* backward-data's turned filters on odd n */
            filt(n, w, off, flip, u, us);
            if (vs_twin) ((fc_f32_winograd_filter_fn)twin->fn3)(n, w, off, flip, u2, us);
            for (size_t q = 0; q < us && !r->failed; q++) {
                double g[9] = {0}, want[36], bound[36];
                if (q < n && off[q] >= 0)
                    for (int k = 0; k < 9; k++) g[k] = w[off[q] + (flip ? 8 - k : k)];
                for (int i = 0; i < 6; i++)
                    for (int j = 0; j < 6; j++) {
                        double s = 0, b = 0;
                        for (int a = 0; a < 3; a++)
                            for (int c = 0; c < 3; c++) {
                                s += t_wino_g[i][a] * g[a * 3 + c] * t_wino_g[j][c];
                                b += fabs(t_wino_g[i][a] * g[a * 3 + c] * t_wino_g[j][c]);
                            }
                        want[i * 6 + j] = s, bound[i * 6 + j] = b;
                    }
                for (int xi = 0; xi < 36; xi++) {
                    const float got = u[xi * us + q];
                    if (q >= n) {
                        if (got != sentinel) T_FAIL(r, "filter, n %zu: wrote position %zu", n, q);
                    } else if (t_wino_check(r, "filter", n, got, want[xi], bound[xi], vs_twin,
                                            u2[xi * us + q]))
                        break;
                }
            }
            free(w), free(off), free(u), free(u2);
            r->cases++;
        }
}

static const fc_member *twin_of(const fc_member *m)
{
    const fc_member *members;
    const size_t count = fc_family_members(m->family, &members);
    for (size_t i = 0; i < count; i++)
        if (members[i].isa == FC_ISA_SCALAR && strcmp(members[i].dtype, m->dtype) == 0)
            return &members[i];
    return NULL;
}

int main(int argc, char **argv)
{
    int limit = fc_isa_rank(fc_cpu_isa());
    const char *limit_name = fc_isa_name(fc_cpu_isa());
    if (argc == 3 && strcmp(argv[1], "--isa") == 0) {
        const fc_isa *isas;
        const int count = fc_arch_isas(&isas);
        int found = -1;
        for (int i = 0; i < count; i++)
            if (strcmp(fc_isa_name(isas[i]), argv[2]) == 0) found = i;
        if (found < 0) {
            fprintf(stderr, "test_members: %s is not an ISA path of this architecture\n",
                    argv[2]);
            return 126;
        }
        if (found < limit) limit = found, limit_name = argv[2];
    } else if (argc != 1) {
        fprintf(stderr, "usage: test_members [--isa NAME]\n");
        return 126;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("test_members: members up to %s (CPU: %s)\n", limit_name, fc_isa_name(fc_cpu_isa()));
    int failed = 0, run = 0;
    for (int f = 0; f < FC_FAMILY_COUNT; f++) {
        const fc_member *members;
        const size_t count = fc_family_members((fc_family)f, &members);
        for (size_t i = 0; i < count; i++) {
            const fc_member *m = &members[i], *twin = twin_of(m);
            char tile[48];
            snprintf(tile, sizeof tile, "%lldx%lld", (long long)m->mr, (long long)m->nr);
            if (fc_isa_rank(m->isa) > limit) {
                printf("skip %-13s %-3s %-6s %-40s (above %s)\n", fc_family_name(m->family),
                       m->dtype, fc_isa_name(m->isa), m->symbol, limit_name);
                continue;
            }
            t_result r = {0, 0, NULL, ""};
            if (!twin) {
                T_FAIL(&r, "no scalar twin");
            } else if (m->family == FC_FAMILY_INDEX_CHECK) {
                t_index_check(m, twin, &r);
            } else if (m->family == FC_FAMILY_WINOGRAD) {
                t_winograd(m, twin, &r);
            } else if (strcmp(m->dtype, "f32") == 0) {
                fc_f32_t_member(m, twin, &r);
            } else {
                fc_f64_t_member(m, twin, &r);
            }
            run++;
            failed += r.failed;
            printf("%s %-13s %-3s %-6s %-40s %-6s %6ld cases vs %s%s%s\n",
                   r.failed ? "FAIL" : "ok  ", fc_family_name(m->family), m->dtype,
                   fc_isa_name(m->isa), m->symbol, tile, r.cases,
                   r.against ? r.against : twin == m ? "a naive loop" : twin ? twin->symbol : "-",
                   r.failed ? ": " : "", r.msg);
        }
    }
    printf("test_members: %d members, %d failed\n", run, failed);
    return failed;
}

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

/* The ops (csrc/ops) against the references (csrc/ref) through the public C API, on every ISA
 * path of the architecture the CPU has, float32 and float64, two threads: a smoke test of the
 * drivers around each path's members (tile sizes such as NEON's 8x12 GEMM are new to them),
 * for builds that cannot run the Python suite (aarch64 under qemu).  Inputs are small
 * integers, so every sum is exact and the forward results must match bitwise; the average
 * pooling gradient (divisions) within a relative 1e-5.  One line per path, dtype and op; the
 * exit status is the number of failures.  Built and run by csrc/tests/run_c_tests.sh. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastconv.h"

static uint64_t state = 0x2545F4914F6CDD1Du;
static int failures = 0;

static void *fill(size_t n, fc_dtype dtype, int lo, int hi)
{
    const size_t size = dtype == FC_FLOAT64 ? 8 : 4;
    char *p = calloc(n ? n : 1, size);
    if (!p) exit(125);
    for (size_t i = 0; i < n; i++) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        const double v = (double)(lo + (int)(state % (uint64_t)(hi - lo + 1)));
        if (dtype == FC_FLOAT64) ((double *)p)[i] = v;
        else ((float *)p)[i] = (float)v;
    }
    return p;
}

static double get(const void *p, size_t i, fc_dtype dtype)
{
    return dtype == FC_FLOAT64 ? ((const double *)p)[i] : ((const float *)p)[i];
}

/* rel == 0: bitwise; else |a - b| <= rel * (1 + |b|) */
static void check(const char *what, fc_dtype dtype, fc_status s1, fc_status s2, const void *got,
                  const void *want, size_t n, double rel)
{
    const size_t size = dtype == FC_FLOAT64 ? 8 : 4;
    long bad = -1;
    if (s1 != FC_OK || s2 != FC_OK) {
        printf("FAIL %-4s %-6s %s: status %d / %d\n", dtype == FC_FLOAT64 ? "f64" : "f32",
               fc_isa_name(fc_active_isa()), what, (int)s1, (int)s2);
        failures++;
        return;
    }
    for (size_t i = 0; i < n && bad < 0; i++) {
        if (memcmp((const char *)got + i * size, (const char *)want + i * size, size) == 0)
            continue;
        const double a = get(got, i, dtype), b = get(want, i, dtype);
        if (rel > 0 && fabs(a - b) <= rel * (1 + fabs(b))) continue;
        bad = (long)i;
    }
    printf("%s %-4s %-6s %s", bad < 0 ? "ok  " : "FAIL", dtype == FC_FLOAT64 ? "f64" : "f32",
           fc_isa_name(fc_active_isa()), what);
    if (bad >= 0)
        printf(": element %ld is %.17g, expected %.17g", bad, get(got, (size_t)bad, dtype),
               get(want, (size_t)bad, dtype));
    printf("\n");
    failures += bad >= 0;
}

static void conv_case(const char *name, fc_conv2d_params p, fc_conv_algorithm algorithm,
                      fc_dtype dtype, int backward)
{
    int64_t oh, ow;
    if (fc_conv2d_output_size(&p, &oh, &ow) != FC_OK) exit(124);
    const size_t nx = (size_t)(p.n * p.c * p.h * p.w);
    const size_t nw = (size_t)(p.k * p.c / p.groups * p.r * p.s);
    const size_t ny = (size_t)(p.n * p.k * oh * ow);
    void *x = fill(nx, dtype, -3, 3), *w = fill(nw, dtype, -3, 3);
    void *b = fill((size_t)p.k, dtype, -3, 3);
    void *y = fill(ny, dtype, 0, 0), *r = fill(ny, dtype, 0, 0);
    void *res = fill(ny, dtype, -3, 3);
    char what[96];
    /* every activation of the table, without and with a residual; slope 0.25 keeps the
     * integer sums exact */
    for (int act = 0; fc_activation_name((fc_activation)act); act++)
        for (int with_res = 0; with_res < 2; with_res++) {
            const fc_epilogue e = {b, with_res ? res : NULL, (fc_activation)act, 0.25};
            snprintf(what, sizeof what, "conv2d %s + %s%s", name,
                     fc_activation_name((fc_activation)act), with_res ? " + residual" : "");
            check(what, dtype, fc_conv2d_forward(&p, dtype, x, w, &e, y, algorithm),
                  fc_ref_conv2d_forward(&p, dtype, x, w, &e, r), y, r, ny, 0);
        }
    if (backward) {
        void *g = fill(ny, dtype, -3, 3);
        void *gi = fill(nx, dtype, 0, 0), *gw = fill(nw, dtype, 0, 0);
        void *ri = fill(nx, dtype, 0, 0), *rw = fill(nw, dtype, 0, 0);
        void *gb = fill((size_t)p.k, dtype, 0, 0), *rb = fill((size_t)p.k, dtype, 0, 0);
        const fc_status s1 = fc_conv2d_backward(&p, dtype, g, x, w, gi, gw, gb, FC_CONV_AUTO);
        const fc_status s2 = fc_ref_conv2d_backward(&p, dtype, g, x, w, ri, rw, rb);
        snprintf(what, sizeof what, "conv2d_backward %s: grad_input", name);
        check(what, dtype, s1, s2, gi, ri, nx, 0);
        snprintf(what, sizeof what, "conv2d_backward %s: grad_weight", name);
        check(what, dtype, s1, s2, gw, rw, nw, 0);
        snprintf(what, sizeof what, "conv2d_backward %s: grad_bias", name);
        check(what, dtype, s1, s2, gb, rb, (size_t)p.k, 0);
        /* conv_transpose2d, the adjoint of this conv: g as its input, y of x's shape; every
         * activation, with and without a residual, then its backward with x as grad_output */
        void *tb = fill((size_t)p.c, dtype, -3, 3), *tres = fill(nx, dtype, -3, 3);
        for (int act = 0; fc_activation_name((fc_activation)act); act++)
            for (int with_res = 0; with_res < 2; with_res++) {
                const fc_epilogue e = {tb, with_res ? tres : NULL, (fc_activation)act, 0.25};
                snprintf(what, sizeof what, "conv_transpose2d %s + %s%s", name,
                         fc_activation_name((fc_activation)act), with_res ? " + residual" : "");
                check(what, dtype, fc_conv_transpose2d_forward(&p, dtype, g, w, &e, gi),
                      fc_ref_conv_transpose2d_forward(&p, dtype, g, w, &e, ri), gi, ri, nx, 0);
            }
        void *tgi = fill(ny, dtype, 0, 0), *tri = fill(ny, dtype, 0, 0);
        void *tgb = fill((size_t)p.c, dtype, 0, 0), *trb = fill((size_t)p.c, dtype, 0, 0);
        const fc_status t1 = fc_conv_transpose2d_backward(&p, dtype, x, g, w, tgi, gw, tgb);
        const fc_status t2 = fc_ref_conv_transpose2d_backward(&p, dtype, x, g, w, tri, rw, trb);
        snprintf(what, sizeof what, "conv_transpose2d_backward %s: grad_input", name);
        check(what, dtype, t1, t2, tgi, tri, ny, 0);
        snprintf(what, sizeof what, "conv_transpose2d_backward %s: grad_weight", name);
        check(what, dtype, t1, t2, gw, rw, nw, 0);
        snprintf(what, sizeof what, "conv_transpose2d_backward %s: grad_bias", name);
        check(what, dtype, t1, t2, tgb, trb, (size_t)p.c, 0);
        free(tb), free(tres), free(tgi), free(tri), free(tgb), free(trb);
        free(g), free(gi), free(gw), free(gb), free(ri), free(rw), free(rb);
    }
    free(x), free(w), free(b), free(y), free(r), free(res);
}

static void pool_case(const char *name, fc_pool2d_params p, fc_dtype dtype)
{
    int64_t oh, ow;
    if (fc_pool2d_output_size(&p, &oh, &ow) != FC_OK) exit(124);
    const size_t nx = (size_t)(p.n * p.c * p.h * p.w), ny = (size_t)(p.n * p.c * oh * ow);
    void *x = fill(nx, dtype, -2, 2), *y = fill(ny, dtype, 0, 0), *r = fill(ny, dtype, 0, 0);
    int64_t *yi = calloc(ny, 8), *ri = calloc(ny, 8);
    char what[96];
    snprintf(what, sizeof what, "max_pool2d %s", name);
    const fc_status s1 = fc_max_pool2d_forward(&p, dtype, x, y, yi);
    const fc_status s2 = fc_ref_max_pool2d_forward(&p, dtype, x, r, ri);
    check(what, dtype, s1, s2, y, r, ny, 0);
    if (memcmp(yi, ri, ny * 8) != 0) {
        printf("FAIL max_pool2d %s: indices differ\n", name);
        failures++;
    }
    void *g = fill(ny, dtype, -3, 3), *gi = fill(nx, dtype, 0, 0), *gr = fill(nx, dtype, 0, 0);
    snprintf(what, sizeof what, "max_pool2d_backward %s", name);
    check(what, dtype, fc_max_pool2d_backward(p.n, p.c, p.h, p.w, oh, ow, dtype, g, yi, gi),
          fc_ref_max_pool2d_backward(p.n, p.c, p.h, p.w, oh, ow, dtype, g, ri, gr), gi, gr, nx, 0);
    if (p.dilation_h == 1 && p.dilation_w == 1) {
        snprintf(what, sizeof what, "avg_pool2d %s", name);
        check(what, dtype, fc_avg_pool2d_forward(&p, dtype, x, y),
              fc_ref_avg_pool2d_forward(&p, dtype, x, r), y, r, ny, 0);
        snprintf(what, sizeof what, "avg_pool2d_backward %s", name);
        check(what, dtype, fc_avg_pool2d_backward(&p, dtype, g, gi),
              fc_ref_avg_pool2d_backward(&p, dtype, g, gr), gi, gr, nx, 1e-5);
    }
    free(x), free(y), free(r), free(yi), free(ri), free(g), free(gi), free(gr);
}

static void elementwise_and_linear(fc_dtype dtype)
{
    const int64_t count = 1037;
    void *x = fill((size_t)count, dtype, -3, 3), *g = fill((size_t)count, dtype, -3, 3);
    /* NaN and -0 among the inputs: NaN stays NaN, -0 -> +0 */
    if (dtype == FC_FLOAT64) ((double *)x)[5] = NAN, ((double *)x)[6] = -0.0;
    else ((float *)x)[5] = NAN, ((float *)x)[6] = -0.0f;
    void *y = fill((size_t)count, dtype, 0, 0), *r = fill((size_t)count, dtype, 0, 0);
    check("relu", dtype, fc_activation_forward(count, dtype, FC_ACTIVATION_RELU, 0, x, y),
          fc_ref_activation_forward(count, dtype, FC_ACTIVATION_RELU, 0, x, r), y, r,
          (size_t)count, 0);
    check("relu_backward", dtype,
          fc_activation_backward(count, dtype, FC_ACTIVATION_RELU, 0, g, x, y),
          fc_ref_activation_backward(count, dtype, FC_ACTIVATION_RELU, 0, g, x, r), y, r,
          (size_t)count, 0);
    static const fc_activation acts[] = {FC_ACTIVATION_RELU6, FC_ACTIVATION_LEAKY_RELU};
    for (int a = 0; a < 2; a++) {
        check("activation", dtype, fc_activation_forward(count, dtype, acts[a], 0.3, x, y),
              fc_ref_activation_forward(count, dtype, acts[a], 0.3, x, r), y, r, (size_t)count,
              0);
        check("activation_backward", dtype,
              fc_activation_backward(count, dtype, acts[a], 0.3, g, x, y),
              fc_ref_activation_backward(count, dtype, acts[a], 0.3, g, x, r), y, r,
              (size_t)count, 0);
    }
    /* adaptive average pooling: the 1037 elements as (1, 1, 17, 61) -> (1, 1, 7, 13), and back */
    check("adaptive_avg_pool2d", dtype,
          fc_adaptive_avg_pool2d_forward(1, 1, 17, 61, 7, 13, dtype, g, y),
          fc_ref_adaptive_avg_pool2d_forward(1, 1, 17, 61, 7, 13, dtype, g, r), y, r,
          (size_t)(7 * 13), 0);
    void *ai = fill((size_t)count, dtype, 0, 0), *ar = fill((size_t)count, dtype, 0, 0);
    check("adaptive_avg_pool2d_backward", dtype,
          fc_adaptive_avg_pool2d_backward(1, 1, 17, 61, 7, 13, dtype, g, ai),
          fc_ref_adaptive_avg_pool2d_backward(1, 1, 17, 61, 7, 13, dtype, g, ar), ai, ar,
          (size_t)count, 0);
    free(ai), free(ar);
    /* add, every activation, y = act(x + g) (NaN and -0 in x) and in place (y is x's copy) */
    for (int a = 0; a <= (int)FC_ACTIVATION_LEAKY_RELU; a++) {
        check("add", dtype, fc_add_forward(count, dtype, (fc_activation)a, 0.3, x, g, y),
              fc_ref_add_forward(count, dtype, (fc_activation)a, 0.3, x, g, r), y, r,
              (size_t)count, 0);
        check("add in place", dtype, fc_add_forward(count, dtype, (fc_activation)a, 0.3, y, g, y),
              fc_ref_add_forward(count, dtype, (fc_activation)a, 0.3, r, g, r), y, r,
              (size_t)count, 0);
    }
    /* batch_norm on g as (1, 17, 61): training (the running statistics of each side updated),
     * then its backward; the sums' orders differ from the reference's: a relative bound */
    const fc_batch_norm_params bn = {1, 17, 61, 1, 0.1, 1e-5};
    void *st = fill(4 * 17, dtype, 0, 2), *sr = fill(4 * 17, dtype, 0, 2);
    memcpy(sr, st, 4 * 17 * (dtype == FC_FLOAT64 ? 8 : 4));
    const size_t sz = dtype == FC_FLOAT64 ? 8 : 4;
    char *ct = st, *cr = sr; /* running mean, running var, save mean, save invstd */
    check("batch_norm", dtype,
          fc_batch_norm_forward(&bn, dtype, g, NULL, NULL, ct, ct + 17 * sz, y, ct + 34 * sz,
                                ct + 51 * sz),
          fc_ref_batch_norm_forward(&bn, dtype, g, NULL, NULL, cr, cr + 17 * sz, r,
                                    cr + 34 * sz, cr + 51 * sz), y, r, (size_t)count, 1e-5);
    check("batch_norm statistics", dtype, FC_OK, FC_OK, st, sr, 4 * 17, 1e-5);
    check("batch_norm_backward", dtype,
          fc_batch_norm_backward(&bn, dtype, g, g, NULL, cr + 34 * sz, cr + 51 * sz, y, NULL,
                                 NULL),
          fc_ref_batch_norm_backward(&bn, dtype, g, g, NULL, cr + 34 * sz, cr + 51 * sz, r,
                                     NULL, NULL), y, r, (size_t)count, 1e-5);
    free(st), free(sr);
    free(x), free(g), free(y), free(r);
    const int64_t n = 5, in = 37, out = 13;
    void *lx = fill((size_t)(n * in), dtype, -3, 3), *lw = fill((size_t)(out * in), dtype, -3, 3);
    void *lb = fill((size_t)out, dtype, -3, 3), *ly = fill((size_t)(n * out), dtype, 0, 0);
    void *lr = fill((size_t)(n * out), dtype, 0, 0);
    void *lres = fill((size_t)(n * out), dtype, -3, 3);
    char what[96];
    for (int act = 0; fc_activation_name((fc_activation)act); act++)
        for (int with_res = 0; with_res < 2; with_res++) {
            const fc_epilogue e = {lb, with_res ? lres : NULL, (fc_activation)act, 0.25};
            snprintf(what, sizeof what, "linear + %s%s", fc_activation_name((fc_activation)act),
                     with_res ? " + residual" : "");
            check(what, dtype, fc_linear_forward(n, in, out, dtype, lx, lw, &e, ly),
                  fc_ref_linear_forward(n, in, out, dtype, lx, lw, &e, lr), ly, lr,
                  (size_t)(n * out), 0);
        }
    {
        const fc_epilogue relu = {lb, NULL, FC_ACTIVATION_RELU, 0};
        fc_linear_forward(n, in, out, dtype, lx, lw, &relu, ly); /* the gradient below */
    }
    void *gi = fill((size_t)(n * in), dtype, 0, 0), *gw = fill((size_t)(out * in), dtype, 0, 0);
    void *ri = fill((size_t)(n * in), dtype, 0, 0), *rw = fill((size_t)(out * in), dtype, 0, 0);
    void *gb = fill((size_t)out, dtype, 0, 0), *rb = fill((size_t)out, dtype, 0, 0);
    const fc_status s1 = fc_linear_backward(n, in, out, dtype, ly, lx, lw, gi, gw, gb);
    const fc_status s2 = fc_ref_linear_backward(n, in, out, dtype, ly, lx, lw, ri, rw, rb);
    check("linear_backward: grad_input", dtype, s1, s2, gi, ri, (size_t)(n * in), 0);
    check("linear_backward: grad_weight", dtype, s1, s2, gw, rw, (size_t)(out * in), 0);
    check("linear_backward: grad_bias", dtype, s1, s2, gb, rb, (size_t)out, 0);
    free(lx), free(lw), free(lb), free(ly), free(lr), free(lres), free(gi), free(gw), free(ri),
        free(rw), free(gb), free(rb);
}

/* filter2d and sep_filter2d of a 3-channel uint8 batch read at negative row strides, every
 * border mode, a kernel taller than the image; small integer taps, so the sums are exact */
static void filter_case(fc_dtype dtype)
{
    enum { N = 2, H = 5, W = 37, C = 3, KH = 7, KW = 4 };
    uint8_t *x = malloc(N * H * W * C);
    if (!x) exit(125);
    for (size_t i = 0; i < N * H * W * C; i++) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        x[i] = (uint8_t)(state % 256);
    }
    double kernel[KH * KW], kx[KW], ky[KH];
    for (int i = 0; i < KH * KW; i++) kernel[i] = (double)(i % 5) - 2;
    for (int i = 0; i < KW; i++) kx[i] = i - 1.5;
    for (int i = 0; i < KH; i++) ky[i] = (i % 3) - 1;
    const size_t n = N * H * W * C;
    void *got = fill(n, dtype, 0, 0), *want = fill(n, dtype, 0, 0);
    for (int border = FC_BORDER_CONSTANT; border <= FC_BORDER_WRAP; border++) {
        /* rows last to first: x_strides[1] < 0, the data pointer at the last row */
        fc_filter2d_params p = {N, H, W, C, {H * W * C, -W * C, C, 1}, KH, KW, 2, 1,
                                (fc_border)border, 3.0, 0.5, FC_PIXEL_U8,
                                dtype == FC_FLOAT64 ? FC_PIXEL_F64 : FC_PIXEL_F32};
        const uint8_t *last = x + (H - 1) * W * C;
        char what[64];
        snprintf(what, sizeof what, "filter2d border %d", border);
        check(what, dtype, fc_filter2d(&p, last, kernel, got),
              fc_ref_filter2d(&p, last, kernel, want), got, want, n, 0);
        snprintf(what, sizeof what, "sep_filter2d border %d", border);
        check(what, dtype, fc_sep_filter2d(&p, last, kx, ky, got),
              fc_ref_sep_filter2d(&p, last, kx, ky, want), got, want, n, 0);
    }
    free(x), free(got), free(want);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    fc_set_num_threads(2);
    const fc_isa *isas;
    const int count = fc_arch_isas(&isas);
    const fc_isa cpu = fc_cpu_isa();
    for (int i = 0; i < count; i++) {
        fc_select_isa(isas[i]);
        for (int d = 0; d < 2; d++) {
            const fc_dtype dtype = d ? FC_FLOAT64 : FC_FLOAT32;
            /* n c h w k r s sh sw dh dw pt pb pl pr groups workspace */
            conv_case("im2col 3x3 pad 1", (fc_conv2d_params){2, 5, 9, 13, 11, 3, 3, 1, 1, 1, 1,
                                                           1, 1, 1, 1, 1, 0},
                      FC_CONV_IM2COL, dtype, 1);
            conv_case("im2col strided, dilated, uneven pads",
                      (fc_conv2d_params){1, 3, 17, 19, 7, 3, 2, 2, 1, 2, 2, 0, 1, 2, 1, 1, 0},
                      FC_CONV_IM2COL, dtype, 1);
            conv_case("pointwise", (fc_conv2d_params){2, 7, 5, 31, 13, 1, 1, 1, 1, 1, 1, 0, 0, 0,
                                                      0, 1, 0},
                      FC_CONV_POINTWISE, dtype, 0);
            conv_case("direct", (fc_conv2d_params){1, 4, 10, 37, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1,
                                                   1, 0},
                      FC_CONV_DIRECT, dtype, 0);
            conv_case("depthwise", (fc_conv2d_params){2, 6, 11, 29, 12, 3, 3, 1, 1, 1, 1, 1, 1,
                                                      1, 1, 6, 0},
                      FC_CONV_DEPTHWISE, dtype, 1);
            conv_case("depthwise 3x3 stride 2", (fc_conv2d_params){2, 6, 23, 37, 6, 3, 3, 2, 2,
                                                                   1, 1, 1, 1, 1, 1, 6, 0},
                      FC_CONV_DEPTHWISE, dtype, 1);
            /* n c h w kh kw sh sw ph pw dh dw ceil include_pad */
            pool_case("3x3/2 pad 1", (fc_pool2d_params){2, 3, 13, 37, 3, 3, 2, 2, 1, 1, 1, 1, 0, 1},
                      dtype);
            pool_case("2x2/2 ceil", (fc_pool2d_params){1, 2, 9, 23, 2, 2, 2, 2, 0, 0, 1, 1, 1, 0},
                      dtype);
            pool_case("3x3/1 dilation 2", (fc_pool2d_params){1, 2, 12, 21, 3, 3, 1, 1, 1, 1, 2, 2,
                                                             0, 0},
                      dtype);
            /* ... divisor_override */
            pool_case("3x3/2 pad 1 divisor -7", (fc_pool2d_params){1, 2, 11, 19, 3, 3, 2, 2, 1, 1,
                                                                   1, 1, 1, 0, -7},
                      dtype);
            elementwise_and_linear(dtype);
            filter_case(dtype);
        }
        if (isas[i] == cpu) break;
    }
    printf("test_ops: %d failed\n", failures);
    return failures;
}

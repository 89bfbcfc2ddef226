/* conv2d drivers on the packed GEMM: im2col and pointwise (instantiated by conv2d.c).
 *
 * Per group g the convolution is the GEMM  Y_g[Kg x PQ] = W_g[Kg x red] * col_g[red x PQ]
 * with red = Cg * R * S.  The weights are packed once per call into MR-filter panels (A), or,
 * where each panel meets one item only, read in place by the items' microkernel.  A work
 * item is (group, range of m tiles, image, block of nc output pixels), and its B comes one of
 * two ways:
 *  - the virtual grid (fc_gemm_grid below) whenever it fits, at any stride (every pointwise
 *    call among them).  Each row of B is a contiguous run of a padded input plane (stride 1)
 *    or of one of its phase planes, so the "rows" microkernel reads it in place; the item
 *    only copies the rows it needs to a strip (none at all at stride 1 without padding: the
 *    grid is the input itself) and packs its last, partial tile.
 *  - otherwise: its thread packs the columns of those pixels straight into a kc x nc panel,
 *    im2col fused into the packing.
 * The microkernel then runs over every MR x NR tile of the block, one kc-deep slice of the
 * reduction at a time.  No im2col matrix is ever built.
 *
 * Cache blocking (Zen 5 EPYC of the CI machine: 48 KiB L1d, 1 MiB L2 per core): one NR-wide
 * kc x NR sub-panel of B stays in L1 while every A panel of the group (L2) meets it; the
 * dispatch table's kc and nc keep B and the strip inside L2.  On the 2-core AVX-512 machine
 * the grid made vgg_3x3 (1 thread) 5.2 -> 4.4 ms and lenet_c2 0.72 -> 0.24 ms: packing
 * B had cost 20-25% of the time.
 *
 * Workspace: the packed weights (shared, unless at batch 1 on a small map the items read them
 * in place), on the grid at batch 1 the strip of all the input rows (shared: every item reads
 * it) and, per thread, the B panel (one NR-wide sub-panel on the grid), one MR x NR edge tile
 * (through which the tiles holding a grid's junk columns reach y), on the grid otherwise the
 * strip of the block's rows, and folded the block's C.  Everything is sized to fit threads x
 * max_workspace_bytes: B shrinks first (nc, then kc), then the weights are packed a chunk of
 * panels at a time (every item re-packs its B per chunk: slower, never wrong); the grid is
 * used only when it fits beside all the weights.  Both ways sum every element in the same
 * order and storing the accumulators between kc blocks is exact, so neither the blocking,
 * the way nor the thread count changes any result. */

#ifndef FC_GEMM_GRID_DEFINED
#define FC_GEMM_GRID_DEFINED
/* The virtual grid of a stride-1 convolution: output pixel (oh, ow) is computed at flat index
 * oh * wp + ow of a grid as wide as the padded input, where tap (c, r, s) reads padded plane c
 * at that index + r * dilation_h * wp + s * dilation_w.  So each row of a B panel is one
 * contiguous run of a padded plane (a copy, no index maths), at the price of computing the
 * wp - out_w junk columns of each grid row, which are never stored.
 * At stride (sh, sw) the padded plane is split into its sh x sw phases (polyphase): phase
 * (a, b) holds padded pixels (i * sh + a, j * sw + b) at (i, j), hp = ceil(Hp / sh) rows of
 * wp = ceil(Wp / sw).  Tap (c, r, s) of output (oh, ow) is padded pixel (oh * sh + vr,
 * ow * sw + vs), vr = r * dilation_h, vs = s * dilation_w: phase (vr % sh, vs % sw) of plane
 * c at (oh + vr / sh, ow + vs / sw), so again one flat offset per tap on a grid wp wide.  The
 * strided layers (ResNet's 7x7 s2, AlexNet's 11x11 s4) thus skip the strided im2col packing
 * for one strided copy of the input rows per item.  The reduction still runs over (c, r, s)
 * in order: the same sums as im2col, bit for bit. */
typedef struct fc_gemm_grid {
    int on;
    int padded_copy;    /* padding or a stride: each item copies the rows it reads to a strip */
    int scatter;        /* wp > out_w: junk columns, which the tiles' stores skip */
    int64_t hp, wp;     /* a (phase) plane; wp is the grid's row width */
    int64_t pixels;     /* grid pixels to compute: (out_h - 1) * wp + out_w */
    int64_t strip_rows; /* rows of each plane of the strip (padded_copy) */
    int c_scratch;      /* scatter over several kc blocks: C on a scratch block (gemm_setup) */
    int whole_strip;    /* padded_copy at batch 1, one group: the strip is all hp rows, shared */
} fc_gemm_grid;
#endif

/* Does some tap (offset k * dilation, k < taps) fall on phase `phase` of a stride? */
static int FC_FN(grid_phase_used)(int64_t phase, int64_t stride, int64_t taps, int64_t dilation)
{
    for (int64_t k = 0; k < taps && k < stride; k++)
        if (k * dilation % stride == phase) return 1;
    return 0;
}

/* How many of the stride's phases (rows a < stride of the phase planes) the taps k * dilation
 * (k < taps) read: the multiples of dilation modulo stride repeat after stride / gcd of them,
 * so min(taps, stride / gcd) distinct phases, counted without a loop over the stride (which a
 * user may make as large as the image). */
static int64_t FC_FN(grid_phases_used)(int64_t stride, int64_t taps, int64_t dilation)
{
    return fc_min_i64(taps, stride / fc_gcd(dilation, stride));
}

/* Filters per group from which packed panels replace the grid where the member packs them
 * with vectors (its im2col run, gemm.h, at stride_w 1; some 2.5x cheaper than the scalar
 * loop) and the grid's junk columns cost more than an eighth of its tiles: folded images
 * (gemm_fold), or at batch 1 one image's pixels.  Measured at 1 thread on the 2-core Xeon
 * (CPU time, medians of 3 x 7 interleaved): small_5x5 (64 filters of 32 x 5 x 5 on 8 x 17 x
 * 17) 1.85 -> 1.72 ms folded; lenet_c2 (16 filters of 6 x 5 x 5 on 64 x 14 x 14) stays on
 * the grid, 0.35 ms there, 0.42 folded. */
#define FC_GEMM_PACKED_MIN_FILTERS 64

static int64_t FC_FN(gemm_m_ranges)(int64_t m_tiles, int64_t red, int64_t mr, int64_t images,
                                    int threads);

/* The largest shared strip of all the input rows at batch 1 (gemm_setup): the 512 KiB L2 per
 * core of the 2-core AVX2 EPYC (256 channels on 16 x 16 padded, 262 KB; 128 on 30 x 30, 460
 * KB). */
#define FC_GEMM_WHOLE_STRIP_BYTES ((int64_t)512 << 10)

/* The team size, the blocking and the grid of conv2d_gemm for these parameters.  The grid
 * is used when its planes and C tiles fit beside all the weights; otherwise the
 * im2col panels.  plan->min_bytes is always the im2col one: the grid is never required. */
static fc_status FC_FN(gemm_setup)(const fc_conv2d_params *p, int64_t out_h, int64_t out_w,
                                   int *threads, fc_gemm_plan *plan, fc_gemm_grid *grid)
{
    const FC_FN(gemm_config) cfg = fc_kernels()->FC_MEMBER(gemm);
    const int64_t kg = p->k / p->groups, red = (p->c / p->groups) * p->r * p->s;
    const int64_t m_tiles = fc_ceil_div(kg, cfg.mr), panels = p->groups * m_tiles;
    const int64_t tiles = p->n * p->groups * fc_ceil_div(out_h * out_w, cfg.nr);
    /* multiply-adds, counting the rounded-up tiles: close enough to size the team */
    const int64_t macs = fc_mul_saturating(fc_mul_saturating(tiles * cfg.nr, kg), red);
    *threads = (int)fc_min_i64(fc_region_threads(macs), fc_max_i64(tiles, panels));
    const int64_t limit = fc_gemm_workspace_limit(p->max_workspace_bytes);
    const int64_t nc_max = fc_max_i64(cfg.nc, cfg.nr);
    grid->on = grid->c_scratch = 0;
    FC_RETURN_IF_ERROR(FC_FN(gemm_plan)(cfg.mr, cfg.nr, cfg.kc, nc_max, red, panels, *threads,
                                        limit, 0, 0, 0, 0, plan));
    const int64_t sh = p->stride_h, sw = p->stride_w;
    fc_gemm_grid g;
    g.hp = fc_ceil_div(p->pad_top + p->h + p->pad_bottom, sh);
    g.wp = fc_ceil_div(p->pad_left + p->w + p->pad_right, sw);
    /* more junk columns than output ones (a wide dilation): the packed panels waste less, and
     * this bounds the grid by twice the output */
    if (g.wp - out_w > out_w) return FC_OK;
    /* at a stride, fewer than two taps per phase plane the taps read (a 1x1 filter, 3x3 at
     * stride 3): the strip is copied for little reuse, and the rows of a B sub-panel lie far
     * apart in it, where the packed panel is one sequential block (256 channels, 1x1 at
     * stride 2 on 56x56: 2.05 ms packed, 2.6 ms on the grid, 1 thread) */
    if (sh > 1 || sw > 1) {
        /* the phase planes read: a row phase and a column phase each read (at most r * s) */
        const int64_t used = FC_FN(grid_phases_used)(sh, p->r, p->dilation_h) *
                             FC_FN(grid_phases_used)(sw, p->s, p->dilation_w);
        if (p->r * p->s < 2 * used) return FC_OK;
    }
    g.pixels = (out_h - 1) * g.wp + out_w;
    /* at batch 1 (nothing to fold), packed panels where the junk costs more than an eighth of
     * the tiles; or more than a sixteenth where the team does not split the filters into
     * ranges (gemm_m_ranges; the packed panels get no more ranges, gemm_split_ranges), which
     * would pack each block's B once per range.  Measured at 1 and 2 threads on the 2-core
     * AVX2 EPYC (CPU time, medians of 31-41 interleaved, busy machine): 128 filters of 128 x
     * 3 x 3 on 28x28 (53 grid tiles for 49: 7.5%) 3.26 -> 3.05 ms at 1 thread, 3.19 -> 2.98
     * at 2; 256 of 256 x 3 x 3 on 14x14 (14 for 13) 3.34 -> 3.20 ms at 1 thread, but 3.22 ->
     * 3.83 at 2, where its 2.4 MB of weights are split into ranges. */
    if (p->n == 1 && cfg.im2col_run && sw == 1 && kg >= FC_GEMM_PACKED_MIN_FILTERS) {
        const int64_t grid_tiles = fc_ceil_div(g.pixels, cfg.nr);
        const int64_t junk = grid_tiles - fc_ceil_div(out_h * out_w, cfg.nr);
        if (8 * junk > grid_tiles) return FC_OK;
        if (16 * junk > grid_tiles && FC_FN(gemm_m_ranges)(m_tiles, red, cfg.mr, 1, *threads) == 1)
            return FC_OK;
    }
    g.padded_copy = g.hp != p->h || g.wp != p->w || sh != 1 || sw != 1;
    g.scatter = g.wp != out_w;
    /* nc consecutive grid pixels span ceil(nc / wp) + 1 rows; their taps (R - 1) *
     * dilation_h / sh more, and the junk columns of the last one read into the next row */
    g.strip_rows =
        fc_min_i64(g.hp, fc_ceil_div(nc_max, g.wp) + 2 + (p->r - 1) * p->dilation_h / sh);
    int64_t fixed = 0;
    const int64_t dims[5] = {p->c / p->groups, sh, sw, g.strip_rows, g.wp};
    if (g.padded_copy && (fc_checked_product(dims, 5, &fixed) != FC_OK ||
                          fc_add_overflows(fixed, cfg.nr, &fixed)))
        return FC_OK;
    fc_gemm_plan gp;
    /* One image, one group: every item reads rows of the same planes, so the team copies all
     * of them once, a range of channels per task, into one shared strip (gemm_strip_task),
     * where each item copied the rows of its block (a block's rows plus the taps' and the junk
     * columns' rows: 13 rows per 9 on 56x56) into its thread's strip, and on 2 threads both
     * threads copied the same block's rows again when they ran two ranges of filters of it.
     * Only up to FC_GEMM_WHOLE_STRIP_BYTES: a block's strip stays in L2 while its items read
     * it, a larger whole one would not (ResNet's stem, 635 KB; 64 channels on 56x56, 861 KB).
     * Its share per thread stands in the plan for the per-thread strip. */
    g.whole_strip = 0;
    if (g.padded_copy && p->n == 1 && p->groups == 1) {
        int64_t whole;
        const int64_t whole_dims[5] = {p->c, sh, sw, g.hp, g.wp};
        if (fc_checked_product(whole_dims, 5, &whole) == FC_OK &&
            !fc_add_overflows(whole, cfg.nr, &whole) &&
            whole * (int64_t)sizeof(FC_REAL) <= FC_GEMM_WHOLE_STRIP_BYTES &&
            FC_FN(gemm_plan)(cfg.mr, cfg.nr, cfg.kc, nc_max, red, panels, *threads, limit,
                             fc_ceil_div(whole, *threads), 0, 1, 0, &gp) == FC_OK &&
            gp.chunk_panels >= panels) {
            g.whole_strip = 1;
            g.strip_rows = g.hp;
            fixed = fc_ceil_div(whole, *threads);
        }
    }
    if (FC_FN(gemm_plan)(cfg.mr, cfg.nr, cfg.kc, nc_max, red, panels, *threads, limit, fixed,
                         0, 1, 0, &gp) != FC_OK ||
        gp.chunk_panels < panels)
        return FC_OK;
    /* Junk columns (scatter) and a reduction of several kc blocks: the block's C on a
     * scratch block, stored to y once (gemm_item_grid_store), where the tiles holding junk
     * columns went through the edge tile and were copied out of y and back into it (runs of
     * at most out_w values, a division per run) on every kc block: on 7x7 maps every tile,
     * 11% of 512 filters of 512 x 3 x 3 at 1 thread on the AVX2 EPYC.  Measured there (1
     * thread, CPU time, medians of 15 interleaved, busy machine): that layer 4.32 -> 3.76 ms,
     * 256 on 14x14 3.66 -> 3.43, 128 on 28x28 4.96 -> 4.56, 3x3/s2 128 -> 256 on 28x28 2.06
     * -> 1.81.  Only where the plan keeps all of A beside that scratch (its rows: all the
     * group's filters) with the same kc and nc. */
    g.c_scratch = 0;
    fc_gemm_plan cp;
    if (g.scatter && red > gp.kc &&
        FC_FN(gemm_plan)(cfg.mr, cfg.nr, cfg.kc, nc_max, red, panels, *threads, limit, fixed,
                         m_tiles * cfg.mr, 1, 0, &cp) == FC_OK &&
        cp.chunk_panels >= panels && cp.kc == gp.kc && cp.nc == gp.nc) {
        g.c_scratch = 1;
        gp = cp;
    }
    gp.min_bytes = plan->min_bytes;
    *plan = gp;
    g.on = 1;
    *grid = g;
    return FC_OK;
}

/* Filters per group from which a folded panel (below) replaces the grid: each packed B value
 * then meets at least this many filters, which hides its packing.  Measured at 1 thread on
 * the 2-core Xeon (busy, fastest of 20): 64 filters of 32 x 5 x 5 on 8 x 17 x 17 ran 1.8 ms
 * on the grid, 2.3 ms folded (the packing 38% of it); 512 of 512 x 3 x 3 on 16 x 7 x 7 96-127
 * ms on the grid, 81-90 ms folded.  With the member's vector im2col run (gemm.h) at stride_w
 * 1, FC_GEMM_PACKED_MIN_FILTERS. */
#define FC_GEMM_FOLD_MIN_FILTERS 256

/* Whether conv2d_gemm folds the images of the batch into one GEMM per group: B's columns are
 * the N * P * Q output pixels, packed im2col panels whose NR-wide tiles span image
 * boundaries, C a scratch block whose rows go to the images' planes (gemm_item_fold_store).
 * On a small map an image is a few NR tiles, the last one part junk, and on the grid each of
 * its rows carries wp - Q junk columns: 7x7 at padding 1 computes 64 columns for 49 pixels,
 * 17x17 at padding 2 384 for 289; and each item of one image streams all of A for them (512
 * filters of 512 x 3 x 3: 9.4 MB per 64 columns).  Folded, a block of nc columns holds many
 * images.  Chosen when the rounding or the junk wastes more than an eighth of the image's
 * columns; the plan then keeps C's scratch (all the group's filters x nc) and all of A. */
static int FC_FN(gemm_fold)(const fc_conv2d_params *p, int64_t out_h, int64_t out_w,
                            int threads, const fc_gemm_grid *grid, fc_gemm_plan *plan)
{
    const FC_FN(gemm_config) cfg = fc_kernels()->FC_MEMBER(gemm);
    const int64_t kg = p->k / p->groups, red = (p->c / p->groups) * p->r * p->s;
    const int64_t m_tiles = fc_ceil_div(kg, cfg.mr), pixels = out_h * out_w;
    if (p->n < 2) return 0;
    const int64_t min_filters = cfg.im2col_run && p->stride_w == 1
                                    ? FC_GEMM_PACKED_MIN_FILTERS
                                    : FC_GEMM_FOLD_MIN_FILTERS;
    if (grid->on && kg < min_filters) return 0;
    const int64_t computed = fc_ceil_div(grid->on ? grid->pixels : pixels, cfg.nr) * cfg.nr;
    if (8 * (computed - pixels) <= computed) return 0;
    fc_gemm_plan fp;
    if (FC_FN(gemm_plan)(cfg.mr, cfg.nr, cfg.kc, fc_max_i64(cfg.nc, cfg.nr), red,
                         p->groups * m_tiles, threads,
                         fc_gemm_workspace_limit(p->max_workspace_bytes), 0, m_tiles * cfg.mr,
                         0, 0, &fp) != FC_OK ||
        fp.chunk_panels < p->groups * m_tiles)
        return 0;
    fp.min_bytes = plan->min_bytes;
    *plan = fp;
    return 1;
}

/* A B panel is NR-wide sub-panels of kc x NR values: one reduction row of it is written as
 * runs that each stay inside one output row (of the image) and one sub-panel.  `dst` and
 * `room` (columns left in the current sub-panel) walk the row; `step` = kc * NR jumps to the
 * same row of the next sub-panel. */
#define FC_PANEL_ADVANCE(dst, room, n, step, nr) \
    do {                                          \
        (dst) += (n);                             \
        if (((room) -= (n)) == 0) (dst) += (step) - (nr), (room) = (nr); \
    } while (0)

/* B for FC_CONV_IM2COL: im2col rows [red0, red0 + kc) of output pixels [pix0, pix0 + cols),
 * zero for padding taps and for the columns past `cols` in the last sub-panel.  The taps of
 * one output row that land inside the input are a contiguous (stride 1) or strided copy, the
 * others zeros; no division per element or per run.  The pixels go to the panel's columns
 * from `at` on (a later image's pixels in a panel that spans images, gemm_fold).  At stride_w
 * 1 the member's im2col run (gemm.h) packs each run, all kc rows of it at once; this loop is
 * its reference. */
__attribute__((optimize("no-tree-loop-distribute-patterns")))
static void FC_FN(pack_im2col_panel_at)(const fc_conv2d_params *p, int64_t out_w,
                                        const FC_REAL *x_group, int64_t red0, int64_t kc,
                                        int64_t pix0, int64_t cols, int64_t nr, FC_REAL *panel,
                                        int64_t at)
{
    const int64_t taps = p->r * p->s, sh = p->stride_h, sw = p->stride_w;
    const int64_t step = kc * nr, oh0 = pix0 / out_w, ow0 = pix0 % out_w;
    const FC_FN(gemm_im2col_run_fn) run = fc_kernels()->FC_MEMBER(gemm).im2col_run;
    panel += at / nr * step + at % nr;
    if (run && sw == 1) {
        FC_REAL *dst = panel;
        int64_t room = nr - at % nr, oh = oh0, ow = ow0;
        for (int64_t j = 0; j < cols;) {
            const int64_t n = fc_min_i64(fc_min_i64(out_w - ow, room), cols - j);
            run(x_group, p->h, p->w, p->r, p->s, p->dilation_h, p->dilation_w,
                oh * sh - p->pad_top, ow - p->pad_left, red0, kc, n, dst, nr);
            j += n;
            FC_PANEL_ADVANCE(dst, room, n, step, nr);
            if ((ow += n) == out_w) ow = 0, oh++;
        }
        if (room < nr)
            for (int64_t pk = 0; pk < kc; pk++) FC_FN(put_run)(dst + pk * nr, NULL, 0, room);
        return;
    }
    int64_t c = red0 / taps, r = (red0 % taps) / p->s, s = red0 % p->s;
    for (int64_t pk = 0; pk < kc; pk++) {
        const FC_REAL *plane = x_group + c * p->h * p->w;
        const int64_t dh = r * p->dilation_h - p->pad_top, dw = s * p->dilation_w - p->pad_left;
        /* output columns [q_lo, q_hi) whose tap q * sw + dw lies in [0, W) */
        int64_t q_lo, q_hi;
        fc_valid_range(dw, sw, p->w, out_w, &q_lo, &q_hi);
        FC_REAL *dst = panel + pk * nr;
        int64_t room = nr - at % nr, oh = oh0, ow = ow0;
        for (int64_t j = 0; j < cols;) {
            const int64_t n = fc_min_i64(fc_min_i64(out_w - ow, room), cols - j);
            const int64_t ih = oh * sh + dh;
            /* the runs are short (a row of a small map, cut at a sub-panel's end): zeros
             * and stride-1 copies inline, where put_run's libc memset and memcpy calls per run
             * made this pack a third of small_5x5 folded (17 pixels a row) */
            if (ih < 0 || ih >= p->h) {
                for (int64_t i = 0; i < n; i++) dst[i] = 0;
            } else {
                const int64_t lo = fc_min_i64(fc_max_i64(q_lo - ow, 0), n);
                const int64_t hi = fc_max_i64(fc_min_i64(q_hi - ow, n), lo);
                const FC_REAL *src = plane + ih * p->w + (ow + lo) * sw + dw;
                for (int64_t i = 0; i < lo; i++) dst[i] = 0;
                if (sw == 1)
                    FC_FN(copy_run)(dst + lo, src, hi - lo);
                else
                    FC_FN(put_run)(dst + lo, src, sw, hi - lo);
                for (int64_t i = hi; i < n; i++) dst[i] = 0;
            }
            j += n;
            FC_PANEL_ADVANCE(dst, room, n, step, nr);
            if ((ow += n) == out_w) ow = 0, oh++;
        }
        if (room < nr) FC_FN(put_run)(dst, NULL, 0, room);
        if (++s == p->s) {
            s = 0;
            if (++r == p->r) r = 0, c++;
        }
    }
}

static void FC_FN(pack_im2col_panel)(const fc_conv2d_params *p, int64_t out_w,
                                     const FC_REAL *x_group, int64_t red0, int64_t kc,
                                     int64_t pix0, int64_t cols, int64_t nr, FC_REAL *panel)
{
    FC_FN(pack_im2col_panel_at)(p, out_w, x_group, red0, kc, pix0, cols, nr, panel, 0);
}

/* B on the virtual grid (fc_gemm_grid): kc rows of grid pixels [pix0, pix0 + cols), row pk
 * the run at planes + rows[pk] (the grid's row offsets from reduction row red0 on), zero past
 * `cols` in the last sub-panel.  FC_CONV_POINTWISE is the case R = S = 1 on the unpadded
 * input itself. */
static void FC_FN(pack_grid_panel)(const FC_REAL *planes, const ptrdiff_t *rows, int64_t kc,
                                   int64_t pix0, int64_t cols, int64_t nr, FC_REAL *panel)
{
    const int64_t step = kc * nr;
    for (int64_t pk = 0; pk < kc; pk++) {
        const FC_REAL *src = planes + rows[pk] + pix0;
        FC_REAL *dst = panel + pk * nr;
        int64_t room = nr;
        /* one sub-panel a call (gemm_item_b_grid): the kc rows lie a plane apart, more streams
         * than the hardware prefetcher follows, so each row's next run (the next sub-panel's,
         * one line on) is fetched now, a sub-panel's tiles ahead of its use.  This pack was
         * 18% of resnet_1x1 at 1 thread on the 2-core AVX2 EPYC; with the prefetch (CPU time,
         * medians of 5 x 7 alternating runs, busy machine) resnet_1x1 1.91 -> 1.52 ms,
         * mobilenet_pw 1.09 -> 0.88 ms; two sub-panels ahead measured no better.  The
         * address as an integer: past the last run it lies outside x, where pointer
         * arithmetic may not (a prefetch never faults) */
        if (cols == nr)
            __builtin_prefetch(
                (const void *)((uintptr_t)src + (uintptr_t)(2 * nr - 1) * sizeof(FC_REAL)));
        for (int64_t j = 0; j < cols;) {
            const int64_t n = fc_min_i64(room, cols - j);
            FC_FN(copy_run)(dst, src + j, n);
            j += n;
            FC_PANEL_ADVANCE(dst, room, n, step, nr);
        }
        if (room < nr) FC_FN(put_run)(dst, NULL, 0, room);
    }
}

/* fill_grid_strip's rows of phase row a when every column phase is read (3x3 at stride 2,
 * 11x11 at stride 4): each input row split into its sw phase rows in one pass, where a
 * strided copy per phase read it sw times (the copies were 9% of conv_3x3s2 at 1 thread, 5.4%
 * of alexnet_c1).  Input column iw is padded column iw + pad_left: phase (iw + pad_left) % sw,
 * column (iw + pad_left) / sw.  At stride 2 an even/odd loop; wider, the whole groups of sw
 * columns as a transpose (an n x sw matrix to sw phase rows, 4 x 4 tiles at stride 4), the
 * columns before the first and after the last group one by one. */
static void FC_FN(fill_grid_strip_split)(const fc_conv2d_params *p, const FC_REAL *x_group,
                                         int64_t cg, int64_t a, int64_t wp, int64_t row0,
                                         int64_t rows, int64_t strip_rows, FC_REAL *strip)
{
    const int64_t sh = p->stride_h, sw = p->stride_w, w = p->w, pl = p->pad_left;
    const int64_t phase_len = strip_rows * wp; /* phase b + 1 of a row after phase b's */
    /* input columns [0, head) come before the first whole group, [tail, w) after the last */
    const int64_t head = fc_min_i64(w, (sw - pl % sw) % sw);
    const int64_t groups = (w - head) / sw, tail = head + groups * sw;
    for (int64_t c = 0; c < cg; c++)
        for (int64_t i = 0; i < rows; i++) {
            FC_REAL *d = strip + ((c * sh + a) * sw * strip_rows + i) * wp;
            const int64_t ih = (row0 + i) * sh + a - p->pad_top;
            if (ih < 0 || ih >= p->h) {
                for (int64_t b = 0; b < sw; b++) {
                    int64_t lo, hi;
                    fc_valid_range(b - pl, sw, w, wp, &lo, &hi);
                    FC_FN(put_run)(d + b * phase_len + lo, NULL, 0, hi - lo);
                }
                continue;
            }
            const FC_REAL *restrict src = x_group + (c * p->h + ih) * w;
            if (sw == 2) {
                FC_REAL *restrict even = d + (pl % 2) * phase_len + pl / 2;
                FC_REAL *restrict odd = d + (1 - pl % 2) * phase_len + (pl + 1) / 2;
                for (int64_t k = 0; k < w / 2; k++) {
                    even[k] = src[2 * k];
                    odd[k] = src[2 * k + 1];
                }
                if (w % 2) even[w / 2] = src[w - 1];
                continue;
            }
            for (int64_t iw = 0; iw < head; iw++)
                d[(iw + pl) % sw * phase_len + (iw + pl) / sw] = src[iw];
            for (int64_t iw = tail; iw < w; iw++)
                d[(iw + pl) % sw * phase_len + (iw + pl) / sw] = src[iw];
            FC_FN(gemm_transpose)(src + head, sw, groups, sw, d + (head + pl) / sw, phase_len);
        }
}

/* Rows [row0, row0 + rows) of the cg x sh x sw phase planes (fc_gemm_grid) of one image's
 * group into `strip` (planes of strip_rows rows, wp wide; plane (c, a, b) at (c * sh + a) *
 * sw + b), whose padding columns are zero from the start and never written.  Phases no tap
 * reads (a 1x1 filter at stride 2) are skipped. */
static void FC_FN(fill_grid_strip)(const fc_conv2d_params *p, const FC_REAL *x_group,
                                   int64_t cg, int64_t wp, int64_t row0, int64_t rows,
                                   int64_t strip_rows, FC_REAL *strip)
{
    const int64_t sh = p->stride_h, sw = p->stride_w;
    const int split = sw > 1 && FC_FN(grid_phases_used)(sw, p->s, p->dilation_w) == sw;
    for (int64_t a = 0; a < sh; a++) {
        if (!FC_FN(grid_phase_used)(a, sh, p->r, p->dilation_h)) continue;
        if (split) {
            FC_FN(fill_grid_strip_split)(p, x_group, cg, a, wp, row0, rows, strip_rows, strip);
            continue;
        }
        for (int64_t b = 0; b < sw; b++) {
            if (!FC_FN(grid_phase_used)(b, sw, p->s, p->dilation_w)) continue;
            /* the phase columns j whose input column j * sw + b - pad_left lies in [0, W) */
            int64_t j_lo, j_hi;
            fc_valid_range(b - p->pad_left, sw, p->w, wp, &j_lo, &j_hi);
            const int64_t iw = j_lo * sw + b - p->pad_left;
            for (int64_t c = 0; c < cg; c++)
                for (int64_t i = 0; i < rows; i++) {
                    FC_REAL *dst = strip + (((c * sh + a) * sw + b) * strip_rows + i) * wp;
                    const int64_t ih = (row0 + i) * sh + a - p->pad_top;
                    const FC_REAL *src = ih < 0 || ih >= p->h
                                             ? NULL
                                             : x_group + (c * p->h + ih) * p->w + iw;
                    FC_FN(put_run)(dst + j_lo, src, sw, j_hi - j_lo);
                }
        }
    }
}

/* How many blocks of output pixels each image (of a group) is cut into: enough that no block
 * exceeds nc_max, and when there are few images a multiple of the team, so that every thread
 * gets a near-equal share of NR tiles.  The blocks of an image differ by at most one tile. */
static int64_t FC_FN(gemm_pixel_blocks)(int64_t tiles, int64_t nr, int64_t nc_max,
                                        int64_t images, int threads)
{
    int64_t blocks = fc_ceil_div(tiles, nc_max / nr);
    if (images % threads != 0 && images < 4 * threads)
        blocks = fc_min_i64(tiles, fc_ceil_div(blocks, threads) * threads);
    return blocks;
}

/* Into how many ranges of m tiles (MR filters each) an item cuts each group's filters.  With
 * few images (as gemm_pixel_blocks counts them) and more panels than a slice of L2, ranges
 * of at most a slice, a multiple of the team: the team splits the filters, where the blocks
 * of pixels made each thread read all of A (deep ResNet layers at batch 1: 512 filters of
 * 512 x 3 x 3, 9.4 MB of panels, for 2 tiles of 7x7 pixels).  Otherwise one: each item
 * re-reads its B (the strip) per range, which measured no gain at batch 16 with the
 * 2-core machine's large L3.  The slice: half the 2 MiB L2 of the 2-core machine (the CI
 * machine's whole L2), so that panels which fit stay shared by the blocks of pixels as
 * before (128 filters of 128 x 3 x 3 on 28x28, 590 KB). */
#define FC_GEMM_A_SLICE_BYTES ((int64_t)1 << 20)
static int64_t FC_FN(gemm_m_ranges)(int64_t m_tiles, int64_t red, int64_t mr, int64_t images,
                                    int threads)
{
    const int64_t bytes = fc_mul_saturating(fc_mul_saturating(m_tiles, red),
                                            mr * (int64_t)sizeof(FC_REAL));
    const int64_t ranges = fc_ceil_div(bytes, FC_GEMM_A_SLICE_BYTES);
    if (ranges <= 1 || images % threads == 0 || images >= 4 * threads) return 1;
    return fc_min_i64(fc_ceil_div(ranges, threads) * threads, m_tiles);
}

/* Items (range, image, block) per thread below which a team splits the filters further: with
 * one item per thread (batch 1 on a small map: resnet_3x3s2, conv_3x3s2, inception_1x7 ran as
 * exactly two items on two threads) a thread that joins late cannot hand any of its work to
 * the caller, which finishes its half and waits out the whole delay (under load a
 * descheduled thread's time slice), against the pool's promise that a late thread costs its
 * own share.  More ranges, not more blocks of pixels: an item of another range of the same
 * block reuses the strip its thread holds, where a new block copies its rows again. */
#define FC_GEMM_ITEMS_PER_THREAD 4
static int64_t FC_FN(gemm_split_ranges)(int64_t ranges, int64_t m_tiles, int64_t images,
                                        int64_t tiles, int64_t nr, int64_t nc_max, int threads)
{
    if (threads <= 1) return ranges;
    const int64_t want = FC_GEMM_ITEMS_PER_THREAD * threads;
    const int64_t now = FC_FN(gemm_pixel_blocks)(tiles, nr, nc_max, images * ranges, threads);
    if (fc_mul_saturating(fc_mul_saturating(images, ranges), now) >= want) return ranges;
    /* a multiple of the team, so that gemm_pixel_blocks leaves the blocks nc_max asks for */
    const int64_t blocks = fc_ceil_div(tiles, nc_max / nr);
    const int64_t more = fc_min_i64(
        fc_ceil_div(fc_ceil_div(want, images * blocks), threads) * threads, m_tiles);
    /* few filters (m tiles) cap the ranges: keep the split only where it adds items */
    const int64_t then = FC_FN(gemm_pixel_blocks)(tiles, nr, nc_max, images * more, threads);
    return more * then > ranges * now ? more : ranges;
}

/* Everything a task of conv2d_gemm needs. */
typedef struct FC_FN(gemm_job) {
    const fc_conv2d_params *p;
    int64_t out_w;
    const FC_REAL *x, *weight;
    FC_REAL *y;
    const fc_epi *epi;
    FC_FN(gemm_config) cfg;
    fc_gemm_grid grid;
    int64_t mr, nr, cg, kg, red, pixels, m_tiles, panels, kc_max, columns, tiles, blocks, nc;
    int64_t chunk, pack_tasks, c_len, strip_plane, planes_len, b_len, scratch_per_thread;
    int64_t ranges; /* m ranges per group (gemm_m_ranges, gemm_split_ranges) */
    int ranges_inner; /* gemm_split_ranges added ranges: the items' innermost index */
    int fold;       /* B's columns are all the images' pixels (gemm_fold) */
    int64_t item_images; /* images the items run over: 1 when folded, else N */
    int64_t a_len;  /* > 0: the items read A in place, a partial panel packed (gemm_item_a) */
    int shared_strip; /* one strip for the team (`strip`), filled by phase 0 (gemm_strip_task) */
    int64_t strip_tasks; /* phase 0's tasks past the weights' (gemm_weight_tasks): the strip */
    FC_REAL *packed_w, *scratch, *strip;
    const FC_REAL *bias_panels; /* the bias as MR-value panels per (group, m tile), or NULL */
    const ptrdiff_t *grid_rows;
    const ptrdiff_t *grid_reach; /* grid_reach[i]: the largest of grid_rows[0..i] */
    /* per thread: -1 until its strip's padding columns are zeroed, then the (image, group,
     * block of pixels) whose rows it holds: the next item of the same block (another range of
     * filters) reads them as they are */
    int64_t *strip_held;
} FC_FN(gemm_job);

/* One item's view for the frame's callbacks (gemm_block.ctx). */
typedef struct FC_FN(gemm_item_ctx) {
    const FC_FN(gemm_job) *job;
    const FC_REAL *x_group, *a, *planes;
    FC_REAL *b_panel, *c_grid, *y_group, *a_buf;
    int64_t pix0, readable, plane_len, grid_pix0;
    const FC_REAL *w_rows; /* a_buf: the weight rows of the item's first filter on */
    int64_t w_live;        /* a_buf: the group's filters from there on */
} FC_FN(gemm_item_ctx);

/* A: the chunk's packed weight panels of the item's group, from its first m tile on; or
 * (job->a_len) the item's weight rows read in place by the "rows" microkernel (gemm.h), MR
 * rows a panel, a last partial panel packed into the thread's a_buf (the same values as the
 * shared panels' slice, in the same order: the same sums). */
static const FC_REAL *FC_FN(gemm_item_a)(FC_FN(gemm_block) *blk, int64_t k0, int64_t kc,
                                         int64_t *a_step)
{
    const FC_FN(gemm_item_ctx) *it = blk->ctx;
    const int64_t mr = it->job->mr, red = it->job->red;
    if (!it->a_buf) {
        *a_step = red * mr;
        return it->a + k0 * mr;
    }
    const int64_t full = fc_min_i64(blk->m_panels, it->w_live / mr);
    if (full < blk->m_panels) {
        FC_FN(gemm_pack_panel)(it->w_rows + full * mr * red + k0, red, 1,
                               it->w_live - full * mr, kc, mr, it->a_buf);
        blk->a_edge = it->a_buf;
    }
    blk->a_lda = red;
    *a_step = mr * red;
    return it->w_rows + k0;
}

/* B off the grid: the block's im2col panel, packed per kc block; folded, image by image. */
static void FC_FN(gemm_item_pack_b)(FC_FN(gemm_block) *blk, int64_t k0, int64_t kc)
{
    const FC_FN(gemm_item_ctx) *it = blk->ctx;
    const FC_FN(gemm_job) *job = it->job;
    const fc_conv2d_params *p = job->p;
    if (!job->fold) {
        FC_FN(pack_im2col_panel)(p, job->out_w, it->x_group, k0, kc, it->pix0, blk->cols,
                                 job->nr, it->b_panel);
    } else {
        for (int64_t j = 0; j < blk->cols;) {
            const int64_t col = it->pix0 + j, n = col / job->pixels, pix = col % job->pixels;
            const int64_t len = fc_min_i64(job->pixels - pix, blk->cols - j);
            FC_FN(pack_im2col_panel_at)(p, job->out_w, it->x_group + n * p->c * p->h * p->w,
                                        k0, kc, pix, len, job->nr, it->b_panel, j);
            j += len;
        }
    }
    blk->b = it->b_panel;
    blk->b_step = kc * job->nr;
}

/* When B is read in place from x itself (no strip: pointwise, stride 1 without padding) and
 * a block has this many A panels, each kc x NR sub-panel of B is copied to the thread's
 * b_panel before its tiles run: x's rows lie a plane apart, beyond the hardware
 * prefetcher's streams, and are unaligned (numpy's 16-byte alignment), so that every 64-byte
 * vector load straddles two cache lines, once per A panel; the copy pays both once, then
 * the tiles read one aligned block from L1.  resnet_1x1 (1 thread, 2-core AVX-512 machine,
 * medians of 4 x 11 interleaved): 0.995 -> 0.756 ms.  A strip (the rows an item copied, in
 * L2) is read in place: packing its sub-panels cost the dilated and grouped layers 6-20%. */
#define FC_GEMM_GRID_PACK_PANELS 4

/* B on the grid: read in place, also by a last tile whose junk columns stay inside what is
 * readable (not at the very end of x); else, and for blocks of many A panels on x itself
 * (FC_GEMM_GRID_PACK_PANELS), the sub-panel's zero-padded copy. */
static const FC_REAL *FC_FN(gemm_item_b_grid)(FC_FN(gemm_block) *blk, int64_t k0, int64_t kc,
                                              int64_t j0, const ptrdiff_t **rows)
{
    const FC_FN(gemm_item_ctx) *it = blk->ctx;
    const FC_FN(gemm_job) *job = it->job;
    const int64_t nr = job->nr, pix = it->grid_pix0 + j0;
    if ((job->planes_len > 0 || blk->m_panels < FC_GEMM_GRID_PACK_PANELS) &&
        job->grid_reach[k0 + kc - 1] + pix + nr <= it->readable) {
        *rows = job->grid_rows + k0;
        return it->planes + pix;
    }
    FC_FN(pack_grid_panel)(it->planes, job->grid_rows + k0, kc, pix,
                           fc_min_i64(nr, blk->cols - j0), nr, it->b_panel);
    return it->b_panel;
}

/* The unfused epilogue of a block on the grid, whose tiles went to y in place (gemm_block's
 * grid_wp): the block's valid pixels are one run of each filter's plane, [first, end), one
 * call for all its rows (per out_w-wide piece, LeNet's 28, the AVX-512 loop ran mostly in its
 * scalar remainder). */
static void FC_FN(gemm_item_grid_post)(FC_FN(gemm_block) *blk)
{
    const FC_FN(gemm_item_ctx) *it = blk->ctx;
    const FC_FN(gemm_job) *job = it->job;
    const int64_t wp = job->grid.wp, w = job->out_w;
    /* grid pixel p -> output pixel, the junk columns of a row onto its last valid one's
     * successor (first) or itself (end) */
    const int64_t p = it->pix0, q = it->pix0 + blk->cols - 1;
    const int64_t first = p / wp * w + fc_min_i64(p % wp, w);
    const int64_t end = q / wp * w + fc_min_i64(q % wp + 1, w);
    if (end > first)
        FC_FN(epilogue_apply)(job->epi, blk->c + first, blk->rows, end - first, blk->ldc, 1);
}

/* The store of a grid block computed on a scratch C (fc_gemm_grid.c_scratch): each grid
 * row's valid run of every filter's row to y (the junk columns skipped), then the unfused
 * epilogue on y as gemm_item_grid_post. */
static void FC_FN(gemm_item_grid_store)(FC_FN(gemm_block) *blk)
{
    const FC_FN(gemm_item_ctx) *it = blk->ctx;
    const FC_FN(gemm_job) *job = it->job;
    const int64_t wp = job->grid.wp, w = job->out_w, pixels = job->pixels;
    for (int64_t j = 0, at = it->pix0; j < blk->cols;) {
        const int64_t ow = at % wp;
        if (ow >= w) { /* junk columns: never stored */
            j += wp - ow;
            at += wp - ow;
            continue;
        }
        const int64_t n = fc_min_i64(w - ow, blk->cols - j);
        FC_REAL *y = it->y_group + at / wp * w + ow;
        for (int64_t i = 0; i < blk->rows; i++)
            FC_FN(copy_run)(y + i * pixels, blk->c + i * blk->ldc + j, n);
        j += n;
        at += n;
    }
    if (job->epi->post) {
        blk->c = it->y_group;
        blk->ldc = pixels;
        FC_FN(gemm_item_grid_post)(blk);
    }
}

/* The epilogue of a folded C: each row's runs of one image to that image's plane. */
static void FC_FN(gemm_item_fold_store)(FC_FN(gemm_block) *blk)
{
    const FC_FN(gemm_item_ctx) *it = blk->ctx;
    const FC_FN(gemm_job) *job = it->job;
    const int64_t pixels = job->pixels;
    for (int64_t j = 0; j < blk->cols;) {
        const int64_t col = it->pix0 + j, n = col / pixels, pix = col % pixels;
        const int64_t len = fc_min_i64(pixels - pix, blk->cols - j);
        FC_REAL *y = it->y_group + n * job->p->k * pixels + pix;
        for (int64_t i = 0; i < blk->rows; i++)
            FC_FN(copy_run)(y + i * pixels, it->c_grid + i * blk->ldc + j, len);
        if (job->epi->post) FC_FN(epilogue_apply)(job->epi, y, blk->rows, len, pixels, 1);
        j += len;
    }
}

/* The end of the rows [pix0 / wp, end) of the (phase) planes that grid pixels [pix0, pix0 +
 * cols) read: the rows of the pixels, the taps' (R - 1) * dilation_h / sh more, and the row
 * the junk columns of the last one read into. */
static int64_t FC_FN(grid_strip_row_end)(const fc_conv2d_params *p, const fc_gemm_grid *grid,
                                         int64_t pix0, int64_t cols)
{
    const int64_t taps = (p->r - 1) * p->dilation_h / p->stride_h;
    return fc_min_i64((pix0 + cols - 1) / grid->wp + taps + 2, grid->hp);
}

/* Phase 0 with a shared strip (job->shared_strip, fc_gemm_grid.whole_strip: one image, one
 * group, so that every item reads rows of the same planes): task i copies its range of the
 * channels, all their rows, padding and slack zeroed. */
static void FC_FN(gemm_strip_task)(const FC_FN(gemm_job) *job, int64_t i)
{
    const fc_conv2d_params *p = job->p;
    const int64_t per_channel = p->stride_h * p->stride_w * job->strip_plane;
    int64_t c0, c1;
    fc_task_range(job->cg, job->strip_tasks, i, &c0, &c1);
    const int64_t end = c1 == job->cg ? job->planes_len : c1 * per_channel;
    FC_REAL *strip = job->strip + c0 * per_channel;
    memset(strip, 0, (size_t)(end - c0 * per_channel) * sizeof(FC_REAL));
    FC_FN(fill_grid_strip)(p, job->x + c0 * p->h * p->w, c1 - c0, job->grid.wp, 0,
                           FC_FN(grid_strip_row_end)(p, &job->grid, 0, job->columns),
                           job->grid.strip_rows, strip);
}

/* Phase 2 * ch's tasks that pack weight panels of chunk ch: none when the items read them in
 * place (job->a_len) */
static int64_t FC_FN(gemm_weight_tasks)(const FC_FN(gemm_job) *job, int64_t ch)
{
    const int64_t first = ch * job->chunk;
    const int64_t count = fc_min_i64(job->panels, first + job->chunk) - first;
    return job->a_len > 0 ? 0 : fc_min_i64(job->pack_tasks, count);
}

/* Phase 2 * ch packs the weight panels of chunk ch in gemm_weight_tasks ranges, then
 * (job->shared_strip: one chunk) fills the strip in job->strip_tasks more tasks. */
static void FC_FN(gemm_pack_task)(const FC_FN(gemm_job) *job, int64_t ch, int64_t i)
{
    const int64_t weight_tasks = FC_FN(gemm_weight_tasks)(job, ch);
    if (i >= weight_tasks) {
        FC_FN(gemm_strip_task)(job, i - weight_tasks);
        return;
    }
    const int64_t first = ch * job->chunk;
    const int64_t count = fc_min_i64(job->panels, first + job->chunk) - first;
    int64_t begin, end;
    fc_task_range(count, weight_tasks, i, &begin, &end);
    FC_FN(pack_weight_panels)(job->p, job->weight, job->mr, first, begin, end, job->packed_w);
}

/* Phase 2 * ch + 1 computes item `item` of chunk ch: (group of the chunk, m range, image,
 * block of output pixels), for the m tiles of that range in the chunk, over the whole
 * reduction: one block of the frame.  The range is outermost so that consecutive items (of
 * the next image) find the range's A panels still in the cache. */
static void FC_FN(gemm_item)(FC_FN(gemm_job) *job, int64_t ch, int64_t item, int t)
{
    const fc_conv2d_params *p = job->p;
    const fc_gemm_grid grid = job->grid;
    const int64_t mr = job->mr, nr = job->nr, cg = job->cg, kg = job->kg;
    const int64_t m_tiles = job->m_tiles, blocks = job->blocks;
    FC_FN(gemm_item_ctx) it = {job};
    it.b_panel = job->scratch + t * job->scratch_per_thread;
    FC_REAL *edge_tile = it.b_panel + job->b_len;
    it.c_grid = edge_tile + mr * nr;
    FC_REAL *strip = it.c_grid + job->c_len + job->a_len;
    if (job->planes_len > 0 && !job->shared_strip && job->strip_held[t] < 0)
        memset(strip, 0, (size_t)job->planes_len * sizeof(FC_REAL));
    /* this chunk: panels [first, last), i.e. m tiles of groups [g_first, g_last] */
    const int64_t first = ch * job->chunk, last = fc_min_i64(job->panels, first + job->chunk);
    const int64_t g_first = first / m_tiles;
    /* (range, image, block), the range outermost; or (gemm_split_ranges) innermost, so that
     * a thread that runs consecutive items (the other one late) stays on one strip */
    const int64_t ri = job->ranges_inner ? job->ranges : 1, rest = item / ri;
    const int64_t block = rest % blocks, n = rest / blocks % job->item_images;
    const int64_t range = job->ranges_inner ? rest / (job->item_images * blocks) * ri + item % ri
                                            : item / (job->item_images * blocks);
    const int64_t g = g_first + range / job->ranges;
    int64_t tile0, tile_end, r_begin, r_end;
    fc_task_range(job->tiles, blocks, block, &tile0, &tile_end);
    fc_task_range(m_tiles, job->ranges, range % job->ranges, &r_begin, &r_end);
    const int64_t pix0 = it.pix0 = tile0 * nr;
    const int64_t cols = fc_min_i64(tile_end * nr, job->columns) - pix0;
    const int64_t mt_begin = fc_max_i64(first - g * m_tiles, r_begin);
    const int64_t mt_end = fc_min_i64(last - g * m_tiles, r_end);
    if (mt_begin >= mt_end) return; /* the range lies outside the chunk */
    it.x_group = job->x + (n * p->c + g * cg) * p->h * p->w;
    it.y_group = job->y + (n * p->k + g * kg + mt_begin * mr) * job->pixels;
    it.a = job->packed_w + (g * m_tiles + mt_begin - first) * job->red * mr;
    if (job->a_len > 0) {
        it.a_buf = it.c_grid + job->c_len;
        it.w_rows = job->weight + (g * kg + mt_begin * mr) * job->red;
        it.w_live = kg - mt_begin * mr;
    }
    /* on the grid, B rows are runs of cg planes from grid_pix0 on */
    it.planes = it.x_group;
    it.plane_len = p->h * p->w;
    it.grid_pix0 = pix0;
    /* values readable from `planes` on: the rest of x, or the strip */
    it.readable = (p->n * p->c - n * p->c - g * cg) * p->h * p->w;
    if (job->planes_len > 0) {
        const int64_t row0 = job->shared_strip ? 0 : pix0 / grid.wp; /* all rows, or a block's */
        const int64_t held = (n * p->groups + g) * blocks + block;
        if (job->shared_strip)
            strip = job->strip; /* filled by phase 0 */
        else if (job->strip_held[t] != held)
            FC_FN(fill_grid_strip)(p, it.x_group, cg, grid.wp, row0,
                                   FC_FN(grid_strip_row_end)(p, &grid, pix0, cols) - row0,
                                   grid.strip_rows, strip);
        job->strip_held[t] = held;
        it.planes = strip;
        it.plane_len = job->strip_plane;
        it.readable = job->planes_len;
        it.grid_pix0 = pix0 - row0 * grid.wp;
    }
    FC_FN(gemm_block) blk = {&job->cfg, job->red, job->kc_max, mt_end - mt_begin,
                             fc_min_i64(mt_end * mr, kg) - mt_begin * mr, cols};
    blk.a_panels = FC_FN(gemm_item_a);
    blk.b_pack = grid.on ? NULL : FC_FN(gemm_item_pack_b);
    blk.b_panel = grid.on ? FC_FN(gemm_item_b_grid) : NULL;
    if (job->fold) { /* folded: whole tiles on the block's C, to the images at the end */
        blk.c = it.c_grid;
        blk.ldc = job->nc;
        blk.c_padded = 1;
        blk.store = FC_FN(gemm_item_fold_store);
    } else if (grid.c_scratch) { /* whole tiles on the block's C, scattered to y at the end */
        blk.c = it.c_grid;
        blk.ldc = job->nc;
        blk.c_padded = 1;
        blk.store = FC_FN(gemm_item_grid_store);
    } else if (grid.on && grid.scatter) {
        /* the grid's valid columns straight to y (a scratch C scattered after the block was
         * 10% of resnet_7x7s2, 4.5% of alexnet_c1 at 1 thread) */
        blk.c = it.y_group;
        blk.ldc = job->pixels;
        blk.grid_wp = grid.wp;
        blk.grid_w = job->out_w;
        blk.grid_pix0 = pix0;
        if (job->epi->post) blk.store = FC_FN(gemm_item_grid_post);
    } else {
        blk.c = it.y_group + pix0;
        blk.ldc = job->pixels;
    }
    blk.edge = edge_tile;
    blk.epilogue.init = job->bias_panels ? job->bias_panels + (g * m_tiles + mt_begin) * mr : NULL;
    blk.epilogue.fused = job->epi->fused;
    blk.epilogue.post = job->epi->post ? job->epi : NULL;
    blk.ctx = &it;
    FC_FN(gemm_run_block)(&blk);
}

static void FC_FN(gemm_task)(void *ctx, int64_t phase, int64_t task, int thread)
{
    if (phase % 2 == 0)
        FC_FN(gemm_pack_task)(ctx, phase / 2, task);
    else
        FC_FN(gemm_item)(ctx, phase / 2, task, thread);
}

static fc_status FC_FN(conv2d_gemm)(const fc_conv2d_params *p, int64_t out_h, int64_t out_w,
                                    const FC_REAL *x, const FC_REAL *weight,
                                    const fc_epi *epi, FC_REAL *y)
{
    const FC_REAL *bias = epi->bias;
    FC_FN(gemm_job) job = {p, out_w, x, weight, y, epi, fc_kernels()->FC_MEMBER(gemm)};
    const int64_t mr = job.mr = job.cfg.mr, nr = job.nr = job.cfg.nr;
    const int64_t cg = job.cg = p->c / p->groups, kg = job.kg = p->k / p->groups;
    const int64_t red = job.red = cg * p->r * p->s;
    job.pixels = out_h * out_w;
    const int64_t m_tiles = job.m_tiles = fc_ceil_div(kg, mr);
    const int64_t panels = job.panels = p->groups * m_tiles;
    const int64_t images = p->n * p->groups;
    int threads;
    fc_gemm_plan plan;
    fc_gemm_grid grid;
    FC_RETURN_IF_ERROR(FC_FN(gemm_setup)(p, out_h, out_w, &threads, &plan, &grid));
    job.fold = FC_FN(gemm_fold)(p, out_h, out_w, threads, &grid, &plan);
    if (job.fold) grid.on = grid.c_scratch = 0;
    job.grid = grid;
    job.kc_max = plan.kc;
    job.item_images = job.fold ? 1 : p->n;
    /* the columns computed: output pixels (of all the images, folded), or grid pixels (junk
     * columns included) */
    job.columns = grid.on ? grid.pixels : job.pixels * (p->n / job.item_images);
    job.tiles = fc_ceil_div(job.columns, nr);
    /* packed panels (off the grid, not folded): each item packs its block's B, which more
     * ranges of filters (gemm_split_ranges) would pack again per range; more blocks of pixels
     * give the team its items instead.  Not only at stride_w 1 with the member's vector runs
     * (FC_GEMM_PACKED_MIN_FILTERS): ResNet's 1x1 stride-2 downsamples (off the grid: one tap
     * per phase plane) ran at batch 1 on 2 threads as 4-8 ranges of 1-2 blocks, each block's
     * strided B packed once per range.  Measured on the 2-core AVX2 EPYC (interleaved medians
     * of 101, the other core busy with another process; 1 thread unchanged, 0.19-0.21 ms),
     * 2 threads wall / CPU: 64 -> 128 on 56x56 0.51 -> 0.32 / 0.35 -> 0.25 ms, 128 -> 256 on
     * 28x28 0.54 -> 0.28 / 0.37 -> 0.21, 256 -> 512 on 14x14 0.38 -> 0.29 / 0.37 -> 0.27. */
    const int packed_b = !grid.on && !job.fold;
    if (job.fold) {
        /* folded, one range: each range would pack the block's B again */
        job.ranges = 1;
        job.ranges_inner = 0;
    } else {
        const int64_t l2_ranges = FC_FN(gemm_m_ranges)(m_tiles, red, mr, images, threads);
        job.ranges = packed_b ? l2_ranges
                              : FC_FN(gemm_split_ranges)(l2_ranges, m_tiles, images, job.tiles,
                                                         nr, plan.nc, threads);
        job.ranges_inner = job.ranges > l2_ranges;
    }
    const int64_t item_groups = job.item_images * p->groups * job.ranges;
    job.blocks = FC_FN(gemm_pixel_blocks)(job.tiles, nr, plan.nc, item_groups, threads);
    const int64_t want = FC_GEMM_ITEMS_PER_THREAD * (int64_t)threads;
    if (packed_b && threads > 1 && item_groups * job.blocks < want)
        job.blocks = fc_min_i64(job.tiles, fc_ceil_div(fc_ceil_div(want, item_groups), threads) *
                                               threads);
    const int64_t nc = job.nc = fc_ceil_div(job.tiles, job.blocks) * nr; /* the widest block */
    const int64_t chunk = job.chunk = plan.chunk_panels, chunks = fc_ceil_div(panels, chunk);
    /* When each panel meets one item (one image, one block of pixels: a small map at batch
     * 1), the items read the weights in place (gemm_item_a): a shared pack would write all of
     * A out only to read it back (512 filters of 512 x 3 x 3 on 7x7: the pack was a quarter of
     * the time), and packing it per item a kc block at a time still cost a pass over A (28%
     * of resnet_3x3_7x7 at 1 thread; in place 2.2 -> 1.8 ms, resnet_3x3s2 0.86 -> 0.80 ms,
     * 2-core Xeon, interleaved).  a_len: room for one partial panel, packed. */
    const int64_t a_len = job.kc_max * mr;
    job.a_len = chunk == panels && p->n * job.blocks == 1 &&
                        fc_mul_saturating(threads, a_len) <= chunk * red * mr
                    ? a_len
                    : 0;
    /* weight panels are packed in ranges of some 2^14 values, the claims' cost negligible */
    job.pack_tasks = threads == 1 ? 1 : fc_task_count(chunk, red * mr, (int64_t)1 << 14);
    /* per thread: the B panel, one MR x NR tile for the edges of the output, then on the grid
     * the item's partial A panel of a kc block (a_len) and the strip of padded rows
     * (padded_copy); folded or on a scratch C (fc_gemm_grid.c_scratch), the C of a block */
    job.c_len = job.fold || grid.c_scratch ? m_tiles * mr * nc : 0;
    job.strip_plane = grid.on && grid.padded_copy ? grid.strip_rows * grid.wp : 0;
    /* NR values of slack past the strip: the last tile of a block reads its junk columns */
    job.planes_len =
        job.strip_plane > 0 ? cg * p->stride_h * p->stride_w * job.strip_plane + nr : 0;
    job.b_len = job.kc_max * (grid.on ? nr : nc); /* the grid packs its last tile only */
    /* batch 1, one group (fc_gemm_grid.whole_strip): one strip for the team, filled in the
     * phase that packs the weights (each thread copied its blocks' rows: 5% of resnet_3x3s2's
     * time at 1 thread, twice over at 2) */
    job.shared_strip = grid.on && grid.whole_strip && job.planes_len > 0;
    job.scratch_per_thread = job.b_len + mr * nr + job.c_len + job.a_len +
                             (job.shared_strip ? 0 : job.planes_len);
    /* shared: the packed weights (unless read in place), then the strip */
    const int64_t weights_len = job.a_len == 0 ? chunk * red * mr : 0;
    FC_RETURN_IF_ERROR(FC_FN(alloc_workspace)(
        1, weights_len + (job.shared_strip ? job.planes_len : 0), 1, threads,
        job.scratch_per_thread, &job.packed_w, &job.scratch));
    job.strip = job.packed_w + weights_len;
    job.strip_tasks = job.shared_strip ? fc_min_i64(cg, 4 * (int64_t)threads) : 0;
    /* on the grid: row (c, r, s) of B starts grid_rows[(c * R + r) * S + s] after the pixel
     * (fc_gemm_grid: at phase (vr % sh, vs % sw) of plane c, vr / sh rows and vs / sw on);
     * then the task counts of the phases (pack, compute per chunk), the bias as MR-value
     * panels (the microkernel's init, zero past each group's last filter) and what the
     * strips hold */
    const int64_t bias_len = bias ? panels * mr : 0;
    ptrdiff_t *grid_rows = fc_aligned_alloc(
        (grid.on ? 2 * red : 0) * (int64_t)sizeof(ptrdiff_t) +
        (2 * chunks + threads) * (int64_t)sizeof(int64_t) + bias_len * (int64_t)sizeof(FC_REAL));
    if (!grid_rows) {
        fc_aligned_free(job.packed_w);
        fc_aligned_free(job.scratch);
        return FC_ERR_OUT_OF_MEMORY;
    }
    int64_t *tasks = (int64_t *)(grid_rows + (grid.on ? 2 * red : 0));
    job.strip_held = tasks + 2 * chunks;
    for (int t = 0; t < threads; t++) job.strip_held[t] = -1;
    FC_REAL *bias_panels = (FC_REAL *)(job.strip_held + threads);
    for (int64_t i = 0; i < bias_len; i++) {
        const int64_t g = i / (m_tiles * mr), f = i % (m_tiles * mr);
        bias_panels[i] = f < kg ? bias[g * kg + f] : 0;
    }
    job.bias_panels = bias ? bias_panels : NULL;
    if (grid.on) {
        const int64_t plane_len = job.strip_plane > 0 ? job.strip_plane : p->h * p->w;
        const int64_t sh = p->stride_h, sw = p->stride_w;
        /* the R x S taps' offsets within a plane once, then plane by plane: the divisions
         * per row of B cost 2.4% of resnet_3x3_7x7 (4608 rows, 1 thread) */
        const int64_t taps = p->r * p->s, step = sh * sw * plane_len;
        for (int64_t i = 0; i < fc_min_i64(taps, red); i++) {
            const int64_t vr = i / p->s * p->dilation_h, vs = i % p->s * p->dilation_w;
            grid_rows[i] = (ptrdiff_t)((vr % sh * sw + vs % sw) * plane_len + vr / sh * grid.wp +
                                       vs / sw);
        }
        for (int64_t i = taps; i < red; i++) grid_rows[i] = grid_rows[i - taps] + step;
        for (int64_t i = 0; i < red; i++)
            /* at a stride the offsets are not increasing within a plane's taps (phases) */
            grid_rows[red + i] = i > 0 && grid_rows[red + i - 1] > grid_rows[i]
                                     ? grid_rows[red + i - 1]
                                     : grid_rows[i];
        job.grid_reach = grid_rows + red;
    }
    job.grid_rows = grid_rows;
    for (int64_t ch = 0; ch < chunks; ch++) {
        const int64_t first = ch * chunk, last = fc_min_i64(panels, first + chunk);
        tasks[2 * ch] = FC_FN(gemm_weight_tasks)(&job, ch) + (ch == 0 ? job.strip_tasks : 0);
        tasks[2 * ch + 1] =
            ((last - 1) / m_tiles - first / m_tiles + 1) * job.ranges * job.item_images *
            job.blocks;
    }
    const fc_parallel_job parallel = {FC_FN(gemm_task), &job, 2 * chunks, tasks};
    fc_parallel_run(threads, &parallel);
    fc_aligned_free(job.packed_w);
    fc_aligned_free(job.scratch);
    fc_aligned_free(grid_rows);
    return FC_OK;
}

/* The smallest max_workspace_bytes (per thread) conv2d_gemm accepts for these parameters. */
static int64_t FC_FN(conv2d_gemm_min_workspace)(const fc_conv2d_params *p, int64_t out_h,
                                                int64_t out_w)
{
    int threads;
    fc_gemm_plan plan;
    fc_gemm_grid grid;
    (void)FC_FN(gemm_setup)(p, out_h, out_w, &threads, &plan, &grid);
    return plan.min_bytes;
}

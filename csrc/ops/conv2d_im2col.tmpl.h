/* conv2d drivers on the packed GEMM: im2col and pointwise (instantiated by conv2d.c).
 *
 * Per group g the convolution is the GEMM  Y_g[Kg x PQ] = W_g[Kg x red] * col_g[red x PQ]
 * with red = Cg * R * S.  The weights are packed once per call into MR-filter panels (A).  A
 * work item is (image, group, block of nc output pixels): its thread packs the columns of
 * those pixels straight into a kc x nc panel (B) -- im2col fused into the packing for
 * FC_CONV_IM2COL, a plain copy of the input rows for FC_CONV_POINTWISE, whose col_g is the
 * input itself -- and runs the microkernel over every MR x NR tile of the block, one kc-deep
 * slice of the reduction at a time.  No im2col matrix is ever built.
 *
 * Cache blocking (Zen 5 EPYC of the CI machine: 48 KiB L1d, 1 MiB L2 per core): one MR x kc
 * A panel stays in L1 while the microkernel sweeps the NR-wide sub-panels of B, which stay
 * in L2 (kc * nc values) for every A panel of the group; the dispatch table's kc and nc keep
 * B well inside L2.
 *
 * Workspace: the packed weights (shared) and, per thread, the B panel and one MR x NR edge
 * tile.  Everything is sized to fit threads x max_workspace_bytes: B shrinks first (nc, then
 * kc), then the weights are packed a chunk of panels at a time (every item re-packs its B
 * per chunk: slower, never wrong).  Storing the accumulators between kc blocks is exact, so
 * neither the blocking nor the thread count changes any result. */

/* 16 MiB per thread when the caller does not say: far above what the default blocking needs
 * (kc * nc + the weights of a ResNet layer), far below any input worth blocking. */
#define FC_GEMM_DEFAULT_WORKSPACE ((int64_t)16 << 20)

#ifndef FC_GEMM_PLAN_DEFINED
#define FC_GEMM_PLAN_DEFINED
typedef struct fc_gemm_plan {
    int64_t kc, nc;         /* reduction rows and pixel columns of one B panel */
    int64_t chunk_panels;   /* A panels (MR filters x red) packed at once */
    int64_t min_bytes;      /* the smallest max_workspace_bytes per thread that would do */
} fc_gemm_plan;
#endif

/* The blocking for `threads` threads within threads x limit bytes, or
 * FC_ERR_WORKSPACE_TOO_SMALL; plan->min_bytes is set either way.  B shrinks (nc, then kc)
 * until all the weights fit beside it, but not below a floor where the microkernel's loads
 * and stores of C would start to dominate: past it the weights are chunked instead. */
static fc_status FC_FN(gemm_plan)(int64_t mr, int64_t nr, int64_t kc_max, int64_t nc_max,
                                  int64_t red, int64_t panels, int threads, int64_t limit,
                                  fc_gemm_plan *plan)
{
    const int64_t size = (int64_t)sizeof(FC_REAL);
    const int64_t budget = fc_mul_saturating(threads, limit) / size; /* elements */
    const int64_t panel = fc_mul_saturating(mr, red); /* elements of one A panel */
    int64_t kc = fc_min_i64(red, kc_max), nc = nc_max;
    const int64_t kc_floor = fc_min_i64(kc, 64), nc_floor = fc_min_i64(nc, 4 * nr);
    /* the least: one A panel, and per thread a 1-deep, NR-wide B panel beside its edge tile */
    const int64_t least = fc_mul_saturating(threads, nr + mr * nr) + panel;
    plan->min_bytes = fc_ceil_div(fc_mul_saturating(least, size), threads);
    if (least > budget) return FC_ERR_WORKSPACE_TOO_SMALL;
    for (;;) {
        const int64_t scratch = fc_mul_saturating(threads, fc_mul_saturating(kc, nc) + mr * nr);
        const int64_t held = scratch <= budget - panel ? (budget - scratch) / panel : 0;
        if (held >= panels || (held > 0 && kc <= kc_floor && nc <= nc_floor)) {
            plan->kc = kc;
            plan->nc = nc;
            plan->chunk_panels = fc_min_i64(held, panels);
            return FC_OK;
        }
        if (nc > nc_floor) nc = fc_max_i64(nc_floor, nc / 2 / nr * nr);
        else if (kc > kc_floor) kc = fc_max_i64(kc_floor, kc / 2);
        else if (nc > nr) nc = fc_max_i64(nr, nc / 2 / nr * nr);
        else kc = kc / 2; /* kc = 1, nc = nr fits: budget >= least */
    }
}

/* The team size and the blocking of conv2d_gemm for these parameters. */
static fc_status FC_FN(gemm_setup)(const fc_conv2d_params *p, int64_t out_h, int64_t out_w,
                                   int *threads, fc_gemm_plan *plan)
{
    const FC_FN(gemm_config) cfg = fc_kernels()->FC_MEMBER(gemm);
    const int64_t kg = p->k / p->groups, red = (p->c / p->groups) * p->r * p->s;
    const int64_t panels = p->groups * fc_ceil_div(kg, cfg.mr);
    const int64_t tiles = p->n * p->groups * fc_ceil_div(out_h * out_w, cfg.nr);
    /* multiply-adds, counting the rounded-up tiles: close enough to size the team */
    const int64_t macs = fc_mul_saturating(fc_mul_saturating(tiles * cfg.nr, kg), red);
    *threads = (int)fc_min_i64(fc_region_threads(macs), fc_max_i64(tiles, panels));
    const int64_t limit =
        p->max_workspace_bytes > 0 ? p->max_workspace_bytes : FC_GEMM_DEFAULT_WORKSPACE;
    return FC_FN(gemm_plan)(cfg.mr, cfg.nr, cfg.kc, fc_max_i64(cfg.nc, cfg.nr), red, panels,
                            *threads, limit, plan);
}

/* Panels [first, first + count) of the packed weights (panel = group * m_tiles + m tile),
 * this thread's share of them. */
static void FC_FN(pack_weight_chunk)(const fc_conv2d_params *p, const FC_REAL *weight,
                                     int64_t mr, int64_t first, int64_t count, FC_REAL *packed,
                                     int t, int team)
{
    const int64_t kg = p->k / p->groups, red = (p->c / p->groups) * p->r * p->s;
    const int64_t m_tiles = fc_ceil_div(kg, mr);
    int64_t begin, end;
    fc_partition(count, team, t, &begin, &end);
    for (int64_t i = begin; i < end; i++) {
        const int64_t g = (first + i) / m_tiles, k0 = ((first + i) % m_tiles) * mr;
        FC_FN(pack_weight_panel)(weight + (g * kg + k0) * red, fc_min_i64(mr, kg - k0), red, mr,
                                 packed + i * red * mr);
    }
}

/* n values from src[0], src[stride], ... (or zeros when src is NULL) to dst. */
static inline void FC_FN(put_run)(FC_REAL *dst, const FC_REAL *src, int64_t stride, int64_t n)
{
    if (!src)
        for (int64_t i = 0; i < n; i++) dst[i] = 0;
    else if (stride == 1 && n * (int64_t)sizeof(FC_REAL) >= 64)
        memcpy(dst, src, (size_t)n * sizeof(FC_REAL)); /* libc's wide moves */
    else if (stride == 1 && n * (int64_t)sizeof(FC_REAL) >= 16) {
        /* short runs: 16-byte moves, the last one overlapping; no loop tail, no call */
        const int64_t per = 16 / (int64_t)sizeof(FC_REAL);
        int64_t i = 0;
        for (; i + per <= n; i += per) memcpy(dst + i, src + i, 16);
        if (i < n) memcpy(dst + n - per, src + n - per, 16);
    } else if (stride == 1)
        for (int64_t i = 0; i < n; i++) dst[i] = src[i];
    else if (stride == 2) /* a constant stride lets the compiler gather with shuffles */
        for (int64_t i = 0; i < n; i++) dst[i] = src[2 * i];
    else if (stride == 4)
        for (int64_t i = 0; i < n; i++) dst[i] = src[4 * i];
    else
        for (int64_t i = 0; i < n; i++) dst[i] = src[i * stride];
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
 * others zeros; no division per element or per run. */
static void FC_FN(pack_im2col_panel)(const fc_conv2d_params *p, int64_t out_w,
                                     const FC_REAL *x_group, int64_t red0, int64_t kc,
                                     int64_t pix0, int64_t cols, int64_t nr, FC_REAL *panel)
{
    const int64_t taps = p->r * p->s, sh = p->stride_h, sw = p->stride_w;
    const int64_t step = kc * nr, oh0 = pix0 / out_w, ow0 = pix0 % out_w;
    int64_t c = red0 / taps, r = (red0 % taps) / p->s, s = red0 % p->s;
    for (int64_t pk = 0; pk < kc; pk++) {
        const FC_REAL *plane = x_group + c * p->h * p->w;
        const int64_t dh = r * p->dilation_h - p->pad_top, dw = s * p->dilation_w - p->pad_left;
        /* output columns q whose tap q * sw + dw lies in [0, W) */
        const int64_t q_lo = dw < 0 ? fc_ceil_div(-dw, sw) : 0;
        const int64_t q_hi = p->w - dw <= 0 ? 0 : (p->w - dw - 1) / sw + 1;
        FC_REAL *dst = panel + pk * nr;
        int64_t room = nr, oh = oh0, ow = ow0;
        for (int64_t j = 0; j < cols;) {
            const int64_t n = fc_min_i64(fc_min_i64(out_w - ow, room), cols - j);
            const int64_t ih = oh * sh + dh;
            if (ih < 0 || ih >= p->h) {
                FC_FN(put_run)(dst, NULL, 0, n);
            } else {
                const int64_t lo = fc_min_i64(fc_max_i64(q_lo - ow, 0), n);
                const int64_t hi = fc_max_i64(fc_min_i64(q_hi - ow, n), lo);
                FC_FN(put_run)(dst, NULL, 0, lo);
                FC_FN(put_run)(dst + lo, plane + ih * p->w + (ow + lo) * sw + dw, sw, hi - lo);
                FC_FN(put_run)(dst + hi, NULL, 0, n - hi);
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

/* B for FC_CONV_POINTWISE: col_g is x_group itself (red = Cg rows of H * W pixels). */
static void FC_FN(pack_pointwise_panel)(int64_t plane, const FC_REAL *x_group, int64_t red0,
                                        int64_t kc, int64_t pix0, int64_t cols, int64_t nr,
                                        FC_REAL *panel)
{
    const int64_t step = kc * nr;
    for (int64_t pk = 0; pk < kc; pk++) {
        const FC_REAL *src = x_group + (red0 + pk) * plane + pix0;
        FC_REAL *dst = panel + pk * nr;
        int64_t room = nr;
        for (int64_t j = 0; j < cols;) {
            const int64_t n = fc_min_i64(room, cols - j);
            FC_FN(put_run)(dst, src + j, 1, n);
            j += n;
            FC_PANEL_ADVANCE(dst, room, n, step, nr);
        }
        if (room < nr) FC_FN(put_run)(dst, NULL, 0, room);
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

static fc_status FC_FN(conv2d_gemm)(const fc_conv2d_params *p, int64_t out_h, int64_t out_w,
                                    const FC_REAL *x, const FC_REAL *weight,
                                    const FC_REAL *bias, FC_REAL *y, int relu, int pointwise)
{
    const FC_FN(gemm_config) cfg = fc_kernels()->FC_MEMBER(gemm);
    const int64_t mr = cfg.mr, nr = cfg.nr;
    const int64_t cg = p->c / p->groups, kg = p->k / p->groups;
    const int64_t red = cg * p->r * p->s, pixels = out_h * out_w;
    const int64_t m_tiles = fc_ceil_div(kg, mr), panels = p->groups * m_tiles;
    const int64_t images = p->n * p->groups;
    int threads;
    fc_gemm_plan plan;
    FC_RETURN_IF_ERROR(FC_FN(gemm_setup)(p, out_h, out_w, &threads, &plan));
    const int64_t kc_max = plan.kc;
    const int64_t tiles = fc_ceil_div(pixels, nr);
    const int64_t blocks = FC_FN(gemm_pixel_blocks)(tiles, nr, plan.nc, images, threads);
    const int64_t nc = fc_ceil_div(tiles, blocks) * nr; /* the widest block */
    const int64_t chunk = plan.chunk_panels, chunks = fc_ceil_div(panels, chunk);
    /* per thread: the B panel, then one MR x NR tile for the edges of the output */
    const int64_t scratch_per_thread = kc_max * nc + mr * nr;
    FC_REAL *packed_w, *scratch;
    FC_RETURN_IF_ERROR(FC_FN(alloc_workspace)(chunk, red, mr, threads, scratch_per_thread,
                                              &packed_w, &scratch));

#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        const int t = fc_thread_index();
        const int team = fc_team_size();
        FC_REAL *b_panel = scratch + t * scratch_per_thread;
        FC_REAL *edge_tile = b_panel + kc_max * nc;
        for (int64_t ch = 0; ch < chunks; ch++) {
            /* this chunk: panels [first, last), i.e. m tiles of groups [g_first, g_last] */
            const int64_t first = ch * chunk, last = fc_min_i64(panels, first + chunk);
            const int64_t g_first = first / m_tiles, g_last = (last - 1) / m_tiles;
            const int64_t chunk_groups = g_last - g_first + 1;
            if (ch > 0) {
#pragma omp barrier
            }
            FC_FN(pack_weight_chunk)(p, weight, mr, first, last - first, packed_w, t, team);
#pragma omp barrier
            int64_t begin, end;
            fc_partition(p->n * chunk_groups * blocks, team, t, &begin, &end);
            for (int64_t item = begin; item < end; item++) {
                const int64_t n = item / (chunk_groups * blocks);
                const int64_t g = g_first + (item / blocks) % chunk_groups;
                /* block b: tiles [b * base + min(b, extra), ...) as fc_partition cuts them */
                const int64_t block = item % blocks, base = tiles / blocks, extra = tiles % blocks;
                const int64_t tile0 = block * base + fc_min_i64(block, extra);
                const int64_t pix0 = tile0 * nr;
                const int64_t cols =
                    fc_min_i64((tile0 + base + (block < extra ? 1 : 0)) * nr, pixels) - pix0;
                const int64_t mt_begin = fc_max_i64(first - g * m_tiles, 0);
                const int64_t mt_end = fc_min_i64(last - g * m_tiles, m_tiles);
                const FC_REAL *x_group = x + (n * p->c + g * cg) * p->h * p->w;
                FC_REAL *y_group = y + (n * p->k + g * kg) * pixels;
                for (int64_t red0 = 0; red0 < red; red0 += kc_max) {
                    const int64_t kc = fc_min_i64(kc_max, red - red0);
                    unsigned flags = red0 > 0 ? FC_GEMM_ACCUMULATE : 0;
                    if (relu && red0 + kc == red) flags |= FC_GEMM_RELU;
                    if (pointwise)
                        FC_FN(pack_pointwise_panel)(p->h * p->w, x_group, red0, kc, pix0, cols,
                                                    nr, b_panel);
                    else
                        FC_FN(pack_im2col_panel)(p, out_w, x_group, red0, kc, pix0, cols, nr,
                                                 b_panel);
                    for (int64_t mt = mt_begin; mt < mt_end; mt++) {
                        const int64_t m0 = mt * mr, rows = fc_min_i64(mr, kg - m0);
                        const FC_REAL *a =
                            packed_w + ((g * m_tiles + mt - first) * red + red0) * mr;
                        FC_REAL bias_tile[64]; /* mr <= 64, checked by test_gemm_kernels.py */
                        const FC_REAL *init = NULL;
                        if (bias) {
                            for (int64_t i = 0; i < mr; i++)
                                bias_tile[i] = i < rows ? bias[g * kg + m0 + i] : 0;
                            init = bias_tile;
                        }
                        for (int64_t j0 = 0; j0 < cols; j0 += nr) {
                            const int64_t width = fc_min_i64(nr, cols - j0);
                            const FC_REAL *b = b_panel + (j0 / nr) * kc * nr;
                            FC_REAL *c = y_group + m0 * pixels + pix0 + j0;
                            if (rows == mr && width == nr) {
                                cfg.ukernel((size_t)kc, a, b, c, (size_t)pixels, init, flags);
                                continue;
                            }
                            /* Edge of the output: run the full tile on scratch, keep the
                             * valid part.  Stale values outside it are never stored to y. */
                            if (flags & FC_GEMM_ACCUMULATE)
                                for (int64_t i = 0; i < rows; i++)
                                    for (int64_t jj = 0; jj < width; jj++)
                                        edge_tile[i * nr + jj] = c[i * pixels + jj];
                            cfg.ukernel((size_t)kc, a, b, edge_tile, (size_t)nr, init, flags);
                            for (int64_t i = 0; i < rows; i++)
                                for (int64_t jj = 0; jj < width; jj++)
                                    c[i * pixels + jj] = edge_tile[i * nr + jj];
                        }
                    }
                }
            }
        }
    }
    fc_aligned_free(packed_w);
    fc_aligned_free(scratch);
    return FC_OK;
}

/* The smallest max_workspace_bytes (per thread) conv2d_gemm accepts for these parameters. */
static int64_t FC_FN(conv2d_gemm_min_workspace)(const fc_conv2d_params *p, int64_t out_h,
                                                int64_t out_w)
{
    int threads;
    fc_gemm_plan plan;
    (void)FC_FN(gemm_setup)(p, out_h, out_w, &threads, &plan);
    return plan.min_bytes;
}

/* conv2d driver: Winograd F(4x4, 3x3), stride 1, dilation 1, float32 (instantiated by
 * conv2d.c with dtype_f32.h only; float64 is refused: FC_ERR_INVALID_ARGUMENT).
 *
 * The output is cut into 4x4 tiles (ceil(P/4) x ceil(Q/4) per image, the last ones partly
 * outside and clipped), each read from a 6x6 patch of the padded input.  Per group the
 * convolution becomes, for each of the 36 transformed positions xi,
 *     M_xi[Kg x tiles] = U_xi[Kg x Cg] * V_xi[Cg x tiles]
 * with U = G' g G'^T (the filters, kernels/winograd) and V = B^T d B (the patches), and
 * y = A^T M A fl(1/576) + bias per tile and filter.  The 36 GEMMs run on the packed GEMM
 * microkernel (kernels/gemm): U is packed once per call as MR-filter A panels, and V is
 * written by the input transform straight in the layout of one kc x NR B panel, so one work
 * item is NR GEMM columns ("slots", fc_wino_layout below): its GEMM tiles are whole.
 *
 * Work: the filters of each group are cut into k-blocks of kbt A panels.  Per chunk of
 * k-blocks (as many as the workspace holds) a phase transforms their filters (one task per
 * A panel, all 36 xi), then a phase runs the items (k-block, block of NR tiles): for each
 * slice of kc channels, copy the patches' input rows to a zero-padded strip, transform them to
 * V, run the 36 x kbt microkernel calls into M (accumulating over the slices), and finally
 * transform M to the output tiles, add the bias, apply ReLU, and store the valid pixels.
 * An item's tiles are whole tile rows of the batch side by side (small images share items)
 * or a run of a wide row.  The measured speed and accuracy: README, "Winograd".
 *
 * Determinism: every output element is computed by one item; its sum over the channels runs
 * c = 0 .. Cg - 1 in every plan (storing the accumulators between kc slices is exact), and
 * its transforms do not depend on the other tiles or filters of the item: results are
 * bitwise identical for any thread count, schedule and blocking.
 *
 * Workspace (threads x max_workspace_bytes, default 16 MiB per thread): U of a chunk of
 * k-blocks (36 kbt panels of MR x Cg floats each, shared) and per thread V (36 x kc x NR), M
 * (36 x kbt MR x NR), a strip (6 rows) and the output tiles of one filter (16 x NR).  kbt,
 * then kc shrink until one k-block fits; below kbt = 1, kc = 16 the call fails with
 * FC_ERR_WORKSPACE_TOO_SMALL (fc_conv2d_min_workspace tells the least). */

#define FC_WINO_DEFAULT_WORKSPACE ((int64_t)16 << 20)
/* A panels per k-block: 128 filters at MR = 8, so M (36 x 128 x NR) stays some 0.6 MiB and
 * the input transform is repeated at most Kg / 128 times per tile. */
#define FC_WINO_BLOCK_FILTERS 128

/* How tiles are grouped into items (blocks of NR GEMM columns, "slots"): a tile row of the
 * batch (image, tile row) is a run of consecutive tiles, transformed from one strip of 6
 * input rows.  Rows narrower than NR share an item: `rows` of them, row j at slot
 * j (tiles_w + 1), so that the strip holds them side by side with a 2-column gap (slot
 * tiles_w of each is junk: it reads the gap, and its GEMM column is never stored); one
 * input and one output transform call then covers all NR slots, whole vectors of tiles.
 * Rows of NR tiles or more are cut into `segments` near-equal runs, one per item. */
typedef struct fc_wino_layout {
    int64_t rows;     /* tile rows per item (1 when segments > 1) */
    int64_t segments; /* items per tile row (1 when rows > 1) */
    int64_t items;
} fc_wino_layout;

static void fc_wino_layout_of(int64_t tile_rows, int64_t tiles_w, int64_t nr, fc_wino_layout *l)
{
    l->segments = fc_ceil_div(tiles_w, nr);
    l->rows = l->segments > 1 ? 1 : fc_max_i64(1, (nr + 1) / (tiles_w + 1));
    l->items = fc_mul_saturating(fc_ceil_div(tile_rows, l->rows), l->segments);
}

/* Where a call's filters come from.  `weight` is (K, Cg, 3, 3) as the forward's, or, when
 * `transposed`, the weight of the convolution this one is the backward-data pass of: the
 * forward had Kg = this call's Cg filters of this call's Kg channels per group, so filter i's
 * channel c is the forward's filter c, channel i, turned by 180 degrees (the filter transform
 * reads it so: no copy of the weight).  `u`, when not NULL, holds every A panel transformed
 * already (fc_conv2d_winograd_prepare, layout fc_wino_panel_offset) and `weight` is unused. */
typedef struct fc_wino_filters {
    const float *weight;
    int transposed;
    const float *u;
} fc_wino_filters;

typedef struct fc_wino_plan {
    int threads;
    int64_t kbt;        /* A panels per k-block */
    int64_t kc;         /* channels per slice of the reduction */
    int64_t chunk;      /* k-blocks whose U is held at once */
    int64_t per_thread; /* floats of scratch per thread */
    int64_t min_bytes;  /* the least max_workspace_bytes per thread */
} fc_wino_plan;

typedef struct fc_wino_job {
    const fc_conv2d_params *p;
    int64_t out_h, out_w;
    const float *x, *bias;
    fc_wino_filters f;
    float *y;
    int relu;
    fc_f32_gemm_config gemm;
    fc_f32_winograd_config wino;
    fc_wino_plan plan;
    int64_t mr, nr, cg, kg, m_tiles, kblocks_per_group, blocks, tiles_h, tiles_w;
    fc_wino_layout lay;
    int64_t tblocks, ld, u_block, v_len, m_len;
    int64_t filter_stride, channel_stride; /* weight elements from filter i to i + 1, c to c + 1 */
    /* floats from one A panel of U to the next: the 36 xi of one panel of filters are
     * consecutive, a cache line apart (the filter transform's 36 streams: at 64 KiB apart
     * they had cost a ResNet 28x28 layer 10% of its time) */
    int64_t u_panel;
    /* floats between the 36 V_xi (M_xi): a cache line more than a panel, so that the
     * transforms' 36 streams, a multiple of 4 KiB apart otherwise, do not share L1 sets */
    int64_t v_stride, m_stride;
    float *u, *scratch;
    const int32_t *off_full, *off_last; /* filter offsets of a full and of the last A panel */
} fc_wino_job;

/* Floats of per-thread scratch for a plan: V, M (each 36 panels a cache line apart; + lanes of
 * slack: the output transform reads whole vectors), the strip, 4 output rows of NR tiles. */
static int64_t fc_wino_per_thread(int64_t kc, int64_t kbt, int64_t mr, int64_t nr, int64_t ld)
{
    return 36 * (kc * nr + 16) + 36 * (kbt * mr * nr + 16) + FC_WINOGRAD_MAX_LANES + 6 * ld +
           16 * nr;
}

/* prepared: U is the caller's (fc_wino_filters.u), outside the workspace. */
static fc_status fc_wino_setup(const fc_conv2d_params *p, int64_t out_h, int64_t out_w,
                               int prepared, fc_wino_plan *plan)
{
    const fc_f32_gemm_config gemm = fc_kernels()->f32_gemm;
    const int64_t mr = gemm.mr, nr = gemm.nr, cg = p->c / p->groups, kg = p->k / p->groups;
    const int64_t m_tiles = fc_ceil_div(kg, mr);
    const int64_t tiles = fc_mul_saturating(p->n, fc_mul_saturating(fc_ceil_div(out_h, 4),
                                                                    fc_ceil_div(out_w, 4)));
    fc_wino_layout lay;
    fc_wino_layout_of(p->n * fc_ceil_div(out_h, 4), fc_ceil_div(out_w, 4), nr, &lay);
    const int64_t tblocks = lay.items;
    const int64_t ld = FC_WINOGRAD_STRIP_COLS(nr);
    plan->min_bytes = 0;
    if (nr > 126) return FC_ERR_INVALID_ARGUMENT; /* no member has; fc_wino_item's runs[] */
    /* multiply-adds of the 36 GEMMs: sizes the team */
    const int64_t macs = fc_mul_saturating(fc_mul_saturating(tiles, 36 * p->k), cg);
    int64_t kbt = fc_min_i64(m_tiles, fc_max_i64(1, FC_WINO_BLOCK_FILTERS / mr));
    plan->threads = (int)fc_min_i64(fc_region_threads(macs),
                                    fc_mul_saturating(tblocks, p->groups * m_tiles));
    /* few tiles (a small image): smaller k-blocks, so that every thread has items */
    while (kbt > 1 && fc_mul_saturating(tblocks, p->groups * fc_ceil_div(m_tiles, kbt)) <
                          2 * plan->threads)
        kbt = fc_ceil_div(kbt, 2);
    int64_t kc = fc_min_i64(cg, gemm.kc);
    const int64_t limit =
        p->max_workspace_bytes > 0 ? p->max_workspace_bytes : FC_WINO_DEFAULT_WORKSPACE;
    const int64_t budget = fc_mul_saturating(plan->threads, limit) / (int64_t)sizeof(float);
    /* the offsets tables (int32, 2 x (Cg MR + lanes)) count as floats */
    const int64_t offsets = 2 * (fc_mul_saturating(cg, mr) + FC_WINOGRAD_MAX_LANES);
    const int64_t least_kc = fc_min_i64(cg, 16);
    const int64_t least =
        fc_mul_saturating(plan->threads, fc_wino_per_thread(least_kc, 1, mr, nr, ld)) +
        (prepared ? 0 : fc_mul_saturating(36 * mr, cg) + offsets);
    plan->min_bytes = fc_ceil_div(fc_mul_saturating(least, sizeof(float)), plan->threads);
    for (;;) {
        const int64_t per = fc_wino_per_thread(kc, kbt, mr, nr, ld);
        const int64_t u_block =
            prepared ? 0 : fc_mul_saturating(36 * kbt, fc_mul_saturating(mr, cg) + 16);
        const int64_t room =
            budget - fc_mul_saturating(plan->threads, per) - (prepared ? 0 : offsets);
        if (room >= u_block) {
            const int64_t blocks = p->groups * fc_ceil_div(m_tiles, kbt);
            plan->kbt = kbt;
            plan->kc = kc;
            plan->per_thread = per;
            plan->chunk = prepared ? blocks : fc_min_i64(blocks, room / u_block);
            return FC_OK;
        }
        if (kbt > 1) kbt = fc_ceil_div(kbt, 2);
        else if (kc > least_kc) kc = fc_max_i64(least_kc, kc / 2);
        else return FC_ERR_WORKSPACE_TOO_SMALL;
    }
}

/* A panel mt of group g transformed: the 36 panels U_xi at u + xi * u_panel. */
static void fc_wino_transform_panel(const fc_wino_job *job, int64_t g, int64_t mt, float *u)
{
    const float *w = job->f.weight + g * job->kg * job->cg * 9 + mt * job->mr * job->filter_stride;
    job->wino.filter((size_t)(job->cg * job->mr), w,
                     mt == job->m_tiles - 1 ? job->off_last : job->off_full, job->f.transposed,
                     u, (size_t)job->u_panel);
}

/* Phase 2 ch: A panel `task` of chunk ch (k-block task / kbt, its panel task % kbt). */
static void fc_wino_filter_task(const fc_wino_job *job, int64_t ch, int64_t task)
{
    const int64_t kbt = job->plan.kbt, block = ch * job->plan.chunk + task / kbt;
    const int64_t mt = (block % job->kblocks_per_group) * kbt + task % kbt;
    if (mt >= job->m_tiles) return; /* the last k-block of a group is short */
    fc_wino_transform_panel(job, block / job->kblocks_per_group, mt,
                            job->u + (task / kbt) * job->u_block + (task % kbt) * 36 * job->u_panel);
}

/* Floats from prepared U to the A panel mt of group g (panels in order, u_panel floats x 36
 * each; fc_conv2d_winograd_prepare). */
static int64_t fc_wino_panel_offset(const fc_wino_job *job, int64_t g, int64_t mt)
{
    return (g * job->m_tiles + mt) * 36 * job->u_panel;
}

/* A run: `len` consecutive tiles of one tile row from column tw, at V column `slot`. */
typedef struct fc_wino_run {
    int64_t n, th, tw, len, slot;
} fc_wino_run;

/* The runs of item `item % tblocks` (at most NR) to runs; returns their count. */
static int64_t fc_wino_runs(const fc_wino_job *job, int64_t item, fc_wino_run *runs)
{
    const fc_wino_layout lay = job->lay;
    const int64_t tile_rows = job->p->n * job->tiles_h, tw = job->tiles_w;
    const int64_t first = item / lay.segments * lay.rows;
    const int64_t count = fc_min_i64(lay.rows, tile_rows - first);
    if (lay.segments > 1) {
        int64_t begin, end;
        fc_task_range(tw, lay.segments, item % lay.segments, &begin, &end);
        runs[0] = (fc_wino_run){first / job->tiles_h, first % job->tiles_h, begin, end - begin, 0};
        return 1;
    }
    for (int64_t j = 0; j < count; j++)
        runs[j] = (fc_wino_run){(first + j) / job->tiles_h, (first + j) % job->tiles_h, 0, tw,
                                j * (tw + 1)};
    return count;
}

/* n floats (or zeros when src is NULL): fixed-size moves the compiler inlines.  The rows are
 * short (30 floats for a 28-wide image) and there are 6 per run and channel: libc's memmove
 * calls were 7% of a ResNet 28x28 layer's time. */
static inline void fc_wino_copy(float *dst, const float *src, int64_t n)
{
    static const float zeros[16];
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) memcpy(dst + i, src ? src + i : zeros, 64);
    for (; i + 4 <= n; i += 4) memcpy(dst + i, src ? src + i : zeros, 16);
    for (; i < n; i++) dst[i] = src ? src[i] : 0.0f;
}

/* The 6 padded input rows of a run's patches, columns [0, 4 len + 2), to strip (rows ld
 * apart) from column 4 slot on; x outside the image reads as 0. */
static void fc_wino_fill_strip(const fc_conv2d_params *p, const float *plane, fc_wino_run r,
                               int64_t ld, float *strip)
{
    const int64_t cols = 4 * r.len + 2, iw0 = 4 * r.tw - p->pad_left;
    const int64_t lo = fc_min_i64(fc_max_i64(-iw0, 0), cols);          /* left padding */
    const int64_t hi = fc_max_i64(fc_min_i64(p->w - iw0, cols), lo);    /* end of the image */
    for (int64_t i = 0; i < 6; i++) {
        float *dst = strip + i * ld + 4 * r.slot;
        const int64_t ih = 4 * r.th - p->pad_top + i;
        if (ih < 0 || ih >= p->h) {
            fc_wino_copy(dst, NULL, cols);
            continue;
        }
        fc_wino_copy(dst, NULL, lo);
        fc_wino_copy(dst + lo, plane + ih * p->w + iw0 + lo, hi - lo);
        fc_wino_copy(dst + hi, NULL, cols - hi);
    }
}

/* Phase 2 ch + 1: item (k-block item / tblocks of chunk ch, block of tiles item % tblocks). */
static void fc_wino_item(const fc_wino_job *job, int64_t ch, int64_t item, int thread)
{
    const fc_conv2d_params *p = job->p;
    const int64_t mr = job->mr, nr = job->nr, cg = job->cg, kbt = job->plan.kbt;
    const int64_t local = item / job->tblocks, block = ch * job->plan.chunk + local;
    const int64_t g = block / job->kblocks_per_group;
    const int64_t mt0 = (block % job->kblocks_per_group) * kbt;
    const int64_t mt_end = fc_min_i64(mt0 + kbt, job->m_tiles);
    const int64_t k0 = mt0 * mr, kcount = fc_min_i64(mt_end * mr, job->kg) - k0;
    fc_wino_run runs[64]; /* at most (NR + 1) / 2: fc_wino_setup refuses NR > 126 */
    const int64_t nruns = fc_wino_runs(job, item % job->tblocks, runs);
    float *v = job->scratch + thread * job->plan.per_thread;
    float *m = v + job->v_len;
    float *strip = m + job->m_len + FC_WINOGRAD_MAX_LANES;
    float *obuf = strip + 6 * job->ld;
    const float *u = job->f.u ? job->f.u + fc_wino_panel_offset(job, g, mt0)
                              : job->u + local * job->u_block;
    for (int64_t c0 = 0; c0 < cg; c0 += job->plan.kc) {
        const int64_t kc = fc_min_i64(job->plan.kc, cg - c0);
        /* V_xi = rows c of a kc x NR B panel at v + xi * v_stride: every slot of the strip
         * (the junk and unused ones read stale strip values, which stay in their columns) */
        for (int64_t c = 0; c < kc; c++) {
            for (int64_t j = 0; j < nruns; j++) {
                const float *plane =
                    job->x + (runs[j].n * p->c + g * cg + c0 + c) * p->h * p->w;
                fc_wino_fill_strip(p, plane, runs[j], job->ld, strip);
            }
            job->wino.input((size_t)nr, strip, (size_t)job->ld, v + c * nr, (size_t)job->v_stride);
        }
        const unsigned flags = c0 > 0 ? FC_GEMM_ACCUMULATE : 0;
        for (int64_t xi = 0; xi < 36; xi++)
            for (int64_t mt = mt0; mt < mt_end; mt++)
                job->gemm.ukernel((size_t)kc, u + ((mt - mt0) * 36 + xi) * job->u_panel + c0 * mr,
                                  v + xi * job->v_stride, m + xi * job->m_stride + (mt - mt0) * mr * nr,
                                  (size_t)nr, NULL, flags);
    }
    /* the output tiles of each filter: straight into y for one run whose 4 rows and 4 len
     * columns are all inside it, else all slots to obuf and the valid pixels of each run on */
    const int64_t used = runs[nruns - 1].slot + runs[nruns - 1].len;
    for (int64_t k = 0; k < kcount; k++) {
        const int64_t kglob = g * job->kg + k0 + k;
        const float bias = job->bias ? job->bias[kglob] : 0.0f;
        const fc_wino_run r0 = runs[0];
        float *y0 = job->y + ((r0.n * p->k + kglob) * job->out_h + 4 * r0.th) * job->out_w +
                    4 * r0.tw;
        if (nruns == 1 && 4 * r0.th + 4 <= job->out_h && 4 * (r0.tw + r0.len) <= job->out_w) {
            job->wino.output((size_t)r0.len, m + k * nr, (size_t)job->m_stride, bias,
                             job->relu, y0, (size_t)job->out_w);
            continue;
        }
        job->wino.output((size_t)used, m + k * nr, (size_t)job->m_stride, bias, job->relu, obuf,
                         (size_t)(4 * nr));
        for (int64_t j = 0; j < nruns; j++) {
            const fc_wino_run r = runs[j];
            float *dst = job->y + ((r.n * p->k + kglob) * job->out_h + 4 * r.th) * job->out_w +
                         4 * r.tw;
            const int64_t rows = fc_min_i64(4, job->out_h - 4 * r.th);
            const int64_t cols = fc_min_i64(4 * r.len, job->out_w - 4 * r.tw);
            for (int64_t i = 0; i < rows; i++)
                fc_wino_copy(dst + i * job->out_w, obuf + i * 4 * nr + 4 * r.slot, cols);
        }
    }
}

static void fc_wino_task(void *ctx, int64_t phase, int64_t task, int thread)
{
    if (phase % 2 == 0)
        fc_wino_filter_task(ctx, phase / 2, task);
    else
        fc_wino_item(ctx, phase / 2, task, thread);
}

/* Whether Winograd F(4x4, 3x3) can run this convolution (transposed: with the filters of
 * fc_wino_filters.transposed). */
static int fc_wino_applies(const fc_conv2d_params *p, int transposed)
{
    /* the filter transform's int32 offsets, with MR <= 64: Cg * MR * 9 < 2^31, or transposed
     * (channel c at c Kg 9) Cg * Kg * 9 + MR * 9 < 2^31 */
    const int64_t cg = p->c / p->groups, kg = p->k / p->groups, limit = (int64_t)1 << 31;
    return p->r == 3 && p->s == 3 && p->stride_h == 1 && p->stride_w == 1 &&
           p->dilation_h == 1 && p->dilation_w == 1 && cg <= limit / (9 * 64) &&
           (!transposed || fc_mul_saturating(cg, kg) <= limit / 9 - 64);
}

/* The job's geometry (everything but the plan's blocking and the buffers). */
static void fc_wino_job_init(fc_wino_job *job, const fc_conv2d_params *p, int64_t out_h,
                             int64_t out_w, fc_wino_filters f)
{
    *job = (fc_wino_job){.p = p, .out_h = out_h, .out_w = out_w, .f = f,
                         .gemm = fc_kernels()->f32_gemm, .wino = fc_kernels()->f32_winograd};
    const int64_t mr = job->mr = job->gemm.mr, nr = job->nr = job->gemm.nr;
    const int64_t cg = job->cg = p->c / p->groups, kg = job->kg = p->k / p->groups;
    job->m_tiles = fc_ceil_div(kg, mr);
    job->tiles_h = fc_ceil_div(out_h, 4);
    job->tiles_w = fc_ceil_div(out_w, 4);
    fc_wino_layout_of(p->n * job->tiles_h, job->tiles_w, nr, &job->lay);
    job->tblocks = job->lay.items;
    job->ld = FC_WINOGRAD_STRIP_COLS(nr);
    job->u_panel = cg * mr + 16;
    job->filter_stride = f.transposed ? 9 : cg * 9;
    job->channel_stride = f.transposed ? kg * 9 : 9;
}

/* The filter offsets of a full and of the last A panel (off_len each, job->off_full/last):
 * position q = c MR + i is filter i's channel c; -1 past the group's last filter and past the
 * panel. */
static void fc_wino_offsets(fc_wino_job *job, int32_t *off, int64_t off_len)
{
    const int64_t mr = job->mr, rows_last = job->kg - (job->m_tiles - 1) * mr;
    for (int64_t q = 0; q < off_len; q++) {
        const int64_t c = q / mr, i = q % mr;
        const int32_t o =
            q < job->cg * mr ? (int32_t)(i * job->filter_stride + c * job->channel_stride) : -1;
        off[q] = o;
        off[off_len + q] = i < rows_last ? o : -1;
    }
    job->off_full = off;
    job->off_last = off + off_len;
}

static fc_status fc_f32_conv2d_winograd(const fc_conv2d_params *p, int64_t out_h, int64_t out_w,
                                        const float *x, fc_wino_filters f, const float *bias,
                                        float *y, int relu)
{
    fc_wino_job job;
    fc_wino_job_init(&job, p, out_h, out_w, f);
    job.x = x, job.bias = bias, job.y = y, job.relu = relu;
    FC_RETURN_IF_ERROR(fc_wino_setup(p, out_h, out_w, f.u != NULL, &job.plan));
    const int64_t mr = job.mr, nr = job.nr;
    job.kblocks_per_group = fc_ceil_div(job.m_tiles, job.plan.kbt);
    job.blocks = p->groups * job.kblocks_per_group;
    job.u_block = 36 * job.plan.kbt * job.u_panel;
    job.v_stride = job.plan.kc * nr + 16;
    job.m_stride = job.plan.kbt * mr * nr + 16;
    job.v_len = 36 * job.v_stride;
    job.m_len = 36 * job.m_stride;
    const int threads = job.plan.threads;
    const int64_t chunk = job.plan.chunk, chunks = fc_ceil_div(job.blocks, chunk);
    const int64_t off_len = f.u ? 0 : job.cg * mr + FC_WINOGRAD_MAX_LANES;
    job.u = f.u ? NULL : fc_aligned_alloc(chunk * job.u_block * (int64_t)sizeof(float));
    job.scratch = fc_aligned_alloc(threads * job.plan.per_thread * (int64_t)sizeof(float));
    int32_t *off = f.u ? NULL : fc_aligned_alloc(2 * off_len * (int64_t)sizeof(int32_t));
    int64_t *tasks = fc_aligned_alloc(2 * chunks * (int64_t)sizeof(int64_t));
    if ((!f.u && (!job.u || !off)) || !job.scratch || !tasks) {
        fc_aligned_free(job.u);
        fc_aligned_free(job.scratch);
        fc_aligned_free(off);
        fc_aligned_free(tasks);
        return FC_ERR_OUT_OF_MEMORY;
    }
    if (off) fc_wino_offsets(&job, off, off_len);
    /* the strips' columns past a run are read (winograd.h) but feed no stored lane: zeroed
     * once so that they hold numbers */
    for (int t = 0; t < threads; t++)
        memset(job.scratch + t * job.plan.per_thread + job.v_len + job.m_len, 0,
               (size_t)(FC_WINOGRAD_MAX_LANES + 6 * job.ld) * sizeof(float));
    for (int64_t ch = 0; ch < chunks; ch++) {
        const int64_t in_chunk = fc_min_i64(chunk, job.blocks - ch * chunk);
        tasks[2 * ch] = f.u ? 0 : in_chunk * job.plan.kbt; /* prepared: no filter phase */
        tasks[2 * ch + 1] = in_chunk * job.tblocks;
    }
    const fc_parallel_job parallel = {fc_wino_task, &job, 2 * chunks, tasks};
    fc_parallel_run(threads, &parallel);
    fc_aligned_free(job.u);
    fc_aligned_free(job.scratch);
    fc_aligned_free(off);
    fc_aligned_free(tasks);
    return FC_OK;
}

static int64_t fc_f32_conv2d_winograd_min_workspace(const fc_conv2d_params *p, int64_t out_h,
                                                    int64_t out_w, int prepared)
{
    fc_wino_plan plan;
    (void)fc_wino_setup(p, out_h, out_w, prepared, &plan);
    return plan.min_bytes;
}

/* Floats of prepared U for these parameters with the installed GEMM's MR (every A panel of
 * every group, fc_wino_panel_offset). */
static int64_t fc_wino_prepared_floats(const fc_conv2d_params *p)
{
    fc_wino_job job;
    fc_wino_job_init(&job, p, 1, 1, (fc_wino_filters){0});
    return fc_mul_saturating(fc_mul_saturating(p->groups, job.m_tiles), 36 * job.u_panel);
}

static void fc_wino_prepare_task(void *ctx, int64_t phase, int64_t task, int thread)
{
    (void)phase, (void)thread;
    fc_wino_job *job = ctx;
    const int64_t g = task / job->m_tiles, mt = task % job->m_tiles;
    fc_wino_transform_panel(job, g, mt, job->u + fc_wino_panel_offset(job, g, mt));
}

/* U of every A panel to u (fc_wino_prepared_floats), one task per panel. */
static fc_status fc_f32_conv2d_winograd_prepare(const fc_conv2d_params *p, const float *weight,
                                                float *u)
{
    fc_wino_job job;
    fc_wino_job_init(&job, p, 1, 1, (fc_wino_filters){weight, 0, NULL});
    job.u = u;
    const int64_t off_len = job.cg * job.mr + FC_WINOGRAD_MAX_LANES;
    int32_t *off = fc_aligned_alloc(2 * off_len * (int64_t)sizeof(int32_t));
    if (!off) return FC_ERR_OUT_OF_MEMORY;
    fc_wino_offsets(&job, off, off_len);
    const int64_t panels = p->groups * job.m_tiles;
    const int threads = (int)fc_min_i64(
        fc_region_threads(fc_mul_saturating(panels, 36 * 9 * job.cg * job.mr)), panels);
    fc_parallel_for(threads, panels, fc_wino_prepare_task, &job);
    fc_aligned_free(off);
    return FC_OK;
}

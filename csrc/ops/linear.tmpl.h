/* linear's GEMMs for one dtype (instantiated by ops/linear.c): every product of linear and of
 * its backward is one strided GEMM, C (m x n) = A (m x k) B (k x n) with
 *   A(i, p) = a[i * a_rs + p * a_cs],  B(p, j) = b[p * b_rs + j * b_cs],  C(i, j) = c[...]
 * so one driver serves y = x W^T (A = W, B = x^T, C = y^T), grad_input = G W,
 * grad_weight = G^T x, in either orientation (C^T = B^T A^T is the same strides swapped).
 *
 * Every element of C starts from row_init[i] (the bias, as the microkernel's `init`),
 * col_init[j] (the bias along columns: written into the C tile first, then accumulated onto)
 * or 0, and adds its k products p = 0, 1, ... k-1, one microkernel step each: the sum fastconv.h
 * states.  The blocking, the orientation and the thread count never change that sequence
 * (storing the accumulators between kc blocks is exact), so the result is bitwise the same for
 * any of them; only the ISA's microkernel (fused or not) fixes the rounding.
 *
 * The work is cut into tasks, each one block of C (a range of MR row panels times a range of
 * NR column panels) over the whole reduction, claimed dynamically (common/parallel.h).  A task
 * packs its rows of A (kc x MR panels) per kc block into its thread's scratch, takes B either
 * from a copy packed once for all tasks in an earlier phase (when the rows are split among
 * several tasks and the copy fits the budget) or packs its own, and runs the microkernel over
 * the block: whole tiles straight into C when C's rows are contiguous, the others (and every
 * tile of a C stored transposed) in a scratch block stored into C at the end. */

/* The shared copies of B stay within threads x 16 MiB, conv2d's default max_workspace_bytes
 * (VGG's fc6, 25088 inputs, at batch 64: 6.4 MiB of floats, packed once; at batch 1024 the
 * tasks pack their own B, kc x nc at a time); the per-thread scratch of a task, at most
 * 128 x kc of A, 128 x nc of C and kc x nc of B, is 1 MiB or less beside it. */
#define FC_LINEAR_WORKSPACE ((int64_t)16 << 20)

typedef struct FC_FN(lin_gemm) {
    int64_t m, n, k;
    const FC_REAL *a;
    int64_t a_rs, a_cs;
    const FC_REAL *b;
    int64_t b_rs, b_cs;
    FC_REAL *c;
    int64_t c_rs, c_cs;
    const FC_REAL *row_init, *col_init; /* at most one of them */
    const fc_epi *epi; /* the forward's epilogue (C is y); NULL: none */
    /* the blocking (lin_gemm_plan) */
    int64_t mt, nt;             /* row panels of MR, column panels of NR */
    int64_t m_blocks, n_blocks; /* compute tasks: m_blocks x n_blocks blocks of panels */
    int64_t mc, nc, kc;         /* rows and columns of the largest block; reduction block */
    int64_t pack_tasks;         /* phase-0 tasks packing B_shared (0: every task packs its B) */
    FC_REAL *b_shared;          /* column panel jp at b_shared + jp * k * NR, k x NR */
    int64_t scratch;            /* elements of per-thread scratch a compute task needs */
} FC_FN(lin_gemm);

/* C^T = B^T A^T: the same product with rows and columns exchanged. */
static void FC_FN(lin_gemm_transpose)(FC_FN(lin_gemm) *g)
{
    const FC_FN(lin_gemm) t = *g;
    g->m = t.n;
    g->n = t.m;
    g->a = t.b;
    g->a_rs = t.b_cs;
    g->a_cs = t.b_rs;
    g->b = t.a;
    g->b_rs = t.a_cs;
    g->b_cs = t.a_rs;
    g->c_rs = t.c_cs;
    g->c_cs = t.c_rs;
    g->row_init = t.col_init;
    g->col_init = t.row_init;
}

/* The orientation with the smaller padded C.  MR x NR tiles are wider than tall (8 x 32 for
 * f32 on AVX-512, 6 x 16 on AVX2), so the dimension that is the poorer multiple of NR goes
 * down the rows.  For LeNet-5's fc layers at batch 64 that is the features: A = W with the
 * bias as the microkernel's init, B = x^T, C = y^T stored transposed -- fc3's 10 outputs fill
 * 16 rows (62%) instead of 32 columns (31%), fc1's 120 fill 120 rows instead of 128 columns.
 * Measured forward at 1 thread on the 2-core AVX-512 machine (busy, best of 9): fc1 / fc2 /
 * fc3 51 / 15 / 5.3 us this way against 53 / 16 / 6.6 us with A = x (the bias then written
 * into the C block first), on AVX2 69 / 18 / 5.0 against 75 / 20 / 6.0: the transposed store
 * costs less than the padding.  On a tie C keeps its contiguous rows. */
static void FC_FN(lin_gemm_orient)(FC_FN(lin_gemm) *g, int64_t mr, int64_t nr)
{
    const int64_t area = fc_mul_saturating(fc_ceil_div(g->m, mr) * mr, fc_ceil_div(g->n, nr) * nr);
    const int64_t area_t =
        fc_mul_saturating(fc_ceil_div(g->n, mr) * mr, fc_ceil_div(g->m, nr) * nr);
    if (area_t < area || (area_t == area && g->c_cs != 1 && g->c_rs == 1))
        FC_FN(lin_gemm_transpose)(g);
}

/* The blocking of one GEMM for `threads` threads.  Blocks are at most mc_max x nc_max (the
 * scratch); with several threads the work is cut into up to 8 tasks per thread of at least
 * 4 x FC_MIN_WORK_PER_THREAD multiply-adds (a descheduled thread then leaves at most an
 * eighth of its share behind), first by rows -- free when B is packed once for all tasks --
 * then by columns, which re-packs A per column block.  *shared_budget is what is left for
 * packed copies of B (elements); this plan takes its share from it. */
static void FC_FN(lin_gemm_plan)(FC_FN(lin_gemm) *g, const FC_FN(gemm_config) *cfg, int threads,
                                 int64_t *shared_budget)
{
    const int64_t mr = cfg->mr, nr = cfg->nr;
    /* 128 rows x kc = 256 of A: 128 KiB of floats, in L2 beside the kc x NR sub-panel of B
     * the microkernel streams from L1; the dispatch table's nc bounds the block's columns */
    const int64_t mc_panels = fc_max_i64(1, 128 / mr), nc_panels = fc_max_i64(1, cfg->nc / nr);
    g->mt = fc_ceil_div(g->m, mr);
    g->nt = fc_ceil_div(g->n, nr);
    g->kc = fc_max_i64(1, fc_min_i64(cfg->kc, g->k));
    const int64_t m_min = fc_ceil_div(g->mt, mc_panels), n_min = fc_ceil_div(g->nt, nc_panels);
    int64_t want = 1;
    if (threads > 1)
        want = fc_min_i64(fc_task_count(fc_mul_saturating(g->mt, g->nt),
                                        fc_mul_saturating(mr * nr, g->k),
                                        4 * FC_MIN_WORK_PER_THREAD),
                          8 * (int64_t)threads);
    int64_t b_len = 0; /* B packed whole: k x NR per column panel */
    const int can_share = g->k > 0 &&
                          !fc_mul_overflows(fc_mul_saturating(g->nt, nr), g->k, &b_len) &&
                          b_len <= *shared_budget;
    g->m_blocks = m_min;
    if (can_share) g->m_blocks = fc_max_i64(m_min, fc_min_i64(g->mt, fc_ceil_div(want, n_min)));
    g->n_blocks = fc_max_i64(n_min, fc_min_i64(g->nt, want / g->m_blocks));
    g->mc = fc_ceil_div(g->mt, g->m_blocks) * mr;
    g->nc = fc_ceil_div(g->nt, g->n_blocks) * nr;
    g->b_shared = NULL;
    g->pack_tasks = 0;
    if (can_share && g->m_blocks > 1) {
        *shared_budget -= b_len;
        /* a phase-1 task waits for all of phase 0: small pack tasks (LeNet-5's fc1: its two
         * column panels of x^T, one per thread) keep that wait short */
        g->pack_tasks = fc_task_count(g->nt, g->k * nr, FC_MIN_WORK_PER_THREAD / 4);
    }
    /* the row init tile, A's panels of the block, the C block, B's panels (unless shared),
     * each starting on a cache line (lin_compute) */
    g->scratch = fc_lin_round16(g->mc) + fc_lin_round16(g->mc * g->kc) + g->mc * g->nc +
                 (g->pack_tasks ? 0 : g->kc * g->nc);
}

/* dst[j * ld_dst + i] = src[i * ld_src + j] for i < rows, j < cols: the transposing copy of
 * every pack and store whose source runs along the other axis (x and W both run along the
 * reduction).  4 x 4 tiles of constant size, which gcc -O3 turns into vector loads, shuffles
 * and stores with baseline SSE2; a plain element loop (one scalar load and store per element,
 * strides reloaded from the stack) was 60% of LeNet-5's fc2 forward. */
static void FC_FN(lin_transpose)(const FC_REAL *restrict src, int64_t ld_src, int64_t rows,
                                 int64_t cols, FC_REAL *restrict dst, int64_t ld_dst)
{
    int64_t i = 0;
    for (; i + 4 <= rows; i += 4) {
        const FC_REAL *s = src + i * ld_src;
        FC_REAL *d = dst + i;
        int64_t j = 0;
        for (; j + 4 <= cols; j += 4) {
            FC_REAL t[4][4];
            for (int a = 0; a < 4; a++)
                for (int b = 0; b < 4; b++) t[b][a] = s[a * ld_src + j + b];
            for (int b = 0; b < 4; b++)
                for (int a = 0; a < 4; a++) d[(j + b) * ld_dst + a] = t[b][a];
        }
        for (; j < cols; j++)
            for (int a = 0; a < 4; a++) d[j * ld_dst + a] = s[a * ld_src + j];
    }
    for (; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) dst[j * ld_dst + i] = src[i * ld_src + j];
}

/* One panel: dst[p * w + t] = M(t, p) for t < live, 0 for live <= t < w, p < kc, where
 * M(t, p) = src[t * t_stride + p * p_stride] (a row panel of A, a column panel of B). */
static void FC_FN(lin_pack_panel)(const FC_REAL *src, int64_t t_stride, int64_t p_stride,
                                  int64_t live, int64_t kc, int64_t w, FC_REAL *restrict dst)
{
    if (t_stride == 1) { /* the panel's w values of one step are contiguous: copies */
        for (int64_t p = 0; p < kc; p++) {
            const FC_REAL *s = src + p * p_stride;
            FC_REAL *d = dst + p * w;
            int64_t t = 0;
            if (live == w) { /* constant sizes: moves the compiler inlines (an element loop
                              * became a libc memmove call per step, 10% of LeNet-5's fc2
                              * grad_weight) */
                switch (w) {
                case 4: memcpy(d, s, 4 * sizeof(FC_REAL)); continue;
                case 6: memcpy(d, s, 6 * sizeof(FC_REAL)); continue;
                case 8: memcpy(d, s, 8 * sizeof(FC_REAL)); continue;
                case 16: memcpy(d, s, 16 * sizeof(FC_REAL)); continue;
                case 32: memcpy(d, s, 32 * sizeof(FC_REAL)); continue;
                }
            }
            for (; t < live; t++) d[t] = s[t];
            for (; t < w; t++) d[t] = 0;
        }
        return;
    }
    if (p_stride == 1) { /* each of the live rows runs along the reduction */
        FC_FN(lin_transpose)(src, t_stride, live, kc, dst, w);
    } else {
        for (int64_t p = 0; p < kc; p++)
            for (int64_t t = 0; t < live; t++) dst[p * w + t] = src[t * t_stride + p * p_stride];
    }
    if (live < w)
        for (int64_t p = 0; p < kc; p++)
            for (int64_t t = live; t < w; t++) dst[p * w + t] = 0;
}

/* Rows [i0, i0 + rows) of A, reduction [p0, p0 + kc), as ceil(rows / MR) panels of kc x MR
 * (dst[panel * kc * MR + p * MR + i]), zero past the last row. */
static void FC_FN(lin_pack_a)(const FC_FN(lin_gemm) *g, int64_t i0, int64_t rows, int64_t p0,
                              int64_t kc, int64_t mr, FC_REAL *dst)
{
    for (int64_t r0 = 0; r0 < rows; r0 += mr, dst += kc * mr)
        FC_FN(lin_pack_panel)(g->a + (i0 + r0) * g->a_rs + p0 * g->a_cs, g->a_rs, g->a_cs,
                              fc_min_i64(mr, rows - r0), kc, mr, dst);
}

/* Columns [j0, j0 + cols) of B, reduction [p0, p0 + kc), as ceil(cols / NR) panels of kc x NR
 * (dst[panel * kc * NR + p * NR + j]), zero past the last column. */
static void FC_FN(lin_pack_b)(const FC_FN(lin_gemm) *g, int64_t p0, int64_t kc, int64_t j0,
                              int64_t cols, int64_t nr, FC_REAL *dst)
{
    for (int64_t c0 = 0; c0 < cols; c0 += nr, dst += kc * nr)
        FC_FN(lin_pack_panel)(g->b + p0 * g->b_rs + (j0 + c0) * g->b_cs, g->b_cs, g->b_rs,
                              fc_min_i64(nr, cols - c0), kc, nr, dst);
}

/* Phase 0: column panels of B_shared, this task's share of them, over the whole reduction. */
static void FC_FN(lin_pack_shared)(const FC_FN(lin_gemm) *g, int64_t nr, int64_t task)
{
    int64_t begin, end;
    fc_task_range(g->nt, g->pack_tasks, task, &begin, &end);
    for (int64_t jp = begin; jp < end; jp++)
        FC_FN(lin_pack_b)(g, 0, g->k, jp * nr, fc_min_i64(nr, g->n - jp * nr), nr,
                          g->b_shared + jp * g->k * nr);
}

/* The block [i0, i0 + rows) x [j0, j0 + cols) of `block` (row stride ld) into a C whose
 * rows are not contiguous (lin_compute writes the others in place). */
static void FC_FN(lin_store)(const FC_FN(lin_gemm) *g, const FC_REAL *block, int64_t ld,
                             int64_t i0, int64_t rows, int64_t j0, int64_t cols)
{
    FC_REAL *c = g->c + i0 * g->c_rs + j0 * g->c_cs;
    if (g->c_rs == 1) { /* transposed: C's rows are the block's columns */
        FC_FN(lin_transpose)(block, ld, rows, cols, c, g->c_cs);
        return;
    }
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) c[i * g->c_rs + j * g->c_cs] = block[i * ld + j];
}

/* An empty reduction: C = init, or 0, then the whole epilogue (no microkernel fused any). */
static void FC_FN(lin_fill)(const FC_FN(lin_gemm) *g, int64_t i0, int64_t rows, int64_t j0,
                            int64_t cols)
{
    for (int64_t i = i0; i < i0 + rows; i++)
        for (int64_t j = j0; j < j0 + cols; j++)
            g->c[i * g->c_rs + j * g->c_cs] =
                g->row_init ? g->row_init[i] : g->col_init ? g->col_init[j] : 0;
    if (g->epi)
        FC_FN(epilogue_apply)(g->epi, g->c + i0 * g->c_rs + j0 * g->c_cs, rows, cols, g->c_rs,
                              g->c_cs);
}

/* The part of the epilogue the microkernel did not fuse, on the finished block. */
static void FC_FN(lin_epilogue)(const FC_FN(lin_gemm) *g, int64_t i0, int64_t rows, int64_t j0,
                                int64_t cols)
{
    if (g->epi && g->epi->post)
        FC_FN(epilogue_apply)(g->epi, g->c + i0 * g->c_rs + j0 * g->c_cs, rows, cols, g->c_rs,
                              g->c_cs);
}

/* Where tile (ip, jp) of a task's block accumulates: straight in C when C's rows are
 * contiguous and the tile is whole (as conv2d's GEMM does), else in the scratch block c_buf
 * (row stride ld), stored into C at the end. */
static inline FC_REAL *FC_FN(lin_tile)(const FC_FN(lin_gemm) *g, int64_t mr, int64_t nr,
                                       int64_t i0, int64_t rows, int64_t j0, int64_t cols,
                                       int64_t ip, int64_t jp, FC_REAL *c_buf, int64_t ld,
                                       int64_t *ldc)
{
    if (g->c_cs == 1 && (ip + 1) * mr <= rows && (jp + 1) * nr <= cols) {
        *ldc = g->c_rs;
        return g->c + (i0 + ip * mr) * g->c_rs + j0 + jp * nr;
    }
    *ldc = ld;
    return c_buf + ip * mr * ld + jp * nr;
}

/* Compute task: block (task / n_blocks, task % n_blocks) of C, all of its reduction. */
static void FC_FN(lin_compute)(const FC_FN(lin_gemm) *g, const FC_FN(gemm_config) *cfg,
                               int64_t task, FC_REAL *scratch)
{
    const int64_t mr = cfg->mr, nr = cfg->nr;
    int64_t mp0, mp1, np0, np1;
    fc_task_range(g->mt, g->m_blocks, task / g->n_blocks, &mp0, &mp1);
    fc_task_range(g->nt, g->n_blocks, task % g->n_blocks, &np0, &np1);
    const int64_t i0 = mp0 * mr, rows = fc_min_i64(mp1 * mr, g->m) - i0;
    const int64_t j0 = np0 * nr, cols = fc_min_i64(np1 * nr, g->n) - j0;
    const int64_t m_panels = mp1 - mp0, n_panels = np1 - np0, ld = n_panels * nr;
    if (g->k == 0) {
        FC_FN(lin_fill)(g, i0, rows, j0, cols);
        return;
    }
    /* c_buf's rows (ld a multiple of NR) and b_buf start on cache lines: the microkernel's
     * vector loads and stores then never split one */
    FC_REAL *init = scratch, *a_buf = init + fc_lin_round16(g->mc);
    FC_REAL *c_buf = a_buf + fc_lin_round16(g->mc * g->kc), *b_buf = c_buf + g->mc * g->nc;
    int64_t ldc;
    if (g->row_init)
        for (int64_t i = 0; i < m_panels * mr; i++) init[i] = i < rows ? g->row_init[i0 + i] : 0;
    if (g->col_init) /* the bias along C's rows: the first kc block accumulates onto it */
        for (int64_t jp = 0; jp < n_panels; jp++)
            for (int64_t ip = 0; ip < m_panels; ip++) {
                FC_REAL *c = FC_FN(lin_tile)(g, mr, nr, i0, rows, j0, cols, ip, jp, c_buf, ld,
                                             &ldc);
                for (int64_t i = 0; i < mr; i++)
                    for (int64_t j = 0; j < nr; j++)
                        c[i * ldc + j] = jp * nr + j < cols ? g->col_init[j0 + jp * nr + j] : 0;
            }
    for (int64_t p0 = 0; p0 < g->k; p0 += g->kc) {
        const int64_t kc = fc_min_i64(g->kc, g->k - p0);
        FC_FN(lin_pack_a)(g, i0, rows, p0, kc, mr, a_buf);
        const FC_REAL *b = b_buf;
        int64_t b_step = kc * nr; /* from one column panel to the next */
        if (g->pack_tasks) {
            b = g->b_shared + np0 * g->k * nr + p0 * nr;
            b_step = g->k * nr;
        } else {
            FC_FN(lin_pack_b)(g, p0, kc, j0, cols, nr, b_buf);
        }
        unsigned flags = p0 > 0 || g->col_init ? FC_GEMM_ACCUMULATE : 0;
        if (g->epi && p0 + kc == g->k) flags |= g->epi->fused;
        /* one kc x NR sub-panel of B (L1) meets every A panel of the block (L2) in turn, as
         * in conv2d_im2col.tmpl.h */
        for (int64_t jp = 0; jp < n_panels; jp++)
            for (int64_t ip = 0; ip < m_panels; ip++) {
                FC_REAL *c = FC_FN(lin_tile)(g, mr, nr, i0, rows, j0, cols, ip, jp, c_buf, ld,
                                             &ldc);
                cfg->ukernel((size_t)kc, a_buf + ip * kc * mr, b + jp * b_step, c, (size_t)ldc,
                             p0 == 0 && g->row_init ? init + ip * mr : NULL, flags);
            }
    }
    if (g->c_cs != 1) { /* the whole block was computed in c_buf */
        FC_FN(lin_store)(g, c_buf, ld, i0, rows, j0, cols);
        FC_FN(lin_epilogue)(g, i0, rows, j0, cols);
        return;
    }
    /* the edge tiles: the last row panel and the last column panel, when partial */
    for (int64_t ip = 0; ip < m_panels; ip++)
        for (int64_t jp = 0; jp < n_panels; jp++) {
            const int64_t r = fc_min_i64(mr, rows - ip * mr), w = fc_min_i64(nr, cols - jp * nr);
            if (r == mr && w == nr) continue;
            for (int64_t i = 0; i < r; i++)
                for (int64_t j = 0; j < w; j++)
                    g->c[(i0 + ip * mr + i) * g->c_rs + j0 + jp * nr + j] =
                        c_buf[(ip * mr + i) * ld + jp * nr + j];
        }
    FC_FN(lin_epilogue)(g, i0, rows, j0, cols);
}

/* grad_bias[o] for o in this task's share of [0, out): the rows of grad_output added in
 * order, i = 0, 1, ... n-1, each element its own running sum (the loop over o vectorises). */
static void FC_FN(lin_grad_bias)(int64_t n, int64_t out, const FC_REAL *g, FC_REAL *gb,
                                 int64_t tasks, int64_t task)
{
    int64_t begin, end;
    fc_task_range(out, tasks, task, &begin, &end);
    for (int64_t o = begin; o < end; o++) gb[o] = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t o = begin; o < end; o++) gb[o] += g[i * out + o];
}

/* One call's work: up to two GEMMs (forward: y; backward: grad_input and grad_weight) and the
 * bias gradient, as one job of fc_parallel_run: phase 0 packs the shared B copies, phase 1
 * runs the compute tasks of every GEMM, then the bias tasks. */
typedef struct FC_FN(lin_job) {
    FC_FN(gemm_config) cfg;
    FC_FN(lin_gemm) gemm[2];
    int gemms;
    int64_t n, out; /* grad_bias: grad_output is n x out */
    const FC_REAL *g;
    FC_REAL *gb;
    int64_t gb_tasks;
    FC_REAL *scratch;
    int64_t per_thread;
    int64_t first_phase; /* 1 when there is nothing to pack: the job's phase 0 is phase 1 */
} FC_FN(lin_job);

static void FC_FN(lin_task)(void *ctx, int64_t phase, int64_t task, int thread)
{
    const FC_FN(lin_job) *job = ctx;
    if (phase + job->first_phase == 0) {
        for (int i = 0; i < job->gemms; i++) {
            const FC_FN(lin_gemm) *g = &job->gemm[i];
            if (task < g->pack_tasks) {
                FC_FN(lin_pack_shared)(g, job->cfg.nr, task);
                return;
            }
            task -= g->pack_tasks;
        }
        return;
    }
    for (int i = 0; i < job->gemms; i++) {
        const FC_FN(lin_gemm) *g = &job->gemm[i];
        const int64_t count = g->m_blocks * g->n_blocks;
        if (task < count) {
            FC_FN(lin_compute)(g, &job->cfg, task, job->scratch + thread * job->per_thread);
            return;
        }
        task -= count;
    }
    FC_FN(lin_grad_bias)(job->n, job->out, job->g, job->gb, job->gb_tasks, task);
}

/* Plans, allocates and runs a job whose GEMMs and bias gradient are filled in (GEMMs with an
 * empty C are left out by the caller).  `work` sizes the team. */
static fc_status FC_FN(lin_run)(FC_FN(lin_job) *job, int64_t work)
{
    const int threads = fc_region_threads(work);
    int64_t budget = fc_mul_saturating(threads, FC_LINEAR_WORKSPACE) / (int64_t)sizeof(FC_REAL);
    int64_t per_thread = 0, shared = 0, counts[2] = {0, 0};
    for (int i = 0; i < job->gemms; i++) {
        FC_FN(lin_gemm) *g = &job->gemm[i];
        FC_FN(lin_gemm_orient)(g, job->cfg.mr, job->cfg.nr);
        FC_FN(lin_gemm_plan)(g, &job->cfg, threads, &budget);
        per_thread = fc_max_i64(per_thread, g->scratch);
        if (g->pack_tasks) shared += g->k * g->nt * job->cfg.nr;
        counts[0] += g->pack_tasks;
        counts[1] += g->m_blocks * g->n_blocks;
    }
    if (job->gb) {
        job->gb_tasks = threads > 1 ? fc_task_count(job->out, job->n, FC_MIN_WORK_PER_THREAD) : 1;
        counts[1] += job->gb_tasks;
    }
    /* the scratch of each thread starts on a cache line */
    per_thread = fc_ceil_div(per_thread, 64) * 64;
    int64_t elements, bytes;
    if (fc_mul_overflows(threads, per_thread, &elements) ||
        fc_add_overflows(elements, shared, &elements) ||
        fc_mul_overflows(elements, (int64_t)sizeof(FC_REAL), &bytes))
        return FC_ERR_SIZE_OVERFLOW;
    FC_REAL *memory = fc_aligned_alloc(bytes);
    if (!memory) return FC_ERR_OUT_OF_MEMORY;
    job->scratch = memory;
    job->per_thread = per_thread;
    FC_REAL *next = memory + threads * per_thread;
    for (int i = 0; i < job->gemms; i++)
        if (job->gemm[i].pack_tasks) {
            job->gemm[i].b_shared = next;
            next += job->gemm[i].k * job->gemm[i].nt * job->cfg.nr;
        }
    job->first_phase = counts[0] == 0;
    const fc_parallel_job run = {FC_FN(lin_task), job, 2 - job->first_phase,
                                 counts + job->first_phase};
    fc_parallel_run(threads, &run);
    fc_aligned_free(memory);
    return FC_OK;
}

static fc_status FC_FN(linear_forward)(int64_t n, int64_t in, int64_t out, const FC_REAL *x,
                                       const FC_REAL *weight, const fc_epi *epi, FC_REAL *y)
{
    FC_FN(lin_job) job;
    memset(&job, 0, sizeof(job));
    job.cfg = fc_kernels()->FC_MEMBER(gemm);
    /* y^T (out x n) = W (out x in) x^T (in x n): the bias is per row, the microkernel's init */
    job.gemm[0] = (FC_FN(lin_gemm)){.m = out, .n = n, .k = in, .a = weight, .a_rs = in,
                                   .a_cs = 1, .b = x, .b_rs = 1, .b_cs = in, .c = y, .c_rs = 1,
                                   .c_cs = out, .row_init = epi->bias, .epi = epi};
    job.gemms = 1;
    return FC_FN(lin_run)(&job, fc_mul_saturating(n * out, fc_max_i64(in, 1)));
}

static fc_status FC_FN(linear_backward)(int64_t n, int64_t in, int64_t out, const FC_REAL *g,
                                        const FC_REAL *x, const FC_REAL *weight, FC_REAL *gx,
                                        FC_REAL *gw, FC_REAL *gb)
{
    FC_FN(lin_job) job;
    memset(&job, 0, sizeof(job));
    job.cfg = fc_kernels()->FC_MEMBER(gemm);
    int64_t work = 0;
    if (gx && n * in > 0) { /* grad_input (n x in) = G (n x out) W (out x in) */
        job.gemm[job.gemms++] = (FC_FN(lin_gemm)){
            .m = n, .n = in, .k = out, .a = g, .a_rs = out, .a_cs = 1, .b = weight,
            .b_rs = in, .b_cs = 1, .c = gx, .c_rs = in, .c_cs = 1};
        work += fc_mul_saturating(n * in, fc_max_i64(out, 1));
    }
    if (gw && out * in > 0) { /* grad_weight (out x in) = G^T (out x n) x (n x in) */
        job.gemm[job.gemms++] = (FC_FN(lin_gemm)){
            .m = out, .n = in, .k = n, .a = g, .a_rs = 1, .a_cs = out, .b = x, .b_rs = in,
            .b_cs = 1, .c = gw, .c_rs = in, .c_cs = 1};
        work = fc_lin_add_saturating(work, fc_mul_saturating(out * in, fc_max_i64(n, 1)));
    }
    if (gb && out > 0) {
        job.gb = gb;
        job.g = g;
        job.n = n;
        job.out = out;
        work = fc_lin_add_saturating(work, n * out);
    }
    if (job.gemms == 0 && !job.gb) return FC_OK;
    return FC_FN(lin_run)(&job, work);
}

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
 * NR column panels) over the whole reduction, claimed dynamically (common/parallel.h), and run
 * as one block of the GEMM frame (ops/gemm_frame.tmpl.h): the task packs its rows of A
 * (kc x MR panels) per kc block into its thread's scratch, takes B either from a copy packed
 * once for all tasks in an earlier phase (when the rows are split among several tasks and the
 * copy fits the budget) or packs its own, and the frame's macro-kernel runs the microkernel
 * over the block: straight into C when C's rows are contiguous, else in a scratch block
 * stored transposed into C at the end. */

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

/* Phase 0: column panels of B_shared, this task's share of them, over the whole reduction. */
static void FC_FN(lin_pack_shared)(const FC_FN(lin_gemm) *g, int64_t nr, int64_t task)
{
    int64_t begin, end;
    fc_task_range(g->nt, g->pack_tasks, task, &begin, &end);
    FC_FN(gemm_pack_panels)(g->b + begin * nr * g->b_cs, g->b_cs, g->b_rs,
                            fc_min_i64(end * nr, g->n) - begin * nr, g->k, nr,
                            g->b_shared + begin * g->k * nr);
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

/* One compute task's view for the frame's callbacks (gemm_block.ctx). */
typedef struct FC_FN(lin_block) {
    const FC_FN(lin_gemm) *g;
    int64_t i0, j0, np0;
    FC_REAL *a_buf, *b_buf;
} FC_FN(lin_block);

/* A: the block's rows of A, packed per kc block. */
static const FC_REAL *FC_FN(lin_a)(FC_FN(gemm_block) *blk, int64_t k0, int64_t kc,
                                   int64_t *a_step)
{
    const FC_FN(lin_block) *lb = blk->ctx;
    const FC_FN(lin_gemm) *g = lb->g;
    const int64_t mr = blk->cfg->mr;
    FC_FN(gemm_pack_panels)(g->a + lb->i0 * g->a_rs + k0 * g->a_cs, g->a_rs, g->a_cs, blk->rows,
                            kc, mr, lb->a_buf);
    *a_step = kc * mr;
    return lb->a_buf;
}

/* B per kc block: packed by the task, or the shared copy's rows (column panel jp is k x NR). */
static void FC_FN(lin_b)(FC_FN(gemm_block) *blk, int64_t k0, int64_t kc)
{
    const FC_FN(lin_block) *lb = blk->ctx;
    const FC_FN(lin_gemm) *g = lb->g;
    const int64_t nr = blk->cfg->nr;
    if (g->pack_tasks) {
        blk->b = g->b_shared + lb->np0 * g->k * nr + k0 * nr;
        blk->b_step = g->k * nr;
        return;
    }
    FC_FN(gemm_pack_panels)(g->b + k0 * g->b_rs + lb->j0 * g->b_cs, g->b_cs, g->b_rs, blk->cols,
                            kc, nr, lb->b_buf);
    blk->b = lb->b_buf;
    blk->b_step = kc * nr;
}

/* The store of a C stored transposed: the block, computed whole in scratch, to C, then the
 * part of the epilogue the microkernel did not fuse. */
static void FC_FN(lin_store_transposed)(FC_FN(gemm_block) *blk)
{
    const FC_FN(lin_block) *lb = blk->ctx;
    const FC_FN(lin_gemm) *g = lb->g;
    FC_REAL *c = g->c + lb->i0 * g->c_rs + lb->j0 * g->c_cs;
    FC_FN(gemm_transpose)(blk->c, blk->ldc, blk->rows, blk->cols, c, g->c_cs);
    if (blk->epilogue.post)
        FC_FN(epilogue_apply)(blk->epilogue.post, c, blk->rows, blk->cols, g->c_rs, g->c_cs);
}

/* Compute task: block (task / n_blocks, task % n_blocks) of C, all of its reduction, as one
 * block of the frame: whole tiles straight into C when C's rows are contiguous (the partial
 * ones through the frame's edge tile), every tile in a scratch block when C is stored
 * transposed (c_rs == 1: the plans give C either contiguous rows or contiguous columns). */
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
    FC_FN(lin_block) lb = {g, i0, j0, np0, a_buf, b_buf};
    FC_FN(gemm_block) blk = {cfg, g->k, g->kc, m_panels, rows, cols};
    blk.a_panels = FC_FN(lin_a);
    blk.b_pack = FC_FN(lin_b);
    blk.ctx = &lb;
    if (g->c_cs == 1) {
        blk.c = g->c + i0 * g->c_rs + j0;
        blk.ldc = g->c_rs;
        blk.edge = c_buf;
    } else {
        blk.c = c_buf;
        blk.ldc = ld;
        blk.c_padded = 1;
        blk.store = FC_FN(lin_store_transposed);
    }
    if (g->row_init) {
        for (int64_t i = 0; i < m_panels * mr; i++) init[i] = i < rows ? g->row_init[i0 + i] : 0;
        blk.epilogue.init = init;
    }
    if (g->col_init) { /* the bias along C's rows: the first kc block accumulates onto it */
        const int64_t c_rows = blk.c_padded ? m_panels * mr : rows;
        const int64_t c_cols = blk.c_padded ? ld : cols;
        for (int64_t i = 0; i < c_rows; i++)
            for (int64_t j = 0; j < c_cols; j++)
                blk.c[i * blk.ldc + j] = j < cols ? g->col_init[j0 + j] : 0;
        blk.epilogue.accumulate = 1;
    }
    if (g->epi) {
        blk.epilogue.fused = g->epi->fused;
        blk.epilogue.post = g->epi->post ? g->epi : NULL;
    }
    FC_FN(gemm_run_block)(&blk);
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

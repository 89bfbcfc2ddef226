/* The GEMM frame for one dtype (BLIS-style): every driver whose work is a GEMM -- conv2d's
 * im2col and pointwise (ops/conv2d_im2col.tmpl.h), conv2d's backward-data and backward-weight
 * (ops/conv2d_backward.tmpl.h), linear forward and backward (ops/linear.tmpl.h) -- runs
 *
 *   plan -> pack A -> pack B (or read B in place) -> macro-kernel over MR x NR tiles -> epilogue
 *
 * through this file; the drivers only say where A, B and C are.
 *  - plan (gemm_plan): kc (reduction block), nc (B columns) and how many A panels are packed at
 *    once (or, a_private, A packed per thread), within threads x max_workspace_bytes, with the
 *    least budget that would do (FC_ERR_WORKSPACE_TOO_SMALL below it).  The drivers turn the
 *    plan into tasks of common/parallel.h: a phase packs the shared operands (A panels, a
 *    shared B, a shared grid), the next computes the items (blocks of C, whole reductions).
 *    linear keeps its own split of C into tasks (rows x columns, a shared B under a fixed
 *    budget, ops/linear.tmpl.h): it has no max_workspace_bytes to honour.
 *  - packers (gemm_pack_panels, put_run): a strided matrix as kc x W panels, W = MR (A) or NR
 *    (B).  Weight panels, transposed weights, G's columns and linear's operands are all
 *    strided matrices; the im2col and virtual-grid B panels of conv2d live with the conv
 *    drivers, on put_run.
 *  - the block (gemm_block, gemm_run_block): one block of C (m_panels A panels x `cols`
 *    columns) over the whole reduction, kc at a time: A's panels of the kc block (or, a_lda,
 *    its rows read in place by the "rows" twin: conv2d's weights at batch 1), B packed for
 *    the block (b_pack, then b + b_step per sub-panel) or one kc x NR sub-panel at a time
 *    (b_panel: packed, or rows read in place by the microkernel's "rows" twin), every MR x NR
 *    tile, partial tiles of an unpadded C through an MR x NR scratch, and after the last kc
 *    block the driver's store (grid scatter, C^T, col2im).
 *  - conv2d's backward-weight runs the frame's packer and microkernel on blocks of its own
 *    (its A and B are both contiguous along the reduction: both are transposed as they are
 *    packed) with a budget of its own; with fewer than 32 filters per group it runs a second
 *    microkernel kind instead, the NT "lanes" kernel (sums of rows contiguous in both
 *    operands, read in place: no packing), whose tiles are not MR x NR blocks of a packed
 *    GEMM.
 *  - the epilogue inside the microkernel: the row start values (a bias as `init`), C's own
 *    values (a bias along columns written first), and ReLU on the last kc block -- decided in
 *    ONE place, gemm_block_flags.
 *
 * Why callbacks (function pointers with the block as context) and not macros: the pluggable
 * parts run once per kc block (A, B packing) or once per kc x NR sub-panel of B (which meets
 * every A panel, m_panels x kc x MR x NR multiply-adds, before the next call), so an indirect
 * call costs nothing measurable, while macros would put three copies of the tile loop (the
 * thing to keep single) in the binary and in the debugger.  The microkernels stay direct calls
 * inside the tile loop.
 *
 * Order of the sums: each element of C starts from its init (or C, or 0) and adds its k
 * products p = 0, 1, ... k-1, one microkernel step each; storing the accumulators between kc
 * blocks is exact.  So neither the plan (kc, nc, chunks), nor the thread count, nor the
 * schedule changes a result. */

#ifndef FC_GEMM_FRAME_ONCE
#define FC_GEMM_FRAME_ONCE
/* 16 MiB per thread when the caller does not say: far above what the default blocking needs
 * (kc * nc + the weights of a ResNet layer), far below any input worth blocking. */
#define FC_GEMM_DEFAULT_WORKSPACE ((int64_t)16 << 20)

/* a + b for non-negative a, b, saturating at INT64_MAX (plans compare it to a budget) */
static inline int64_t fc_gemm_add_saturating(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* max_workspace_bytes as the drivers take it (0: the default) */
static inline int64_t fc_gemm_workspace_limit(int64_t max_workspace_bytes)
{
    return max_workspace_bytes > 0 ? max_workspace_bytes : FC_GEMM_DEFAULT_WORKSPACE;
}

typedef struct fc_gemm_plan {
    int64_t kc, nc;         /* reduction rows and columns of one B panel */
    int64_t chunk_panels;   /* A panels (MR rows x the reduction) packed at once */
    int64_t min_bytes;      /* the smallest max_workspace_bytes per thread that would do */
} fc_gemm_plan;
#endif

/* The blocking of `panels` A panels of MR x red against B, for `threads` threads within
 * threads x limit bytes, or FC_ERR_WORKSPACE_TOO_SMALL; plan->min_bytes is set either way.
 * Per thread the driver needs `fixed` elements of its own, `c_rows` x nc of C scratch (0: C
 * is written in place), and B: kc x nc packed, or kc x NR when B is read in place (in_place)
 * and only a last tile is packed.  B shrinks (nc, then kc) until all of A fits beside it, but
 * not below a floor where the microkernel's loads and stores of C would start to dominate;
 * past it A is packed in chunks of panels (chunk_panels, each chunk a phase of the driver),
 * or, with a_private (a driver whose order of sums must not depend on the chunks), by each
 * thread one kc x MR panel at a time as it needs it (chunk_panels = 0). */
static inline fc_status FC_FN(gemm_plan)(int64_t mr, int64_t nr, int64_t kc_max,
                                         int64_t nc_max, int64_t red, int64_t panels,
                                         int threads, int64_t limit, int64_t fixed,
                                         int64_t c_rows, int in_place, int a_private,
                                         fc_gemm_plan *plan)
{
    const int64_t size = (int64_t)sizeof(FC_REAL);
    const int64_t budget = fc_mul_saturating(threads, limit) / size; /* elements */
    const int64_t panel = fc_mul_saturating(mr, red); /* elements of one A panel */
    int64_t kc = fc_min_i64(red, kc_max), nc = nc_max;
    const int64_t kc_floor = fc_min_i64(kc, 64), nc_floor = fc_min_i64(nc, 4 * nr);
    /* the least: one A panel (shared, or 1 x MR per thread), and per thread a 1-deep,
     * NR-wide B panel beside its edge tile */
    const int64_t per_thread = fc_gemm_add_saturating(
        nr + mr * nr + c_rows * nr + (a_private ? mr : 0), fixed);
    const int64_t least = fc_gemm_add_saturating(fc_mul_saturating(threads, per_thread),
                                                 a_private ? 0 : panel);
    plan->min_bytes = fc_ceil_div(fc_mul_saturating(least, size), threads);
    if (least > budget) return FC_ERR_WORKSPACE_TOO_SMALL;
    for (;;) {
        const int64_t b_len = fc_mul_saturating(kc, in_place ? nr : nc);
        const int64_t each = fc_gemm_add_saturating(b_len + c_rows * nc + mr * nr, fixed);
        const int64_t scratch = fc_mul_saturating(threads, each);
        const int64_t held = scratch <= budget - panel ? (budget - scratch) / panel : 0;
        plan->kc = kc;
        plan->nc = nc;
        if (held >= panels) {
            plan->chunk_panels = panels;
            return FC_OK;
        }
        if (a_private &&
            fc_mul_saturating(threads, fc_gemm_add_saturating(each, kc * mr)) <= budget) {
            plan->chunk_panels = 0;
            return FC_OK;
        }
        if (!a_private && held > 0 && kc <= kc_floor && nc <= nc_floor) {
            plan->chunk_panels = held;
            return FC_OK;
        }
        if (nc > nc_floor) nc = fc_max_i64(nc_floor, nc / 2 / nr * nr);
        else if (kc > kc_floor) kc = fc_max_i64(kc_floor, kc / 2);
        else if (nc > nr) nc = fc_max_i64(nr, nc / 2 / nr * nr);
        else kc = kc / 2; /* kc = 1, nc = nr fits: budget >= least */
    }
}

/* A driver's workspace: `panels` packed A panels of red x rows, shared, and `per_thread`
 * elements of scratch for each of `threads` threads.  Both or neither are allocated. */
static inline fc_status FC_FN(alloc_workspace)(int64_t panels, int64_t red, int64_t rows,
                                               int threads, int64_t per_thread,
                                               FC_REAL **packed, FC_REAL **scratch)
{
    int64_t packed_bytes, scratch_bytes;
    const int64_t packed_dims[4] = {panels, red, rows, (int64_t)sizeof(FC_REAL)};
    const int64_t scratch_dims[3] = {threads, per_thread, (int64_t)sizeof(FC_REAL)};
    FC_RETURN_IF_ERROR(fc_checked_product(packed_dims, 4, &packed_bytes));
    FC_RETURN_IF_ERROR(fc_checked_product(scratch_dims, 3, &scratch_bytes));
    *packed = fc_aligned_alloc(packed_bytes);
    *scratch = fc_aligned_alloc(scratch_bytes);
    if (*packed && *scratch) return FC_OK;
    fc_aligned_free(*packed);
    fc_aligned_free(*scratch);
    return FC_ERR_OUT_OF_MEMORY;
}

/* ---- packing ------------------------------------------------------------------------------ */

/* d[b * ld + a] = r[a][b] for a, b < 4: one 4 x 4 tile of a transposing copy.  gcc -O3 made
 * the element form of it 16 scalar loads and 12 shuffles per tile (half of the GEMM's time in
 * conv2d's grad_weight, whose A and B are both transposed as they are packed); as four vector
 * loads, eight shuffles and four vector stores (generic vectors: SSE2 on x86-64, NEON on
 * aarch64, two registers per vector for float64 on SSE2) it moves three times as fast. */
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12) /* __builtin_shufflevector */
typedef FC_REAL FC_FN(vec4) __attribute__((vector_size(4 * sizeof(FC_REAL))));
static inline void FC_FN(transpose4)(const FC_REAL *r0, const FC_REAL *r1, const FC_REAL *r2,
                                     const FC_REAL *r3, FC_REAL *restrict d, int64_t ld)
{
    FC_FN(vec4) a0, a1, a2, a3;
    memcpy(&a0, r0, sizeof a0);
    memcpy(&a1, r1, sizeof a1);
    memcpy(&a2, r2, sizeof a2);
    memcpy(&a3, r3, sizeof a3);
    const FC_FN(vec4) t0 = __builtin_shufflevector(a0, a1, 0, 4, 1, 5);
    const FC_FN(vec4) t1 = __builtin_shufflevector(a0, a1, 2, 6, 3, 7);
    const FC_FN(vec4) t2 = __builtin_shufflevector(a2, a3, 0, 4, 1, 5);
    const FC_FN(vec4) t3 = __builtin_shufflevector(a2, a3, 2, 6, 3, 7);
    const FC_FN(vec4) c0 = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);
    const FC_FN(vec4) c1 = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
    const FC_FN(vec4) c2 = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
    const FC_FN(vec4) c3 = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
    memcpy(d, &c0, sizeof c0);
    memcpy(d + ld, &c1, sizeof c1);
    memcpy(d + 2 * ld, &c2, sizeof c2);
    memcpy(d + 3 * ld, &c3, sizeof c3);
}
#else
static inline void FC_FN(transpose4)(const FC_REAL *r0, const FC_REAL *r1, const FC_REAL *r2,
                                     const FC_REAL *r3, FC_REAL *restrict d, int64_t ld)
{
    const FC_REAL *r[4] = {r0, r1, r2, r3};
    for (int b = 0; b < 4; b++)
        for (int a = 0; a < 4; a++) d[b * ld + a] = r[a][b];
}
#endif

/* dst[j * ld_dst + i] = src[i * ld_src + j] for i < rows, j < cols: the transposing copy of
 * every pack and store whose source runs along the other axis (x and W both run along the
 * reduction), in 4 x 4 tiles (transpose4); a plain element loop (one scalar load and store
 * per element, strides reloaded from the stack) was 60% of LeNet-5's fc2 forward. */
static inline void FC_FN(gemm_transpose)(const FC_REAL *restrict src, int64_t ld_src,
                                         int64_t rows, int64_t cols, FC_REAL *restrict dst,
                                         int64_t ld_dst)
{
    int64_t i = 0;
    for (; i + 4 <= rows; i += 4) {
        const FC_REAL *s = src + i * ld_src;
        FC_REAL *d = dst + i;
        int64_t j = 0;
        for (; j + 4 <= cols; j += 4)
            FC_FN(transpose4)(s + j, s + ld_src + j, s + 2 * ld_src + j, s + 3 * ld_src + j,
                              d + j * ld_dst, ld_dst);
        for (; j < cols; j++)
            for (int a = 0; a < 4; a++) d[j * ld_dst + a] = s[a * ld_src + j];
    }
    for (; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) dst[j * ld_dst + i] = src[i * ld_src + j];
}

/* One panel: dst[p * w + t] = M(t, p) for t < live, 0 for live <= t < w, p < kc, where
 * M(t, p) = src[t * t_stride + p * p_stride] (a row panel of A, a column panel of B). */
static inline void FC_FN(gemm_pack_panel)(const FC_REAL *src, int64_t t_stride,
                                          int64_t p_stride, int64_t live, int64_t kc, int64_t w,
                                          FC_REAL *restrict dst)
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
        FC_FN(gemm_transpose)(src, t_stride, live, kc, dst, w);
    } else {
        for (int64_t p = 0; p < kc; p++)
            for (int64_t t = 0; t < live; t++) dst[p * w + t] = src[t * t_stride + p * p_stride];
    }
    if (live < w)
        for (int64_t p = 0; p < kc; p++)
            for (int64_t t = live; t < w; t++) dst[p * w + t] = 0;
}

/* `count` lines t of a strided matrix (line t, step p at src[t * t_stride + p * p_stride]),
 * p < kc, as ceil(count / w) panels of kc x w (dst[panel * kc * w + p * w + t % w]), zero
 * past the last line.  A's rows (w = MR): t_stride = A's row stride, p_stride = its column
 * stride; B's columns (w = NR): t_stride = B's column stride, p_stride = its row stride. */
static inline void FC_FN(gemm_pack_panels)(const FC_REAL *src, int64_t t_stride,
                                           int64_t p_stride, int64_t count, int64_t kc,
                                           int64_t w, FC_REAL *dst)
{
    for (int64_t t0 = 0; t0 < count; t0 += w, dst += kc * w)
        FC_FN(gemm_pack_panel)(src + t0 * t_stride, t_stride, p_stride,
                               fc_min_i64(w, count - t0), kc, w, dst);
}

/* n contiguous values (dst and src apart): 64-byte moves the compiler inlines, the rest as
 * two moves of a power of two that overlap (the same values twice), not value by value.  The
 * runs are one sub-panel row (NR values) at a time: a libc memcpy call per run was 14% of
 * vgg_3x3; and the scatter of a small map's grid rows (lenet_c2's 10 values) was 13% of its
 * time value by value. */
static inline void FC_FN(copy_run)(FC_REAL *dst, const FC_REAL *src, int64_t n)
{
    const int64_t size = (int64_t)sizeof(FC_REAL), per = 64 / size;
    if (n >= per) {
        int64_t i = 0;
        for (; i + per <= n; i += per) memcpy(dst + i, src + i, 64);
        if (i < n) memcpy(dst + n - per, src + n - per, 64);
    } else if (n * size >= 32) {
        memcpy(dst, src, 32);
        memcpy(dst + n - 32 / size, src + n - 32 / size, 32);
    } else if (n * size >= 16) {
        memcpy(dst, src, 16);
        memcpy(dst + n - 16 / size, src + n - 16 / size, 16);
    } else if (n * size >= 8) {
        memcpy(dst, src, 8);
        memcpy(dst + n - 8 / size, src + n - 8 / size, 8);
    } else if (n > 0) {
        dst[0] = src[0];
    }
}

/* n values from src[0], src[stride], ... (or zeros when src is NULL) to dst: the runs of the
 * packers of B (im2col panels, G on the virtual grid), mostly short. */
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

/* ---- one block of C ----------------------------------------------------------------------- */

/* What happens besides the products: each row starts from init[i] (a bias along C's rows), or
 * from C itself (accumulate: the driver wrote a bias along C's columns first), or 0; at the
 * store of the last kc block the microkernel applies the `fused` flags (kernels/fused.h) of
 * the op's epilogue (common/epilogue.h), and the rest of it (`post`: residual, activations no
 * microkernel fuses) runs on the finished block -- here when C is y itself, else in the
 * driver's store. */
typedef struct FC_FN(gemm_epilogue) {
    const FC_REAL *init; /* m_panels x MR values, zero past the block's rows; or NULL */
    int accumulate;
    unsigned fused;
    const fc_epi *post; /* NULL: nothing after the microkernel */
} FC_FN(gemm_epilogue);

typedef struct FC_FN(gemm_block) FC_FN(gemm_block);
struct FC_FN(gemm_block) {
    const FC_FN(gemm_config) *cfg;
    int64_t k, kc;                /* the reduction, walked in blocks of kc */
    int64_t m_panels, rows, cols; /* MR panels of A; C's valid rows and columns */
    /* A: the kc x MR panels of reduction rows [k0, k0 + kc), panel ip at *a + ip * *a_step */
    const FC_REAL *(*a_panels)(FC_FN(gemm_block) *blk, int64_t k0, int64_t kc,
                               int64_t *a_step);
    /* or, where a_panels sets a_lda > 0, A read in place by the "rows" microkernel: row i of
     * panel ip at the result + ip * a_step + i * a_lda; a_edge (if not NULL): the last
     * panel, packed (fewer than MR rows left) */
    int64_t a_lda;
    const FC_REAL *a_edge;
    /* B, once per kc block (NULL: nothing to do): pack what the sub-panels need, and when
     * they are all packed, say where: sub-panel j0 / NR at b + (j0 / NR) * b_step */
    void (*b_pack)(FC_FN(gemm_block) *blk, int64_t k0, int64_t kc);
    const FC_REAL *b;
    int64_t b_step;
    /* otherwise (NULL b_panel: b and b_step), B's sub-panel of columns [j0, j0 + NR): kc x NR
     * packed values (*rows left NULL), or B read in place: row p at the result + (*rows)[p] */
    const FC_REAL *(*b_panel)(FC_FN(gemm_block) *blk, int64_t k0, int64_t kc, int64_t j0,
                              const ptrdiff_t **rows);
    /* C: tile (ip, j0) at c + ip * MR * ldc + j0.  c_padded: every tile lies in C (a scratch
     * block); otherwise the partial tiles go through `edge` (MR x NR) */
    FC_REAL *c;
    int64_t ldc;
    int c_padded;
    FC_REAL *edge;
    FC_FN(gemm_epilogue) epilogue;
    /* after the last kc block (NULL: C is in place): C's valid part to where it belongs */
    void (*store)(FC_FN(gemm_block) *blk);
    void *ctx; /* the driver's */
    /* grid_wp > 0: C's columns are pixels [grid_pix0, grid_pix0 + cols) of a virtual grid
     * grid_wp wide (conv2d's, ops/conv2d_im2col.tmpl.h) of which the first grid_w of each row
     * are stored, compacted: grid pixel p at c + (p / grid_wp) * grid_w + p % grid_wp.  The
     * tiles that lie inside one grid row go there in place, the others (junk columns, the
     * last tile) through `edge`, their valid runs copied (gemm_edge_move). */
    int64_t grid_wp, grid_w, grid_pix0;
};

/* The one place deciding a kc block's flags and start values from the epilogue: the first
 * block starts from init (or C), every later one from C; the last applies the activation. */
static inline unsigned FC_FN(gemm_block_flags)(const FC_FN(gemm_epilogue) *e, int64_t k0,
                                               int64_t kc, int64_t k, const FC_REAL **init)
{
    unsigned flags = k0 > 0 || e->accumulate ? FC_GEMM_ACCUMULATE : 0;
    if (k0 + kc == k) flags |= e->fused;
    *init = k0 == 0 ? e->init : NULL;
    return flags;
}

/* One MR x NR tile: A packed (lda 0) or read in place, B packed (b_rows NULL) or in place. */
static inline void FC_FN(gemm_tile)(const FC_FN(gemm_config) *cfg, int64_t kc, const FC_REAL *a,
                                    int64_t lda, const FC_REAL *b, const ptrdiff_t *b_rows,
                                    FC_REAL *c, int64_t ldc, const FC_REAL *init, unsigned flags)
{
    if (b_rows || lda)
        cfg->rows_ukernel((size_t)kc, a, (size_t)lda, b, b_rows, c, (size_t)ldc, init, flags);
    else
        cfg->ukernel((size_t)kc, a, b, c, (size_t)ldc, init, flags);
}

/* Rows [0, rows) x columns [0, width) of an edge tile (MR x NR scratch, NR apart) to C
 * (to_c) or from it; c: the tile's first row at C's column 0 (ldc apart), p0: the tile's first
 * column.  On a grid (grid_wp > 0, gemm_block) only the valid runs, each where it is stored. */
static inline void FC_FN(gemm_edge_move)(const FC_FN(gemm_block) *blk, FC_REAL *c, int64_t ldc,
                                         int64_t p0, int64_t rows, int64_t width,
                                         FC_REAL *edge, int64_t nr, int to_c)
{
    const int64_t wp = blk->grid_wp, w = blk->grid_w;
    for (int64_t j = 0; j < width;) {
        int64_t at = p0 + j, n = width - j;
        if (wp > 0) {
            const int64_t ow = at % wp;
            if (ow >= w) { /* junk columns: never stored */
                j += wp - ow;
                continue;
            }
            n = fc_min_i64(w - ow, n);
            at = at / wp * w + ow;
        }
        for (int64_t i = 0; i < rows; i++) {
            if (to_c)
                FC_FN(copy_run)(c + i * ldc + at, edge + i * nr + j, n);
            else
                FC_FN(copy_run)(edge + i * nr + j, c + i * ldc + at, n);
        }
        j += n;
    }
}

/* The macro-kernel: one kc block of the block.  One NR-wide sub-panel of B (kc x NR, in L1)
 * meets every A panel of the block (in L2) before the next sub-panel: streaming B from L2 per
 * A panel instead costs two vector loads per eight FMAs from L2. */
static inline void FC_FN(gemm_macro_kernel)(FC_FN(gemm_block) *blk, int64_t k0, int64_t kc,
                                            const FC_REAL *a, int64_t a_step,
                                            const FC_REAL *init, unsigned flags)
{
    const FC_FN(gemm_config) *cfg = blk->cfg;
    /* the block's fields in locals: the callbacks and the microkernel's stores could alias
     * *blk for all the compiler knows (b_panel must not change them) */
    const int64_t mr = cfg->mr, nr = cfg->nr, ldc = blk->ldc, cols = blk->cols;
    const int64_t m_panels = blk->m_panels, c_rows = blk->rows, b_step = blk->b_step;
    const int padded = blk->c_padded;
    const int64_t lda = blk->a_lda;
    const FC_REAL *packed_b = blk->b, *a_edge = lda ? blk->a_edge : NULL;
    FC_REAL *c_block = blk->c, *edge = blk->edge;
    const int64_t grid_wp = blk->grid_wp;
    for (int64_t j0 = 0; j0 < cols; j0 += nr) {
        const int64_t width = fc_min_i64(nr, cols - j0);
        const ptrdiff_t *b_rows = NULL;
        const FC_REAL *b = blk->b_panel ? blk->b_panel(blk, k0, kc, j0, &b_rows)
                                        : packed_b + (j0 / nr) * b_step;
        /* the tile's columns in C: from c_j on, whole (NR of them, contiguous) or not */
        FC_REAL *c_j = c_block + j0;
        int whole = width == nr;
        int64_t p0 = j0;
        if (grid_wp > 0) {
            p0 = blk->grid_pix0 + j0;
            const int64_t ow = p0 % grid_wp;
            c_j = c_block + p0 / grid_wp * blk->grid_w + ow;
            whole = whole && ow + nr <= blk->grid_w;
        }
        int64_t ip = 0;
        if (!b_rows && !lda && (padded || whole)) {
            /* the tiles that lie whole in C on packed B: straight microkernel calls (the
             * general loop below cost some 70 instructions per tile, 8% of LeNet's conv2
             * backward-data, whose blocks are one tile tall) */
            const FC_FN(gemm_ukernel_fn) ukernel = cfg->ukernel;
            const int64_t whole = padded ? m_panels : c_rows / mr;
            for (; ip < whole; ip++)
                ukernel((size_t)kc, a + ip * a_step, b, c_j + ip * mr * ldc, (size_t)ldc,
                        init ? init + ip * mr : NULL, flags);
        }
        for (; ip < m_panels; ip++) {
            const int64_t rows = fc_min_i64(mr, c_rows - ip * mr);
            const int edge_a = a_edge && ip == m_panels - 1;
            const FC_REAL *a_ip = edge_a ? a_edge : a + ip * a_step;
            const FC_REAL *init_ip = init ? init + ip * mr : NULL;
            const int64_t lda_ip = edge_a ? 0 : lda;
            if (padded || (rows == mr && whole)) {
                FC_FN(gemm_tile)(cfg, kc, a_ip, lda_ip, b, b_rows, c_j + ip * mr * ldc, ldc,
                                 init_ip, flags);
                continue;
            }
            /* Edge of C: run the full tile on scratch, keep the valid part.  Stale values
             * outside it are never stored to C. */
            FC_REAL *c = c_block + ip * mr * ldc;
            if (flags & FC_GEMM_ACCUMULATE)
                FC_FN(gemm_edge_move)(blk, c, ldc, p0, rows, width, edge, nr, 0);
            FC_FN(gemm_tile)(cfg, kc, a_ip, lda_ip, b, b_rows, edge, nr, init_ip, flags);
            FC_FN(gemm_edge_move)(blk, c, ldc, p0, rows, width, edge, nr, 1);
        }
    }
}

/* The block over its whole reduction, then its store. */
static inline void FC_FN(gemm_run_block)(FC_FN(gemm_block) *blk)
{
    for (int64_t k0 = 0; k0 < blk->k; k0 += blk->kc) {
        const int64_t kc = fc_min_i64(blk->kc, blk->k - k0);
        int64_t a_step;
        blk->a_lda = 0;
        blk->a_edge = NULL;
        const FC_REAL *a = blk->a_panels(blk, k0, kc, &a_step);
        if (blk->b_pack) blk->b_pack(blk, k0, kc);
        const FC_REAL *init;
        const unsigned flags = FC_FN(gemm_block_flags)(&blk->epilogue, k0, kc, blk->k, &init);
        FC_FN(gemm_macro_kernel)(blk, k0, kc, a, a_step, init, flags);
    }
    if (blk->store)
        blk->store(blk);
    else if (blk->epilogue.post)
        FC_FN(epilogue_apply)(blk->epilogue.post, blk->c, blk->rows, blk->cols, blk->ldc, 1);
}

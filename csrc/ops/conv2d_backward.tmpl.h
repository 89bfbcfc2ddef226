/* conv2d backward drivers for one dtype (instantiated by conv2d_backward.c, after the GEMM
 * frame, ops/gemm_frame.tmpl.h, whose plan, packers, macro-kernel and workspace allocation
 * they use).
 *
 * Per group g, with G_g = grad_output (Kg x PQ) of one image and col_g its im2col matrix
 * (red x PQ, red = Cg * R * S):
 *   grad_weight_g (Kg x red) = sum over images of G_g * col_g^T
 *   grad_input: dcol_g (red x PQ) = W_g^T * G_g, then col2im adds dcol back into the planes
 *   grad_bias[k] = sum over images and pixels of G[k]
 * grad_input is a block of the frame per (block of pixels, strip of MR rows of dcol): A = W^T
 * (transposed weight panels), B = G's columns (a strided matrix, or G on the virtual grid),
 * C = a dcol strip in scratch, the epilogue col2im (or the grid's runs).  grad_weight runs on
 * the same GEMM microkernel with the frame's packers, tasks and a budget of its own
 * (conv_bw_weight_budget): per item a block of C (MR-row tiles of filters x up to 512
 * reduction columns), A = grad_output rows packed as kc x MR panels (a transpose: the pixels
 * are the reduction), B = im2col rows (on the grid: the padded planes at each tap's offset)
 * packed as kc x NR panels.  Every element of grad_weight adds its products one pixel after
 * the other (chunks of images, blocks of pixels, images, pixels): one FMA chain, in an order
 * fixed by the shape.  (It ran on an NT "lanes" kernel before: 16 partial sums per element
 * stored per block of pixels and reduced at the end, which cost as many loads and stores as
 * multiply-adds on small images: 0.17x torch on 512 x 7 x 7.)
 *
 * Stride 1 (the common case) needs no im2col at all: on a "virtual grid" of out_h rows of the
 * padded width wp, where grad_output is zero past column out_w, the im2col row of tap (c, r, s)
 * is the padded plane of channel c read from offset r * dilation_h * wp + s * dilation_w, and
 * col2im of a dcol row is one contiguous run added at that offset.  The extra columns cost
 * (wp / out_w - 1) more multiply-adds: grad_weight on the GEMM skips them (its B panels are
 * packed from the padded planes one output row segment at a time, A is grad_output in place),
 * and grad_input uses the grid only where they cost less than col2im's row segments (few
 * filters, wide rows).  Other strides pack im2col rows per block of pixels and run col2im row
 * segment by row segment.  No im2col matrix is ever built.
 *
 * Workspace: everything fits threads x max_workspace_bytes (fc_conv2d_params); a smaller
 * budget packs W^T per strip instead of once, B shallower and narrower, fewer k tiles per
 * grad_weight item, and each grad_weight item's own grid instead of the batch's shared one.
 * The order of every sum is fixed by the shape and the ISA's tiles (blocks of pixels, chunks
 * of images), never by the budget, the thread count or the schedule. */

/* grad_bias[k] for k in [k_begin, k_end): LANES partial sums, lane j taking the pixels
 * i = j (mod LANES) of every image in order, then a fixed pairwise tree.  A single running sum
 * would be one dependent add per pixel (4 cycles each); the lanes vectorise.  The order depends
 * on nothing but the shapes. */
static void FC_FN(conv_grad_bias)(int64_t images, int64_t filters, int64_t pixels,
                                  const FC_REAL *g, FC_REAL *gb, int64_t k_begin, int64_t k_end)
{
    enum { LANES = 16 };
    for (int64_t k = k_begin; k < k_end; k++) {
        FC_REAL acc[LANES];
        for (int j = 0; j < LANES; j++) acc[j] = 0;
        for (int64_t n = 0; n < images; n++) {
            const FC_REAL *row = g + (n * filters + k) * pixels;
            int64_t i = 0;
            for (; i + LANES <= pixels; i += LANES)
                for (int j = 0; j < LANES; j++) acc[j] += row[i + j];
            for (int j = 0; i < pixels; i++, j++) acc[j] += row[i];
        }
        for (int width = LANES / 2; width > 0; width /= 2)
            for (int j = 0; j < width; j++) acc[j] += acc[j + width];
        gb[k] = acc[0];
    }
}

/* im2col rows of image group x_group: reduction indices (c, r, s) in [col0, col0 + cols), each
 * a row of ld values over output pixels [pix0, pix0 + kc), zero for padding taps and past kc;
 * rows [cols, rows) are zero.  Walked one output row segment at a time, where the taps inside
 * the plane form one run (contiguous for stride 1: a copy the compiler vectorises). */
static void FC_FN(pack_im2col_rows)(const fc_conv2d_params *p, int64_t out_w,
                                    const FC_REAL *x_group, int64_t col0, int64_t cols,
                                    int64_t rows, int64_t pix0, int64_t kc, int64_t ld,
                                    FC_REAL *panel)
{
    const int64_t taps = p->r * p->s, sw = p->stride_w;
    for (int64_t jj = 0; jj < rows; jj++) {
        FC_REAL *dst = panel + jj * ld;
        if (jj >= cols) {
            for (int64_t q = 0; q < ld; q++) dst[q] = 0;
            continue;
        }
        const int64_t idx = col0 + jj, c = idx / taps, r = (idx % taps) / p->s, s = idx % p->s;
        const FC_REAL *plane = x_group + c * p->h * p->w;
        const int64_t dh = r * p->dilation_h - p->pad_top;
        const int64_t dw = s * p->dilation_w - p->pad_left;
        int64_t lo, hi;
        fc_valid_range(dw, sw, p->w, out_w, &lo, &hi);
        int64_t q = 0, oh = pix0 / out_w, ow = pix0 % out_w;
        while (q < kc) {
            const int64_t seg_end = fc_min_i64(out_w, ow + (kc - q)); /* ow in [ow, seg_end) */
            const int64_t ih = oh * p->stride_h + dh;
            FC_REAL *d = dst + (q - ow); /* d[o] is output column o */
            if (ih < 0 || ih >= p->h) {
                for (int64_t o = ow; o < seg_end; o++) d[o] = 0;
            } else {
                const FC_REAL *src = plane + ih * p->w + dw;
                const int64_t a = fc_min_i64(fc_max_i64(ow, lo), seg_end);
                const int64_t b = fc_max_i64(a, fc_min_i64(seg_end, hi));
                for (int64_t o = ow; o < a; o++) d[o] = 0;
                if (sw == 1)
                    for (int64_t o = a; o < b; o++) d[o] = src[o];
                else
                    for (int64_t o = a; o < b; o++) d[o] = src[o * sw];
                for (int64_t o = b; o < seg_end; o++) d[o] = 0;
            }
            q += seg_end - ow;
            ow = 0;
            oh++;
        }
        for (; q < ld; q++) dst[q] = 0;
    }
}

/* dst[i] += src[i], i < n: col2im's runs at stride 1.  restrict and 8-value steps (two
 * vectors of the generic target), then the rest: the loop the compiler made of the plain
 * form checked the two for overlap and peeled per run, as much as the adds themselves on
 * 28-value runs. */
static inline void FC_FN(add_run)(FC_REAL *restrict dst, const FC_REAL *restrict src, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) dst[i + j] += src[i + j];
    for (; i < n; i++) dst[i] += src[i];
}

/* col2im, adding: rows [row0, row0 + rows) of dcol (reduction indices, row stride ld) over
 * output pixels [pix0, pix0 + cols) are added into the input planes of the group, row by row,
 * pixels ascending, so every input element receives its terms in a fixed order. */
static void FC_FN(col2im_add)(const fc_conv2d_params *p, int64_t out_w, const FC_REAL *dcol,
                              int64_t ld, int64_t row0, int64_t rows, int64_t pix0, int64_t cols,
                              FC_REAL *gx_group)
{
    const int64_t taps = p->r * p->s;
    for (int64_t i = 0; i < rows; i++) {
        const int64_t idx = row0 + i, c = idx / taps, r = (idx % taps) / p->s, s = idx % p->s;
        FC_REAL *plane = gx_group + c * p->h * p->w;
        const FC_REAL *src = dcol + i * ld;
        const int64_t dh = r * p->dilation_h - p->pad_top;
        const int64_t dw = s * p->dilation_w - p->pad_left;
        int64_t lo, hi;
        fc_valid_range(dw, p->stride_w, p->w, out_w, &lo, &hi);
        int64_t j = 0, oh = pix0 / out_w, ow = pix0 % out_w;
        while (j < cols) {
            const int64_t seg_end = fc_min_i64(out_w, ow + (cols - j));
            const int64_t ih = oh * p->stride_h + dh;
            if (ih >= 0 && ih < p->h) {
                FC_REAL *dst = plane + ih * p->w + dw;
                const FC_REAL *s_row = src + (j - ow); /* s_row[o] is output column o */
                const int64_t a = fc_max_i64(ow, lo), b = fc_min_i64(seg_end, hi);
                if (p->stride_w == 1)
                    FC_FN(add_run)(dst + a, s_row + a, b - a);
                else
                    for (int64_t o = a; o < b; o++) dst[o * p->stride_w] += s_row[o];
            }
            j += seg_end - ow;
            ow = 0;
            oh++;
        }
    }
}

/* The blocking of one backward call, shared by the size computation and the region. */
typedef struct FC_FN(conv_bw_plan) {
    int64_t cg, kg, red, pixels;
    int64_t mr, nr;
    /* grad_input: blocks of gi_nc pixels (virtual ones on the grid), the order col2im adds
     * in, fixed by the shape and the tile; within max_workspace_bytes (conv_bw_budget) B is
     * packed gi_kc deep, gi_bnc columns at a time, and W^T is packed once, shared
     * (gi_shared_a), or by each thread per strip */
    int64_t gi_nc, red_tiles, gi_kc, gi_bnc;
    int gi_shared_a;
    /* MR-row strips of dcol per frame block (the strips of a block are added in row order, as
     * one strip at a time would: the same sums) */
    int64_t gi_strips;
    /* grad_input items: each (image, group) split into gi_splits ranges of gi_ch input
     * channels (a multiple of MR / gcd(taps, MR): whole MR-row strips of dcol), so that a
     * batch of one gives every thread work.  An input plane receives terms from its own
     * channel's rows only, in the order (block, row, pixel) of the whole item: the split
     * changes who adds, never a sum. */
    int64_t gi_ch, gi_splits;
    /* on the grid: dcol rows are added as whole runs to padded planes (cg x plane_size per
     * thread, cropped at the end of the item) when they fit the budget, else as the runs'
     * parts inside the input: the same additions, one call per row instead of per segment */
    int gi_pad;
    /* grad_input packs B from gv, grad_output's rows on the grid built once in phase 0 (shared
     * with grad_weight, or for grad_input alone when it fits the budget) instead of from G
     * itself per block: copies of whole runs */
    int gi_gv;
    /* grad_weight (the GEMM microkernel's MR x NR tiles, nt_mr x nt_nr): kc pixels per block
     * (a multiple of lanes, the virtual grid's rounding), packed gw_kcs at a time; columns of
     * red per work item */
    int64_t nt_mr, nt_nr, lanes;
    int64_t gw_kc, gw_kcs, gw_cols, gw_col_blocks, k_tiles;
    /* grad_weight on the GEMM microkernel (else the NT lanes kernel), by the shape only */
    int gw_gemm;
    int64_t taps;
    /* within max_workspace_bytes (conv_bw_weight_budget): gw_kb k tiles per item (gw_k_blocks
     * items per column block), and the grid built by each item for each block of pixels
     * (gw_private: gw_nch planes' runs of gw_span values, per image of a chunk) when the
     * shared one does not fit.  None of it changes a sum. */
    int64_t gw_kb, gw_k_blocks, gw_nch, gw_span;
    int gw_private;
    /* the virtual grid (stride 1), built once per call in shared buffers: row stride wp of the
     * padded plane, plane_size per channel (with slack for the last tap's overrun), vpix
     * virtual pixels (out_h rows of wp, rounded up to the lanes); gv_rows rows of grad_output
     * (with slack for the last NT tile) and xp_size values of padded input planes */
    int shared;
    /* 1x1, stride 1, no padding, on the GEMM: grad_weight reads grad_output and the input in
     * place (the grid would be a copy of them, and their finite checks a pass more: 40% of
     * ResNet's 256 -> 64 1x1 grad_weight on 56 x 56) */
    int gw_plain;
    /* on the shared grid, on the GEMM: grad_weight runs over the output pixels only, A being
     * grad_output in place and B packed from the padded planes one output row segment at a
     * time, instead of over the grid's virtual pixels (whose wp - out_w junk columns per row
     * are multiply-adds of zeros: 7% of 28 x 28 3x3, 24% of 17 x 17 5x5, 29% of 7 x 7 3x3).
     * Each element adds the same products in the same order less the zeros. */
    int gw_compact;
    int64_t wp, plane_size, vpix, gv_rows, xp_size, gw_images;
    /* grad_input on the virtual grid (finite weights): B holds grad_output on the grid (zero
     * in the junk columns) and each dcol row is added to the planes as runs */
    int gi_direct;
    int64_t gi_scratch, gw_scratch;
} FC_FN(conv_bw_plan);

static void FC_FN(conv_bw_make_plan)(const fc_conv2d_params *p, int64_t out_h, int64_t out_w,
                                     const FC_FN(gemm_config) * cfg,
                                     const FC_FN(gemm_nt_config) * nt, int threads,
                                     FC_FN(conv_bw_plan) * pl)
{
    pl->cg = p->c / p->groups;
    pl->kg = p->k / p->groups;
    pl->red = pl->cg * p->r * p->s;
    pl->pixels = out_h * out_w;
    pl->mr = cfg->mr;
    pl->nr = cfg->nr;
    const int64_t mr = pl->mr, nr = pl->nr;
    /* grad_input: blocks of the forward's nc pixels; B holds kg x nc, a dcol strip mr x nc */
    pl->gi_nc = fc_min_i64(fc_ceil_div(pl->pixels, nr), fc_max_i64(cfg->nc / nr, 1)) * nr;
    pl->red_tiles = fc_ceil_div(pl->red, mr);
    /* grad_weight: the columns of red are split so that the groups x column blocks give every
     * thread work; the split never changes a sum, only who computes it.  512 pixels per block
     * keep a block of grad_output and im2col rows in L2; they are packed the GEMM's kc deep.
     * Up to 512 columns per item (256 past 128 filters): each packed A panel meets up to
     * 512 / NR B panels, and the fewer items of a group pack A (grad_output's rows, transposed)
     * fewer times (64 columns packed the A rows for two B panels only).  Measured at 2 threads,
     * avx512, interleaved medians, 256 -> 512: 128 x 28 x 28 3x3 grad_weight 6.1 -> 4.0 ms,
     * batch 8 64 -> 53 ms; with 512 filters the block of C (filters x columns) left L2:
     * 512 x 7 x 7 3x3 8.8 -> 11.6 ms. */
    /* The GEMM packs (transposes) kc x (kg + cols) values per block for kg x cols x kc
     * multiply-adds: with few filters the packing outweighs what it saves.  Measured at one
     * thread, avx512, minimum of 21-41 runs (GEMM vs NT ms): kg 16 (LeNet conv2, batch 64)
     * 0.87 vs 0.64; kg 64: 3x224x224 7x7 s2 3.8 vs 8.2, 32x17x17 5x5 (batch 8) 3.2 vs 3.8;
     * kg 128 28x28 3x3 2.4 vs 3.8; kg 512 7x7 3x3 9.7 vs 113. */
    pl->gw_gemm = pl->kg >= 32;
    pl->taps = p->r * p->s;
    pl->nt_mr = pl->gw_gemm ? cfg->mr : nt->mr;
    pl->nt_nr = pl->gw_gemm ? cfg->nr : nt->nr;
    pl->lanes = nt->lanes;
    pl->gw_kc = fc_ceil_div(fc_min_i64(pl->pixels, 512), pl->lanes) * pl->lanes;
    pl->gw_kcs = pl->gw_gemm ? fc_min_i64(pl->gw_kc, cfg->kc) : 0;
    pl->k_tiles = fc_ceil_div(pl->kg, pl->nt_mr);
    const int64_t per_group = fc_ceil_div(threads, p->groups);
    const int64_t max_cols =
        fc_ceil_div(!pl->gw_gemm ? 64 : pl->kg <= 128 ? 512 : 256, pl->nt_nr) * pl->nt_nr;
    /* as many blocks per group as needed for max_cols, rounded up to a multiple of the threads
     * per group so that the items divide evenly among the threads */
    const int64_t blocks = fc_ceil_div(fc_ceil_div(pl->red, max_cols), per_group) * per_group;
    const int64_t cols = fc_ceil_div(fc_ceil_div(pl->red, blocks), pl->nt_nr) * pl->nt_nr;
    pl->gw_cols = cols;
    pl->gw_col_blocks = fc_ceil_div(pl->red, cols);
    const int64_t rows_a = pl->k_tiles * pl->nt_mr;
    /* Stride 1 (see the top of this file): the virtual grid of grad_output and the padded
     * input planes of the whole batch are built once, shared by all threads, when they fit in
     * 2^22 values (LeNet's layers at batch 64: under 1.5 MiB of floats); larger batches pack
     * im2col rows instead.  Saturating sizes: a huge padding and dilation give planes no
     * machine holds, while the output stays small. */
    pl->wp = p->w + p->pad_left + p->pad_right;
    const int64_t hp = p->h + p->pad_top + p->pad_bottom;
    pl->plane_size = fc_add_saturating(
        fc_add_saturating(fc_mul_saturating(hp, pl->wp),
                          fc_mul_saturating(p->s - 1, p->dilation_w)), pl->lanes + 16);
    pl->plane_size -= pl->plane_size % 16;
    pl->vpix = fc_add_saturating(fc_mul_saturating(out_h, pl->wp), pl->lanes - 1);
    pl->vpix -= pl->vpix % pl->lanes;
    pl->gv_rows = p->n * p->k + rows_a;
    pl->xp_size = fc_mul_saturating(p->n * p->c, pl->plane_size);
    const int64_t shared = fc_add_saturating(fc_mul_saturating(pl->gv_rows, pl->vpix),
                                             pl->xp_size);
    pl->gw_plain = pl->gw_gemm && p->r == 1 && p->s == 1 && p->stride_h == 1 &&
                   p->stride_w == 1 && p->pad_top == 0 && p->pad_bottom == 0 &&
                   p->pad_left == 0 && p->pad_right == 0;
    pl->shared = p->stride_h == 1 && p->stride_w == 1 && shared <= ((int64_t)1 << 22) &&
                 !pl->gw_plain;
    pl->gw_compact = pl->shared && pl->gw_gemm && pl->wp != out_w;
    /* grad_weight's tiles run over chunks of images whose grad_output rows and input planes
     * fit in 2^16 values (256 KiB of floats, L2), not over the whole batch at once: streaming
     * the batch once per tile made LeNet's conv1 memory-bound on two threads */
    const int64_t image_values = fc_add_saturating(fc_mul_saturating(rows_a, pl->vpix),
                                                   fc_mul_saturating(pl->cg, pl->plane_size));
    pl->gw_images = fc_max_i64(1, ((int64_t)1 << 16) / image_values);
    /* an item's own grid: the planes its columns read, from a block's first pixel to its last
     * tap's last one */
    pl->gw_nch = fc_min_i64(pl->cg, (cols - 1) / (p->r * p->s) + 2);
    pl->gw_span = fc_add_saturating(
        pl->gw_kc, fc_add_saturating(fc_mul_saturating((p->r - 1) * p->dilation_h, pl->wp),
                                     fc_mul_saturating(p->s - 1, p->dilation_w)));
    if (pl->gw_compact) /* a block of gw_kc output pixels spans its rows' junk columns too */
        pl->gw_span = fc_add_saturating(
            pl->gw_span, fc_mul_saturating((pl->gw_kc - 1) / out_w + 1, pl->wp - out_w));
    /* (the bound on the padded planes is the one of the former padded-plane scratch: kept,
     * as the grid's blocks of virtual pixels add in another order than the blocks of pixels) */
    const int64_t gx_planes = fc_mul_saturating(pl->cg, pl->plane_size);
    /* The grid's wp - out_w junk columns cost kg multiply-adds each per dcol row; col2im off
     * the grid costs a pass per output row segment instead of one per row.  With many filters
     * the junk costs more (1 thread, avx2, CPU time, medians of 25 interleaved runs on the
     * loaded machine, grid / off the grid: 128 x 28 x 28 3x3 3.22 / 3.16 ms, 512 x 7 x 7 3x3
     * 5.72 / 5.35 ms, which also skips the weights' finite check off the grid; 32 x 17 x 17
     * 5x5 at batch 8 3.81 / 3.77 ms); with few, the segments do.  Either way each input
     * element adds the same terms in the same order. */
    pl->gi_direct = pl->shared && gx_planes <= ((int64_t)1 << 19) &&
                    pl->kg * (pl->wp - out_w) < 8 * out_w;
    if (pl->gi_direct)
        pl->gi_nc = fc_min_i64(fc_ceil_div(pl->vpix, nr), fc_max_i64(cfg->nc / nr, 1)) * nr;
}

/* grad_input's blocking within threads x limit (the frame's plan, A packed per thread when
 * W^T does not fit: chunks of W^T would reorder col2im's additions); per thread: a dcol strip
 * (MR x gi_nc), B and A.  FC_ERR_WORKSPACE_TOO_SMALL below *min_bytes. */
static fc_status FC_FN(conv_bw_input_budget)(const fc_conv2d_params *p, FC_FN(conv_bw_plan) * pl,
                                            int threads, int64_t limit, int64_t *min_bytes)
{
    const int64_t panels = p->groups * pl->red_tiles, one = pl->mr * pl->gi_nc;
    const int64_t pad = fc_mul_saturating(pl->cg, pl->plane_size);
    fc_gemm_plan least;
    const fc_status status = FC_FN(gemm_plan)(pl->mr, pl->nr, pl->kg, pl->gi_nc, pl->kg, panels,
                                              threads, limit, one, 0, 0, 1, &least);
    *min_bytes = least.min_bytes;
    if (status != FC_OK) return status;
    /* several strips per block (dcol within 32 KiB, in L1 beside B's sub-panel) when W^T is
     * shared: one strip per block made the frame's per-block work 8% of LeNet conv2's
     * backward-data, whose strips are one tile */
    int64_t strips = fc_max_i64(1, fc_min_i64(pl->red_tiles,
                                              ((int64_t)32 << 10) / (one * (int64_t)sizeof(FC_REAL))));
    fc_gemm_plan plan;
    for (;;) {
        const int64_t strip = strips * one;
        pl->gi_pad = pl->gi_direct &&
                     FC_FN(gemm_plan)(pl->mr, pl->nr, pl->kg, pl->gi_nc, pl->kg, panels,
                                      threads, limit, fc_gemm_add_saturating(strip, pad), 0, 0, 1,
                                      &plan) == FC_OK &&
                     plan.chunk_panels > 0;
        if (!pl->gi_pad &&
            (FC_FN(gemm_plan)(pl->mr, pl->nr, pl->kg, pl->gi_nc, pl->kg, panels, threads, limit,
                              strip, 0, 0, 1, &plan) != FC_OK ||
             (strips > 1 && plan.chunk_panels == 0))) {
            strips = 1; /* (A packed per thread: one strip at a time) */
            pl->gi_pad = 0;
            plan = least;
        }
        if (plan.chunk_panels > 0 || strips == 1) break;
        strips = 1;
    }
    pl->gi_strips = strips;
    pl->gi_kc = plan.kc;
    pl->gi_bnc = plan.nc;
    pl->gi_shared_a = plan.chunk_panels > 0;
    /* One image and one block of pixels: each panel of W^T meets one block of dcol, so packing
     * it all first only writes it out and reads it back.  Past 1 MiB (L2) each strip packs its
     * own panel as it goes, straight from W: 1 thread, avx2, CPU time, 512 x 7 x 7 3x3 grad_input
     * spent 26% of its time packing W^T (9 MiB) ahead.  (Where W^T is packed changes no sum.) */
    const int64_t columns = pl->gi_direct ? pl->vpix : pl->pixels;
    const int64_t once_scratch = one + pl->gi_kc * pl->mr + pl->gi_kc * pl->gi_bnc +
                                 pl->mr * pl->nr;
    if (pl->gi_shared_a && p->n == 1 && columns <= pl->gi_nc && !pl->gi_pad &&
        fc_mul_saturating(pl->kg * pl->red * p->groups, (int64_t)sizeof(FC_REAL)) > (1 << 20) &&
        fc_mul_saturating(once_scratch, (int64_t)sizeof(FC_REAL)) <= limit) {
        pl->gi_strips = strips = 1; /* (several strips side by side: no faster) */
        pl->gi_shared_a = 0;
    }
    pl->gi_scratch = strips * one + pl->gi_kc * pl->gi_bnc + pl->mr * pl->nr +
                     (pl->gi_shared_a ? 0 : strips * pl->gi_kc * pl->mr) +
                     (pl->gi_pad ? pad : 0);
    return FC_OK;
}

/* grad_weight's scratch per thread (elements) for kb k tiles per item: the item's block of
 * C, its packed A panels and one B panel (gw_kcs deep); the grad_output and im2col rows of
 * one block of pixels (off the grid, or for a group whose input is not finite); the item's own grid
 * (private). */
static int64_t FC_FN(conv_bw_weight_scratch)(const FC_FN(conv_bw_plan) * pl, int64_t kb,
                                            int private_grid)
{
    const int64_t rows = kb * pl->nt_mr;
    const int64_t acc = fc_gemm_add_saturating(
        fc_mul_saturating(rows * pl->gw_cols, pl->gw_gemm ? 1 : pl->lanes),
        fc_mul_saturating(rows + pl->nt_nr, pl->gw_kcs));
    const int64_t rows_buf = fc_mul_saturating(rows + pl->gw_cols, pl->gw_kc);
    const int64_t grid = private_grid ? fc_mul_saturating(
        pl->gw_images, fc_gemm_add_saturating(fc_mul_saturating(rows, pl->gw_kc),
                                              fc_mul_saturating(pl->gw_nch, pl->gw_span)))
                                      : 0;
    return fc_gemm_add_saturating(acc, fc_max_i64(rows_buf, grid));
}

/* The elements grad_weight takes for `threads` threads with kb k tiles per item, with the
 * shared grid or each item's own (private_grid). */
static int64_t FC_FN(conv_bw_weight_need)(const FC_FN(conv_bw_plan) * pl, int threads,
                                         int64_t kb, int private_grid)
{
    const int64_t grid = pl->shared && !private_grid
                             ? fc_gemm_add_saturating(fc_mul_saturating(pl->gv_rows, pl->vpix),
                                                      pl->xp_size)
                             : 0;
    return fc_gemm_add_saturating(
        fc_mul_saturating(threads, FC_FN(conv_bw_weight_scratch)(pl, kb, private_grid)), grid);
}

/* grad_weight's items of `cols` reduction columns (none of it changes a sum) */
static void FC_FN(conv_bw_weight_cols)(FC_FN(conv_bw_plan) * pl, int64_t cols)
{
    pl->gw_cols = cols;
    pl->gw_col_blocks = fc_ceil_div(pl->red, cols);
    pl->gw_nch = fc_min_i64(pl->cg, (cols - 1) / pl->taps + 2);
}

/* grad_weight's blocking within threads x limit: the first that fits of the shared grid (on
 * the grid) with every k tile per item, then each item's own grid, then half the k tiles per
 * item, and so on to one, then (GEMM) half the columns per item, and so on to NR.  *min_bytes: the least of them all; *used_bytes: per thread. */
static fc_status FC_FN(conv_bw_weight_budget)(FC_FN(conv_bw_plan) * pl, int threads,
                                             int64_t limit, int64_t *min_bytes,
                                             int64_t *used_bytes)
{
    const int64_t size = (int64_t)sizeof(FC_REAL);
    const int64_t budget = fc_mul_saturating(threads, limit) / size;
    int64_t least = INT64_MAX, kb = pl->k_tiles, cols = pl->gw_cols, found_cols = cols;
    int private_grid = 0, found = 0;
    for (;;) {
        const int64_t need = FC_FN(conv_bw_weight_need)(pl, threads, kb, private_grid);
        least = fc_min_i64(least, need);
        if (!found && need <= budget) {
            found = 1;
            *used_bytes = fc_ceil_div(fc_mul_saturating(need, size), threads);
            pl->gw_kb = kb;
            pl->gw_k_blocks = fc_ceil_div(pl->k_tiles, kb);
            pl->gw_private = private_grid;
            pl->gw_scratch = FC_FN(conv_bw_weight_scratch)(pl, kb, private_grid);
            found_cols = cols;
        }
        if (pl->shared && !private_grid) private_grid = 1;
        else if (kb > 1) kb = fc_ceil_div(kb, 2);
        else if (pl->gw_gemm && cols > pl->nt_nr) /* then narrower blocks of C (GEMM only) */
            FC_FN(conv_bw_weight_cols)(pl, cols = fc_max_i64(pl->nt_nr, cols / 2 / pl->nt_nr *
                                                                            pl->nt_nr));
        else break;
    }
    FC_FN(conv_bw_weight_cols)(pl, found_cols);
    *min_bytes = fc_ceil_div(fc_mul_saturating(least, size), threads);
    return found ? FC_OK : FC_ERR_WORKSPACE_TOO_SMALL;
}

/* W_g^T as A panels: panel (g, t) holds reduction rows [t * mr, (t + 1) * mr) of group g as
 * kg x mr, zero past red.  Packs panels [begin, end) (a task's share). */
static void FC_FN(pack_weight_transposed)(const FC_FN(conv_bw_plan) * pl,
                                          const FC_REAL *weight, FC_REAL *packed, int64_t begin,
                                          int64_t end)
{
    /* 16 panels side by side, 64 filters at a time: each filter's row is read in runs of
     * 16 MR values, a few pages per step.  Panel after panel strode over the weight a page
     * per filter (TLB- and DRAM-bound: a third of grad_input of 512 x 7 x 7 3x3, where W^T
     * is 9 MiB). */
    enum { PANELS = 16, FILTERS = 64 };
    for (int64_t p0 = begin; p0 < end; p0 += PANELS)
        for (int64_t k0 = 0; k0 < pl->kg; k0 += FILTERS)
            for (int64_t panel = p0; panel < fc_min_i64(end, p0 + PANELS); panel++) {
                const int64_t g = panel / pl->red_tiles, row0 = (panel % pl->red_tiles) * pl->mr;
                FC_FN(gemm_pack_panels)(weight + (g * pl->kg + k0) * pl->red + row0, 1, pl->red,
                                        fc_min_i64(pl->mr, pl->red - row0),
                                        fc_min_i64(FILTERS, pl->kg - k0), pl->mr,
                                        packed + (panel * pl->kg + k0) * pl->mr);
            }
}

/* B of grad_input on the virtual grid: grad_output rows [k0, k0 + kc) of g_rows (pixels
 * each, out_w wide) at virtual columns [q0, q0 + count) (rows wp wide; zero in the junk
 * columns ow >= out_w and past the last output row) as kc x NR sub-panels, zero past count. */
static void FC_FN(pack_grid_rows)(const FC_REAL *g_rows, int64_t pixels, int64_t out_w,
                                  int64_t wp, int64_t k0, int64_t kc, int64_t q0, int64_t count,
                                  int64_t nr, FC_REAL *dst)
{
    const int64_t out_h = pixels / out_w;
    for (int64_t t0 = 0; t0 < count; t0 += nr, dst += kc * nr) {
        const int64_t live = fc_min_i64(nr, count - t0);
        for (int64_t k = 0; k < kc; k++) {
            const FC_REAL *src = g_rows + (k0 + k) * pixels;
            FC_REAL *d = dst + k * nr;
            int64_t oh = (q0 + t0) / wp, ow = (q0 + t0) % wp, t = 0;
            while (t < live) { /* one grid row at a time: its output columns, then junk */
                const int64_t n = fc_min_i64(wp - ow, live - t);
                const int64_t valid = oh < out_h ? fc_max_i64(0, fc_min_i64(out_w - ow, n)) : 0;
                FC_FN(put_run)(d + t, src + oh * out_w + ow, 1, valid);
                FC_FN(put_run)(d + t + valid, NULL, 0, n - valid);
                t += n;
                ow = 0;
                oh++;
            }
            for (; t < nr; t++) d[t] = 0;
        }
    }
}

/* One grad_input item's view for the frame's callbacks (gemm_block.ctx). */
typedef struct FC_FN(conv_gi_ctx) {
    const fc_conv2d_params *p;
    const FC_FN(conv_bw_plan) * pl;
    int64_t out_w, grp, pix0, row0;
    const FC_REAL *g_rows, *gv_rows, *weight, *packed_wt;
    FC_REAL *a_buf, *b_buf, *gx_group, *gx_pad;
    FC_FN(vadd_ukernel_fn) vadd;
    int64_t b_pix0, b_k0, b_chunk; /* what b_buf holds (b_pix0 -1: nothing) */
} FC_FN(conv_gi_ctx);

/* A: the strip's panel of W^T, shared or packed now. */
static const FC_REAL *FC_FN(conv_gi_a)(FC_FN(gemm_block) *blk, int64_t k0, int64_t kc,
                                       int64_t *a_step)
{
    const FC_FN(conv_gi_ctx) *it = blk->ctx;
    const FC_FN(conv_bw_plan) *pl = it->pl;
    *a_step = pl->kg * pl->mr; /* the group's panels are consecutive */
    if (it->packed_wt)
        return it->packed_wt + ((it->grp * pl->red_tiles + it->row0 / pl->mr) * pl->kg + k0) *
                               pl->mr;
    FC_FN(gemm_pack_panels)(it->weight + (it->grp * pl->kg + k0) * pl->red + it->row0, 1,
                            pl->red, blk->rows, kc, pl->mr, it->a_buf);
    *a_step = kc * pl->mr;
    return it->a_buf;
}

/* B: grad_output's columns of the block, packed when first needed and kept while the strips
 * of the block use the same kc block (all of them when B fits whole: one packing per block,
 * as in the forward); gi_bnc columns at a time when B does not fit whole. */
static void FC_FN(conv_gi_pack)(FC_FN(conv_gi_ctx) *it, int64_t k0, int64_t kc, int64_t c0,
                                int64_t count)
{
    const FC_FN(conv_bw_plan) *pl = it->pl;
    if (it->b_pix0 == it->pix0 && it->b_k0 == k0 && it->b_chunk == c0) return;
    if (pl->gi_direct && it->gv_rows) /* grad_weight's shared grid has them: copies */
        FC_FN(gemm_pack_panels)(it->gv_rows + k0 * pl->vpix + it->pix0 + c0, 1, pl->vpix, count,
                                kc, pl->nr, it->b_buf);
    else if (pl->gi_direct)
        FC_FN(pack_grid_rows)(it->g_rows, pl->pixels, it->out_w, pl->wp, k0, kc, it->pix0 + c0,
                              count, pl->nr, it->b_buf);
    else
        FC_FN(gemm_pack_panels)(it->g_rows + k0 * pl->pixels + it->pix0 + c0, 1, pl->pixels,
                                count, kc, pl->nr, it->b_buf);
    it->b_pix0 = it->pix0;
    it->b_k0 = k0;
    it->b_chunk = c0;
}

static void FC_FN(conv_gi_b_whole)(FC_FN(gemm_block) *blk, int64_t k0, int64_t kc)
{
    FC_FN(conv_gi_ctx) *it = blk->ctx;
    FC_FN(conv_gi_pack)(it, k0, kc, 0, blk->cols);
    blk->b = it->b_buf;
    blk->b_step = kc * it->pl->nr;
}

static const FC_REAL *FC_FN(conv_gi_b_part)(FC_FN(gemm_block) *blk, int64_t k0, int64_t kc,
                                            int64_t j0, const ptrdiff_t **rows)
{
    FC_FN(conv_gi_ctx) *it = blk->ctx;
    const int64_t c0 = j0 / it->pl->gi_bnc * it->pl->gi_bnc;
    (void)rows;
    FC_FN(conv_gi_pack)(it, k0, kc, c0, fc_min_i64(it->pl->gi_bnc, blk->cols - c0));
    return it->b_buf + ((j0 - c0) / it->pl->nr) * kc * it->pl->nr;
}

/* The epilogue: the strip of dcol added into the input planes, while it is in L1. */
static void FC_FN(conv_gi_store)(FC_FN(gemm_block) *blk)
{
    const FC_FN(conv_gi_ctx) *it = blk->ctx;
    const fc_conv2d_params *p = it->p;
    const FC_FN(conv_bw_plan) *pl = it->pl;
    if (!pl->gi_direct) {
        FC_FN(col2im_add)(p, it->out_w, blk->c, blk->ldc, it->row0, blk->rows, it->pix0,
                          blk->cols, it->gx_group);
        return;
    }
    /* on the grid: dcol row (c, r, s) adds to padded plane c from virtual pixel pix0 on, at
     * offset r * dilation_h * wp + s * dilation_w; the runs inside the input are added */
    const int64_t taps = p->r * p->s, wp = pl->wp;
    for (int64_t i = 0; i < blk->rows; i++) {
        const int64_t idx = it->row0 + i, r = (idx % taps) / p->s, s = idx % p->s;
        const FC_REAL *src = blk->c + i * blk->ldc;
        const int64_t at = it->pix0 + r * p->dilation_h * wp + s * p->dilation_w;
        if (it->gx_pad) {
            it->vadd((size_t)blk->cols, src, it->gx_pad + (idx / taps) * pl->plane_size + at);
            continue;
        }
        FC_REAL *plane = it->gx_group + (idx / taps) * p->h * p->w;
        int64_t ph = at / wp, pw = at % wp;
        for (int64_t j = 0; j < blk->cols; ph++, pw = 0) {
            const int64_t n = fc_min_i64(wp - pw, blk->cols - j), ih = ph - p->pad_top;
            if (ih >= p->h) break;
            if (ih >= 0) {
                const int64_t lo = fc_max_i64(pw, p->pad_left);
                const int64_t hi = fc_min_i64(pw + n, p->pad_left + p->w);
                if (lo < hi)
                    it->vadd((size_t)(hi - lo), src + j + lo - pw,
                             plane + ih * p->w + lo - p->pad_left);
            }
            j += n;
        }
    }
}

/* grad_input of one (image, group, range of gi_ch input channels): per block of gi_nc
 * pixels and per strip of MR reduction rows of those channels, dcol = W_g^T * G_g (one block
 * of the frame, its C a padded scratch strip) added back into the input planes by col2im, or
 * on the virtual grid as runs.  Every input element receives its terms in the order (block,
 * row, pixel), whatever the blocking of B and A and the split into channel ranges. */
static void FC_FN(conv_grad_input_item)(const fc_conv2d_params *p, int64_t out_w,
                                        const FC_FN(conv_bw_plan) * pl,
                                        const FC_FN(gemm_config) * cfg, const FC_REAL *g,
                                        const FC_REAL *gv, const FC_REAL *weight,
                                        const FC_REAL *packed_wt, int64_t n, int64_t grp,
                                        int64_t split, FC_REAL *gx, FC_REAL *scratch)
{
    const int64_t mr = pl->mr, nc = pl->gi_nc, plane = p->h * p->w, taps = p->r * p->s;
    const int64_t c_lo = split * pl->gi_ch, c_hi = fc_min_i64(pl->cg, c_lo + pl->gi_ch);
    const int64_t row_hi = fc_min_i64(pl->red, c_hi * taps); /* c_lo * taps: a multiple of MR */
    FC_FN(conv_gi_ctx) it = {p, pl, out_w, grp};
    it.g_rows = g + (n * p->k + grp * pl->kg) * pl->pixels;
    it.gv_rows = gv ? gv + (n * p->k + grp * pl->kg) * pl->vpix : NULL;
    it.weight = weight;
    it.packed_wt = packed_wt;
    it.gx_group = gx + (n * p->c + grp * pl->cg) * plane;
    it.vadd = fc_kernels()->FC_MEMBER(vadd);
    FC_REAL *dcol = scratch, *edge = dcol + pl->gi_strips * mr * nc;
    it.b_buf = edge + mr * pl->nr;
    it.a_buf = it.b_buf + pl->gi_kc * pl->gi_bnc;
    it.gx_pad = pl->gi_pad ? it.a_buf + (pl->gi_shared_a ? 0 : pl->gi_strips * pl->gi_kc * mr)
                           : NULL;
    it.b_pix0 = -1;
    if (it.gx_pad)
        memset(it.gx_pad + c_lo * pl->plane_size, 0,
               (size_t)((c_hi - c_lo) * pl->plane_size) * sizeof(FC_REAL));
    else
        memset(it.gx_group + c_lo * plane, 0, (size_t)((c_hi - c_lo) * plane) * sizeof(FC_REAL));
    const int64_t columns = pl->gi_direct ? pl->vpix : pl->pixels;
    FC_FN(gemm_block) blk = {cfg, pl->kg, pl->gi_kc, 1};
    blk.a_panels = FC_FN(conv_gi_a);
    if (pl->gi_bnc >= nc) /* B of a whole block at once */
        blk.b_pack = FC_FN(conv_gi_b_whole);
    else
        blk.b_panel = FC_FN(conv_gi_b_part);
    blk.c = dcol;
    blk.ldc = nc;
    blk.c_padded = 1;
    blk.edge = edge;
    blk.store = FC_FN(conv_gi_store);
    blk.ctx = &it;
    for (it.pix0 = 0; it.pix0 < columns; it.pix0 += nc) {
        blk.cols = fc_min_i64(nc, columns - it.pix0);
        for (it.row0 = c_lo * taps; it.row0 < row_hi; it.row0 += pl->gi_strips * mr) {
            blk.rows = fc_min_i64(pl->gi_strips * mr, row_hi - it.row0);
            blk.m_panels = fc_ceil_div(blk.rows, mr);
            FC_FN(gemm_run_block)(&blk);
        }
    }
    if (it.gx_pad) /* the input's part of the padded planes */
        for (int64_t c = c_lo; c < c_hi; c++)
            for (int64_t ih = 0; ih < p->h; ih++) {
                FC_FN(put_run)(it.gx_group + c * plane + ih * p->w,
                               it.gx_pad + c * pl->plane_size + (ih + p->pad_top) * pl->wp +
                                   p->pad_left,
                               1, p->w);
            }
}

/* Every NT tile of one item adds the lane sums of kc pixels: k_tiles x MR grad_output rows at
 * a (row stride lda) against the im2col rows b_rows (repeating the first past the block's
 * columns). */
static void FC_FN(grad_weight_tiles)(const FC_FN(conv_bw_plan) * pl,
                                     FC_FN(gemm_nt_ukernel_fn) ukernel, int64_t images,
                                     int64_t kc, const FC_REAL *a, int64_t lda, int64_t a_step,
                                     const FC_REAL *const *b_rows, int64_t b_step,
                                     int64_t k_tiles, int64_t col_tiles, FC_REAL *acc,
                                     unsigned flags)
{
    const int64_t mr = pl->nt_mr, nr = pl->nt_nr;
    for (int64_t mt = 0; mt < k_tiles; mt++)
        for (int64_t nt = 0; nt < col_tiles; nt++)
            ukernel((size_t)images, (size_t)kc, a + mt * mr * lda, (size_t)lda, (size_t)a_step,
                    b_rows + nt * nr, (size_t)b_step,
                    acc + (mt * col_tiles + nt) * mr * nr * pl->lanes, flags);
}

/* dst[p * w + t] = rows[t][offset + p] for t < w, p < kc: B's kc x NR panel of w im2col rows
 * (pixels contiguous in each), in 4 x 4 tiles (transpose4; w is a multiple of 4). */
static inline void FC_FN(pack_rows_transposed)(const FC_REAL *const *rows, int64_t offset,
                                               int64_t w, int64_t kc, FC_REAL *restrict dst)
{
    for (int64_t t0 = 0; t0 < w; t0 += 4) {
        const FC_REAL *r[4] = {rows[t0] + offset, rows[t0 + 1] + offset, rows[t0 + 2] + offset,
                               rows[t0 + 3] + offset};
        FC_REAL *d = dst + t0;
        int64_t p = 0;
        for (; p + 4 <= kc; p += 4)
            FC_FN(transpose4)(r[0] + p, r[1] + p, r[2] + p, r[3] + p, d + p * w, w);
        for (; p < kc; p++)
            for (int a = 0; a < 4; a++) d[p * w + a] = r[a][p];
    }
}

/* pack_rows_transposed over output pixels [q0, q0 + kc) of out_w-wide rows, read from rows
 * of the grid (wp wide, starting at virtual pixel origin) at offset: one output row segment
 * at a time, skipping the grid's junk columns between them. */
static inline void FC_FN(pack_rows_transposed_segments)(const FC_REAL *const *rows,
                                                        int64_t offset, int64_t origin,
                                                        int64_t q0, int64_t kc, int64_t out_w,
                                                        int64_t wp, int64_t w,
                                                        FC_REAL *restrict dst)
{
    int64_t oh = q0 / out_w, ow = q0 % out_w;
    for (int64_t p = 0; p < kc; oh++, ow = 0) {
        const int64_t n = fc_min_i64(out_w - ow, kc - p);
        FC_FN(pack_rows_transposed)(rows, offset + oh * wp + ow - origin, w, n, dst + p * w);
        p += n;
    }
}

/* One item's block of C (k_tiles x MR rows, col_tiles x NR columns, row stride gw_cols) adds
 * grad_output rows times im2col rows over kc pixels of each of `images` images: k_tiles x MR
 * rows at a (row stride lda, image m at + m * a_step; the first a_rows read, the rest of the
 * last panel zero) against the rows b_rows (+ m * b_step;
 * repeating the first past the block's columns), packed gw_kcs pixels at a time as the GEMM's
 * A (kc x MR) and B (kc x NR) panels, then every MR x NR tile: each element adds its products
 * one pixel after the other, images in order. */
static void FC_FN(grad_weight_gemm)(const FC_FN(conv_bw_plan) * pl,
                                    const FC_FN(gemm_config) * cfg, int64_t images, int64_t kc,
                                    const FC_REAL *a, int64_t lda, int64_t a_step, int64_t a_rows,
                                    const FC_REAL *const *b_rows, int64_t b_step,
                                    int64_t k_tiles, int64_t col_tiles, FC_REAL *c,
                                    FC_REAL *a_pack, FC_REAL *b_pack, unsigned flags,
                                    int64_t compact_q0, int64_t origin, int64_t out_w)
{
    const int64_t mr = pl->nt_mr, nr = pl->nt_nr, ldc = pl->gw_cols;
    const FC_FN(gemm_ukernel_fn) ukernel = cfg->ukernel;
    for (int64_t m = 0; m < images; m++)
        for (int64_t k0 = 0; k0 < kc; k0 += pl->gw_kcs) {
            const int64_t d = fc_min_i64(pl->gw_kcs, kc - k0);
            FC_FN(gemm_pack_panels)(a + m * a_step + k0, lda, 1, a_rows, d, mr, a_pack);
            /* one kc x NR panel of B, packed just before, still in L1, meets every A panel
             * (in L2); packing every B panel first left them in L2 */
            for (int64_t jt = 0; jt < col_tiles; jt++) {
                if (compact_q0 >= 0) /* output pixels compact_q0 + k0 on */
                    FC_FN(pack_rows_transposed_segments)(b_rows + jt * nr, m * b_step, origin,
                                                         compact_q0 + k0, d, out_w, pl->wp, nr,
                                                         b_pack);
                else
                    FC_FN(pack_rows_transposed)(b_rows + jt * nr, m * b_step + k0, nr, d,
                                                b_pack);
                for (int64_t it = 0; it < k_tiles; it++)
                    ukernel((size_t)d, a_pack + it * d * mr, b_pack, c + it * mr * ldc + jt * nr,
                            (size_t)ldc, NULL, flags);
            }
            flags = FC_GEMM_ACCUMULATE;
        }
}

/* The shared buffers of the virtual grid for images [begin, end) (a task's share):
 * grad_output rows in gv, zero past column out_w, and the padded input planes in xp (unless
 * gv is NULL: each item builds its own, conv_bw_own_grid); and whether each (image, group) of
 * x is finite.  The task with the last image also zeroes gv's slack rows.  (A non-finite input could meet a zero of the virtual columns, and
 * inf * 0 would poison a sum it is not part of: such a group takes the im2col path.) */
static void FC_FN(build_virtual_grid)(const fc_conv2d_params *p, const FC_FN(conv_bw_plan) * pl,
                                      int64_t out_w, const FC_REAL *g, const FC_REAL *x,
                                      FC_REAL *gv, FC_REAL *xp, int *finite, int64_t begin,
                                      int64_t end)
{
    const int64_t out_h = pl->pixels / out_w, plane = p->h * p->w;
    const int64_t last = !gv ? 0 : end == p->n ? pl->gv_rows : end * p->k;
    /* every value written once: copied, or zero where it is padding */
    for (int64_t row = begin * p->k; row < last; row++) {
        FC_REAL *dst = gv + row * pl->vpix;
        int64_t q = 0;
        if (row < p->n * p->k)
            for (int64_t oh = 0; oh < out_h; oh++) {
                const FC_REAL *src = g + row * pl->pixels + oh * out_w;
                for (int64_t ow = 0; ow < out_w; ow++) dst[q++] = src[ow];
                for (int64_t ow = out_w; ow < pl->wp; ow++) dst[q++] = 0;
            }
        for (; q < pl->vpix; q++) dst[q] = 0;
    }
    const int64_t top = p->pad_top * pl->wp, right = pl->wp - p->pad_left - p->w;
    for (int64_t n = begin; n < end; n++) {
        for (int64_t c = 0; xp && c < p->c; c++) {
            FC_REAL *dst = xp + (n * p->c + c) * pl->plane_size;
            const FC_REAL *src = x + (n * p->c + c) * plane;
            int64_t i = 0;
            for (; i < top; i++) dst[i] = 0;
            for (int64_t ih = 0; ih < p->h; ih++) {
                for (int64_t iw = 0; iw < p->pad_left; iw++) dst[i++] = 0;
                for (int64_t iw = 0; iw < p->w; iw++) dst[i++] = src[ih * p->w + iw];
                for (int64_t iw = 0; iw < right; iw++) dst[i++] = 0;
            }
            for (; i < pl->plane_size; i++) dst[i] = 0;
        }
        for (int64_t grp = 0; finite && grp < p->groups; grp++) {
            finite[n * p->groups + grp] =
                FC_FN(all_finite)(x + (n * p->c + grp * pl->cg) * plane, pl->cg * plane);
        }
    }
}

/* An item's own virtual grid for images [n0, n0 + images) and virtual pixels
 * [pix0, pix0 + kc): the values the shared gv and xp hold there.  a: `rows` grad_output rows
 * of filters from k_row0 on (zero past the group's last) per image, gw_kc apart; b: padded
 * planes ch_lo .. ch_lo + nch - 1 from pix0 on, gw_span values each, per image. */
static void FC_FN(conv_bw_own_grid)(const fc_conv2d_params *p, const FC_FN(conv_bw_plan) * pl,
                                    int64_t out_w, const FC_REAL *g, const FC_REAL *x,
                                    int64_t n0, int64_t images, int64_t grp, int64_t k_row0,
                                    int64_t rows, int64_t ch_lo, int64_t nch, int64_t pix0,
                                    int64_t kc, FC_REAL *a, FC_REAL *b)
{
    const int64_t wp = pl->wp, hp = p->h + p->pad_top + p->pad_bottom;
    for (int64_t i = 0; i < images; i++) {
        for (int64_t rr = 0; rr < rows; rr++) {
            FC_REAL *dst = a + (i * rows + rr) * pl->gw_kc;
            const int64_t kf = k_row0 + rr;
            if (kf >= pl->kg) {
                for (int64_t q = 0; q < kc; q++) dst[q] = 0;
                continue;
            }
            const FC_REAL *src = g + ((n0 + i) * p->k + grp * pl->kg + kf) * pl->pixels;
            int64_t oh = pix0 / wp, ow = pix0 % wp;
            for (int64_t q = 0; q < kc; q++) {
                const int64_t o = oh * out_w + ow;
                dst[q] = ow < out_w && o < pl->pixels ? src[o] : 0;
                if (++ow == wp) ow = 0, oh++;
            }
        }
        for (int64_t chl = 0; chl < nch; chl++) {
            FC_REAL *dst = b + (i * nch + chl) * pl->gw_span;
            const FC_REAL *plane = x + ((n0 + i) * p->c + grp * pl->cg + ch_lo + chl) * p->h * p->w;
            int64_t ph = pix0 / wp, pw = pix0 % wp;
            for (int64_t t = 0; t < pl->gw_span;) {
                const int64_t n = fc_min_i64(wp - pw, pl->gw_span - t), ih = ph - p->pad_top;
                for (int64_t u = 0; u < n; u++) {
                    const int64_t iw = pw + u - p->pad_left;
                    dst[t + u] = ph < hp && ih >= 0 && ih < p->h && iw >= 0 && iw < p->w
                                     ? plane[ih * p->w + iw]
                                     : 0;
                }
                t += n;
                pw = 0;
                ph++;
            }
        }
    }
}

/* grad_weight of one (group, block of reduction columns, block of k tiles): a block of C in
 * scratch to which grad_weight_gemm adds grad_output rows times im2col rows: on the virtual
 * grid (when the group's input is finite in every image: the shared gv and xp, or the item's
 * own grid, the same values) per chunk of images and block of pixels; otherwise per image,
 * with grad_output rows copied and im2col rows packed per block of kc pixels.  Each element's
 * sum runs the chunks, the blocks of pixels, the images, then the pixels one by one, in an
 * order fixed by the shape; the block is copied to grad_weight at the end. */
static void FC_FN(conv_grad_weight_item)(const fc_conv2d_params *p, int64_t out_w,
                                         const FC_FN(conv_bw_plan) * pl,
                                         const FC_FN(gemm_config) * cfg,
                                         FC_FN(gemm_nt_ukernel_fn) ukernel, const FC_REAL *g,
                                         const FC_REAL *x, const FC_REAL *gv,
                                         const FC_REAL *xp, const int *finite, int64_t grp,
                                         int64_t block, int64_t k_block, FC_REAL *gw,
                                         FC_REAL *scratch)
{
    const int64_t mr = pl->nt_mr, nr = pl->nt_nr, kg = pl->kg;
    const int64_t pixels = pl->pixels, taps = p->r * p->s;
    const int64_t kt0 = k_block * pl->gw_kb, k_tiles = fc_min_i64(pl->gw_kb, pl->k_tiles - kt0);
    const int64_t rows_a = k_tiles * mr, k_row0 = kt0 * mr;
    const int64_t col0 = block * pl->gw_cols, cols = fc_min_i64(pl->gw_cols, pl->red - col0);
    const int64_t col_tiles = fc_ceil_div(cols, nr), lanes = pl->gw_gemm ? 1 : pl->lanes;
    const int64_t tile = mr * nr * lanes;
    FC_REAL *acc = scratch, *a_pack = acc + rows_a * pl->gw_cols * lanes;
    FC_REAL *b_pack = a_pack + rows_a * pl->gw_kcs, *a_buf = b_pack + nr * pl->gw_kcs;
    FC_REAL *b_buf = a_buf + rows_a * pl->gw_kc;
    const FC_REAL *b_rows[576]; /* gw_cols <= 512 + nr - 1, nr <= 64 */
    unsigned flags = 0;
    /* (compact: no junk columns, so no zero of them meets a non-finite input) */
    const int compact = pl->gw_compact;
    int direct = pl->shared || pl->gw_plain;
    for (int64_t n = 0; pl->shared && !compact && direct && n < p->n; n++)
        direct = finite[n * p->groups + grp];
    if (direct) {
        const int64_t ch_lo = col0 / taps;
        const int64_t nch = fc_min_i64(pl->cg, (col0 + cols - 1) / taps + 1) - ch_lo;
        FC_REAL *own_b = a_buf + pl->gw_images * rows_a * pl->gw_kc;
        for (int64_t n0 = 0; n0 < p->n; n0 += pl->gw_images) {
            const int64_t images = fc_min_i64(pl->gw_images, p->n - n0);
            const int64_t end = pl->gw_plain || compact ? pixels : pl->vpix;
            for (int64_t pix0 = 0; pix0 < end; pix0 += pl->gw_kc) {
                const int64_t kc = fc_min_i64(pl->gw_kc, end - pix0);
                const FC_REAL *a = a_buf;
                int64_t lda = pl->vpix, a_step = p->k * pl->vpix, b_step = p->c * pl->plane_size;
                int64_t a_rows = rows_a, origin = 0;
                if (pl->gw_plain || compact) { /* in place: the group's filters' rows */
                    a = g + (n0 * p->k + grp * kg + k_row0) * pixels + pix0;
                    lda = pixels;
                    a_step = p->k * pixels;
                    b_step = pl->gw_plain ? p->c * pixels : b_step;
                    a_rows = fc_min_i64(rows_a, kg - k_row0);
                    if (compact && pl->gw_private) { /* the block's planes from its first pixel */
                        origin = pix0 / out_w * pl->wp + pix0 % out_w;
                        FC_FN(conv_bw_own_grid)(p, pl, out_w, g, x, n0, images, grp, k_row0, 0,
                                                ch_lo, nch, origin, kc, a_buf, own_b);
                        b_step = nch * pl->gw_span;
                    }
                } else if (!pl->gw_private) {
                    a = gv + (n0 * p->k + grp * kg + k_row0) * pl->vpix + pix0;
                } else {
                    FC_FN(conv_bw_own_grid)(p, pl, out_w, g, x, n0, images, grp, k_row0, rows_a,
                                            ch_lo, nch, pix0, kc, a_buf, own_b);
                    lda = pl->gw_kc;
                    a_step = rows_a * pl->gw_kc;
                    b_step = nch * pl->gw_span;
                }
                for (int64_t j = 0; j < col_tiles * nr; j++) {
                    /* the tile's columns past the block repeat its first: never stored */
                    const int64_t idx = col0 + (j < cols ? j : 0), r = (idx % taps) / p->s;
                    const int64_t offset = r * p->dilation_h * pl->wp + (idx % p->s) * p->dilation_w;
                    b_rows[j] = pl->gw_plain ? x + (n0 * p->c + grp * pl->cg + idx) * pixels + pix0
                                : pl->gw_private
                                    ? own_b + (idx / taps - ch_lo) * pl->gw_span + offset
                                    : xp + (n0 * p->c + grp * pl->cg + idx / taps) *
                                               pl->plane_size + offset + (compact ? 0 : pix0);
                }
                if (pl->gw_gemm)
                    FC_FN(grad_weight_gemm)(pl, cfg, images, kc, a, lda, a_step, a_rows, b_rows,
                                            b_step, k_tiles, col_tiles, acc, a_pack, b_pack,
                                            flags, compact ? pix0 : -1, origin, out_w);
                else
                    FC_FN(grad_weight_tiles)(pl, ukernel, images, kc, a, lda, a_step, b_rows,
                                             b_step, k_tiles, col_tiles, acc, flags);
                flags = FC_GEMM_ACCUMULATE;
            }
        }
    } else {
        for (int64_t n = 0; n < p->n; n++) {
            const FC_REAL *x_group = x + (n * p->c + grp * pl->cg) * p->h * p->w;
            const FC_REAL *g_rows = g + (n * p->k + grp * kg + k_row0) * pixels;
            for (int64_t pix0 = 0; pix0 < pixels; pix0 += pl->gw_kc) {
                const int64_t kc = fc_min_i64(pl->gw_kc, pixels - pix0);
                const int64_t ld = fc_ceil_div(kc, pl->lanes) * pl->lanes;
                for (int64_t i = 0; i < rows_a; i++) {
                    FC_REAL *dst = a_buf + i * ld;
                    int64_t q = 0;
                    if (k_row0 + i < kg)
                        for (; q < kc; q++) dst[q] = g_rows[i * pixels + pix0 + q];
                    for (; q < ld; q++) dst[q] = 0;
                }
                FC_FN(pack_im2col_rows)(p, out_w, x_group, col0, cols, cols, pix0, kc, ld,
                                        b_buf);
                for (int64_t j = 0; j < col_tiles * nr; j++)
                    b_rows[j] = b_buf + (j < cols ? j : 0) * ld;
                if (pl->gw_gemm)
                    FC_FN(grad_weight_gemm)(pl, cfg, 1, kc, a_buf, ld, 0, rows_a, b_rows, 0,
                                            k_tiles,
                                            col_tiles, acc, a_pack, b_pack, flags, -1, 0,
                                            out_w);
                else
                    FC_FN(grad_weight_tiles)(pl, ukernel, 1, ld, a_buf, ld, 0, b_rows, 0,
                                             k_tiles, col_tiles, acc, flags);
                flags = FC_GEMM_ACCUMULATE;
            }
        }
    }
    for (int64_t i = 0; i < fc_min_i64(rows_a, kg - k_row0); i++) {
        if (pl->gw_gemm) {
            memcpy(gw + (grp * kg + k_row0 + i) * pl->red + col0, acc + i * pl->gw_cols,
                   (size_t)cols * sizeof(FC_REAL));
            continue;
        }
        for (int64_t j = 0; j < cols; j++) {
            FC_REAL sums[64]; /* lanes <= 64: one per SIMD lane */
            const FC_REAL *lane = acc + ((i / mr) * col_tiles + j / nr) * tile +
                                  ((i % mr) * nr + j % nr) * lanes;
            for (int64_t l = 0; l < lanes; l++) sums[l] = lane[l];
            for (int64_t width = lanes / 2; width > 0; width /= 2)
                for (int64_t l = 0; l < width; l++) sums[l] += sums[l + width];
            gw[(grp * kg + k_row0 + i) * pl->red + col0 + j] = sums[0];
        }
    }
}

typedef struct FC_FN(backward_job) {
    const fc_conv2d_params *p;
    int64_t out_w;
    const FC_FN(conv_bw_plan) * pl;
    const FC_FN(gemm_config) * cfg;
    const FC_FN(gemm_nt_config) * nt;
    const FC_REAL *g, *x, *weight;
    FC_REAL *gx, *gw, *gb, *packed_wt, *scratch;
    int64_t per_thread;
    FC_REAL *gv, *xp;
    int *finite;
    int64_t gi_items, gw_items, pack_tasks, grid_tasks, gb_tasks;
} FC_FN(backward_job);

/* Phase 0: pack W^T (grad_input's A panels) and build the shared virtual grid, in ranges.
 * Phase 1: the grad_input items (image, group, range of input channels), the grad_weight items
 * (group, block of columns), then grad_bias in ranges of filters.  Every sum over the batch
 * and the pixels runs inside one task, in a fixed order. */
static void FC_FN(backward_task)(void *ctx, int64_t phase, int64_t task, int t)
{
    const FC_FN(backward_job) *job = ctx;
    const fc_conv2d_params *p = job->p;
    const FC_FN(conv_bw_plan) *pl = job->pl;
    int64_t begin, end;
    if (phase == 0 && task < job->pack_tasks) {
        fc_task_range(p->groups * pl->red_tiles, job->pack_tasks, task, &begin, &end);
        FC_FN(pack_weight_transposed)(pl, job->weight, job->packed_wt, begin, end);
    } else if (phase == 0) {
        fc_task_range(p->n, job->grid_tasks, task - job->pack_tasks, &begin, &end);
        FC_FN(build_virtual_grid)(p, pl, job->out_w, job->g, job->x, job->gv, job->xp,
                                  job->finite, begin, end);
    } else if (task < job->gi_items) {
        const int64_t item = task / pl->gi_splits;
        FC_FN(conv_grad_input_item)(p, job->out_w, pl, job->cfg, job->g,
                                    pl->gi_gv ? job->gv : NULL, job->weight,
                                    job->packed_wt, item / p->groups, item % p->groups,
                                    task % pl->gi_splits, job->gx,
                                    job->scratch + t * job->per_thread);
    } else if ((task -= job->gi_items) < job->gw_items) {
        const int64_t per_group = pl->gw_col_blocks * pl->gw_k_blocks;
        FC_FN(conv_grad_weight_item)(p, job->out_w, pl, job->cfg, job->nt->ukernel, job->g, job->x,
                                     job->gv, job->xp, job->finite, task / per_group,
                                     task % per_group / pl->gw_k_blocks,
                                     task % pl->gw_k_blocks, job->gw,
                                     job->scratch + t * job->per_thread);
    } else {
        fc_task_range(p->k, job->gb_tasks, task - job->gw_items, &begin, &end);
        FC_FN(conv_grad_bias)(p->n, p->k, pl->pixels, job->g, job->gb, begin, end);
    }
}

/* Whether the weights are finite, checked in ranges over the team: on one thread the pass
 * over 512 x 4608 weights was 8% of grad_input of 512 x 7 x 7 3x3, all of it before the
 * region. */
typedef struct FC_FN(finite_job) {
    const FC_REAL *v;
    int64_t count, tasks;
    int ok[16];
} FC_FN(finite_job);

static void FC_FN(finite_task)(void *ctx, int64_t phase, int64_t task, int t)
{
    FC_FN(finite_job) *job = ctx;
    int64_t begin, end;
    (void)phase;
    (void)t;
    fc_task_range(job->count, job->tasks, task, &begin, &end);
    job->ok[task] = FC_FN(all_finite)(job->v + begin, end - begin);
}

static int FC_FN(weights_finite)(const FC_REAL *weight, int64_t count, int threads)
{
    FC_FN(finite_job) job = {weight, count, 1, {0}};
    if (threads > 1 && count >= ((int64_t)1 << 18)) job.tasks = fc_min_i64(16, 2 * threads);
    fc_parallel_for(job.tasks > 1 ? threads : 1, job.tasks, FC_FN(finite_task), &job);
    int ok = 1;
    for (int64_t i = 0; i < job.tasks; i++) ok &= job.ok[i];
    return ok;
}

/* The plan, the team and the budget of one call (weight NULL: the size query, which takes
 * the weights as finite); FC_ERR_WORKSPACE_TOO_SMALL below *min_bytes. */
static fc_status FC_FN(conv_bw_setup)(const fc_conv2d_params *p, int64_t out_h, int64_t out_w,
                                      const FC_REAL *weight, int gx, int gw, int gb,
                                      const FC_FN(gemm_config) * cfg,
                                      const FC_FN(gemm_nt_config) * nt, FC_FN(conv_bw_plan) * pl,
                                      int *threads, int64_t *min_bytes)
{
    const int64_t pixels = out_h * out_w;
    const int64_t red = (p->c / p->groups) * p->r * p->s;
    const int64_t macs = fc_mul_saturating(fc_mul_saturating(p->n * pixels, p->k), red);
    const int64_t work = fc_mul_saturating(macs, (gx != 0) + (gw != 0)) +
                         (gb ? fc_mul_saturating(p->n * pixels, p->k) : 0);
    const int want = fc_region_threads(work);
    FC_FN(conv_bw_make_plan)(p, out_h, out_w, cfg, nt, want, pl);
    if (gx && pl->gi_direct && weight) /* the virtual columns' zero gradients times inf: NaN */
        pl->gi_direct = FC_FN(weights_finite)(weight, p->k * red, want);
    /* grad_input's channel ranges: about 4 items per thread (the dynamic claims balance them
     * with grad_weight's), in whole units of MR / gcd(taps, MR) channels */
    const int64_t unit = pl->mr / fc_gcd(pl->mr, p->r * p->s);
    const int64_t units = fc_ceil_div(pl->cg, unit);
    /* (each item packs grad_output's columns again for its rows: under 128 rows per item
     * the packing showed, 7.3 -> 9.1 ms of CPU for VGG's 64 x 112 x 112 in 8 items) */
    pl->gi_splits =
        want == 1 ? 1
                  : fc_min_i64(fc_min_i64(units, fc_max_i64(1, pl->red / 128)),
                               fc_ceil_div(4 * (int64_t)want, p->n * p->groups));
    pl->gi_ch = fc_ceil_div(units, pl->gi_splits) * unit;
    pl->gi_splits = fc_ceil_div(pl->cg, pl->gi_ch);
    const int64_t gi_items = gx ? p->n * p->groups * pl->gi_splits : 0;
    const int64_t gw_items = gw ? p->groups * pl->gw_col_blocks : 0;
    const int64_t gb_items = gb ? p->k : 0;
    *threads = (int)fc_max_i64(
        1, fc_min_i64(want, fc_max_i64(gi_items, fc_max_i64(gw_items, gb_items))));
    /* The budget: grad_weight takes its share first, leaving grad_input at least its least
     * (so that any limit from the sum of the two leasts on works), then grad_input the rest.
     * (Its scratch is summed here, though the two kinds of items share one per thread.) */
    const int64_t limit = fc_gemm_workspace_limit(p->max_workspace_bytes);
    int64_t gi_min = 0, gw_min = 0, gw_used = 0;
    pl->shared = pl->shared && gw; /* the shared grid is grad_weight's only */
    pl->gi_shared_a = 0;
    pl->gw_kb = pl->k_tiles;
    pl->gw_k_blocks = 1;
    pl->gw_private = 0;
    fc_status status = FC_OK;
    if (gx) (void)FC_FN(conv_bw_input_budget)(p, pl, *threads, limit, &gi_min);
    if (gw)
        status = FC_FN(conv_bw_weight_budget)(pl, *threads, fc_max_i64(limit - gi_min, 0),
                                              &gw_min, &gw_used);
    *min_bytes = fc_gemm_add_saturating(gi_min, gw_min);
    if (status != FC_OK) return status;
    pl->gi_gv = gx && pl->gi_direct && pl->shared && !pl->gw_private;
    if (gx && pl->gi_direct && !gw) { /* gv for grad_input alone, if it fits beside the rest */
        const int64_t gv_bytes = fc_mul_saturating(fc_mul_saturating(pl->gv_rows, pl->vpix),
                                                   (int64_t)sizeof(FC_REAL));
        const int64_t rest = limit - fc_ceil_div(gv_bytes, *threads);
        int64_t unused;
        pl->gi_gv = rest > 0 &&
                    FC_FN(conv_bw_input_budget)(p, pl, *threads, rest, &unused) == FC_OK;
        if (pl->gi_gv) return FC_OK;
    }
    if (gx)
        FC_RETURN_IF_ERROR(
            FC_FN(conv_bw_input_budget)(p, pl, *threads, limit - gw_used, &gi_min));
    return FC_OK;
}

static fc_status FC_FN(conv2d_backward)(const fc_conv2d_params *p, int64_t out_h, int64_t out_w,
                                        const FC_REAL *g, const FC_REAL *x,
                                        const FC_REAL *weight, FC_REAL *gx, FC_REAL *gw,
                                        FC_REAL *gb)
{
    const FC_FN(gemm_config) cfg = fc_kernels()->FC_MEMBER(gemm);
    const FC_FN(gemm_nt_config) nt = fc_kernels()->FC_MEMBER(gemm_nt);
    FC_FN(conv_bw_plan) pl;
    int threads;
    int64_t min_bytes;
    FC_RETURN_IF_ERROR(FC_FN(conv_bw_setup)(p, out_h, out_w, weight, gx != NULL, gw != NULL,
                                            gb != NULL, &cfg, &nt, &pl, &threads, &min_bytes));
    const int64_t gi_items = gx ? p->n * p->groups * pl.gi_splits : 0;
    const int64_t gw_items = gw ? p->groups * pl.gw_col_blocks * pl.gw_k_blocks : 0;
    const int64_t per_thread =
        fc_max_i64(gx ? pl.gi_scratch : 0, gw ? pl.gw_scratch : 0);
    const int shared_a = gx && pl.gi_shared_a;
    FC_REAL *packed_wt, *scratch;
    FC_RETURN_IF_ERROR(FC_FN(alloc_workspace)(shared_a ? p->groups * pl.red_tiles : 0, pl.kg,
                                              pl.mr, threads, per_thread, &packed_wt, &scratch));
    /* grad_weight's virtual grid: the flags of finite input groups, and unless each item
     * builds its own, the shared grid (grad_output, input planes; within the budget) */
    FC_REAL *grid = NULL, *gv = NULL, *xp = NULL;
    int *finite = NULL;
    /* (compact grad_weight reads the padded planes only, grad_output in place) */
    const int compact = pl.gw_compact;
    const int want_gv = (pl.shared && !pl.gw_private && !compact) || pl.gi_gv;
    const int want_xp = pl.shared && !pl.gw_private;
    const int want_finite = pl.shared && !compact;
    if (want_gv || want_xp || want_finite) {
        const int64_t gv_size = want_gv ? pl.gv_rows * pl.vpix : 0;
        if (want_gv || want_xp)
            grid = fc_aligned_alloc((gv_size + (want_xp ? pl.xp_size : 0)) *
                                    (int64_t)sizeof(FC_REAL));
        if (want_finite) finite = fc_aligned_alloc(p->n * p->groups * (int64_t)sizeof(int));
        if (((want_gv || want_xp) && !grid) || (want_finite && !finite)) {
            fc_aligned_free(grid);
            fc_aligned_free(finite);
            fc_aligned_free(packed_wt);
            fc_aligned_free(scratch);
            return FC_ERR_OUT_OF_MEMORY;
        }
        gv = want_gv ? grid : NULL;
        xp = want_xp ? grid + gv_size : NULL;
    }

    FC_FN(backward_job) job = {p, out_w, &pl, &cfg, &nt, g, x, weight, gx, gw, gb,
                               shared_a ? packed_wt : NULL, scratch, per_thread, gv, xp,
                               finite};
    job.gi_items = gi_items;
    job.gw_items = gw_items;
    job.pack_tasks = shared_a ? fc_min_i64(p->groups * pl.red_tiles, 2 * threads) : 0;
    job.grid_tasks = want_gv || want_xp || want_finite ? fc_min_i64(p->n, 2 * threads) : 0;
    job.gb_tasks = gb ? fc_min_i64(p->k, 2 * threads) : 0;
    const int64_t tasks[2] = {job.pack_tasks + job.grid_tasks,
                              gi_items + gw_items + job.gb_tasks};
    const fc_parallel_job parallel = {FC_FN(backward_task), &job, 2, tasks};
    fc_parallel_run(threads, &parallel);
    fc_aligned_free(grid);
    fc_aligned_free(finite);
    fc_aligned_free(packed_wt);
    fc_aligned_free(scratch);
    return FC_OK;
}

/* The smallest max_workspace_bytes (per thread) conv2d_backward accepts for these parameters
 * and requested gradients. */
static int64_t FC_FN(conv2d_backward_min_workspace)(const fc_conv2d_params *p, int64_t out_h,
                                                    int64_t out_w, int gx, int gw, int gb)
{
    const FC_FN(gemm_config) cfg = fc_kernels()->FC_MEMBER(gemm);
    const FC_FN(gemm_nt_config) nt = fc_kernels()->FC_MEMBER(gemm_nt);
    FC_FN(conv_bw_plan) pl;
    int threads;
    int64_t min_bytes;
    (void)FC_FN(conv_bw_setup)(p, out_h, out_w, NULL, gx, gw, gb, &cfg, &nt, &pl, &threads,
                               &min_bytes);
    return min_bytes;
}

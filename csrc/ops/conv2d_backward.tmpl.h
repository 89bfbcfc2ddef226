/* conv2d backward drivers for one dtype (instantiated by conv2d_backward.c, after
 * conv2d_common.tmpl.h whose workspace allocation they share).
 *
 * Per group g, with G_g = grad_output (Kg x PQ) of one image and col_g its im2col matrix
 * (red x PQ, red = Cg * R * S):
 *   grad_weight_g (Kg x red) = sum over images of G_g * col_g^T
 *   grad_input: dcol_g (red x PQ) = W_g^T * G_g, then col2im adds dcol back into the planes
 *   grad_bias[k] = sum over images and pixels of G[k]
 * grad_input runs on the forward's GEMM microkernel (packed panels); grad_weight on the NT GEMM
 * microkernel, whose operands both have the pixels contiguous, so nothing is transposed.
 *
 * Stride 1 (the common case) needs no im2col at all: on a "virtual grid" of out_h rows of the
 * padded width wp, where grad_output is zero past column out_w, the im2col row of tap (c, r, s)
 * is the padded plane of channel c read from offset r * dilation_h * wp + s * dilation_w, and
 * col2im of a dcol row is one contiguous run added at that offset.  The extra columns cost
 * (wp / out_w - 1) more multiply-adds.  Other strides pack im2col rows per block of pixels and
 * run col2im row segment by row segment.  No im2col matrix is ever built; all workspace is per
 * thread and bounded. */

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

/* The microkernel's A panel of a strided matrix M (element (i, q) at m[i * rs + q * cs]):
 * panel[q * mr + i] = M[i][q] for q < kc, zero for rows i >= rows. */
static void FC_FN(pack_a)(const FC_REAL *m, int64_t rs, int64_t cs, int64_t rows, int64_t mr,
                          int64_t kc, FC_REAL *panel)
{
    for (int64_t i = 0; i < mr; i++) {
        FC_REAL *dst = panel + i;
        if (i >= rows) {
            for (int64_t q = 0; q < kc; q++) dst[q * mr] = 0;
            continue;
        }
        const FC_REAL *src = m + i * rs;
        for (int64_t q = 0; q < kc; q++) dst[q * mr] = src[q * cs];
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
                    for (int64_t o = a; o < b; o++) dst[o] += s_row[o];
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
    /* grad_input: nc pixels per block, rb reduction rows of dcol per block */
    int64_t gi_nc, red_tiles;
    /* grad_weight (NT tiles of nt_mr x nt_nr, lanes sums each): kc pixels per block (a
     * multiple of lanes), columns of red per work item */
    int64_t nt_mr, nt_nr, lanes;
    int64_t gw_kc, gw_cols, gw_col_blocks, k_tiles;
    /* the virtual grid (stride 1), built once per call in shared buffers: row stride wp of the
     * padded plane, plane_size per channel (with slack for the last tap's overrun), vpix
     * virtual pixels (out_h rows of wp, rounded up to the lanes); gv_rows rows of grad_output
     * (with slack for the last NT tile) and xp_size values of padded input planes */
    int shared;
    int64_t wp, plane_size, vpix, gv_rows, xp_size, gw_images;
    /* grad_input on the virtual grid (finite weights): the block's dcol rows are added to
     * padded gradient planes as whole runs, then the planes are cropped */
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
    pl->gi_scratch = (pl->kg + mr) * pl->gi_nc;
    /* grad_weight: the columns of red are split so that the groups x column blocks give every
     * thread work; the split never changes a sum, only who computes it.  512 pixels per block
     * keep a block of 64 im2col rows (128 KiB of floats) in L2. */
    pl->nt_mr = nt->mr;
    pl->nt_nr = nt->nr;
    pl->lanes = nt->lanes;
    pl->gw_kc = fc_ceil_div(fc_min_i64(pl->pixels, 512), pl->lanes) * pl->lanes;
    pl->k_tiles = fc_ceil_div(pl->kg, pl->nt_mr);
    const int64_t per_group = fc_ceil_div(threads, p->groups);
    const int64_t max_cols = fc_ceil_div(64, pl->nt_nr) * pl->nt_nr;
    /* as many blocks per group as needed for max_cols, rounded up to a multiple of the threads
     * per group so that the items divide evenly among the threads */
    const int64_t blocks = fc_ceil_div(fc_ceil_div(pl->red, max_cols), per_group) * per_group;
    const int64_t cols = fc_ceil_div(fc_ceil_div(pl->red, blocks), pl->nt_nr) * pl->nt_nr;
    pl->gw_cols = cols;
    pl->gw_col_blocks = fc_ceil_div(pl->red, cols);
    /* per thread: the lane sums, and grad_output rows + im2col rows of one block of pixels */
    const int64_t rows_a = pl->k_tiles * pl->nt_mr;
    pl->gw_scratch = rows_a * cols * pl->lanes + (rows_a + cols) * pl->gw_kc;
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
    pl->shared = p->stride_h == 1 && p->stride_w == 1 && shared <= ((int64_t)1 << 22);
    /* grad_weight's tiles run over chunks of images whose grad_output rows and input planes
     * fit in 2^16 values (256 KiB of floats, L2), not over the whole batch at once: streaming
     * the batch once per tile made LeNet's conv1 memory-bound on two threads */
    const int64_t image_values = fc_add_saturating(fc_mul_saturating(rows_a, pl->vpix),
                                                   fc_mul_saturating(pl->cg, pl->plane_size));
    pl->gw_images = fc_max_i64(1, ((int64_t)1 << 16) / image_values);
    const int64_t gx_planes = fc_mul_saturating(pl->cg, pl->plane_size);
    pl->gi_direct = pl->shared && gx_planes <= ((int64_t)1 << 19);
    if (pl->gi_direct) {
        pl->gi_nc = fc_min_i64(fc_ceil_div(pl->vpix, nr), fc_max_i64(cfg->nc / nr, 1)) * nr;
        pl->gi_scratch = (pl->kg + mr) * pl->gi_nc + gx_planes;
    }
}

/* W_g^T as A panels: panel (g, t) holds reduction rows [t * mr, (t + 1) * mr) of group g as
 * kg x mr, zero past red.  Packs panels [begin, end) (a task's share). */
static void FC_FN(pack_weight_transposed)(const fc_conv2d_params *p,
                                          const FC_FN(conv_bw_plan) * pl, const FC_REAL *weight,
                                          FC_REAL *packed, int64_t begin, int64_t end)
{
    for (int64_t panel = begin; panel < end; panel++) {
        const int64_t g = panel / pl->red_tiles, row0 = (panel % pl->red_tiles) * pl->mr;
        FC_FN(pack_a)(weight + g * pl->kg * pl->red + row0, 1, pl->red,
                      fc_min_i64(pl->mr, pl->red - row0), pl->mr, pl->kg,
                      packed + panel * pl->kg * pl->mr);
    }
}

/* grad_input of one (image, group).  Per block of nc pixels, G_g's columns are packed as B (kg
 * deep), and per strip of MR reduction rows dcol = W_g^T * G_g is computed into scratch (whole
 * tiles: the panels are zero-padded) and added back into the input planes: by col2im, or, on
 * the virtual grid (pl->gi_direct), as one run per row into padded planes cropped at the end.
 * Every input element receives its terms in a fixed order. */
static void FC_FN(conv_grad_input_item)(const fc_conv2d_params *p, int64_t out_w,
                                        const FC_FN(conv_bw_plan) * pl,
                                        FC_FN(gemm_ukernel_fn) ukernel,
                                        FC_FN(vadd_ukernel_fn) vadd, const FC_REAL *g,
                                        const FC_REAL *gv, const FC_REAL *packed_wt, int64_t n,
                                        int64_t grp, FC_REAL *gx, FC_REAL *scratch)
{
    const int64_t mr = pl->mr, nr = pl->nr, kg = pl->kg, nc = pl->gi_nc, taps = p->r * p->s;
    const int64_t plane = p->h * p->w;
    const FC_REAL *g_rows = g + (n * p->k + grp * kg) * pl->pixels;
    FC_REAL *gx_group = gx + (n * p->c + grp * pl->cg) * plane;
    FC_REAL *b_panel = scratch, *dcol = scratch + kg * nc, *gx_pad = dcol + mr * nc;
    int64_t ld = pl->pixels, pixels = pl->pixels;
    if (pl->gi_direct) {
        for (int64_t i = 0; i < pl->cg * pl->plane_size; i++) gx_pad[i] = 0;
        g_rows = gv + (n * p->k + grp * kg) * pl->vpix;
        ld = pixels = pl->vpix;
    } else {
        for (int64_t i = 0; i < pl->cg * plane; i++) gx_group[i] = 0;
    }
    for (int64_t pix0 = 0; pix0 < pixels; pix0 += nc) {
        const int64_t cols = fc_min_i64(nc, pixels - pix0);
        for (int64_t j0 = 0; j0 < cols; j0 += nr) {
            const int64_t width = fc_min_i64(nr, cols - j0);
            FC_REAL *sub = b_panel + (j0 / nr) * kg * nr;
            for (int64_t q = 0; q < kg; q++) {
                const FC_REAL *src = g_rows + q * ld + pix0 + j0;
                int64_t jj = 0;
                for (; jj < width; jj++) sub[q * nr + jj] = src[jj];
                for (; jj < nr; jj++) sub[q * nr + jj] = 0;
            }
        }
        /* one MR-row strip of dcol at a time, added back while it is in L1 */
        for (int64_t row0 = 0; row0 < pl->red; row0 += mr) {
            const int64_t rows = fc_min_i64(mr, pl->red - row0);
            const FC_REAL *a = packed_wt + (grp * pl->red_tiles + row0 / mr) * kg * mr;
            for (int64_t j0 = 0; j0 < cols; j0 += nr)
                ukernel((size_t)kg, a, b_panel + (j0 / nr) * kg * nr, dcol + j0, (size_t)nc,
                        NULL, 0);
            if (!pl->gi_direct) {
                FC_FN(col2im_add)(p, out_w, dcol, nc, row0, rows, pix0, cols, gx_group);
                continue;
            }
            for (int64_t i = 0; i < rows; i++) {
                const int64_t idx = row0 + i, r = (idx % taps) / p->s, s = idx % p->s;
                FC_REAL *dst = gx_pad + (idx / taps) * pl->plane_size +
                               r * p->dilation_h * pl->wp + s * p->dilation_w + pix0;
                vadd((size_t)cols, dcol + i * nc, dst);
            }
        }
    }
    if (pl->gi_direct)
        for (int64_t c = 0; c < pl->cg; c++)
            for (int64_t ih = 0; ih < p->h; ih++) {
                const FC_REAL *src =
                    gx_pad + c * pl->plane_size + (ih + p->pad_top) * pl->wp + p->pad_left;
                for (int64_t iw = 0; iw < p->w; iw++) gx_group[c * plane + ih * p->w + iw] = src[iw];
            }
}

/* Every NT tile of one item adds the lane sums of kc pixels: rows_a grad_output rows at a
 * (row stride lda) against the im2col rows b_rows (zero_row past the block's columns). */
static void FC_FN(grad_weight_tiles)(const FC_FN(conv_bw_plan) * pl,
                                     FC_FN(gemm_nt_ukernel_fn) ukernel, int64_t images,
                                     int64_t kc, const FC_REAL *a, int64_t lda, int64_t a_step,
                                     const FC_REAL *const *b_rows, int64_t b_step,
                                     int64_t col_tiles, FC_REAL *acc, unsigned flags)
{
    const int64_t mr = pl->nt_mr, nr = pl->nt_nr;
    for (int64_t mt = 0; mt < pl->k_tiles; mt++)
        for (int64_t nt = 0; nt < col_tiles; nt++)
            ukernel((size_t)images, (size_t)kc, a + mt * mr * lda, (size_t)lda, (size_t)a_step,
                    b_rows + nt * nr, (size_t)b_step,
                    acc + (mt * col_tiles + nt) * mr * nr * pl->lanes, flags);
}

/* The shared buffers of the virtual grid for images [begin, end) (a task's share):
 * grad_output rows in gv, zero past column out_w; and when x is given, the padded input planes
 * in xp and whether each (image, group) of x is finite.  The task with the last image also
 * zeroes gv's slack rows.  (A non-finite input could meet a zero of the virtual columns, and
 * inf * 0 would poison a sum it is not part of: such a group takes the im2col path.) */
static void FC_FN(build_virtual_grid)(const fc_conv2d_params *p, const FC_FN(conv_bw_plan) * pl,
                                      int64_t out_w, const FC_REAL *g, const FC_REAL *x,
                                      FC_REAL *gv, FC_REAL *xp, int *finite, int64_t begin,
                                      int64_t end)
{
    const int64_t out_h = pl->pixels / out_w, plane = p->h * p->w;
    const int64_t last = end == p->n ? pl->gv_rows : end * p->k;
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
    if (!x) return;
    const int64_t top = p->pad_top * pl->wp, right = pl->wp - p->pad_left - p->w;
    for (int64_t n = begin; n < end; n++) {
        for (int64_t c = 0; c < p->c; c++) {
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
        for (int64_t grp = 0; grp < p->groups; grp++) {
            const FC_REAL *src = x + (n * p->c + grp * pl->cg) * plane;
            int ok = 1;
            for (int64_t i = 0; i < pl->cg * plane; i++) ok &= src[i] - src[i] == 0;
            finite[n * p->groups + grp] = ok;
        }
    }
}

/* grad_weight of one (group, block of reduction columns).  The NT tiles add lane sums of
 * grad_output rows times im2col rows: on the virtual grid (shared gv and xp, when the group's
 * input is finite in every image), one call per tile and block of pixels runs over the whole
 * batch; otherwise per image, with grad_output rows copied and im2col rows packed per block of
 * kc pixels.  Finally each element's lanes are summed in a fixed pairwise tree.  Each lane's
 * sum runs the blocks of pixels, then the images, in a fixed order. */
static void FC_FN(conv_grad_weight_item)(const fc_conv2d_params *p, int64_t out_w,
                                         const FC_FN(conv_bw_plan) * pl,
                                         FC_FN(gemm_nt_ukernel_fn) ukernel, const FC_REAL *g,
                                         const FC_REAL *x, const FC_REAL *gv,
                                         const FC_REAL *xp, const int *finite, int64_t grp,
                                         int64_t block, FC_REAL *gw, FC_REAL *scratch)
{
    const int64_t mr = pl->nt_mr, nr = pl->nt_nr, lanes = pl->lanes, kg = pl->kg;
    const int64_t pixels = pl->pixels, rows_a = pl->k_tiles * mr, taps = p->r * p->s;
    const int64_t col0 = block * pl->gw_cols, cols = fc_min_i64(pl->gw_cols, pl->red - col0);
    const int64_t col_tiles = fc_ceil_div(cols, nr), tile = mr * nr * lanes;
    FC_REAL *acc = scratch, *a_buf = acc + rows_a * pl->gw_cols * lanes;
    FC_REAL *b_buf = a_buf + rows_a * pl->gw_kc;
    const FC_REAL *b_rows[128]; /* gw_cols <= 64 + nr - 1, nr <= 64 */
    unsigned flags = 0;
    int direct = pl->shared;
    for (int64_t n = 0; direct && n < p->n; n++) direct = finite[n * p->groups + grp];
    if (direct) {
        for (int64_t n0 = 0; n0 < p->n; n0 += pl->gw_images) {
            const int64_t images = fc_min_i64(pl->gw_images, p->n - n0);
            for (int64_t pix0 = 0; pix0 < pl->vpix; pix0 += pl->gw_kc) {
                const int64_t kc = fc_min_i64(pl->gw_kc, pl->vpix - pix0);
                for (int64_t j = 0; j < col_tiles * nr; j++) {
                    /* the tile's columns past the block repeat its first: lanes never stored */
                    const int64_t idx = col0 + (j < cols ? j : 0), r = (idx % taps) / p->s;
                    b_rows[j] = xp + (n0 * p->c + grp * pl->cg + idx / taps) * pl->plane_size +
                                r * p->dilation_h * pl->wp + (idx % p->s) * p->dilation_w +
                                pix0;
                }
                FC_FN(grad_weight_tiles)(pl, ukernel, images, kc,
                                         gv + (n0 * p->k + grp * kg) * pl->vpix + pix0, pl->vpix,
                                         p->k * pl->vpix, b_rows, p->c * pl->plane_size,
                                         col_tiles, acc, flags);
                flags = FC_GEMM_ACCUMULATE;
            }
        }
    } else {
        for (int64_t n = 0; n < p->n; n++) {
            const FC_REAL *x_group = x + (n * p->c + grp * pl->cg) * p->h * p->w;
            const FC_REAL *g_rows = g + (n * p->k + grp * kg) * pixels;
            for (int64_t pix0 = 0; pix0 < pixels; pix0 += pl->gw_kc) {
                const int64_t kc = fc_min_i64(pl->gw_kc, pixels - pix0);
                const int64_t ld = fc_ceil_div(kc, lanes) * lanes;
                for (int64_t i = 0; i < rows_a; i++) {
                    FC_REAL *dst = a_buf + i * ld;
                    int64_t q = 0;
                    if (i < kg)
                        for (; q < kc; q++) dst[q] = g_rows[i * pixels + pix0 + q];
                    for (; q < ld; q++) dst[q] = 0;
                }
                FC_FN(pack_im2col_rows)(p, out_w, x_group, col0, cols, cols, pix0, kc, ld,
                                        b_buf);
                for (int64_t j = 0; j < col_tiles * nr; j++) b_rows[j] = b_buf + (j < cols ? j : 0) * ld;
                FC_FN(grad_weight_tiles)(pl, ukernel, 1, ld, a_buf, ld, 0, b_rows, 0, col_tiles,
                                         acc, flags);
                flags = FC_GEMM_ACCUMULATE;
            }
        }
    }
    for (int64_t i = 0; i < kg; i++)
        for (int64_t j = 0; j < cols; j++) {
            FC_REAL sums[64]; /* lanes <= 64: one per SIMD lane */
            const FC_REAL *lane = acc + ((i / mr) * col_tiles + j / nr) * tile +
                                  ((i % mr) * nr + j % nr) * lanes;
            for (int64_t l = 0; l < lanes; l++) sums[l] = lane[l];
            for (int64_t width = lanes / 2; width > 0; width /= 2)
                for (int64_t l = 0; l < width; l++) sums[l] += sums[l + width];
            gw[(grp * kg + i) * pl->red + col0 + j] = sums[0];
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
 * Phase 1: the grad_input items (image, group), the grad_weight items (group, block of
 * columns), then grad_bias in ranges of filters.  Every sum over the batch and the pixels
 * runs inside one task, in a fixed order. */
static void FC_FN(backward_task)(void *ctx, int64_t phase, int64_t task, int t)
{
    const FC_FN(backward_job) *job = ctx;
    const fc_conv2d_params *p = job->p;
    const FC_FN(conv_bw_plan) *pl = job->pl;
    int64_t begin, end;
    if (phase == 0 && task < job->pack_tasks) {
        fc_task_range(p->groups * pl->red_tiles, job->pack_tasks, task, &begin, &end);
        FC_FN(pack_weight_transposed)(p, pl, job->weight, job->packed_wt, begin, end);
    } else if (phase == 0) {
        fc_task_range(p->n, job->grid_tasks, task - job->pack_tasks, &begin, &end);
        FC_FN(build_virtual_grid)(p, pl, job->out_w, job->g, job->gw ? job->x : NULL, job->gv,
                                  job->xp, job->finite, begin, end);
    } else if (task < job->gi_items) {
        FC_FN(conv_grad_input_item)(p, job->out_w, pl, job->cfg->ukernel,
                                    fc_kernels()->FC_MEMBER(vadd), job->g, job->gv,
                                    job->packed_wt, task / p->groups, task % p->groups, job->gx,
                                    job->scratch + t * job->per_thread);
    } else if ((task -= job->gi_items) < job->gw_items) {
        FC_FN(conv_grad_weight_item)(p, job->out_w, pl, job->nt->ukernel, job->g, job->x,
                                     job->gv, job->xp, job->finite, task / pl->gw_col_blocks,
                                     task % pl->gw_col_blocks, job->gw,
                                     job->scratch + t * job->per_thread);
    } else {
        fc_task_range(p->k, job->gb_tasks, task - job->gw_items, &begin, &end);
        FC_FN(conv_grad_bias)(p->n, p->k, pl->pixels, job->g, job->gb, begin, end);
    }
}

static fc_status FC_FN(conv2d_backward)(const fc_conv2d_params *p, int64_t out_h, int64_t out_w,
                                        const FC_REAL *g, const FC_REAL *x,
                                        const FC_REAL *weight, FC_REAL *gx, FC_REAL *gw,
                                        FC_REAL *gb)
{
    const FC_FN(gemm_config) cfg = fc_kernels()->FC_MEMBER(gemm);
    const FC_FN(gemm_nt_config) nt = fc_kernels()->FC_MEMBER(gemm_nt);
    const int64_t pixels = out_h * out_w;
    const int64_t red = (p->c / p->groups) * p->r * p->s;
    const int64_t macs = fc_mul_saturating(fc_mul_saturating(p->n * pixels, p->k), red);
    const int64_t work = fc_mul_saturating(macs, (gx != NULL) + (gw != NULL)) +
                         (gb ? fc_mul_saturating(p->n * pixels, p->k) : 0);
    const int want = fc_region_threads(work);
    FC_FN(conv_bw_plan) pl;
    FC_FN(conv_bw_make_plan)(p, out_h, out_w, &cfg, &nt, want, &pl);
    if (gx && pl.gi_direct) /* the virtual columns' zero gradients times inf would be NaN */
        for (int64_t i = 0; i < p->k * red; i++) pl.gi_direct &= weight[i] - weight[i] == 0;
    const int64_t gi_items = gx ? p->n * p->groups : 0;
    const int64_t gw_items = gw ? p->groups * pl.gw_col_blocks : 0;
    const int64_t gb_items = gb ? p->k : 0;
    const int threads = (int)fc_max_i64(
        1, fc_min_i64(want, fc_max_i64(gi_items, fc_max_i64(gw_items, gb_items))));
    const int64_t per_thread =
        fc_max_i64(gx ? pl.gi_scratch : 0, gw ? pl.gw_scratch : 0);
    FC_REAL *packed_wt, *scratch;
    FC_RETURN_IF_ERROR(FC_FN(alloc_workspace)(gx ? p->groups * pl.red_tiles : 0, pl.kg, pl.mr,
                                              threads, per_thread, &packed_wt, &scratch));
    /* the shared virtual grid (sizes bounded by the plan): grad_output, input planes, flags */
    pl.gi_direct = pl.gi_direct && gx;
    pl.shared = pl.shared && (gw || pl.gi_direct);
    FC_REAL *gv = NULL, *xp = NULL;
    int *finite = NULL;
    if (pl.shared) {
        gv = fc_aligned_alloc((pl.gv_rows * pl.vpix + (gw ? pl.xp_size : 0)) *
                              (int64_t)sizeof(FC_REAL));
        finite = fc_aligned_alloc(p->n * p->groups * (int64_t)sizeof(int));
        if (!gv || !finite) {
            fc_aligned_free(gv);
            fc_aligned_free(finite);
            fc_aligned_free(packed_wt);
            fc_aligned_free(scratch);
            return FC_ERR_OUT_OF_MEMORY;
        }
        xp = gw ? gv + pl.gv_rows * pl.vpix : NULL;
    }

    FC_FN(backward_job) job = {p, out_w, &pl, &cfg, &nt, g, x, weight, gx, gw, gb,
                               packed_wt, scratch, per_thread, gv, xp, finite};
    job.gi_items = gi_items;
    job.gw_items = gw_items;
    job.pack_tasks = gx ? fc_min_i64(p->groups * pl.red_tiles, 2 * threads) : 0;
    job.grid_tasks = pl.shared ? fc_min_i64(p->n, 2 * threads) : 0;
    job.gb_tasks = gb ? fc_min_i64(p->k, 2 * threads) : 0;
    const int64_t tasks[2] = {job.pack_tasks + job.grid_tasks,
                              gi_items + gw_items + job.gb_tasks};
    const fc_parallel_job parallel = {FC_FN(backward_task), &job, 2, tasks};
    fc_parallel_run(threads, &parallel);
    fc_aligned_free(gv);
    fc_aligned_free(finite);
    fc_aligned_free(packed_wt);
    fc_aligned_free(scratch);
    return FC_OK;
}

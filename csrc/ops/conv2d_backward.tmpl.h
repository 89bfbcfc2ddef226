/* conv2d backward drivers for one dtype (instantiated by conv2d_backward.c, after
 * conv2d_common.tmpl.h whose workspace allocation they share).
 *
 * Per group g, with G_g = grad_output (Kg x PQ) of one image and col_g its im2col matrix
 * (red x PQ, red = Cg * R * S):
 *   grad_weight_g (Kg x red) = sum over images of G_g * col_g^T
 *   grad_input: dcol_g (red x PQ) = W_g^T * G_g, then col2im adds dcol back into the planes
 *   grad_bias[k] = sum over images and pixels of G[k]
 * All three run on the GEMM microkernel of the dispatch table with packed panels; no im2col
 * matrix is ever built (panels of kc or nc pixels are packed on the fly, per thread). */

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

/* The transposed im2col block of image group x_group: reduction indices (c, r, s) in
 * [col0, col0 + cols) as columns, output pixels [pix0, pix0 + kc) as the kc rows of NR-wide
 * B sub-panels: panel[(j0 / nr) * kc * nr + q * nr + jj] = col[col0 + j0 + jj][pix0 + q], zero
 * for padding taps and for columns past `cols`.  Walked one output row segment at a time, where
 * the taps inside the plane form one strided run. */
static void FC_FN(pack_im2col_transposed)(const fc_conv2d_params *p, int64_t out_w,
                                          const FC_REAL *x_group, int64_t col0, int64_t cols,
                                          int64_t pix0, int64_t kc, int64_t nr, FC_REAL *panel)
{
    const int64_t taps = p->r * p->s;
    for (int64_t j0 = 0; j0 < cols; j0 += nr, panel += kc * nr) {
        const int64_t width = fc_min_i64(nr, cols - j0);
        for (int64_t jj = 0; jj < nr; jj++) {
            FC_REAL *dst = panel + jj;
            if (jj >= width) {
                for (int64_t q = 0; q < kc; q++) dst[q * nr] = 0;
                continue;
            }
            const int64_t idx = col0 + j0 + jj, c = idx / taps, r = (idx % taps) / p->s,
                          s = idx % p->s;
            const FC_REAL *plane = x_group + c * p->h * p->w;
            const int64_t dh = r * p->dilation_h - p->pad_top;
            const int64_t dw = s * p->dilation_w - p->pad_left;
            int64_t lo, hi;
            fc_conv_valid_range(dw, p->stride_w, p->w, out_w, &lo, &hi);
            int64_t q = 0, oh = pix0 / out_w, ow = pix0 % out_w;
            while (q < kc) {
                const int64_t seg_end = fc_min_i64(out_w, ow + (kc - q)); /* ow in [ow, seg_end) */
                const int64_t ih = oh * p->stride_h + dh;
                FC_REAL *d = dst + (q - ow) * nr; /* d[o * nr] is output column o */
                if (ih < 0 || ih >= p->h) {
                    for (int64_t o = ow; o < seg_end; o++) d[o * nr] = 0;
                } else {
                    const FC_REAL *src = plane + ih * p->w + dw;
                    const int64_t a = fc_max_i64(ow, lo), b = fc_max_i64(a, fc_min_i64(seg_end, hi));
                    for (int64_t o = ow; o < a; o++) d[o * nr] = 0;
                    for (int64_t o = a; o < b; o++) d[o * nr] = src[o * p->stride_w];
                    for (int64_t o = b; o < seg_end; o++) d[o * nr] = 0;
                }
                q += seg_end - ow;
                ow = 0;
                oh++;
            }
        }
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
        fc_conv_valid_range(dw, p->stride_w, p->w, out_w, &lo, &hi);
        int64_t j = 0, oh = pix0 / out_w, ow = pix0 % out_w;
        while (j < cols) {
            const int64_t seg_end = fc_min_i64(out_w, ow + (cols - j));
            const int64_t ih = oh * p->stride_h + dh;
            if (ih >= 0 && ih < p->h) {
                FC_REAL *dst = plane + ih * p->w + dw;
                const FC_REAL *s_row = src + (j - ow); /* s_row[o] is output column o */
                const int64_t a = fc_max_i64(ow, lo), b = fc_min_i64(seg_end, hi);
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
    int64_t gi_nc, gi_rb, red_tiles;
    /* grad_weight: kc pixels per reduction block, columns of red per work item */
    int64_t gw_kc, gw_cols, gw_col_blocks, k_tiles;
    int64_t gi_scratch, gw_scratch;
} FC_FN(conv_bw_plan);

static void FC_FN(conv_bw_make_plan)(const fc_conv2d_params *p, int64_t out_h, int64_t out_w,
                                     const FC_FN(gemm_config) * cfg, int threads,
                                     FC_FN(conv_bw_plan) * pl)
{
    pl->cg = p->c / p->groups;
    pl->kg = p->k / p->groups;
    pl->red = pl->cg * p->r * p->s;
    pl->pixels = out_h * out_w;
    pl->mr = cfg->mr;
    pl->nr = cfg->nr;
    const int64_t mr = pl->mr, nr = pl->nr;
    /* grad_input: a dcol block of gi_rb x gi_nc is the forward's kc x nc panel budget */
    pl->gi_nc = fc_min_i64(fc_ceil_div(pl->pixels, nr), fc_max_i64(cfg->nc / nr, 1)) * nr;
    pl->red_tiles = fc_ceil_div(pl->red, mr);
    pl->gi_rb = fc_min_i64(pl->red_tiles, fc_max_i64(fc_ceil_div(cfg->kc, mr), 1)) * mr;
    pl->gi_scratch = pl->kg * pl->gi_nc + pl->gi_rb * pl->gi_nc;
    /* grad_weight: the columns of red are split so that the groups x column blocks give every
     * thread work; the split never changes a sum, only who computes it */
    pl->gw_kc = fc_min_i64(pl->pixels, cfg->kc);
    pl->k_tiles = fc_ceil_div(pl->kg, mr);
    const int64_t per_group = fc_ceil_div(threads, p->groups);
    int64_t cols = fc_ceil_div(fc_ceil_div(pl->red, per_group), nr) * nr;
    cols = fc_min_i64(cols, fc_max_i64(cfg->nc / nr, 1) * nr);
    pl->gw_cols = cols;
    pl->gw_col_blocks = fc_ceil_div(pl->red, cols);
    pl->gw_scratch = pl->k_tiles * mr * pl->gw_kc + pl->gw_kc * cols + pl->k_tiles * mr * cols;
}

/* W_g^T as A panels: panel (g, t) holds reduction rows [t * mr, (t + 1) * mr) of group g as
 * kg x mr, zero past red.  This thread packs its share. */
static void FC_FN(pack_weight_transposed)(const fc_conv2d_params *p,
                                          const FC_FN(conv_bw_plan) * pl, const FC_REAL *weight,
                                          FC_REAL *packed, int t, int team)
{
    int64_t begin, end;
    fc_partition(p->groups * pl->red_tiles, team, t, &begin, &end);
    for (int64_t panel = begin; panel < end; panel++) {
        const int64_t g = panel / pl->red_tiles, row0 = (panel % pl->red_tiles) * pl->mr;
        FC_FN(pack_a)(weight + g * pl->kg * pl->red + row0, 1, pl->red,
                      fc_min_i64(pl->mr, pl->red - row0), pl->mr, pl->kg,
                      packed + panel * pl->kg * pl->mr);
    }
}

/* grad_input of one (image, group): zero its planes, then per block of nc pixels pack G_g's
 * columns as B (kg deep), and per block of rb reduction rows compute dcol = W_g^T * G_g into
 * scratch (whole tiles: the panels are zero-padded) and add it back with col2im. */
static void FC_FN(conv_grad_input_item)(const fc_conv2d_params *p, int64_t out_w,
                                        const FC_FN(conv_bw_plan) * pl,
                                        FC_FN(gemm_ukernel_fn) ukernel, const FC_REAL *g,
                                        const FC_REAL *packed_wt, int64_t n, int64_t grp,
                                        FC_REAL *gx, FC_REAL *scratch)
{
    const int64_t mr = pl->mr, nr = pl->nr, kg = pl->kg, pixels = pl->pixels, nc = pl->gi_nc;
    const FC_REAL *g_rows = g + (n * p->k + grp * kg) * pixels;
    FC_REAL *gx_group = gx + (n * p->c + grp * pl->cg) * p->h * p->w;
    FC_REAL *b_panel = scratch, *dcol = scratch + kg * nc;
    for (int64_t i = 0; i < pl->cg * p->h * p->w; i++) gx_group[i] = 0;
    for (int64_t pix0 = 0; pix0 < pixels; pix0 += nc) {
        const int64_t cols = fc_min_i64(nc, pixels - pix0);
        for (int64_t j0 = 0; j0 < cols; j0 += nr) {
            const int64_t width = fc_min_i64(nr, cols - j0);
            FC_REAL *sub = b_panel + (j0 / nr) * kg * nr;
            for (int64_t q = 0; q < kg; q++) {
                const FC_REAL *src = g_rows + q * pixels + pix0 + j0;
                for (int64_t jj = 0; jj < nr; jj++) sub[q * nr + jj] = jj < width ? src[jj] : 0;
            }
        }
        for (int64_t rb0 = 0; rb0 < pl->red; rb0 += pl->gi_rb) {
            const int64_t rows = fc_min_i64(pl->gi_rb, pl->red - rb0);
            for (int64_t t = 0; t * mr < rows; t++) {
                const FC_REAL *a = packed_wt + (grp * pl->red_tiles + rb0 / mr + t) * kg * mr;
                for (int64_t j0 = 0; j0 < cols; j0 += nr)
                    ukernel((size_t)kg, a, b_panel + (j0 / nr) * kg * nr,
                            dcol + t * mr * nc + j0, (size_t)nc, NULL, 0);
            }
            FC_FN(col2im_add)(p, out_w, dcol, nc, rb0, rows, pix0, cols, gx_group);
        }
    }
}

/* grad_weight of one (group, block of reduction columns): the tile buffer (whole MR x NR
 * tiles) accumulates G_g * col_g^T image after image, kc pixels at a time, then is copied
 * out.  Each element's sum runs images, then pixels, ascending. */
static void FC_FN(conv_grad_weight_item)(const fc_conv2d_params *p, int64_t out_w,
                                         const FC_FN(conv_bw_plan) * pl,
                                         FC_FN(gemm_ukernel_fn) ukernel, const FC_REAL *g,
                                         const FC_REAL *x, int64_t grp, int64_t block,
                                         FC_REAL *gw, FC_REAL *scratch)
{
    const int64_t mr = pl->mr, nr = pl->nr, kg = pl->kg, pixels = pl->pixels, ld = pl->gw_cols;
    const int64_t col0 = block * pl->gw_cols, cols = fc_min_i64(pl->gw_cols, pl->red - col0);
    FC_REAL *a_buf = scratch, *b_buf = a_buf + pl->k_tiles * mr * pl->gw_kc;
    FC_REAL *tile = b_buf + pl->gw_kc * pl->gw_cols;
    unsigned flags = 0;
    for (int64_t n = 0; n < p->n; n++) {
        const FC_REAL *x_group = x + (n * p->c + grp * pl->cg) * p->h * p->w;
        for (int64_t pix0 = 0; pix0 < pixels; pix0 += pl->gw_kc) {
            const int64_t kc = fc_min_i64(pl->gw_kc, pixels - pix0);
            const FC_REAL *g_rows = g + (n * p->k + grp * kg) * pixels + pix0;
            for (int64_t t = 0; t < pl->k_tiles; t++)
                FC_FN(pack_a)(g_rows + t * mr * pixels, pixels, 1, fc_min_i64(mr, kg - t * mr),
                              mr, kc, a_buf + t * mr * kc);
            FC_FN(pack_im2col_transposed)(p, out_w, x_group, col0, cols, pix0, kc, nr, b_buf);
            for (int64_t t = 0; t < pl->k_tiles; t++)
                for (int64_t j0 = 0; j0 < cols; j0 += nr)
                    ukernel((size_t)kc, a_buf + t * mr * kc, b_buf + (j0 / nr) * kc * nr,
                            tile + t * mr * ld + j0, (size_t)ld, NULL, flags);
            flags = FC_GEMM_ACCUMULATE;
        }
    }
    for (int64_t i = 0; i < kg; i++)
        for (int64_t j = 0; j < cols; j++)
            gw[(grp * kg + i) * pl->red + col0 + j] = tile[i * ld + j];
}

static fc_status FC_FN(conv2d_backward)(const fc_conv2d_params *p, int64_t out_h, int64_t out_w,
                                        const FC_REAL *g, const FC_REAL *x,
                                        const FC_REAL *weight, FC_REAL *gx, FC_REAL *gw,
                                        FC_REAL *gb)
{
    const FC_FN(gemm_config) cfg = fc_kernels()->FC_MEMBER(gemm);
    const int64_t pixels = out_h * out_w;
    const int64_t red = (p->c / p->groups) * p->r * p->s;
    const int64_t macs = fc_mul_saturating(fc_mul_saturating(p->n * pixels, p->k), red);
    const int64_t work = fc_mul_saturating(macs, (gx != NULL) + (gw != NULL)) +
                         (gb ? fc_mul_saturating(p->n * pixels, p->k) : 0);
    const int want = fc_region_threads(work);
    FC_FN(conv_bw_plan) pl;
    FC_FN(conv_bw_make_plan)(p, out_h, out_w, &cfg, want, &pl);
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

#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        const int t = fc_thread_index();
        const int team = fc_team_size();
        FC_REAL *my_scratch = scratch + t * per_thread;
        int64_t begin, end;
        if (gx) {
            FC_FN(pack_weight_transposed)(p, &pl, weight, packed_wt, t, team);
#pragma omp barrier
            fc_partition(gi_items, team, t, &begin, &end);
            for (int64_t item = begin; item < end; item++)
                FC_FN(conv_grad_input_item)(p, out_w, &pl, cfg.ukernel, g, packed_wt,
                                            item / p->groups, item % p->groups, gx, my_scratch);
        }
        fc_partition(gw_items, team, t, &begin, &end);
        for (int64_t item = begin; item < end; item++)
            FC_FN(conv_grad_weight_item)(p, out_w, &pl, cfg.ukernel, g, x,
                                         item / pl.gw_col_blocks, item % pl.gw_col_blocks, gw,
                                         my_scratch);
        fc_partition(gb_items, team, t, &begin, &end);
        FC_FN(conv_grad_bias)(p->n, p->k, pixels, g, gb, begin, end);
    }
    fc_aligned_free(packed_wt);
    fc_aligned_free(scratch);
    return FC_OK;
}

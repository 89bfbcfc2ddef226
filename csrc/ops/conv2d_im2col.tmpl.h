/* conv2d driver: im2col fused into the packing of a GEMM panel (instantiated by conv2d.c). */

/* ---- im2col + packed GEMM ------------------------------------------------------------------
 * Per group g the convolution is the GEMM  Y_g[Kg x PQ] = W_g[Kg x red] * col_g[red x PQ]
 * with red = Cg * R * S.  The weights are packed once into MR-filter panels.  A work item is
 * (image, group, block of nc output pixels): its thread packs the im2col columns of those
 * pixels straight into a kc x nc panel (so no im2col matrix is ever built) and runs the
 * microkernel over every MR x NR tile of the block, one kc-deep slice of the reduction at a
 * time. */

/* im2col rows [red0, red0 + kc) of output pixels [pix0, pix0 + cols), as NR-wide sub-panels
 * of kc x NR values, zero for padding taps and for columns past `cols`. */
static void FC_FN(pack_im2col_panel)(const fc_conv2d_params *p, int64_t out_w,
                                     const FC_REAL *x_group, int64_t red0, int64_t kc,
                                     int64_t pix0, int64_t cols, int64_t nr, FC_REAL *panel)
{
    const int64_t taps = p->r * p->s;
    for (int64_t j0 = 0; j0 < cols; j0 += nr, panel += kc * nr) {
        const int64_t width = fc_min_i64(nr, cols - j0);
        for (int64_t pk = 0; pk < kc; pk++) {
            const int64_t idx = red0 + pk, c = idx / taps, r = (idx % taps) / p->s,
                          s = idx % p->s;
            const FC_REAL *plane = x_group + c * p->h * p->w;
            FC_REAL *dst = panel + pk * nr;
            int64_t oh = (pix0 + j0) / out_w, ow = (pix0 + j0) % out_w;
            for (int64_t jj = 0; jj < nr; jj++) {
                FC_REAL v = 0;
                if (jj < width) {
                    const int64_t ih = oh * p->stride_h - p->pad_top + r * p->dilation_h;
                    const int64_t iw = ow * p->stride_w - p->pad_left + s * p->dilation_w;
                    if (ih >= 0 && ih < p->h && iw >= 0 && iw < p->w) v = plane[ih * p->w + iw];
                    if (++ow == out_w) ow = 0, oh++;
                }
                dst[jj] = v;
            }
        }
    }
}

static fc_status FC_FN(conv2d_im2col)(const fc_conv2d_params *p, int64_t out_h, int64_t out_w,
                                      const FC_REAL *x, const FC_REAL *weight,
                                      const FC_REAL *bias, FC_REAL *y, int relu)
{
    const FC_FN(gemm_config) cfg = fc_kernels()->FC_MEMBER(gemm);
    const int64_t mr = cfg.mr, nr = cfg.nr;
    const int64_t cg = p->c / p->groups, kg = p->k / p->groups;
    const int64_t red = cg * p->r * p->s, pixels = out_h * out_w;
    const int64_t m_tiles = fc_ceil_div(kg, mr);
    const int64_t kc_max = fc_min_i64(red, cfg.kc);
    const int64_t nc = fc_min_i64(fc_ceil_div(pixels, nr), cfg.nc / nr) * nr;
    const int64_t blocks = fc_ceil_div(pixels, nc);
    const int64_t items = p->n * p->groups * blocks;
    const int64_t panels = p->groups * m_tiles;
    /* multiply-adds, counting the rounded-up pixel blocks: close enough to size the team */
    const int64_t macs = fc_mul_saturating(fc_mul_saturating(items * nc, kg), red);
    const int threads = (int)fc_min_i64(fc_region_threads(macs), fc_max_i64(items, panels));

    /* per thread: the im2col panel, then one MR x NR tile for the edges of the output */
    const int64_t scratch_per_thread = kc_max * nc + mr * nr;
    FC_REAL *packed_w, *scratch;
    FC_RETURN_IF_ERROR(FC_FN(alloc_workspace)(panels, red, mr, threads, scratch_per_thread,
                                              &packed_w, &scratch));

#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        const int t = fc_thread_index();
        const int team = fc_team_size();
        FC_FN(pack_weight_panels)(p, weight, mr, packed_w, t, team);
#pragma omp barrier
        FC_REAL *b_panel = scratch + t * scratch_per_thread;
        FC_REAL *edge_tile = b_panel + kc_max * nc;
        int64_t begin, end;
        fc_partition(items, team, t, &begin, &end);
        for (int64_t item = begin; item < end; item++) {
            const int64_t n = item / (p->groups * blocks), g = (item / blocks) % p->groups;
            const int64_t pix0 = (item % blocks) * nc, cols = fc_min_i64(nc, pixels - pix0);
            const FC_REAL *x_group = x + (n * p->c + g * cg) * p->h * p->w;
            FC_REAL *y_group = y + (n * p->k + g * kg) * pixels;
            for (int64_t red0 = 0; red0 < red; red0 += kc_max) {
                const int64_t kc = fc_min_i64(kc_max, red - red0);
                unsigned flags = red0 > 0 ? FC_GEMM_ACCUMULATE : 0;
                if (relu && red0 + kc == red) flags |= FC_GEMM_RELU;
                FC_FN(pack_im2col_panel)(p, out_w, x_group, red0, kc, pix0, cols, nr, b_panel);
                for (int64_t mt = 0; mt < m_tiles; mt++) {
                    const int64_t m0 = mt * mr, rows = fc_min_i64(mr, kg - m0);
                    const FC_REAL *a = packed_w + ((g * m_tiles + mt) * red + red0) * mr;
                    FC_REAL bias_tile[64]; /* mr <= 64, checked by the dispatch table's tests */
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
                        /* Edge of the output: run the full tile on scratch, keep the valid
                         * part.  Stale values outside it are never stored to y. */
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
    fc_aligned_free(packed_w);
    fc_aligned_free(scratch);
    return FC_OK;
}


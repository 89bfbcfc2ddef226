/* What the convolution drivers of one dtype share: weight packing and workspace allocation.
 * Instantiated by conv2d.c before the drivers (conv2d_<algorithm>.tmpl.h).  Each driver owns
 * its workspace and its one parallel region; the microkernels come from the dispatch table.
 *
 * Both drivers sum every output element in the reference's order (bias, then c, r, s
 * ascending) and give each output element to exactly one thread, so the result does not depend
 * on the thread count. */

/* W_g rows [m0, m0 + MR) as a red x MR panel, zero past the group's last filter. */
static void FC_FN(pack_weight_panel)(const FC_REAL *w_group, int64_t rows, int64_t red,
                                     int64_t mr, FC_REAL *panel)
{
    for (int64_t p = 0; p < red; p++)
        for (int64_t i = 0; i < mr; i++) panel[p * mr + i] = i < rows ? w_group[i * red + p] : 0;
}

/* Both drivers keep the weights as panels of `rows` filters: panel (g, b) holds filters
 * [b * rows, (b + 1) * rows) of group g as red x rows, so the `rows` weights of one reduction
 * step are contiguous.  Called inside the parallel region: this thread packs its share. */
static void FC_FN(pack_weight_panels)(const fc_conv2d_params *p, const FC_REAL *weight,
                                      int64_t rows, FC_REAL *packed, int t, int team)
{
    const int64_t kg = p->k / p->groups, red = (p->c / p->groups) * p->r * p->s;
    const int64_t blocks = fc_ceil_div(kg, rows);
    int64_t begin, end;
    fc_partition(p->groups * blocks, team, t, &begin, &end);
    for (int64_t panel = begin; panel < end; panel++) {
        const int64_t g = panel / blocks, k0 = (panel % blocks) * rows;
        FC_FN(pack_weight_panel)(weight + (g * kg + k0) * red, fc_min_i64(rows, kg - k0), red,
                                 rows, packed + panel * red * rows);
    }
}

/* A driver's workspace: `panels` packed weight panels of red x rows, shared, and `per_thread`
 * elements of scratch for each of `threads` threads.  Both or neither are allocated. */
static fc_status FC_FN(alloc_workspace)(int64_t panels, int64_t red, int64_t rows, int threads,
                                        int64_t per_thread, FC_REAL **packed, FC_REAL **scratch)
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


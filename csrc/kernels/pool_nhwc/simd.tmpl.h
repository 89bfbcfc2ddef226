/* Channels-last pooling for one ISA and dtype (simd/vec_*.h): FC_LANES channels per vector,
 * the last partial vector with masked loads and stores (never past the run).  The window's
 * pixels are folded in order, as the scalar member does channel by channel, so every lane
 * ends on the scalar scan's element: max pooling keeps, per lane, the window position k of
 * its best as a FC_REAL (exact: the driver passes windows of fewer than 2**24 pixels) and
 * maps it to the flat index at the end.  Average pooling adds from +0 in window order and
 * divides, as kernels/pool does (so NHWC and NCHW agree bit for bit). */

/* v wins over b: !(v <= b) and b is not NaN */
#define FC_POOL_NHWC_TAKES(v, b) FC_MAND(FC_VNLE(v, b), FC_VORD(b))

void FC_ISA_SUFFIX(FC_FN(maxpool_nhwc_ukernel))(size_t channels, size_t count,
                                                const FC_REAL *const *ptrs,
                                                const int64_t *offsets, FC_REAL *y,
                                                int64_t *indices)
{
    if (count == 0) {
        FC_FN(maxpool_nhwc_channels)(0, channels, 0, ptrs, offsets, y, indices);
        return;
    }
    for (size_t c = 0; c < channels; c += FC_LANES) {
        const size_t cnt = channels - c < FC_LANES ? channels - c : FC_LANES;
        const FC_M m = FC_TAIL_MASK(cnt);
        const int full = cnt == FC_LANES;
        FC_V best = full ? FC_VLOAD(ptrs[0] + c) : FC_VLOADM(m, ptrs[0] + c);
        FC_V best_k = FC_VZERO();
        for (size_t k = 1; k < count; k++) {
            const FC_V v = full ? FC_VLOAD(ptrs[k] + c) : FC_VLOADM(m, ptrs[k] + c);
            const FC_M take = FC_POOL_NHWC_TAKES(v, best);
            best = FC_VBLEND(take, best, v);
            if (indices) best_k = FC_VBLEND(take, best_k, FC_VSET1((FC_REAL)k));
        }
        if (full) FC_VSTORE(y + c, best);
        else FC_VSTOREM(y + c, m, best);
        if (indices) {
            FC_REAL ks[FC_LANES];
            FC_VSTORE(ks, best_k);
            for (size_t l = 0; l < cnt; l++) indices[c + l] = offsets[(size_t)ks[l]];
        }
    }
}

void FC_ISA_SUFFIX(FC_FN(avgpool_nhwc_ukernel))(size_t channels, size_t count,
                                                const FC_REAL *const *ptrs, FC_REAL divisor,
                                                FC_REAL *y)
{
    const FC_V d = FC_VSET1(divisor);
    for (size_t c = 0; c < channels; c += FC_LANES) {
        const size_t cnt = channels - c < FC_LANES ? channels - c : FC_LANES;
        const FC_M m = FC_TAIL_MASK(cnt);
        FC_V sum = FC_VZERO();
        if (cnt == FC_LANES) {
            for (size_t k = 0; k < count; k++) sum = FC_VADD(sum, FC_VLOAD(ptrs[k] + c));
            FC_VSTORE(y + c, FC_VDIV(sum, d));
        } else {
            for (size_t k = 0; k < count; k++) sum = FC_VADD(sum, FC_VLOADM(m, ptrs[k] + c));
            FC_VSTOREM(y + c, m, FC_VDIV(sum, d));
        }
    }
}
#undef FC_POOL_NHWC_TAKES

/* Loads and epilogue stores shared by the direct and depthwise SIMD templates; include after
 * simd/vec_<isa>_f32.h, the vector vocabulary every family uses.  `part` is a compile-time
 * constant once inlined: full vectors use the plain instructions, only the last vector of a
 * row uses the lane mask. */
#include "kernels/fused.h"

#define FC_INLINE static inline __attribute__((always_inline))

FC_INLINE FC_V fc_vload(const float *p, int part, FC_M m)
{
    return part ? FC_VLOADM(m, p) : FC_VLOAD(p);
}

/* The fused epilogue (kernels/fused.h flags): FC_VRELU when fused says so, written once. */
FC_INLINE void fc_vstore_out(float *p, FC_V v, unsigned fused, int part, FC_M m)
{
    if (fused & FC_FUSED_RELU) v = FC_VRELU(v);
    if (part)
        FC_VSTOREM(p, m, v);
    else
        FC_VSTORE(p, v);
}

/* Runs BLOCK(nv, part) over the output columns [0, cols): blocks of NV vectors (at most 4),
 * then the rest's whole vectors as one block, then its last partial vector as a whole vector
 * moved back to end at cols (part = 0), so no load or store of the rest needs a mask: a masked
 * store (vmaskmovps) costs about ten plain ones on Zen 3, and on 56-wide maps the masked
 * 8-column rest block was 7% of a depthwise layer.  The moved vector recomputes up to
 * FC_LANES - 1 columns of the block before it, with the same bits (each output is summed in
 * its own fixed order), so BLOCK must write its outputs, never accumulate into them.  Only a
 * row narrower than a vector is done masked: BLOCK(1, 1) with `tail` its lanes.  The caller
 * declares `size_t j` (the block's first column) and `FC_M tail`, which BLOCK reads. */
#define FC_COLUMN_BLOCKS(cols, NV, BLOCK)                                     \
    do {                                                                      \
        tail = FC_TAIL_MASK(FC_LANES);                                         \
        for (j = 0; j + (NV) * FC_LANES <= (cols); j += (NV) * FC_LANES) BLOCK(NV, 0); \
        const size_t whole_ = ((cols) - j) / FC_LANES;                       \
        if (whole_ == 1) BLOCK(1, 0);                                         \
        if ((NV) >= 3 && whole_ == 2) BLOCK((NV) >= 3 ? 2 : 1, 0);           \
        if ((NV) >= 4 && whole_ == 3) BLOCK((NV) >= 4 ? 3 : 1, 0);           \
        j += whole_ * FC_LANES;                                               \
        if (j == (cols)) break;                                               \
        if ((cols) >= FC_LANES) {                                             \
            j = (cols) - FC_LANES;                                            \
            BLOCK(1, 0);                                                      \
        } else {                                                              \
            tail = FC_TAIL_MASK(cols);                                        \
            BLOCK(1, 1);                                                      \
        }                                                                     \
    } while (0)

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
 * then the rest as 1..NV vectors, part = 1, with `tail` the lanes of the last one.  The caller
 * declares `size_t j` (the block's first column) and `FC_M tail`, which BLOCK reads. */
#define FC_COLUMN_BLOCKS(cols, NV, BLOCK)                                     \
    do {                                                                      \
        tail = FC_TAIL_MASK(FC_LANES);                                         \
        for (j = 0; j + (NV) * FC_LANES <= (cols); j += (NV) * FC_LANES) BLOCK(NV, 0); \
        if (j == (cols)) break;                                               \
        const size_t nv_ = ((cols) - j + FC_LANES - 1) / FC_LANES;                  \
        tail = FC_TAIL_MASK((cols) - j - (nv_ - 1) * FC_LANES);                \
        if (nv_ == 1) BLOCK(1, 1);                                            \
        if ((NV) >= 2 && nv_ == 2) BLOCK((NV) >= 2 ? 2 : 1, 1);               \
        if ((NV) >= 3 && nv_ == 3) BLOCK((NV) >= 3 ? 3 : 1, 1);               \
        if ((NV) >= 4 && nv_ == 4) BLOCK((NV) >= 4 ? 4 : 1, 1);               \
    } while (0)

/* Loads and epilogue stores shared by the SIMD kernel templates; include after one of
 * common/f32_vec_<isa>.h.  `part` is a compile-time constant once inlined: full vectors use the
 * plain instructions, only the last vector of a row uses the lane mask. */
#define FC_INLINE static inline __attribute__((always_inline))

FC_INLINE FC_VEC fc_vload(const float *p, int part, FC_VMASK m)
{
    return part ? FC_VLOAD_PART(p, m) : FC_VLOAD(p);
}

/* The fused epilogue: y = relu ? FC_RELU(v) : v, written once. */
FC_INLINE void fc_vstore_out(float *p, FC_VEC v, int relu, int part, FC_VMASK m)
{
    if (relu) v = FC_VRELU(v);
    if (part)
        FC_VSTORE_PART(p, m, v);
    else
        FC_VSTORE(p, v);
}

/* Runs BLOCK(nv, part) over the output columns [0, cols): blocks of NV vectors (at most 4),
 * then the rest as 1..NV vectors, part = 1, with `tail` the lanes of the last one.  The caller
 * declares `size_t j` (the block's first column) and `FC_VMASK tail`, which BLOCK reads. */
#define FC_COLUMN_BLOCKS(cols, NV, BLOCK)                                     \
    do {                                                                      \
        tail = FC_VMASK_FIRST(FC_VL);                                         \
        for (j = 0; j + (NV) * FC_VL <= (cols); j += (NV) * FC_VL) BLOCK(NV, 0); \
        if (j == (cols)) break;                                               \
        const size_t nv_ = ((cols) - j + FC_VL - 1) / FC_VL;                  \
        tail = FC_VMASK_FIRST((cols) - j - (nv_ - 1) * FC_VL);                \
        if (nv_ == 1) BLOCK(1, 1);                                            \
        if ((NV) >= 2 && nv_ == 2) BLOCK((NV) >= 2 ? 2 : 1, 1);               \
        if ((NV) >= 3 && nv_ == 3) BLOCK((NV) >= 3 ? 3 : 1, 1);               \
        if ((NV) >= 4 && nv_ == 4) BLOCK((NV) >= 4 ? 4 : 1, 1);               \
    } while (0)

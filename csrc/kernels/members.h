/* The member tables: every microkernel of every family, one row each, with what dispatch,
 * the tests (fastconv._ext.kernel_members, csrc/tests/test_members.c) and the bench need to
 * know about it.  Each family's table is in kernels/<family>/members.c; a member is listed
 * only on the architecture its file is compiled for (simd/arch.h, setup.py).
 *
 * Dispatch installs, per family and dtype, the member of the highest ISA path that the CPU
 * and FASTCONV_ISA allow (dispatch.c); every family has a scalar member, so there always is
 * one. */
#ifndef FC_KERNELS_MEMBERS_H
#define FC_KERNELS_MEMBERS_H

#include <stddef.h>
#include <stdint.h>

#include "fastconv.h"
#include "simd/arch.h"

typedef enum fc_family {
    FC_FAMILY_GEMM,          /* kernels/gemm: packed GEMM tile, and its "rows" twin */
    FC_FAMILY_GEMM_NT,       /* kernels/gemm_nt: the weight gradient's sums over pixels */
    FC_FAMILY_DCONV,         /* kernels/dconv: direct convolution, one output row */
    FC_FAMILY_DWCONV,        /* kernels/dwconv: depthwise convolution, a tile of rows */
    FC_FAMILY_POOL,          /* kernels/pool: max and average pooling, one output row */
    FC_FAMILY_RELU,          /* kernels/relu */
    FC_FAMILY_RELU_BACKWARD, /* kernels/relu_backward */
    FC_FAMILY_VADD,          /* kernels/vadd: y += x */
    FC_FAMILY_INDEX_CHECK,   /* kernels/index_check: int64 indices in [-1, limit) */
    FC_FAMILY_WINOGRAD,      /* kernels/winograd: F(4x4, 3x3) transforms (f32) */
    FC_FAMILY_EPILOGUE,      /* kernels/epilogue: residual + activation on a row of y */
    FC_FAMILY_POOL_NHWC,     /* kernels/pool_nhwc: channels-last pooling, one output pixel */
    FC_FAMILY_DWCONV_NHWC,   /* kernels/dwconv_nhwc: channels-last depthwise, one pixel */
    FC_FAMILY_COUNT
} fc_family;

/* Any function pointer; a member's fn is converted back to its family's type before a call. */
typedef void (*fc_any_fn)(void);

typedef struct fc_member {
    fc_family family;
    const char *dtype;  /* "f32", "f64" ("i64" for index_check) */
    fc_isa isa;         /* the ISA path, i.e. the CPU features, the member needs */
    const char *name;   /* what fastconv config prints, e.g. "f32-gemm 8x32 avx512" */
    const char *symbol; /* the C function, spelled as in its file name */
    fc_any_fn fn;       /* the microkernel (gemm_nt, dconv, ...: the family's one entry) */
    /* gemm: the "rows" twin (B and/or A read in place); pool, pool_nhwc: the average pooling
     * kernel (fn is max pooling); relu: the streaming-store variant (fn itself where there is
     * none); dwconv, dwconv_nhwc: the weight gradient */
    fc_any_fn fn2;
    /* winograd: the filter transform (fn input, fn2 output); dwconv: fn reading the input
     * planes in place; gemm: the im2col run packer (gemm.h), NULL for the scalar members */
    fc_any_fn fn3;
    fc_any_fn fn4; /* gemm: the NHWC pack (gemm.h), NULL where the driver's loop serves */
    /* register tile: mr rows x nr columns.  gemm mr x nr; gemm_nt mr x nr (filters x inputs);
     * dconv mr output channels (the weight panel's width) x nr columns of a block; dwconv mr
     * output rows x nr columns; pool, relu, relu_backward, vadd, index_check, epilogue 1 x
     * the elements (output columns) of one step, the vector loop's width (1 for scalar
     * members) */
    int64_t mr, nr;
    int64_t kc, nc;    /* gemm: a packed block's reduction depth and output pixels */
    int64_t lanes;     /* gemm_nt: partial sums per element (kc is a multiple of it) */
    int64_t item_rows; /* dwconv: output rows per work item of the driver */
} fc_member;

/* The member of fn's exact type, or a compile-time warning (pointer type mismatch). */
#define FC_MEMBER_FN(type, f) ((fc_any_fn)(1 ? (f) : (type)0))
/* .symbol and .fn of a member from its function's name. */
#define FC_SYMBOL(type, f) .symbol = #f, .fn = FC_MEMBER_FN(type, f)

/* The tables, one per family (kernels/<family>/members.c). */
extern const fc_member fc_gemm_members[], fc_gemm_nt_members[], fc_dconv_members[],
    fc_dwconv_members[], fc_pool_members[], fc_relu_members[], fc_relu_backward_members[],
    fc_vadd_members[], fc_index_check_members[], fc_winograd_members[], fc_epilogue_members[],
    fc_pool_nhwc_members[], fc_dwconv_nhwc_members[];
extern const size_t fc_gemm_member_count, fc_gemm_nt_member_count, fc_dconv_member_count,
    fc_dwconv_member_count, fc_pool_member_count, fc_relu_member_count,
    fc_relu_backward_member_count, fc_vadd_member_count, fc_index_check_member_count,
    fc_winograd_member_count, fc_epilogue_member_count, fc_pool_nhwc_member_count,
    fc_dwconv_nhwc_member_count;

/* A family's table and its length (dispatch.c); "gemm", "gemm_nt", ... by name. */
size_t fc_family_members(fc_family family, const fc_member **members);
const char *fc_family_name(fc_family family);
/* The member of the family installed now for dtype ("f32", "f64", "i64"); NULL if none. */
const fc_member *fc_active_member(fc_family family, const char *dtype);
/* The position of isa in this architecture's ISA list (0 = scalar), -1 for another
 * architecture's path. */
int fc_isa_rank(fc_isa isa);

#endif

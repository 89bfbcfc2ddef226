/* The kernel table: one member of each microkernel family per dtype, with the block sizes the
 * drivers use around it.  dispatch.c fills it from the families' member tables
 * (kernels/members.h) for the chosen ISA path, at import and on each fc_select_isa. */
#ifndef FC_DISPATCH_H
#define FC_DISPATCH_H

#include "fastconv.h"
#include "kernels/dconv/dconv.h"
#include "kernels/dwconv/dwconv.h"
#include "kernels/gemm/gemm.h"
#include "kernels/gemm_nt/gemm_nt.h"
#include "kernels/index_check/index_check.h"
#include "kernels/members.h"
#include "kernels/pool/pool.h"
#include "kernels/pool_nhwc/pool_nhwc.h"
#include "kernels/dwconv_nhwc/dwconv_nhwc.h"
#include "kernels/relu/relu.h"
#include "kernels/relu_backward/relu_backward.h"
#include "kernels/vadd/vadd.h"
#include "kernels/winograd/winograd.h"
#include "kernels/epilogue/epilogue.h"

/* GEMM: mr x nr register tile; kc = reduction depth of one packed block (the B panel's rows),
 * nc = output pixels per work item (the B panel's columns, a multiple of nr). */
#define FC_DECLARE_GEMM_CONFIG(tag)      \
    typedef struct fc_##tag##_gemm_config {   \
        fc_##tag##_gemm_ukernel_fn ukernel;   \
        int64_t mr, nr, kc, nc;               \
        const char *name;                     \
        fc_##tag##_gemm_rows_ukernel_fn rows_ukernel; /* the in-place B twin */ \
        fc_##tag##_gemm_im2col_run_fn im2col_run; /* or NULL: the driver's scalar loop */ \
        fc_##tag##_gemm_nhwc_pack_fn nhwc_pack; /* or NULL: the driver's loop (conv2d_nhwc) */ \
    } fc_##tag##_gemm_config;
FC_DECLARE_GEMM_CONFIG(f32)
FC_DECLARE_GEMM_CONFIG(f64)

/* NT GEMM (the weight gradient's sums over pixels): mr x nr tile, lanes partial sums each. */
#define FC_DECLARE_GEMM_NT_CONFIG(tag)       \
    typedef struct fc_##tag##_gemm_nt_config {   \
        fc_##tag##_gemm_nt_ukernel_fn ukernel;   \
        int64_t mr, nr, lanes;                   \
        const char *name;                        \
    } fc_##tag##_gemm_nt_config;
FC_DECLARE_GEMM_NT_CONFIG(f32)
FC_DECLARE_GEMM_NT_CONFIG(f64)

/* Direct convolution: kb output channels per microkernel call. */
#define FC_DECLARE_DCONV_CONFIG(tag)      \
    typedef struct fc_##tag##_dconv_config {  \
        fc_##tag##_dconv_ukernel_fn ukernel;  \
        int64_t kb;                           \
        const char *name;                     \
    } fc_##tag##_dconv_config;
FC_DECLARE_DCONV_CONFIG(f32)
FC_DECLARE_DCONV_CONFIG(f64)

/* Depthwise: tile_rows = output rows per work item (the padded-row buffer holds the input rows
 * they read, so it also sets the per-thread scratch); gw the weight gradient's kernel; direct
 * ukernel's twin reading the input planes in place. */
#define FC_DECLARE_DWCONV_CONFIG(tag)     \
    typedef struct fc_##tag##_dwconv_config { \
        fc_##tag##_dwconv_ukernel_fn ukernel; \
        int64_t tile_rows;                    \
        fc_##tag##_dwconv_gw_ukernel_fn gw;   \
        fc_##tag##_dwconv_direct_ukernel_fn direct; \
        const char *name;                     \
    } fc_##tag##_dwconv_config;
FC_DECLARE_DWCONV_CONFIG(f32)
FC_DECLARE_DWCONV_CONFIG(f64)

/* Winograd F(4x4, 3x3) transforms (float32 only): lanes = tiles per step. */
typedef struct fc_f32_winograd_config {
    fc_f32_winograd_input_fn input;
    fc_f32_winograd_output_fn output;
    fc_f32_winograd_filter_fn filter;
    int64_t lanes;
    const char *name;
} fc_f32_winograd_config;

typedef struct fc_kernel_table {
    fc_isa isa;
    fc_f32_gemm_config f32_gemm;
    fc_f64_gemm_config f64_gemm;
    fc_f32_gemm_nt_config f32_gemm_nt;
    fc_f64_gemm_nt_config f64_gemm_nt;
    fc_f32_dconv_config f32_dconv;
    fc_f64_dconv_config f64_dconv;
    fc_f32_dwconv_config f32_dwconv;
    fc_f64_dwconv_config f64_dwconv;
    fc_f32_maxpool_ukernel_fn f32_maxpool;
    fc_f64_maxpool_ukernel_fn f64_maxpool;
    fc_f32_avgpool_ukernel_fn f32_avgpool;
    fc_f64_avgpool_ukernel_fn f64_avgpool;
    fc_f32_maxpool_nhwc_ukernel_fn f32_maxpool_nhwc;
    fc_f64_maxpool_nhwc_ukernel_fn f64_maxpool_nhwc;
    fc_f32_avgpool_nhwc_ukernel_fn f32_avgpool_nhwc;
    fc_f64_avgpool_nhwc_ukernel_fn f64_avgpool_nhwc;
    fc_f32_dwconv_nhwc_ukernel_fn f32_dwconv_nhwc;
    fc_f64_dwconv_nhwc_ukernel_fn f64_dwconv_nhwc;
    fc_f32_dwconv_nhwc_gw_ukernel_fn f32_dwconv_nhwc_gw;
    fc_f64_dwconv_nhwc_gw_ukernel_fn f64_dwconv_nhwc_gw;
    fc_f32_relu_ukernel_fn f32_relu;
    fc_f64_relu_ukernel_fn f64_relu;
    fc_f32_relu_backward_ukernel_fn f32_relu_backward;
    fc_f64_relu_backward_ukernel_fn f64_relu_backward;
    fc_f32_vadd_ukernel_fn f32_vadd;
    fc_f64_vadd_ukernel_fn f64_vadd;
    fc_f32_epilogue_ukernel_fn f32_epilogue;
    fc_f64_epilogue_ukernel_fn f64_epilogue;
    fc_index_check_ukernel_fn index_check;
    fc_f32_winograd_config f32_winograd;
    /* ReLU out of place into an output larger than the last-level cache (scalar: = f32_relu) */
    fc_f32_relu_ukernel_fn f32_relu_stream;
    fc_f64_relu_ukernel_fn f64_relu_stream;
    /* the names show_config() reports for the pooling and ReLU families */
    const char *pool_name, *relu_name;
    /* the member behind each entry: [family][0 for f32 and i64, 1 for f64] */
    const fc_member *members[FC_FAMILY_COUNT][2];
} fc_kernel_table;

/* The table in use; valid from module import on. */
const fc_kernel_table *fc_kernels(void);

#endif

/* The transposed convolution's GEMM driver (ops/conv_transpose2d_phases.tmpl.h, compiled in
 * conv2d.c beside the im2col packer it shares), for conv_transpose2d.c. */
#ifndef FC_OPS_CONV_TRANSPOSE2D_PHASES_H
#define FC_OPS_CONV_TRANSPOSE2D_PHASES_H

#include "common/epilogue.h"
#include "fastconv.h"

/* y = act((bias + conv_transpose2d(x, weight)) + residual) for the conv2d that p describes
 * (fastconv.h's fc_conv_transpose2d_forward), when the shape allows it: *done = 0 and nothing
 * written otherwise (the caller then runs the backward-data path). */
#define FC_DECLARE_TRANSPOSE_PHASES(tag, real)                                                \
    fc_status fc_##tag##_conv_transpose2d_phases(const fc_conv2d_params *p, int64_t out_h,    \
                                                 int64_t out_w, const real *x,                \
                                                 const real *weight, const fc_epi *epi,       \
                                                 real *y, int *done);
FC_DECLARE_TRANSPOSE_PHASES(f32, float)
FC_DECLARE_TRANSPOSE_PHASES(f64, double)
#undef FC_DECLARE_TRANSPOSE_PHASES

#endif

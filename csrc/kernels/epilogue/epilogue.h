/* Epilogue row microkernels: the part of conv2d's and linear's epilogue a GEMM, dconv or
 * dwconv microkernel could not fuse, on n contiguous elements of y that it has just stored:
 *
 *   t[j] = act(t[j] + res[j])   (res NULL: act(t[j]))   for j < n,
 *
 * act the `activation` of common/epilogue.h's table with its parameter alpha.  Every member
 * is the same loop (rows.tmpl.h) compiled for its target and vectorised by the compiler; the
 * work is elementwise, so every member gives the same bits.  Drivers reach them through
 * fc_<dtype>_epilogue_apply (common/epilogue.c), not directly. */
#ifndef FC_KERNELS_EPILOGUE_H
#define FC_KERNELS_EPILOGUE_H

#include <stddef.h>

#include "fastconv.h"

typedef void (*fc_f32_epilogue_ukernel_fn)(fc_activation activation, float alpha, size_t n,
                                           const float *res, float *t);
typedef void (*fc_f64_epilogue_ukernel_fn)(fc_activation activation, double alpha, size_t n,
                                           const double *res, double *t);

#define FC_DECLARE_EPILOGUE_UKERNEL(fn, real) \
    void fn(fc_activation activation, real alpha, size_t n, const real *res, real *t);
FC_DECLARE_EPILOGUE_UKERNEL(fc_f32_epilogue_ukernel__scalar, float)
FC_DECLARE_EPILOGUE_UKERNEL(fc_f64_epilogue_ukernel__scalar, double)
FC_DECLARE_EPILOGUE_UKERNEL(fc_f32_epilogue_ukernel_8__avx2, float)
FC_DECLARE_EPILOGUE_UKERNEL(fc_f64_epilogue_ukernel_4__avx2, double)
FC_DECLARE_EPILOGUE_UKERNEL(fc_f32_epilogue_ukernel_16__avx512, float)
FC_DECLARE_EPILOGUE_UKERNEL(fc_f64_epilogue_ukernel_8__avx512, double)

#endif

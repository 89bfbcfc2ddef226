/* The epilogue of conv2d and linear (fastconv.h's fc_epilogue: y = act((bias + sum) +
 * residual)), owned here for every kernel family:
 *   - the activation table, FC_ACTIVATION_LIST: per fc_activation its name, the microkernel
 *     flag that fuses it in registers (kernels/fused.h; 0 where no kernel can) and its scalar
 *     formula, from which epilogue.c builds the name table and the per-element value (the
 *     references), and kernels/epilogue the row loops of its SIMD members (the drivers);
 *   - fc_epi, the one internal description every driver and reference receives, built once
 *     per call by fc_epilogue_prepare;
 *   - fc_<dtype>_epilogue_apply, which the drivers run on a finished tile of y (after the
 *     last reduction block) when the microkernel could not fuse everything (epi->post): the
 *     tile's rows go to the epilogue family's member of the active ISA.
 * Adding an activation: its enum value in fastconv.h, its row here, its tests (CONTRIBUTING.md). */
#ifndef FC_COMMON_EPILOGUE_H
#define FC_COMMON_EPILOGUE_H

#include <stdint.h>

#include "fastconv.h"
#include "common/relu.h"
#include "kernels/fused.h"

/* X(ENUM, name, fused flag, formula of v and alpha, gradient of g, v and alpha) -- v: the
 * value after the residual (the activation's input); alpha: the activation's parameter in the
 * op's dtype; g: the gradient of the activation's output.  The formulas keep ReLU's rules: NaN
 * passes through (NaN > 6 is false); ReLU and ReLU6 send -0 to +0 (x > 0 is false for -0, so 0
 * is stored).  ReLU6 as ReLU then a clamp: 85 us against 118 for the NaN test first, on 300k
 * floats with SSE2 (ReLU alone 33).  The gradients are torch's (2.13, checked by
 * tests/test_activations.py): threshold_backward (relu: 0 where v <= 0, a NaN v passes g),
 * hardtanh_backward on [0, 6] (relu6: g only where 0 < v < 6, a NaN v gives 0) and
 * leaky_relu_backward (g where v > 0, else g * alpha, NaN v included).
 * kernels/epilogue/rows.tmpl.h says why its loops need no-trapping-math to vectorise these. */
#define FC_ACTIVATION_LIST(X)                                                                 \
    X(NONE, "none", 0u, v, g)                                                                 \
    X(RELU, "relu", FC_FUSED_RELU, FC_RELU(v), ((v) <= 0 ? 0 : (g)))                          \
    X(RELU6, "relu6", 0u, (FC_RELU(v) > 6 ? 6 : FC_RELU(v)),                                  \
      (((v) > 0 && (v) < 6) ? (g) : 0))                                                       \
    X(LEAKY_RELU, "leaky_relu", 0u, (((v) > 0 || (v) != (v)) ? (v) : (v) * alpha),            \
      ((v) > 0 ? (g) : (g) * alpha))

/* What an op's drivers need of its fc_epilogue, checked and decided once. */
typedef struct fc_epi {
    const void *bias;     /* NULL: the sums start from 0 */
    const void *residual; /* NULL: none; else lines up with y element for element */
    const void *y;        /* the op's output, whose tiles fc_*_epilogue_apply receives */
    fc_activation activation;
    double alpha;
    unsigned fused; /* kernels/fused.h flags the microkernel applies at the final store */
    int post;       /* 1: the driver calls fc_*_epilogue_apply on each finished tile */
} fc_epi;

/* e from the public description (NULL: none) for an output y of y_elements elements of dtype
 * (validated by the op, within int64 bytes): an unknown activation, or a residual overlapping
 * y, is FC_ERR_INVALID_ARGUMENT. */
fc_status fc_epilogue_prepare(const fc_epilogue *epilogue, fc_dtype dtype, const void *y,
                              int64_t y_elements, fc_epi *e);

/* The epilogue on a finished tile of y: t[i * rs + j * cs] for i < rows, j < cols, the residual
 * read at the same offset from its start as t from y's.  The whole epilogue but the bias
 * (residual, then activation), whatever the microkernel fused: a driver calls it only when
 * e->post, or on values no microkernel stored (linear with in_features = 0). */
void fc_f32_epilogue_apply(const fc_epi *e, float *t, int64_t rows, int64_t cols, int64_t rs,
                           int64_t cs);
void fc_f64_epilogue_apply(const fc_epi *e, double *t, int64_t rows, int64_t cols, int64_t rs,
                           int64_t cs);

/* act(v + residual[index]) for the element at y[index]: the references' per-element twin. */
float fc_f32_epilogue_value(const fc_epi *e, float v, int64_t index);
double fc_f64_epilogue_value(const fc_epi *e, double v, int64_t index);

/* The standalone activation ops (fastconv.h's fc_activation_forward / _backward) on a
 * contiguous range of n elements: y = act(x) (y may be x), and gx = the table's gradient of g
 * at x (gx may be g).  The switch sits outside the loops, as in fc_*_epilogue_apply. */
void fc_f32_activation_range(fc_activation a, double alpha, const float *x, float *y,
                             int64_t n);
void fc_f64_activation_range(fc_activation a, double alpha, const double *x, double *y,
                             int64_t n);
void fc_f32_activation_grad_range(fc_activation a, double alpha, const float *g,
                                  const float *x, float *gx, int64_t n);
void fc_f64_activation_grad_range(fc_activation a, double alpha, const double *g,
                                  const double *x, double *gx, int64_t n);
/* The gradient of one element: the references' twin of fc_*_activation_grad_range. */
float fc_f32_activation_grad_value(fc_activation a, double alpha, float g, float v);
double fc_f64_activation_grad_value(fc_activation a, double alpha, double g, double v);

#endif

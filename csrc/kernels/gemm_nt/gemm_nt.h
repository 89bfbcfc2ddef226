/* "NT" GEMM microkernels: sums over a reduction that is contiguous in both operands, as in the
 * weight gradient of a convolution (grad_output rows times input rows, both running over the
 * output pixels).  A is row-major (row stride lda); B is given as NR row pointers, so its rows
 * can be read in place from padded input planes or from packed im2col rows.  Nothing is
 * transposed.  The reduction runs over `images` segments of kc values, segment m of A row i at
 * a + i * lda + m * a_step and of B row j at b[j] + m * b_step:
 *
 *   acc[(i * NR + j) * LANES + l] (+)= sum over m < images, then p = l, l + LANES, ... < kc of
 *                                      a[i * lda + m * a_step + p] * b[j][m * b_step + p]
 *
 * for the MR x NR tile, LANES partial sums per element (one SIMD lane each).  kc is a multiple
 * of LANES (the driver zero-pads the rows).  flags: FC_GEMM_ACCUMULATE adds to acc, otherwise
 * the sums start from 0.  Each lane's sum runs m, then p ascending: the order depends on
 * nothing but the arguments, so with the driver's final reduction of the lanes (a fixed tree)
 * the result is independent of the thread count. */
#ifndef FC_KERNELS_GEMM_NT_H
#define FC_KERNELS_GEMM_NT_H

#include <stddef.h>

#include "kernels/gemm/gemm.h" /* FC_GEMM_ACCUMULATE */

#define FC_DECLARE_GEMM_NT_UKERNEL(name, real)                                                \
    void name(size_t images, size_t kc, const real *a, size_t lda, size_t a_step,            \
              const real *const *b, size_t b_step, real *acc, unsigned flags)

typedef FC_DECLARE_GEMM_NT_UKERNEL((*fc_f32_gemm_nt_ukernel_fn), float);
typedef FC_DECLARE_GEMM_NT_UKERNEL((*fc_f64_gemm_nt_ukernel_fn), double);

FC_DECLARE_GEMM_NT_UKERNEL(fc_f32_gemm_nt_ukernel_4x4__scalar, float);
FC_DECLARE_GEMM_NT_UKERNEL(fc_f64_gemm_nt_ukernel_4x4__scalar, double);
FC_DECLARE_GEMM_NT_UKERNEL(fc_f32_gemm_nt_ukernel_6x4__avx512, float);
FC_DECLARE_GEMM_NT_UKERNEL(fc_f64_gemm_nt_ukernel_6x4__avx512, double);
FC_DECLARE_GEMM_NT_UKERNEL(fc_f32_gemm_nt_ukernel_3x4__avx2, float);
FC_DECLARE_GEMM_NT_UKERNEL(fc_f64_gemm_nt_ukernel_3x4__avx2, double);

#endif

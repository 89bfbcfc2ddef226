/* The epilogue flags of every microkernel family (gemm's `flags`, dconv's and dwconv's
 * `fused`): what the kernel applies in registers at its final store.  common/epilogue.c
 * decides them from the op's fc_epilogue (its activation table says which activation a
 * kernel can fuse); whatever a kernel cannot fuse, its driver applies after the last block
 * with fc_<dtype>_epilogue_apply. */
#ifndef FC_KERNELS_FUSED_H
#define FC_KERNELS_FUSED_H

#define FC_FUSED_RELU 2u /* FC_RELU of common/relu.h (FC_VRELU in the SIMD members) */
/* Not an epilogue: dwconv members leave the taps of weight 0 out of the sum, as cv2.filter2D
 * does (filter2d sets it; a NaN or inf pixel under a zero tap then stays out of the output,
 * where a convolution, as torch's, gives NaN). */
#define FC_SKIP_ZERO_TAPS 4u
/* Beside FC_SKIP_ZERO_TAPS: the kernel has no tap of weight 0, so there is nothing to skip
 * and a member may take a tile that shares each loaded vector between rows (filter2d's
 * register tile, kernels/dwconv/simd.tmpl.h); the sums are the same. */
#define FC_DENSE_TAPS 8u

#endif

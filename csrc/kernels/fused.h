/* The epilogue flags of every microkernel family (gemm's `flags`, dconv's and dwconv's
 * `fused`): what the kernel applies in registers at its final store.  common/epilogue.c
 * decides them from the op's fc_epilogue (its activation table says which activation a
 * kernel can fuse); whatever a kernel cannot fuse, its driver applies after the last block
 * with fc_<dtype>_epilogue_apply. */
#ifndef FC_KERNELS_FUSED_H
#define FC_KERNELS_FUSED_H

#define FC_FUSED_RELU 2u /* FC_RELU of common/relu.h (FC_VRELU in the SIMD members) */

#endif

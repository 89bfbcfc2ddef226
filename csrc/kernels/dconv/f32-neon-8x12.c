#include "simd/target_neon.h"

#include "simd/dtype_f32.h"
#include "simd/vec_neon_f32.h"
#include "simd/f32_vec_ops.h"
#include "kernels/dconv/dconv.h"

/* 8 channels x 3 q registers = 24 accumulators + 3 loaded vectors + 1 broadcast weight of the
 * 32 (the GEMM's 8x12 shape; not measured: no aarch64 machine in CI). */
#define FC_DCONV_FN fc_f32_dconv_ukernel_8x12__neon
#define FC_DC_KB 8
#define FC_DC_NV 3
#include "kernels/dconv/simd.tmpl.h"

#include "simd/target_avx2.h"

#include "simd/dtype_f32.h"
#include "simd/vec_avx2_f32.h"
#include "simd/f32_vec_ops.h"
#include "kernels/dconv/dconv.h"

/* 4 channels x 3 ymm = 12 accumulators + 3 loaded vectors + 1 broadcast = the 16 registers. */
#define FC_DCONV_FN fc_f32_dconv_ukernel_4x24__avx2
#define FC_DC_KB 4
#define FC_DC_NV 3
#include "kernels/dconv/simd.tmpl.h"

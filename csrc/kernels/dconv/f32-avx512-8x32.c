#include "simd/target_avx512.h"

#include "simd/dtype_f32.h"
#include "simd/vec_avx512_f32.h"
#include "simd/f32_vec_ops.h"
#include "kernels/dconv/dconv.h"

/* 8 channels x 2 zmm = 16 accumulators; the 8 weights of a tap are broadcast straight from the
 * packed panel (embedded-broadcast FMAs), so a tap costs 2 vector loads for 16 FMAs. */
#define FC_DCONV_FN fc_f32_dconv_ukernel_8x32__avx512
#define FC_DC_KB 8
#define FC_DC_NV 2
#include "kernels/dconv/simd.tmpl.h"

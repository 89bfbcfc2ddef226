/* Winograd F(4x4, 3x3) transforms for NEON: 4 tiles per step (simd.tmpl.h). */
#include "simd/target_neon.h"
#pragma GCC optimize("fp-contract=off")
#include "kernels/winograd/winograd.h"

#include "simd/dtype_f32.h"
#include "simd/vec_neon_f32.h"
#define FC_WINO_ISA neon
#define WINO_VSUB(a, b) vsubq_f32(a, b)
#define WINO_VMUL(a, b) vmulq_f32(a, b)
#define WINO_IDX_LOAD(p) vld1q_s32(p)
#define WINO_IDX_VALID(idx) vcgeq_s32(idx, vdupq_n_s32(0))
#define WINO_MASK_ALL(m) (vminvq_u32(m) == 0xFFFFFFFFu)
#define WINO_GATHER(p, idx) FC_VGATHERM(vdupq_n_u32(0xFFFFFFFFu), p, idx)
/* o[q] lane l = lane 4 q + l / 4 of y[l % 4] (float 4 t + j of a row is lane t of y[j]): a 4x4 transpose */
static inline void wino_interleave(float32x4_t *o, const float32x4_t y[4])
{
    const float64x2_t a = vreinterpretq_f64_f32(vzip1q_f32(y[0], y[1]));
    const float64x2_t b = vreinterpretq_f64_f32(vzip2q_f32(y[0], y[1]));
    const float64x2_t c = vreinterpretq_f64_f32(vzip1q_f32(y[2], y[3]));
    const float64x2_t d = vreinterpretq_f64_f32(vzip2q_f32(y[2], y[3]));
    o[0] = vreinterpretq_f32_f64(vzip1q_f64(a, c));
    o[1] = vreinterpretq_f32_f64(vzip2q_f64(a, c));
    o[2] = vreinterpretq_f32_f64(vzip1q_f64(b, d));
    o[3] = vreinterpretq_f32_f64(vzip2q_f64(b, d));
}
#define WINO_INTERLEAVE(o, y) wino_interleave(o, y)
#include "kernels/winograd/simd.tmpl.h"

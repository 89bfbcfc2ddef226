/* Vector vocabulary for NEON float32 (see vec_avx512_f32.h for the contract): include after
 * simd/target_neon.h and dtype_f32.h, close with vec_end.h.  Compares give an all-ones /
 * all-zeros lane mask in a uint32x4_t. */
#include "simd/neon_helpers.h"
#define FC_V float32x4_t
#define FC_M uint32x4_t
#define FC_LANES 4
#ifndef FC_CAT
#define FC_CAT_(a, b) a##b
#define FC_CAT(a, b) FC_CAT_(a, b) /* pastes after expanding a and b */
#endif
#define FC_ISA_SUFFIX(name) FC_CAT(name, __neon)
#define FC_VLOAD(p) vld1q_f32(p)
#define FC_VSTORE(p, v) vst1q_f32(p, v)
#define FC_VSTREAM(p, v) vst1q_f32(p, v) /* no non-temporal store worth having */
#define FC_VSTREAM_FENCE() ((void)0)
#define FC_VSET1(s) vdupq_n_f32(s)
#define FC_VZERO() vdupq_n_f32(0.0f)
#define FC_VADD(a, b) vaddq_f32(a, b)
#define FC_VFMA(a, b, c) vfmaq_f32(c, a, b) /* a * b + c, one rounding */
#define FC_VDIV(a, b) vdivq_f32(a, b)
/* lanes where !(a <= b): a > b or either is NaN; lanes where a is not NaN */
#define FC_VNLE(a, b) vmvnq_u32(vcleq_f32(a, b))
#define FC_VORD(a) vceqq_f32(a, a)
#define FC_MAND(m, k) vandq_u32(m, k)
/* lanes of b where m, else a */
#define FC_VBLEND(m, a, b) vbslq_f32(m, b, a)
/* clear the lanes where v <= 0 (-0 included, NaN not): +0 there, v elsewhere */
#define FC_VRELU(v) \
    vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(v), vcleq_f32(v, vdupq_n_f32(0.0f))))
/* lanes [0, cnt) */
#define FC_TAIL_MASK(cnt) vcltq_u32(vld1q_u32(fc_neon_iota32), vdupq_n_u32((uint32_t)(cnt)))
/* lanes [lo, hi), 0 <= lo <= hi <= FC_LANES */
#define FC_RANGE_MASK(lo, hi) vbicq_u32(FC_TAIL_MASK(hi), FC_TAIL_MASK(lo))
/* masked lanes load 0 and never fault; masked lanes are not stored */
#define FC_VLOADM(m, p) fc_neon_loadm_f32(m, p)
#define FC_VSTOREM(p, m, v) fc_neon_storem_f32(p, m, v)
/* lanes [lo, hi) from p[0 .. hi - lo), the others 0, reading only those values */
#define FC_VLOAD_LANES(p, lo, hi) fc_neon_load_lanes_f32(p, lo, hi)
/* the even / odd lanes of the 2 * FC_LANES elements lo:hi (stride-2 windows) */
#define FC_VEVEN(lo, hi) vuzp1q_f32(lo, hi)
#define FC_VODD(lo, hi) vuzp2q_f32(lo, hi)
/* int32 offsets 0, s, 2s, ... and a masked gather at them (other strides) */
#define FC_VIDX int32x4_t
#define FC_VIDX_STRIDE(s) \
    vmulq_n_s32(vreinterpretq_s32_u32(vld1q_u32(fc_neon_iota32)), (int32_t)(s))
#define FC_VGATHERM(m, p, idx) fc_neon_gatherm_f32(m, p, idx)

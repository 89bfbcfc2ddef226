/* See vec_neon_f32.h: float64, 2 lanes, uint64x2_t masks. */
#include "simd/neon_helpers.h"
#define FC_V float64x2_t
#define FC_M uint64x2_t
#define FC_LANES 2
#ifndef FC_CAT
#define FC_CAT_(a, b) a##b
#define FC_CAT(a, b) FC_CAT_(a, b) /* pastes after expanding a and b */
#endif
#define FC_ISA_SUFFIX(name) FC_CAT(name, __neon)
#define FC_VLOAD(p) vld1q_f64(p)
#define FC_VSTORE(p, v) vst1q_f64(p, v)
#define FC_VSTREAM(p, v) vst1q_f64(p, v)
#define FC_VSTREAM_FENCE() ((void)0)
#define FC_VSET1(s) vdupq_n_f64(s)
#define FC_VZERO() vdupq_n_f64(0.0)
#define FC_VADD(a, b) vaddq_f64(a, b)
#define FC_VFMA(a, b, c) vfmaq_f64(c, a, b) /* a * b + c, one rounding */
#define FC_VDIV(a, b) vdivq_f64(a, b)
#define FC_VNLE(a, b) veorq_u64(vcleq_f64(a, b), vdupq_n_u64(~(uint64_t)0))
#define FC_VORD(a) vceqq_f64(a, a)
#define FC_MAND(m, k) vandq_u64(m, k)
#define FC_VBLEND(m, a, b) vbslq_f64(m, b, a)
#define FC_VRELU(v) \
    vreinterpretq_f64_u64(vbicq_u64(vreinterpretq_u64_f64(v), vcleq_f64(v, vdupq_n_f64(0.0))))
#define FC_TAIL_MASK(cnt) vcltq_u64(vld1q_u64(fc_neon_iota64), vdupq_n_u64((uint64_t)(cnt)))
#define FC_VLOADM(m, p) fc_neon_loadm_f64(m, p)
#define FC_VSTOREM(p, m, v) fc_neon_storem_f64(p, m, v)
#define FC_VEVEN(lo, hi) vuzp1q_f64(lo, hi)
#define FC_VODD(lo, hi) vuzp2q_f64(lo, hi)
#define FC_VIDX int64x2_t
#define FC_VIDX_STRIDE(s) vcombine_s64(vdup_n_s64(0), vdup_n_s64((int64_t)(s)))
#define FC_VGATHERM(m, p, idx) fc_neon_gatherm_f64(m, p, idx)

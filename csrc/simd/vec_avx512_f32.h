/* Vector vocabulary of the SIMD kernel templates, for one ISA and dtype: include after
 * simd/target_avx512.h and dtype_f32.h, close with vec_end.h.  AVX-512 compares give a
 * k-mask (FC_M); the templates only combine masks with FC_MAND and select with FC_VBLEND. */
#define FC_V __m512
#define FC_M __mmask16
#define FC_LANES 16
#ifndef FC_CAT
#define FC_CAT_(a, b) a##b
#define FC_CAT(a, b) FC_CAT_(a, b) /* pastes after expanding a and b */
#endif
#define FC_ISA_SUFFIX(name) FC_CAT(name, __avx512)
#define FC_VLOAD(p) _mm512_loadu_ps(p)
#define FC_VSTORE(p, v) _mm512_storeu_ps(p, v)
#define FC_VSTREAM(p, v) _mm512_stream_ps(p, v) /* non-temporal: p aligned to the vector */
#define FC_VSTREAM_FENCE() _mm_sfence() /* orders the streaming stores */
#define FC_VSET1(s) _mm512_set1_ps(s)
#define FC_VZERO() _mm512_setzero_ps()
#define FC_VADD(a, b) _mm512_add_ps(a, b)
#define FC_VFMA(a, b, c) _mm512_fmadd_ps(a, b, c) /* a * b + c, one rounding */
#define FC_VDIV(a, b) _mm512_div_ps(a, b)
/* lanes where !(a <= b): a > b or either is NaN; lanes where a is not NaN */
#define FC_VNLE(a, b) _mm512_cmp_ps_mask(a, b, _CMP_NLE_UQ)
#define FC_VORD(a) _mm512_cmp_ps_mask(a, a, _CMP_ORD_Q)
#define FC_MAND(m, k) ((FC_M)((m) & (k)))
/* lanes of b where m, else a */
#define FC_VBLEND(m, a, b) _mm512_mask_blend_ps(m, a, b)
#define FC_VRELU(v) _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_NLE_UQ), v)
/* lanes [0, cnt) */
#define FC_TAIL_MASK(cnt) (__mmask16)((1u << (cnt)) - 1)
/* lanes [lo, hi), 0 <= lo <= hi <= FC_LANES */
#define FC_RANGE_MASK(lo, hi) (__mmask16)(((1u << (hi)) - 1) & ~((1u << (lo)) - 1))
/* masked lanes load 0 and never fault; masked lanes are not stored */
#define FC_VLOADM(m, p) _mm512_maskz_loadu_ps(m, p)
#define FC_VSTOREM(p, m, v) _mm512_mask_storeu_ps(p, m, v)
/* lanes [lo, hi) from p[0 .. hi - lo), the others 0, reading only those values */
#define FC_VLOAD_LANES(p, lo, hi) _mm512_maskz_expandloadu_ps(FC_RANGE_MASK(lo, hi), p)
/* the even / odd lanes of the 2 * FC_LANES elements lo:hi (stride-2 windows, no gathers) */
#define FC_VEVEN(lo, hi) \
    _mm512_permutex2var_ps(lo, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, \
        26, 28, 30), hi)
#define FC_VODD(lo, hi) \
    _mm512_permutex2var_ps(lo, _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, \
        27, 29, 31), hi)
/* int32 offsets 0, s, 2s, ... and a masked gather at them (other strides) */
#define FC_VIDX __m512i
#define FC_VIDX_STRIDE(s) \
    _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), \
        _mm512_set1_epi32(s))
#define FC_VGATHERM(m, p, idx) _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, p, 4)

/* indices[l] for l < cnt from the winners' window row and column (whole numbers as floats) */
#include "simd/vec_avx512_index.h"
static inline void fc_store_indices_f32__avx512(int64_t *indices, int64_t cnt, __m512 row,
                                                __m512 col, const int64_t *row_offsets,
                                                size_t rows, int64_t base, int64_t s, int64_t d)
{
    const __m512i r32 = _mm512_cvttps_epi32(row), c32 = _mm512_cvttps_epi32(col);
    fc_store_indices8__avx512(indices, (__mmask8)(cnt >= 8 ? 0xFF : (1u << cnt) - 1),
                              _mm512_cvtepi32_epi64(_mm512_castsi512_si256(r32)),
                              _mm512_cvtepi32_epi64(_mm512_castsi512_si256(c32)), row_offsets,
                              rows, base, s, d);
    if (cnt > 8)
        fc_store_indices8__avx512(indices + 8, (__mmask8)(cnt >= 16 ? 0xFF : (1u << (cnt - 8)) - 1),
                                  _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(r32, 1)),
                                  _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(c32, 1)),
                                  row_offsets, rows, base + 8 * s, s, d);
}
#define FC_STORE_INDICES fc_store_indices_f32__avx512

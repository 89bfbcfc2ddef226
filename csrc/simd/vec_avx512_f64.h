/* See vec_avx512_f32.h. */
#define FC_V __m512d
#define FC_M __mmask8
#define FC_LANES 8
#ifndef FC_CAT
#define FC_CAT_(a, b) a##b
#define FC_CAT(a, b) FC_CAT_(a, b) /* pastes after expanding a and b */
#endif
#define FC_ISA_SUFFIX(name) FC_CAT(name, __avx512)
#define FC_VLOAD(p) _mm512_loadu_pd(p)
#define FC_VSTORE(p, v) _mm512_storeu_pd(p, v)
#define FC_VSTREAM(p, v) _mm512_stream_pd(p, v) /* non-temporal: p aligned to the vector */
#define FC_VSTREAM_FENCE() _mm_sfence() /* orders the streaming stores */
#define FC_VSET1(s) _mm512_set1_pd(s)
#define FC_VZERO() _mm512_setzero_pd()
#define FC_VADD(a, b) _mm512_add_pd(a, b)
#define FC_VFMA(a, b, c) _mm512_fmadd_pd(a, b, c) /* a * b + c, one rounding */
#define FC_VDIV(a, b) _mm512_div_pd(a, b)
/* lanes where !(a <= b): a > b or either is NaN; lanes where a is not NaN */
#define FC_VNLE(a, b) _mm512_cmp_pd_mask(a, b, _CMP_NLE_UQ)
#define FC_VORD(a) _mm512_cmp_pd_mask(a, a, _CMP_ORD_Q)
#define FC_MAND(m, k) ((FC_M)((m) & (k)))
#define FC_VBLEND(m, a, b) _mm512_mask_blend_pd(m, a, b)
#define FC_VRELU(v) _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(v, _mm512_setzero_pd(), _CMP_NLE_UQ), v)
/* lanes [0, cnt) */
#define FC_TAIL_MASK(cnt) (__mmask8)((1u << (cnt)) - 1)
/* masked lanes load 0 and never fault; masked lanes are not stored */
#define FC_VLOADM(m, p) _mm512_maskz_loadu_pd(m, p)
#define FC_VSTOREM(p, m, v) _mm512_mask_storeu_pd(p, m, v)
/* the even / odd lanes of the 2 * FC_LANES elements lo:hi (stride-2 windows, no gathers) */
#define FC_VEVEN(lo, hi) \
    _mm512_permutex2var_pd(lo, _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14), hi)
#define FC_VODD(lo, hi) _mm512_permutex2var_pd(lo, _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15), hi)
/* int32 offsets 0, s, 2s, ... and a masked gather at them (other strides) */
#define FC_VIDX __m256i
#define FC_VIDX_STRIDE(s) \
    _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(s))
#define FC_VGATHERM(m, p, idx) _mm512_mask_i32gather_pd(_mm512_setzero_pd(), m, idx, p, 8)

/* indices[l] for l < cnt from the winners' window row and column (whole numbers as doubles) */
#include "simd/vec_avx512_index.h"
static inline void fc_store_indices_f64__avx512(int64_t *indices, int64_t cnt, __m512d row,
                                                __m512d col, const int64_t *row_offsets,
                                                size_t rows, int64_t base, int64_t s, int64_t d)
{
    fc_store_indices8__avx512(indices, (__mmask8)(cnt >= 8 ? 0xFF : (1u << cnt) - 1),
                              _mm512_cvttpd_epi64(row), _mm512_cvttpd_epi64(col), row_offsets,
                              rows, base, s, d);
}
#define FC_STORE_INDICES fc_store_indices_f64__avx512

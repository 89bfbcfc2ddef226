/* See vec_avx2_f32.h. */
#define FC_V __m256d
#define FC_M __m256d
#define FC_LANES 4
#ifndef FC_CAT
#define FC_CAT_(a, b) a##b
#define FC_CAT(a, b) FC_CAT_(a, b) /* pastes after expanding a and b */
#endif
#define FC_ISA_SUFFIX(name) FC_CAT(name, __avx2)
#define FC_VLOAD(p) _mm256_loadu_pd(p)
#define FC_VSTORE(p, v) _mm256_storeu_pd(p, v)
#define FC_VSTREAM(p, v) _mm256_stream_pd(p, v) /* non-temporal: p aligned to the vector */
#define FC_VSTREAM_FENCE() _mm_sfence() /* orders the streaming stores */
#define FC_VSET1(s) _mm256_set1_pd(s)
#define FC_VZERO() _mm256_setzero_pd()
#define FC_VADD(a, b) _mm256_add_pd(a, b)
#define FC_VFMA(a, b, c) _mm256_fmadd_pd(a, b, c) /* a * b + c, one rounding */
#define FC_VDIV(a, b) _mm256_div_pd(a, b)
/* lanes where !(a <= b): a > b or either is NaN; lanes where a is not NaN */
#define FC_VNLE(a, b) _mm256_cmp_pd(a, b, _CMP_NLE_UQ)
#define FC_VORD(a) _mm256_cmp_pd(a, a, _CMP_ORD_Q)
#define FC_MAND(m, k) _mm256_and_pd(m, k)
#define FC_VBLEND(m, a, b) _mm256_blendv_pd(a, b, m)
#define FC_VRELU(v) _mm256_and_pd(_mm256_cmp_pd(v, _mm256_setzero_pd(), _CMP_NLE_UQ), v)
/* lanes [0, cnt) */
#define FC_TAIL_MASK(cnt) \
    _mm256_castsi256_pd(_mm256_cmpgt_epi64(_mm256_set1_epi64x(cnt), _mm256_setr_epi64x(0, 1, 2, \
        3)))
/* masked lanes load 0 and never fault; masked lanes are not stored */
#define FC_VLOADM(m, p) _mm256_maskload_pd(p, _mm256_castpd_si256(m))
#define FC_VSTOREM(p, m, v) _mm256_maskstore_pd(p, _mm256_castpd_si256(m), v)
/* the even / odd lanes of the 2 * FC_LANES elements lo:hi (stride-2 windows, no gathers) */
#define FC_VEVEN(lo, hi) _mm256_permute4x64_pd(_mm256_unpacklo_pd(lo, hi), 0xD8)
#define FC_VODD(lo, hi) _mm256_permute4x64_pd(_mm256_unpackhi_pd(lo, hi), 0xD8)
/* int32 offsets 0, s, 2s, ... and a masked gather at them (other strides) */
#define FC_VIDX __m128i
#define FC_VIDX_STRIDE(s) _mm_mullo_epi32(_mm_setr_epi32(0, 1, 2, 3), _mm_set1_epi32(s))
#define FC_VGATHERM(m, p, idx) _mm256_mask_i32gather_pd(_mm256_setzero_pd(), p, idx, m, 8)

/* See vec_avx512_f32.h.  AVX2 compares give an all-ones/all-zeros lane mask in a vector. */
#define FC_V __m256
#define FC_M __m256
#define FC_LANES 8
#ifndef FC_CAT
#define FC_CAT_(a, b) a##b
#define FC_CAT(a, b) FC_CAT_(a, b) /* pastes after expanding a and b */
#endif
#define FC_ISA_SUFFIX(name) FC_CAT(name, __avx2)
#define FC_VLOAD(p) _mm256_loadu_ps(p)
#define FC_VSTORE(p, v) _mm256_storeu_ps(p, v)
#define FC_VSTREAM(p, v) _mm256_stream_ps(p, v) /* non-temporal: p aligned to the vector */
#define FC_VSTREAM_FENCE() _mm_sfence() /* orders the streaming stores */
#define FC_VSET1(s) _mm256_set1_ps(s)
#define FC_VZERO() _mm256_setzero_ps()
#define FC_VADD(a, b) _mm256_add_ps(a, b)
#define FC_VFMA(a, b, c) _mm256_fmadd_ps(a, b, c) /* a * b + c, one rounding */
#define FC_VDIV(a, b) _mm256_div_ps(a, b)
/* lanes where !(a <= b): a > b or either is NaN; lanes where a is not NaN */
#define FC_VNLE(a, b) _mm256_cmp_ps(a, b, _CMP_NLE_UQ)
#define FC_VORD(a) _mm256_cmp_ps(a, a, _CMP_ORD_Q)
#define FC_MAND(m, k) _mm256_and_ps(m, k)
#define FC_VBLEND(m, a, b) _mm256_blendv_ps(a, b, m)
#define FC_VRELU(v) _mm256_and_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_NLE_UQ), v)
/* lanes [0, cnt) */
#define FC_TAIL_MASK(cnt) \
    _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)(cnt)), _mm256_setr_epi32(0, \
        1, 2, 3, 4, 5, 6, 7)))
/* lanes [lo, hi), 0 <= lo <= hi <= FC_LANES */
#define FC_RANGE_MASK(lo, hi) _mm256_andnot_ps(FC_TAIL_MASK(lo), FC_TAIL_MASK(hi))
/* masked lanes load 0 and never fault; masked lanes are not stored */
#define FC_VLOADM(m, p) _mm256_maskload_ps(p, _mm256_castps_si256(m))
#define FC_VSTOREM(p, m, v) _mm256_maskstore_ps(p, _mm256_castps_si256(m), v)
/* lanes [lo, hi) from p[0 .. hi - lo), the others 0, reading only those values: the load
 * puts them in lanes [0, hi - lo) (zeros above), the rotation up by lo lanes brings zeros
 * into [0, lo) since hi <= FC_LANES */
#define FC_VLOAD_LANES(p, lo, hi) \
    _mm256_permutevar8x32_ps(FC_VLOADM(FC_TAIL_MASK((hi) - (lo)), p), \
        _mm256_and_si256(_mm256_sub_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), \
            _mm256_set1_epi32((int)(lo))), _mm256_set1_epi32(7)))
/* the even / odd lanes of the 2 * FC_LANES elements lo:hi (stride-2 windows, no gathers) */
#define FC_VEVEN(lo, hi) \
    _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0x88)), \
        0xD8))
#define FC_VODD(lo, hi) \
    _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0xDD)), \
        0xD8))
/* the same lanes in the order one in-lane shuffle leaves them (even elements 0 1 4 5 2 3 6 7),
 * and that order undone (it is its own inverse): a loop that sums such vectors lane by lane
 * puts its results in order once, not each load */
#define FC_VEVEN_LANES(lo, hi) _mm256_shuffle_ps(lo, hi, 0x88)
#define FC_VODD_LANES(lo, hi) _mm256_shuffle_ps(lo, hi, 0xDD)
#define FC_VLANES_IN_ORDER(v) \
    _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), 0xD8))
/* int32 offsets 0, s, 2s, ... and a masked gather at them (other strides) */
#define FC_VIDX __m256i
#define FC_VIDX_STRIDE(s) \
    _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(s))
#define FC_VGATHERM(m, p, idx) _mm256_mask_i32gather_ps(_mm256_setzero_ps(), p, idx, m, 4)

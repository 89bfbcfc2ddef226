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
#define FC_VSET1(s) _mm256_set1_pd(s)
#define FC_VZERO() _mm256_setzero_pd()
#define FC_VADD(a, b) _mm256_add_pd(a, b)
#define FC_VDIV(a, b) _mm256_div_pd(a, b)
#define FC_VCMP(a, b, pred) _mm256_cmp_pd(a, b, pred)
#define FC_MAND(m, k) _mm256_and_pd(m, k)
#define FC_VBLEND(m, a, b) _mm256_blendv_pd(a, b, m)
#define FC_VRELU(v) _mm256_and_pd(_mm256_cmp_pd(v, _mm256_setzero_pd(), _CMP_NLE_UQ), v)

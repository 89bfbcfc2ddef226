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
#define FC_VSET1(s) _mm256_set1_ps(s)
#define FC_VZERO() _mm256_setzero_ps()
#define FC_VADD(a, b) _mm256_add_ps(a, b)
#define FC_VDIV(a, b) _mm256_div_ps(a, b)
#define FC_VCMP(a, b, pred) _mm256_cmp_ps(a, b, pred)
#define FC_MAND(m, k) _mm256_and_ps(m, k)
#define FC_VBLEND(m, a, b) _mm256_blendv_ps(a, b, m)
#define FC_VRELU(v) _mm256_and_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_NLE_UQ), v)

/* FC_V operations of simd.tmpl.h over AVX2 + FMA registers, for FC_REAL float or double.
 * Include after common/target_avx2.h and common/dtype_*.h.  ReLU keeps NaN and turns -0 into
 * +0, like FC_RELU: the mask is "not (v <= 0)", true for v > 0 and for NaN. */
#if FC_IS_F64
#define FC_V __m256d
#define FC_VLEN 4
#define FC_V_LOAD(p) _mm256_loadu_pd(p)
#define FC_V_STORE(p, v) _mm256_storeu_pd((p), (v))
#define FC_V_SET1(x) _mm256_set1_pd(x)
#define FC_V_FMA(a, b, c) _mm256_fmadd_pd((a), (b), (c))
#define FC_V_ZERO() _mm256_setzero_pd()
#define FC_V_RELU(v) _mm256_and_pd((v), _mm256_cmp_pd((v), _mm256_setzero_pd(), _CMP_NLE_UQ))
#else
#define FC_V __m256
#define FC_VLEN 8
#define FC_V_LOAD(p) _mm256_loadu_ps(p)
#define FC_V_STORE(p, v) _mm256_storeu_ps((p), (v))
#define FC_V_SET1(x) _mm256_set1_ps(x)
#define FC_V_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define FC_V_ZERO() _mm256_setzero_ps()
#define FC_V_RELU(v) _mm256_and_ps((v), _mm256_cmp_ps((v), _mm256_setzero_ps(), _CMP_NLE_UQ))
#endif

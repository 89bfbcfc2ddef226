/* FC_V operations of simd.tmpl.h over AVX-512 registers, for FC_REAL float or double.
 * Include after common/target_avx512.h and common/dtype_*.h.  ReLU keeps NaN and turns -0 into
 * +0, like FC_RELU: the mask is "not (v <= 0)", true for v > 0 and for NaN. */
#if FC_IS_F64
#define FC_V __m512d
#define FC_VLEN 8
#define FC_V_LOAD(p) _mm512_loadu_pd(p)
#define FC_V_STORE(p, v) _mm512_storeu_pd((p), (v))
#define FC_V_SET1(x) _mm512_set1_pd(x)
#define FC_V_FMA(a, b, c) _mm512_fmadd_pd((a), (b), (c))
#define FC_V_ZERO() _mm512_setzero_pd()
#define FC_V_RELU(v) _mm512_maskz_mov_pd(_mm512_cmp_pd_mask((v), _mm512_setzero_pd(), _CMP_NLE_UQ), (v))
#else
#define FC_V __m512
#define FC_VLEN 16
#define FC_V_LOAD(p) _mm512_loadu_ps(p)
#define FC_V_STORE(p, v) _mm512_storeu_ps((p), (v))
#define FC_V_SET1(x) _mm512_set1_ps(x)
#define FC_V_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define FC_V_ZERO() _mm512_setzero_ps()
#define FC_V_RELU(v) _mm512_maskz_mov_ps(_mm512_cmp_ps_mask((v), _mm512_setzero_ps(), _CMP_NLE_UQ), (v))
#endif

/* float32 vector operations for the SIMD kernel templates (kernels/<family>/simd.tmpl.h), on
 * AVX-512.  Include after common/target_avx512.h.  A partial vector is the first n lanes,
 * handled with mask registers. */
#define FC_VL 16
#define FC_VEC __m512
#define FC_VMASK __mmask16
#define FC_VMASK_FIRST(n) ((__mmask16)((1u << (n)) - 1u))
#define FC_VSET1(v) _mm512_set1_ps(v)
#define FC_VLOAD(p) _mm512_loadu_ps(p)
#define FC_VLOAD_PART(p, m) _mm512_maskz_loadu_ps((m), (p))
#define FC_VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define FC_VSTORE_PART(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define FC_VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
/* FC_RELU lane by lane: keep v where v > 0 or v is NaN ("not <=", unordered true), else +0 */
#define FC_VRELU(v) _mm512_maskz_mov_ps(_mm512_cmp_ps_mask((v), _mm512_setzero_ps(), _CMP_NLE_UQ), (v))

/* float32 vector operations for the SIMD kernel templates (kernels/<family>/simd.tmpl.h), on
 * AVX2 + FMA.  Include after common/target_avx2.h.  A partial vector is the first n lanes,
 * handled with vmaskmov and a lane mask cut from a table. */
#include <stdint.h>

static const int32_t fc_vmask_table_avx2[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                0,  0,  0,  0,  0,  0,  0,  0};
#define FC_VL 8
#define FC_VEC __m256
#define FC_VMASK __m256i
#define FC_VMASK_FIRST(n) _mm256_loadu_si256((const __m256i *)(fc_vmask_table_avx2 + 8 - (n)))
#define FC_VSET1(v) _mm256_set1_ps(v)
#define FC_VLOAD(p) _mm256_loadu_ps(p)
#define FC_VLOAD_PART(p, m) _mm256_maskload_ps((p), (m))
#define FC_VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define FC_VSTORE_PART(p, m, v) _mm256_maskstore_ps((p), (m), (v))
#define FC_VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
/* FC_RELU lane by lane: keep v where v > 0 or v is NaN ("not <=", unordered true), else +0 */
#define FC_VRELU(v) _mm256_and_ps(_mm256_cmp_ps((v), _mm256_setzero_ps(), _CMP_NLE_UQ), (v))

/* Winograd F(4x4, 3x3) transforms for AVX2: 8 tiles per step (simd.tmpl.h). */
#include "simd/target_avx2.h"
#pragma GCC optimize("fp-contract=off")
#include "kernels/winograd/winograd.h"
#include "kernels/winograd/x86_interleave.h"

#include "simd/dtype_f32.h"
#include "simd/vec_avx2_f32.h"
#define FC_WINO_ISA avx2
#define WINO_VSUB(a, b) _mm256_sub_ps(a, b)
#define WINO_VMUL(a, b) _mm256_mul_ps(a, b)
#define WINO_IDX_LOAD(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define WINO_IDX_VALID(idx) \
    _mm256_castsi256_ps(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(-1)))
#define WINO_MASK_ALL(m) (_mm256_movemask_ps(m) == 0xFF)
#define WINO_GATHER(p, idx) _mm256_i32gather_ps(p, idx, 4)
/* o[q] lane l = lane 4 q + l / 4 of y[l % 4] (float 4 t + j of a row is lane t of y[j]):
 * 4x4 transposes inside the 128-bit lanes, then of the lanes */
static inline void wino_interleave(__m256 *o, const __m256 y[4])
{
    WINO_X86_LANE_TRANSPOSE(__m256, _mm256, y, r0, r1, r2, r3);
    o[0] = _mm256_permute2f128_ps(r0, r1, 0x20);
    o[1] = _mm256_permute2f128_ps(r2, r3, 0x20);
    o[2] = _mm256_permute2f128_ps(r0, r1, 0x31);
    o[3] = _mm256_permute2f128_ps(r2, r3, 0x31);
}
#define WINO_INTERLEAVE(o, y) wino_interleave(o, y)
#include "kernels/winograd/simd.tmpl.h"

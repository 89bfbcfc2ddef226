/* Winograd F(4x4, 3x3) transforms for AVX-512: 16 tiles per step (simd.tmpl.h). */
#include "simd/target_avx512.h"
#pragma GCC optimize("fp-contract=off")
#include "kernels/winograd/winograd.h"
#include "kernels/winograd/x86_interleave.h"

#include "simd/dtype_f32.h"
#include "simd/vec_avx512_f32.h"
#define FC_WINO_ISA avx512
#define WINO_VSUB(a, b) _mm512_sub_ps(a, b)
#define WINO_VMUL(a, b) _mm512_mul_ps(a, b)
#define WINO_IDX_LOAD(p) _mm512_loadu_si512((const void *)(p))
#define WINO_IDX_VALID(idx) _mm512_cmpge_epi32_mask(idx, _mm512_setzero_si512())
#define WINO_MASK_ALL(m) ((m) == (__mmask16)0xFFFF)
#define WINO_GATHER(p, idx) _mm512_i32gather_ps(idx, p, 4)
/* o[q] lane l = lane 4 q + l / 4 of y[l % 4] (float 4 t + j of a row is lane t of y[j]):
 * 4x4 transposes inside the 128-bit lanes, then of the lanes */
static inline void wino_interleave(__m512 *o, const __m512 y[4])
{
    WINO_X86_LANE_TRANSPOSE(__m512, _mm512, y, r0, r1, r2, r3);
    const __m512 t0 = _mm512_shuffle_f32x4(r0, r1, 0x44), t1 = _mm512_shuffle_f32x4(r2, r3, 0x44);
    const __m512 t2 = _mm512_shuffle_f32x4(r0, r1, 0xEE), t3 = _mm512_shuffle_f32x4(r2, r3, 0xEE);
    o[0] = _mm512_shuffle_f32x4(t0, t1, 0x88);
    o[1] = _mm512_shuffle_f32x4(t0, t1, 0xDD);
    o[2] = _mm512_shuffle_f32x4(t2, t3, 0x88);
    o[3] = _mm512_shuffle_f32x4(t2, t3, 0xDD);
}
#define WINO_INTERLEAVE(o, y) wino_interleave(o, y)
#include "kernels/winograd/simd.tmpl.h"

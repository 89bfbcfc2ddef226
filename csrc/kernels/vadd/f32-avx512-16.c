/* y += x compiled for AVX-512: 16 floats per add, the tail masked.  The generic build only has SSE2,
 * 4x narrower, on the conv2d backward pass's hottest loop (adding dcol rows into the padded
 * gradient planes). */
#include "simd/target_avx512.h"
#include "kernels/vadd/vadd.h"

void fc_f32_vadd_ukernel__avx512(size_t n, const float *x, float *y)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_add_ps(_mm512_loadu_ps(y + i), _mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i),
                                                      _mm512_maskz_loadu_ps(m, x + i)));
    }
}

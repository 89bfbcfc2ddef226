/* y += x compiled for AVX-512: 8 doubles per add, the tail masked.  The generic build only has SSE2,
 * 4x narrower, on the conv2d backward pass's hottest loop (adding dcol rows into the padded
 * gradient planes). */
#include "simd/target_avx512.h"
#include "kernels/vadd/vadd.h"

void fc_f64_vadd_ukernel__avx512(size_t n, const double *x, double *y)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm512_storeu_pd(y + i, _mm512_add_pd(_mm512_loadu_pd(y + i), _mm512_loadu_pd(x + i)));
    if (i < n) {
        const __mmask8 m = (__mmask8)((1u << (n - i)) - 1);
        _mm512_mask_storeu_pd(y + i, m, _mm512_add_pd(_mm512_maskz_loadu_pd(m, y + i),
                                                      _mm512_maskz_loadu_pd(m, x + i)));
    }
}

/* 8 indices per unsigned compare; the tail masked. */
#include "simd/target_avx512.h"
#include "kernels/index_check/index_check.h"

int fc_index_check_ukernel__avx512(size_t n, const int64_t *indices, int64_t limit)
{
    const __m512i one = _mm512_set1_epi64(1), top = _mm512_set1_epi64(limit);
    __mmask8 bad = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m512i v = _mm512_add_epi64(_mm512_loadu_si512(indices + i), one);
        bad |= _mm512_cmpgt_epu64_mask(v, top);
    }
    if (i < n) {
        const __mmask8 m = (__mmask8)((1u << (n - i)) - 1);
        const __m512i v = _mm512_add_epi64(_mm512_maskz_loadu_epi64(m, indices + i), one);
        bad |= _mm512_mask_cmpgt_epu64_mask(m, v, top);
    }
    return !bad;
}

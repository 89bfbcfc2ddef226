/* 4 indices per compare.  AVX2 has no unsigned 64-bit compare: index + 1 > limit unsigned is
 * the signed compare of both with the sign bit flipped.  The tail by the scalar rule. */
#include "simd/target_avx2.h"
#include "kernels/index_check/index_check.h"

int fc_index_check_ukernel__avx2(size_t n, const int64_t *indices, int64_t limit)
{
    const __m256i one = _mm256_set1_epi64x(1), sign = _mm256_set1_epi64x(INT64_MIN);
    const __m256i top = _mm256_xor_si256(_mm256_set1_epi64x(limit), sign);
    __m256i bad = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const __m256i v = _mm256_add_epi64(
            _mm256_loadu_si256((const __m256i *)(indices + i)), one);
        bad = _mm256_or_si256(bad, _mm256_cmpgt_epi64(_mm256_xor_si256(v, sign), top));
    }
    uint64_t tail = 0;
    for (; i < n; i++) tail |= (uint64_t)indices[i] + 1 > (uint64_t)limit;
    return _mm256_testz_si256(bad, bad) && !tail;
}

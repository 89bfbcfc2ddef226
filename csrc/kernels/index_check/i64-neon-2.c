/* 2 indices per unsigned compare; the tail by the scalar rule. */
#include "simd/target_neon.h"
#include "kernels/index_check/index_check.h"

int fc_index_check_ukernel__neon(size_t n, const int64_t *indices, int64_t limit)
{
    const uint64x2_t one = vdupq_n_u64(1), top = vdupq_n_u64((uint64_t)limit);
    uint64x2_t bad = vdupq_n_u64(0);
    size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        const uint64x2_t v = vaddq_u64(vld1q_u64((const uint64_t *)(indices + i)), one);
        bad = vorrq_u64(bad, vcgtq_u64(v, top));
    }
    uint64_t tail = vgetq_lane_u64(bad, 0) | vgetq_lane_u64(bad, 1);
    for (; i < n; i++) tail |= (uint64_t)indices[i] + 1 > (uint64_t)limit;
    return !tail;
}

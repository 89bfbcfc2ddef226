#include "kernels/index_check/index_check.h"

int fc_index_check_ukernel__scalar(size_t n, const int64_t *indices, int64_t limit)
{
    /* index + 1 in [0, limit] as one unsigned compare (INT64_MAX + 1 wraps to a huge value);
     * no early exit: bad input is rare, and a branch-free OR keeps the loop tight */
    uint64_t bad = 0;
    for (size_t i = 0; i < n; i++) bad |= (uint64_t)indices[i] + 1 > (uint64_t)limit;
    return !bad;
}

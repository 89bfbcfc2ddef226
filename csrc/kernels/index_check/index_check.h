/* Index range checks: whether every one of n int64 indices lies in [-1, limit), limit >= 0.
 * max_pool2d_backward validates the argmax indices with them before writing anything: on the
 * generic build (SSE2 has no 64-bit compare) the check cost a third of the op. */
#ifndef FC_KERNELS_INDEX_CHECK_H
#define FC_KERNELS_INDEX_CHECK_H

#include <stddef.h>
#include <stdint.h>

typedef int (*fc_index_check_ukernel_fn)(size_t n, const int64_t *indices, int64_t limit);

int fc_index_check_ukernel__scalar(size_t n, const int64_t *indices, int64_t limit);
int fc_index_check_ukernel__avx512(size_t n, const int64_t *indices, int64_t limit);
int fc_index_check_ukernel__avx2(size_t n, const int64_t *indices, int64_t limit);
int fc_index_check_ukernel__neon(size_t n, const int64_t *indices, int64_t limit);

#endif

/* Workspace and output memory (common/memory.c): 64-byte aligned blocks, and a bounded cache of
 * large freed blocks that the next op of the same size reuses. */
#ifndef FC_MEMORY_H
#define FC_MEMORY_H

#include <stdint.h>

/* 64-byte aligned memory (a cache line, and a whole AVX-512 register): NULL on failure or for a
 * size past 2**62.  The contents are undefined (a reused block holds old data).  Free with
 * fc_aligned_free, from any thread. */
void *fc_aligned_alloc(int64_t bytes);
void fc_aligned_free(void *p);
/* The bytes a block of fc_aligned_alloc holds (at least what was asked). */
int64_t fc_aligned_capacity(const void *p);

/* The cache: at most fc_cache_limit() bytes of freed blocks are kept (256 MiB unless set; 0
 * keeps none).  fc_cache_empty frees them all and returns how many bytes that was. */
void fc_cache_set_limit(int64_t bytes);
int64_t fc_cache_limit(void);
int64_t fc_cache_bytes(void);
int64_t fc_cache_empty(void);

#endif /* FC_MEMORY_H */

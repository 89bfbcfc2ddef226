/* Workspace and output memory: 64-byte aligned blocks, and a bounded cache of large freed ones.
 *
 * Why a cache: glibc serves large blocks with fresh mmaps, or trims its heap after they are
 * freed, depending on heuristics that a process's history tips one way or the other.  When
 * they tip the wrong way, every call of an op maps, zero-faults and unmaps its workspace and
 * its outputs again: measured on LeNet-5's training step (2-core AVX-512 machine), ~850 page
 * faults per step and 235 instead of 340 steps/s, switched on or off by as little as the size
 * of the environment.  Freed blocks of FC_CACHE_MIN_BYTES or more are therefore kept, up to
 * fc_cache_limit bytes in all, and handed to the next request they fit (at most twice its
 * size): back-to-back calls of the same layers reuse the same memory.  The cache holds only
 * fastconv's own blocks (workspaces, and the outputs the Python layer allocates through
 * fc_output_alloc); it never changes how malloc serves anyone else.
 *
 * Sanitizer builds (FC_NO_MEMORY_CACHE) keep nothing, so that every free is a real one. */
#define _POSIX_C_SOURCE 200112L /* posix_memalign */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/internal.h"
#include "common/memory.h"

/* Each block starts with a 64-byte header holding its capacity: the pointer handed out stays
 * 64-byte aligned, and a free knows the size without being told. */
#define HEADER 64
#define FC_CACHE_MIN_BYTES ((int64_t)64 << 10)
#define FC_CACHE_SLOTS 32

static struct {
    void *blocks[FC_CACHE_SLOTS]; /* user pointers, oldest first */
    int count;
    int64_t bytes;                /* capacity of the blocks held */
} cache;
#ifdef FC_NO_MEMORY_CACHE
static int64_t cache_limit = 0;
#else
static int64_t cache_limit = (int64_t)256 << 20;
#endif
static int cache_lock = 0;

static void lock(void)
{
    while (__atomic_exchange_n(&cache_lock, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&cache_lock, __ATOMIC_RELAXED)) {
        }
}

static void unlock(void) { __atomic_store_n(&cache_lock, 0, __ATOMIC_RELEASE); }

/* fork() while another thread holds the lock would leave it held in the child forever */
__attribute__((constructor)) static void fc_register_cache_fork_handler(void)
{
    pthread_atfork(lock, unlock, unlock);
}

static int64_t capacity(const void *p) { return *(const int64_t *)((const char *)p - HEADER); }

int64_t fc_aligned_capacity(const void *p) { return capacity(p); }

static void release(void *p) { free((char *)p - HEADER); }

/* A block of at least `bytes` from the cache (the smallest that fits, at most twice the
 * request; of equals the last freed, whose pages are likeliest in cache), or NULL. */
static void *take_cached(int64_t bytes)
{
    if (bytes < FC_CACHE_MIN_BYTES) return NULL;
    void *found = NULL;
    lock();
    int best = -1;
    for (int i = 0; i < cache.count; i++) {
        const int64_t cap = capacity(cache.blocks[i]);
        if (cap >= bytes && cap / 2 <= bytes &&
            (best < 0 || cap <= capacity(cache.blocks[best])))
            best = i;
    }
    if (best >= 0) {
        found = cache.blocks[best];
        cache.bytes -= capacity(found);
        memmove(cache.blocks + best, cache.blocks + best + 1,
                (size_t)(cache.count - best - 1) * sizeof(void *));
        cache.count--;
    }
    unlock();
    return found;
}

/* Frees every cached block; the bytes freed. */
int64_t fc_cache_empty(void)
{
    void *blocks[FC_CACHE_SLOTS];
    lock();
    const int count = cache.count;
    const int64_t bytes = cache.bytes;
    memcpy(blocks, cache.blocks, (size_t)count * sizeof(void *));
    cache.count = 0;
    cache.bytes = 0;
    unlock();
    for (int i = 0; i < count; i++) release(blocks[i]);
    return bytes;
}

void fc_cache_set_limit(int64_t bytes)
{
    __atomic_store_n(&cache_limit, bytes < 0 ? 0 : bytes, __ATOMIC_RELAXED);
    if (bytes <= 0) fc_cache_empty();
}

int64_t fc_cache_limit(void) { return __atomic_load_n(&cache_limit, __ATOMIC_RELAXED); }

int64_t fc_cache_bytes(void)
{
    lock();
    const int64_t bytes = cache.bytes;
    unlock();
    return bytes;
}

void *fc_aligned_alloc(int64_t bytes)
{
    /* past 2**62 bytes no machine has the memory; refusing here also keeps the rounding below
     * from passing SIZE_MAX / 2 (and sanitizer runtimes from aborting on the request) */
    if (bytes < 0 || bytes > ((int64_t)1 << 62)) return NULL;
    void *p = take_cached(bytes);
    if (p) return p;
    int64_t rounded = (bytes + 63) & ~(int64_t)63;
    if (rounded == 0) rounded = 64;
    void *raw = NULL;
    if (posix_memalign(&raw, 64, (size_t)(rounded + HEADER)) != 0) {
        /* what the cache holds may be what is missing: give it back and try once more */
        if (fc_cache_empty() == 0 || posix_memalign(&raw, 64, (size_t)(rounded + HEADER)) != 0)
            return NULL;
    }
    *(int64_t *)raw = rounded;
    return (char *)raw + HEADER;
}

void fc_aligned_free(void *p)
{
    if (!p) return;
    const int64_t cap = capacity(p);
    const int64_t limit = fc_cache_limit();
    if (cap >= FC_CACHE_MIN_BYTES && cap <= limit) {
        void *evicted[FC_CACHE_SLOTS];
        int n = 0;
        lock();
        /* the oldest blocks make room: the layers of the current loop keep theirs */
        while (cache.count > 0 && (cache.count == FC_CACHE_SLOTS || cache.bytes + cap > limit)) {
            evicted[n++] = cache.blocks[0];
            cache.bytes -= capacity(cache.blocks[0]);
            memmove(cache.blocks, cache.blocks + 1, (size_t)(--cache.count) * sizeof(void *));
        }
        cache.blocks[cache.count++] = p;
        cache.bytes += cap;
        unlock();
        for (int i = 0; i < n; i++) release(evicted[i]);
        return;
    }
    release(p);
}

/* numpy's memory handler for the outputs fastconv allocates (fastconv._ext.empty): their data
 * comes from, and returns to, the C library's block cache (csrc/common/memory.c), so that the
 * outputs of back-to-back calls reuse memory instead of faulting in fresh pages.  The handler
 * is set only around fastconv's own np.empty calls; numpy stores it in each array, which frees
 * through it.  Allocations are reported to tracemalloc as numpy's default handler does. */
#ifndef FC_OUTPUT_MEMORY_H
#define FC_OUTPUT_MEMORY_H

#include <string.h>

#include <Python.h>
#include <numpy/arrayobject.h>

#include "common/memory.h"

#ifndef NPY_TRACE_DOMAIN
#define NPY_TRACE_DOMAIN 389047 /* the tracemalloc domain numpy reports its array data in */
#endif

static void *fc_output_malloc(void *ctx, size_t size)
{
    (void)ctx;
    void *p = size > (size_t)INT64_MAX ? NULL : fc_aligned_alloc((int64_t)size);
    if (p) PyTraceMalloc_Track(NPY_TRACE_DOMAIN, (uintptr_t)p, size);
    return p;
}

static void *fc_output_calloc(void *ctx, size_t count, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(count, size, &bytes)) return NULL;
    void *p = fc_output_malloc(ctx, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

static void fc_output_free(void *ctx, void *p, size_t size)
{
    (void)ctx, (void)size;
    if (!p) return;
    PyTraceMalloc_Untrack(NPY_TRACE_DOMAIN, (uintptr_t)p);
    fc_aligned_free(p);
}

/* numpy reallocates only arrays that own their data and are resized in place (ndarray.resize) */
static void *fc_output_realloc(void *ctx, void *p, size_t size)
{
    void *q = fc_output_malloc(ctx, size);
    if (!q || !p) return q;
    const size_t old = (size_t)fc_aligned_capacity(p);
    memcpy(q, p, old < size ? old : size);
    fc_output_free(ctx, p, 0);
    return q;
}

static PyDataMem_Handler fc_output_handler = {
    "fastconv_output_cache", 1,
    {NULL, fc_output_malloc, fc_output_calloc, fc_output_realloc, fc_output_free}};

/* A capsule of the handler, as PyDataMem_SetHandler takes it. */
static PyObject *fc_output_handler_capsule(void)
{
    return PyCapsule_New(&fc_output_handler, "mem_handler", NULL);
}

#endif /* FC_OUTPUT_MEMORY_H */

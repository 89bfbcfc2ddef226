/* add: y = act(a + b) elementwise (fastconv.add, the residual blocks' join).  The threads
 * claim contiguous ranges; each range goes through the epilogue family's row member of the
 * active ISA (t = act(t + res), kernels/epilogue) in blocks that stay in L1: a block of a is
 * copied to y, then the row adds b and applies the activation there, so y is written once to
 * memory and the formulas are the activation table's.  Elementwise: any split, any ISA, the
 * same bits (a + b is commutative, so which operand is copied does not matter either). */
#include <string.h>

#include "common/epilogue.h"
#include "common/internal.h"
#include "common/parallel.h"
#include "dispatch.h"

/* Elements per block: 16 KiB of float64 (half a 32 KiB L1D), copied then rewritten in place. */
#define ADD_BLOCK 2048

typedef struct add_job {
    int64_t count, tasks;
    fc_dtype dtype;
    fc_activation activation;
    double alpha;
    const void *a, *b;
    void *y;
} add_job;

#define FC_ADD_RANGE(T, SUFFIX)                                                                \
    static void add_range_##SUFFIX(const add_job *job, int64_t begin, int64_t end)             \
    {                                                                                          \
        const fc_##SUFFIX##_epilogue_ukernel_fn row = fc_kernels()->SUFFIX##_epilogue;         \
        const T *a = (const T *)job->a, *b = (const T *)job->b;                                \
        T *y = (T *)job->y;                                                                    \
        if (b == y) { /* y is b: the row's t; a is its residual (y == a == b is below) */      \
            b = a;                                                                             \
            a = y;                                                                             \
        }                                                                                      \
        T copy[ADD_BLOCK];                                                                     \
        for (int64_t i = begin; i < end; i += ADD_BLOCK) {                                     \
            const size_t len = (size_t)fc_min_i64(ADD_BLOCK, end - i);                         \
            const T *res = b + i;                                                              \
            if (res == y + i) { /* a, b and y one array: the row may not alias t and res */    \
                memcpy(copy, res, len * sizeof(T));                                            \
                res = copy;                                                                    \
            }                                                                                  \
            if (a != y) memcpy(y + i, a + i, len * sizeof(T));                                 \
            row(job->activation, (T)job->alpha, len, res, y + i);                              \
        }                                                                                      \
    }
FC_ADD_RANGE(float, f32)
FC_ADD_RANGE(double, f64)
#undef FC_ADD_RANGE

static void add_task(void *ctx, int64_t phase, int64_t i, int thread)
{
    (void)phase, (void)thread;
    const add_job *job = ctx;
    int64_t begin, end;
    fc_task_range(job->count, job->tasks, i, &begin, &end);
    if (job->dtype == FC_FLOAT32) add_range_f32(job, begin, end);
    else add_range_f64(job, begin, end);
}

fc_status fc_add_forward(int64_t count, fc_dtype dtype, fc_activation activation, double alpha,
                         const void *a, const void *b, void *y)
{
    if (count < 0 || (dtype != FC_FLOAT32 && dtype != FC_FLOAT64) ||
        !fc_activation_name(activation))
        return FC_ERR_INVALID_ARGUMENT;
    const int threads = fc_region_threads(count);
    const int64_t tasks = threads == 1 ? 1 : fc_task_count(count, 1, FC_ELEMENTWISE_TASK);
    add_job job = {count, tasks, dtype, activation, alpha, a, b, y};
    fc_parallel_for(threads, tasks, add_task, &job);
    return FC_OK;
}

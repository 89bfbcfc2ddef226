/* The standalone activations (relu, relu6, leaky_relu) and their gradients, one driver: the
 * array is cut into contiguous ranges that the threads claim, each range run by
 * - relu: the relu / relu_backward families' SIMD members (streaming stores for an output
 *   larger than the cache), the activation table's relu row in vector form;
 * - the others: the epilogue's range loops (common/epilogue.h), so the formulas are the
 *   activation table's, not a second copy. */
#include "common/epilogue.h"
#include "common/internal.h"
#include "common/parallel.h"
#include "dispatch.h"

/* The element index at or after i where y's address is a multiple of 64 bytes (at most count):
 * range boundaries on cache lines, so no line of y is written by two threads (no false
 * sharing) and each thread's stores are whole lines. */
static int64_t line_boundary(int64_t i, int64_t count, const char *y, size_t size)
{
    const uintptr_t address = (uintptr_t)(y + i * (int64_t)size);
    const int64_t skip = (int64_t)(((64 - address % 64) % 64) / size);
    return fc_min_i64(i + skip, count);
}

typedef struct activation_job {
    int64_t count, tasks;
    size_t size;
    fc_dtype dtype;
    fc_activation activation;
    double alpha;
    const char *g; /* NULL: the forward */
    const char *x; /* the forward's input (relu's gradient: its input or its output) */
    char *y;
    int stream;    /* relu forward: the streaming-store member */
} activation_job;

static void run_range(const activation_job *job, int64_t n, const char *g, const char *x,
                      char *y)
{
    const fc_kernel_table *k = fc_kernels();
    const int relu = job->activation == FC_ACTIVATION_RELU;
    if (job->dtype == FC_FLOAT32) {
        const float *xf = (const float *)x, *gf = (const float *)g;
        float *yf = (float *)y;
        if (relu && g)
            k->f32_relu_backward((size_t)n, gf, xf, yf);
        else if (relu)
            (job->stream ? k->f32_relu_stream : k->f32_relu)((size_t)n, xf, yf);
        else if (g)
            fc_f32_activation_grad_range(job->activation, job->alpha, gf, xf, yf, n);
        else
            fc_f32_activation_range(job->activation, job->alpha, xf, yf, n);
    } else {
        const double *xd = (const double *)x, *gd = (const double *)g;
        double *yd = (double *)y;
        if (relu && g)
            k->f64_relu_backward((size_t)n, gd, xd, yd);
        else if (relu)
            (job->stream ? k->f64_relu_stream : k->f64_relu)((size_t)n, xd, yd);
        else if (g)
            fc_f64_activation_grad_range(job->activation, job->alpha, gd, xd, yd, n);
        else
            fc_f64_activation_range(job->activation, job->alpha, xd, yd, n);
    }
}

/* Task i of job->tasks: a contiguous range, its inner ends on y's cache lines. */
static void activation_task(void *ctx, int64_t phase, int64_t i, int thread)
{
    (void)phase, (void)thread;
    const activation_job *job = ctx;
    int64_t begin, end;
    fc_task_range(job->count, job->tasks, i, &begin, &end);
    if (i > 0) begin = line_boundary(begin, job->count, job->y, job->size);
    if (i < job->tasks - 1) end = line_boundary(end, job->count, job->y, job->size);
    if (end <= begin) return;
    const int64_t offset = begin * (int64_t)job->size;
    run_range(job, end - begin, job->g ? job->g + offset : NULL, job->x + offset,
              job->y + offset);
}

static fc_status run(int64_t count, fc_dtype dtype, fc_activation activation, double alpha,
                     const void *g, const void *x, void *y)
{
    if (count < 0 || (dtype != FC_FLOAT32 && dtype != FC_FLOAT64) ||
        !fc_activation_name(activation))
        return FC_ERR_INVALID_ARGUMENT;
    const size_t size = dtype == FC_FLOAT32 ? sizeof(float) : sizeof(double);
    const int threads = fc_region_threads(count);
    /* elementwise: each element's result depends on it alone, so any split is bitwise the
     * same.  One range per thread when alone; else ranges of 2^15+ elements that a late
     * thread leaves to the others. */
    const int64_t tasks = threads == 1 ? 1 : fc_task_count(count, 1, FC_ELEMENTWISE_TASK);
    /* relu out of place into more than half the 32 MiB L3 of the EPYC CI machine: streaming
     * stores measured 20-25% faster there on a 98 MiB array at 1 and 2 threads (no
     * read-for-ownership of y).  Smaller outputs stay cached for the next op; in place, x's
     * lines are in cache. */
    const int stream = !g && x != y && count * (int64_t)size > ((int64_t)16 << 20);
    activation_job job = {count, tasks, size, dtype, activation, alpha, g, x, y, stream};
    fc_parallel_for(threads, tasks, activation_task, &job);
    return FC_OK;
}

fc_status fc_activation_forward(int64_t count, fc_dtype dtype, fc_activation activation,
                                double alpha, const void *x, void *y)
{
    return run(count, dtype, activation, alpha, NULL, x, y);
}

fc_status fc_activation_backward(int64_t count, fc_dtype dtype, fc_activation activation,
                                 double alpha, const void *grad_output, const void *x,
                                 void *grad_input)
{
    if (!grad_output) return FC_ERR_INVALID_ARGUMENT;
    return run(count, dtype, activation, alpha, grad_output, x, grad_input);
}

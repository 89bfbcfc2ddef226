/* Size checks, thread settings and status strings used by every op (the output sizes
 * themselves: geometry.c; memory: memory.c). */

#include "common/internal.h"

fc_status fc_checked_product(const int64_t *factors, int count, int64_t *out)
{
    int64_t product = 1;
    for (int i = 0; i < count; i++) {
        if (factors[i] < 0) return FC_ERR_INVALID_ARGUMENT;
        if (fc_mul_overflows(product, factors[i], &product)) return FC_ERR_SIZE_OVERFLOW;
    }
    *out = product;
    return FC_OK;
}

/* Threads: OpenMP's own setting is the source of truth, so that OMP_NUM_THREADS,
 * omp_set_num_threads and threadpoolctl (which calls omp_set_num_threads in the OpenMP runtime
 * this library links) all act on fastconv.  An op runs at most omp_get_max_threads() threads,
 * as seen by the calling thread, and at most the count given to fc_set_num_threads, if any.
 * fc_set_num_threads(n) also sets OpenMP's count in the calling thread, so that after it
 * get_num_threads() reports n there (up to a later omp_set_num_threads / threadpoolctl limit);
 * the stored count carries the setting to other threads, whose OpenMP count starts at the
 * OMP_NUM_THREADS default.  Read and written atomically: any Python thread may call
 * set_num_threads while another runs an op.  0 = not set. */
static int fc_requested_threads = 0;

fc_status fc_set_num_threads(int n)
{
    if (n < 0) return FC_ERR_INVALID_ARGUMENT;
    __atomic_store_n(&fc_requested_threads, n, __ATOMIC_RELAXED);
#ifdef _OPENMP
    if (n > 0) omp_set_num_threads(n);
#endif
    return FC_OK;
}

int fc_get_num_threads(void)
{
    int n = __atomic_load_n(&fc_requested_threads, __ATOMIC_RELAXED);
#ifdef _OPENMP
    const int openmp = omp_get_max_threads();
    return n > 0 && n < openmp ? n : openmp;
#else
    (void)n;
    return 1;
#endif
}

int fc_region_threads(int64_t work)
{
    int64_t useful = work / FC_MIN_WORK_PER_THREAD;
    int64_t threads = fc_get_num_threads();
    if (useful < threads) threads = useful;
    return threads < 1 ? 1 : (int)threads;
}

int fc_has_openmp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

const char *fc_status_string(fc_status status)
{
    switch (status) {
    case FC_OK: return "ok";
    case FC_ERR_INVALID_ARGUMENT: return "invalid argument";
    case FC_ERR_SIZE_OVERFLOW: return "size overflows 64 bits";
    case FC_ERR_OUT_OF_MEMORY: return "out of memory";
    case FC_ERR_WORKSPACE_TOO_SMALL: return "max_workspace_bytes is too small";
    }
    return "unknown status";
}

/* Every tensor's byte size must fit in int64 too, so that pointer offsets never overflow. */
static fc_status check_tensor(int64_t n0, int64_t n1, int64_t n2, int64_t n3)
{
    int64_t dims[5] = {n0, n1, n2, n3, (int64_t)sizeof(double)};
    int64_t bytes;
    return fc_checked_product(dims, 5, &bytes);
}

fc_status fc_validate_conv2d(const fc_conv2d_params *p, int64_t *out_h, int64_t *out_w)
{
    FC_RETURN_IF_ERROR(fc_conv2d_output_size(p, out_h, out_w));
    FC_RETURN_IF_ERROR(check_tensor(p->n, p->c, p->h, p->w));
    FC_RETURN_IF_ERROR(check_tensor(p->k, p->c / p->groups, p->r, p->s));
    return check_tensor(p->n, p->k, *out_h, *out_w);
}

fc_status fc_validate_pool2d(const fc_pool2d_params *p, int need_unit_dilation,
                             int64_t *out_h, int64_t *out_w)
{
    if (need_unit_dilation && (p->dilation_h != 1 || p->dilation_w != 1))
        return FC_ERR_INVALID_ARGUMENT;
    FC_RETURN_IF_ERROR(fc_pool2d_output_size(p, out_h, out_w));
    FC_RETURN_IF_ERROR(check_tensor(p->n, p->c, p->h, p->w));
    return check_tensor(p->n, p->c, *out_h, *out_w);
}

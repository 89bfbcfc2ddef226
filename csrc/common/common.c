/* Size checks, thread settings and status strings used by every op. */

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

fc_status fc_conv2d_output_size(const fc_conv2d_params *p, int64_t *out_h, int64_t *out_w)
{
    if (p->n < 0 || p->c < 1 || p->h < 1 || p->w < 1 || p->k < 0 || p->r < 1 || p->s < 1 ||
        p->stride_h < 1 || p->stride_w < 1 || p->dilation_h < 1 || p->dilation_w < 1 ||
        p->pad_top < 0 || p->pad_bottom < 0 || p->pad_left < 0 || p->pad_right < 0 ||
        p->groups < 1 || p->c % p->groups != 0 || p->k % p->groups != 0)
        return FC_ERR_INVALID_ARGUMENT;
    int64_t padded_h, padded_w, span_h, span_w;
    if (fc_add_overflows(p->h, p->pad_top, &padded_h) ||
        fc_add_overflows(padded_h, p->pad_bottom, &padded_h) ||
        fc_add_overflows(p->w, p->pad_left, &padded_w) ||
        fc_add_overflows(padded_w, p->pad_right, &padded_w) ||
        fc_mul_overflows(p->dilation_h, p->r - 1, &span_h) ||
        fc_mul_overflows(p->dilation_w, p->s - 1, &span_w))
        return FC_ERR_SIZE_OVERFLOW;
    if (padded_h <= span_h || padded_w <= span_w) return FC_ERR_INVALID_ARGUMENT;
    *out_h = (padded_h - span_h - 1) / p->stride_h + 1;
    *out_w = (padded_w - span_w - 1) / p->stride_w + 1;
    return FC_OK;
}

fc_status fc_validate_conv2d(const fc_conv2d_params *p, int64_t *out_h, int64_t *out_w)
{
    FC_RETURN_IF_ERROR(fc_conv2d_output_size(p, out_h, out_w));
    FC_RETURN_IF_ERROR(check_tensor(p->n, p->c, p->h, p->w));
    FC_RETURN_IF_ERROR(check_tensor(p->k, p->c / p->groups, p->r, p->s));
    return check_tensor(p->n, p->k, *out_h, *out_w);
}

static fc_status pool_extent(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                             int64_t dilation, int ceil_mode, int64_t *out)
{
    int64_t span, padded, numerator;
    if (fc_mul_overflows(dilation, kernel - 1, &span) || fc_add_overflows(in, pad, &padded) ||
        fc_add_overflows(padded, pad, &padded))
        return FC_ERR_SIZE_OVERFLOW;
    numerator = padded - span - 1;
    if (ceil_mode && fc_add_overflows(numerator, stride - 1, &numerator))
        return FC_ERR_SIZE_OVERFLOW;
    int64_t size = fc_floor_div(numerator, stride) + 1;
    /* PyTorch's rule: with ceil_mode the last window must start inside the input or its
     * left padding, never wholly in the right padding. */
    if (ceil_mode && (size - 1) * stride >= in + pad) size--;
    if (size < 1) return FC_ERR_INVALID_ARGUMENT;
    *out = size;
    return FC_OK;
}

fc_status fc_pool2d_output_size(const fc_pool2d_params *p, int64_t *out_h, int64_t *out_w)
{
    if (p->n < 0 || p->c < 1 || p->h < 1 || p->w < 1 || p->kernel_h < 1 || p->kernel_w < 1 ||
        p->stride_h < 1 || p->stride_w < 1 || p->dilation_h < 1 || p->dilation_w < 1 ||
        p->pad_h < 0 || p->pad_w < 0 || p->pad_h > p->kernel_h / 2 ||
        p->pad_w > p->kernel_w / 2)
        return FC_ERR_INVALID_ARGUMENT;
    FC_RETURN_IF_ERROR(pool_extent(p->h, p->kernel_h, p->stride_h, p->pad_h, p->dilation_h,
                                   p->ceil_mode, out_h));
    return pool_extent(p->w, p->kernel_w, p->stride_w, p->pad_w, p->dilation_w, p->ceil_mode,
                       out_w);
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

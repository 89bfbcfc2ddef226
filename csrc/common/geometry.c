/* Output sizes of convolution and pooling (formulas in common/geometry.h and fastconv.h). */
#include "common/geometry.h"

fc_status fc_window_count(int64_t size, int64_t pad_before, int64_t pad_after, int64_t kernel,
                          int64_t stride, int64_t dilation, int ceil_mode, int64_t *out)
{
    int64_t span, padded, numerator;
    if (fc_mul_overflows(dilation, kernel - 1, &span) ||
        fc_add_overflows(size, pad_before, &padded) ||
        fc_add_overflows(padded, pad_after, &padded))
        return FC_ERR_SIZE_OVERFLOW;
    numerator = padded - span - 1;
    if (ceil_mode && fc_add_overflows(numerator, stride - 1, &numerator))
        return FC_ERR_SIZE_OVERFLOW;
    int64_t count = fc_floor_div(numerator, stride) + 1;
    if (ceil_mode && (count - 1) * stride >= size + pad_before) count--;
    if (count < 1) return FC_ERR_INVALID_ARGUMENT;
    *out = count;
    return FC_OK;
}

fc_status fc_conv2d_output_size(const fc_conv2d_params *p, int64_t *out_h, int64_t *out_w)
{
    if (p->n < 0 || p->c < 1 || p->h < 1 || p->w < 1 || p->k < 0 || p->r < 1 || p->s < 1 ||
        p->stride_h < 1 || p->stride_w < 1 || p->dilation_h < 1 || p->dilation_w < 1 ||
        p->pad_top < 0 || p->pad_bottom < 0 || p->pad_left < 0 || p->pad_right < 0 ||
        p->groups < 1 || p->c % p->groups != 0 || p->k % p->groups != 0)
        return FC_ERR_INVALID_ARGUMENT;
    const fc_status rows = fc_window_count(p->h, p->pad_top, p->pad_bottom, p->r, p->stride_h,
                                           p->dilation_h, 0, out_h);
    const fc_status cols = fc_window_count(p->w, p->pad_left, p->pad_right, p->s, p->stride_w,
                                           p->dilation_w, 0, out_w);
    /* a sum past int64 on either axis is reported before a kernel too large on the other */
    if (rows == FC_ERR_SIZE_OVERFLOW || cols == FC_ERR_SIZE_OVERFLOW) return FC_ERR_SIZE_OVERFLOW;
    return rows != FC_OK ? rows : cols;
}

fc_status fc_pool2d_output_size(const fc_pool2d_params *p, int64_t *out_h, int64_t *out_w)
{
    if (p->n < 0 || p->c < 1 || p->h < 1 || p->w < 1 || p->kernel_h < 1 || p->kernel_w < 1 ||
        p->stride_h < 1 || p->stride_w < 1 || p->dilation_h < 1 || p->dilation_w < 1 ||
        p->pad_h < 0 || p->pad_w < 0 || p->pad_h > p->kernel_h / 2 ||
        p->pad_w > p->kernel_w / 2)
        return FC_ERR_INVALID_ARGUMENT;
    FC_RETURN_IF_ERROR(fc_window_count(p->h, p->pad_h, p->pad_h, p->kernel_h, p->stride_h,
                                       p->dilation_h, p->ceil_mode, out_h));
    return fc_window_count(p->w, p->pad_w, p->pad_w, p->kernel_w, p->stride_w, p->dilation_w,
                           p->ceil_mode, out_w);
}

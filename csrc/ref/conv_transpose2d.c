/* Reference conv_transpose2d: the ground truth for csrc/ops/conv_transpose2d.c, on conv2d's
 * references in the same roles (p as there: y has the shape of the conv's input, x of its
 * output).  The epilogue one element at a time, the grad_bias sums in plain order (image,
 * then pixel). */
#include "common/epilogue.h"
#include "common/internal.h"

#define FC_REF_TRANSPOSE(T, SUFFIX)                                                            \
    static void epilogue_##SUFFIX(const fc_epi *e, int64_t planes, int64_t c, int64_t pixels,  \
                                  T *y)                                                        \
    {                                                                                          \
        for (int64_t i = 0; i < planes * pixels; i++) {                                        \
            const T v = e->bias ? y[i] + ((const T *)e->bias)[i / pixels % c] : y[i];          \
            y[i] = fc_##SUFFIX##_epilogue_value(e, v, i);                                      \
        }                                                                                      \
    }                                                                                          \
    static void grad_bias_##SUFFIX(int64_t n, int64_t c, int64_t pixels, const T *g, T *gb)    \
    {                                                                                          \
        for (int64_t ch = 0; ch < c; ch++) {                                                   \
            T sum = 0;                                                                         \
            for (int64_t img = 0; img < n; img++)                                              \
                for (int64_t i = 0; i < pixels; i++) sum += g[(img * c + ch) * pixels + i];   \
            gb[ch] = sum;                                                                      \
        }                                                                                      \
    }
FC_REF_TRANSPOSE(float, f32)
FC_REF_TRANSPOSE(double, f64)
#undef FC_REF_TRANSPOSE

fc_status fc_ref_conv_transpose2d_forward(const fc_conv2d_params *p, fc_dtype dtype,
                                          const void *x, const void *weight,
                                          const fc_epilogue *epilogue, void *y)
{
    if (!y) return FC_ERR_INVALID_ARGUMENT;
    const int64_t planes = p->n * p->c, pixels = p->h * p->w;
    fc_epi epi;
    FC_RETURN_IF_ERROR(fc_epilogue_prepare(epilogue, dtype, y, planes * pixels, &epi));
    FC_RETURN_IF_ERROR(fc_ref_conv2d_backward(p, dtype, x, NULL, weight, y, NULL, NULL));
    if (dtype == FC_FLOAT32) epilogue_f32(&epi, planes, p->c, pixels, y);
    else epilogue_f64(&epi, planes, p->c, pixels, y);
    return FC_OK;
}

fc_status fc_ref_conv_transpose2d_backward(const fc_conv2d_params *p, fc_dtype dtype,
                                           const void *grad_output, const void *x,
                                           const void *weight, void *grad_input,
                                           void *grad_weight, void *grad_bias)
{
    FC_RETURN_IF_ERROR(fc_validate_conv_transpose2d_backward(p, dtype, grad_output, x, weight,
                                                             grad_input, grad_weight, grad_bias));
    if (grad_input)
        FC_RETURN_IF_ERROR(fc_ref_conv2d_forward(p, dtype, grad_output, weight, NULL, grad_input));
    if (grad_weight)
        FC_RETURN_IF_ERROR(
            fc_ref_conv2d_backward(p, dtype, x, grad_output, NULL, NULL, grad_weight, NULL));
    if (grad_bias) {
        if (dtype == FC_FLOAT32) grad_bias_f32(p->n, p->c, p->h * p->w, grad_output, grad_bias);
        else grad_bias_f64(p->n, p->c, p->h * p->w, grad_output, grad_bias);
    }
    return FC_OK;
}

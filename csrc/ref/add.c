/* Reference add: the ground truth for csrc/ops/add.c, element by element, act(a + b) through
 * the activation table's per-element function (common/epilogue.h). */
#include "common/epilogue.h"
#include "common/internal.h"

fc_status fc_ref_add_forward(int64_t count, fc_dtype dtype, fc_activation activation,
                             double alpha, const void *a, const void *b, void *y)
{
    if (count < 0 || !fc_activation_name(activation)) return FC_ERR_INVALID_ARGUMENT;
    /* no residual in e: the sum is formed here, so y may be a or b */
    const fc_epi e = {NULL, NULL, y, activation, alpha, 0u, 0};
    if (dtype == FC_FLOAT32) {
        const float *pa = a, *pb = b;
        for (int64_t i = 0; i < count; i++)
            ((float *)y)[i] = fc_f32_epilogue_value(&e, pa[i] + pb[i], i);
        return FC_OK;
    }
    if (dtype == FC_FLOAT64) {
        const double *pa = a, *pb = b;
        for (int64_t i = 0; i < count; i++)
            ((double *)y)[i] = fc_f64_epilogue_value(&e, pa[i] + pb[i], i);
        return FC_OK;
    }
    return FC_ERR_INVALID_ARGUMENT;
}

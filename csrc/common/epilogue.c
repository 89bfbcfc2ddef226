/* The epilogue of conv2d and linear: the activation table's names, fc_epi, and the tile
 * function over the kernel family's rows (common/epilogue.h). */
#include "common/epilogue.h"

#include <stddef.h>

#include "dispatch.h"

#define FC_EPI_NAME(NAME, name, fused, formula, grad) [FC_ACTIVATION_##NAME] = name,
#define FC_EPI_FUSED(NAME, name, fused, formula, grad) [FC_ACTIVATION_##NAME] = fused,
static const char *const activation_names[] = {FC_ACTIVATION_LIST(FC_EPI_NAME)};
static const unsigned activation_fused[] = {FC_ACTIVATION_LIST(FC_EPI_FUSED)};
#undef FC_EPI_NAME
#undef FC_EPI_FUSED
enum { ACTIVATION_COUNT = sizeof activation_names / sizeof activation_names[0] };

const char *fc_activation_name(fc_activation activation)
{
    return (unsigned)activation < ACTIVATION_COUNT ? activation_names[activation] : NULL;
}

fc_status fc_epilogue_prepare(const fc_epilogue *epilogue, fc_dtype dtype, const void *y,
                              int64_t y_elements, fc_epi *e)
{
    const int64_t y_bytes = y_elements * (dtype == FC_FLOAT32 ? 4 : 8);
    static const fc_epilogue none = {NULL, NULL, FC_ACTIVATION_NONE, 0};
    if (!epilogue) epilogue = &none;
    if (!fc_activation_name(epilogue->activation)) return FC_ERR_INVALID_ARGUMENT;
    if (epilogue->residual && y_bytes > 0) {
        const uintptr_t r = (uintptr_t)epilogue->residual, o = (uintptr_t)y;
        if (r < o + (uintptr_t)y_bytes && o < r + (uintptr_t)y_bytes)
            return FC_ERR_INVALID_ARGUMENT;
    }
    e->bias = epilogue->bias;
    e->residual = epilogue->residual;
    e->y = y;
    e->activation = epilogue->activation;
    e->alpha = epilogue->alpha;
    /* a residual comes before the activation: nothing is fused then, as the microkernels
     * store the sum without it */
    e->fused = e->residual ? 0u : activation_fused[e->activation];
    e->post = e->residual != NULL ||
              (e->activation != FC_ACTIVATION_NONE && e->fused == 0u);
    return FC_OK;
}

#include "simd/dtype_f32.h"
#include "common/epilogue.tmpl.h"
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#include "common/epilogue.tmpl.h"
#include "simd/dtype_end.h"

/* The divisor of average pooling's window at output (oh, ow), as torch defines it: the
 * window's positions inside the padded plane when count_include_pad, else inside the plane.
 * One definition for the forward and backward references. */
#ifndef FC_REF_AVG_POOL_DIVISOR_H
#define FC_REF_AVG_POOL_DIVISOR_H

#include "fastconv.h"

static inline int64_t fc_ref_avg_pool_divisor(const fc_pool2d_params *p, int64_t oh, int64_t ow)
{
    int64_t inside = 0, in_padded_plane = 0;
    for (int64_t i = 0; i < p->kernel_h; i++)
        for (int64_t j = 0; j < p->kernel_w; j++) {
            const int64_t ih = oh * p->stride_h - p->pad_h + i;
            const int64_t iw = ow * p->stride_w - p->pad_w + j;
            if (ih < p->h + p->pad_h && iw < p->w + p->pad_w) in_padded_plane++;
            if (ih >= 0 && ih < p->h && iw >= 0 && iw < p->w) inside++;
        }
    return p->count_include_pad ? in_padded_plane : inside;
}

#endif

/* Channels-last depthwise convolution microkernels (one filter per channel): one output
 * pixel, all its channels.
 *
 * The driver (ops/conv2d_nhwc.tmpl.h) lists the pixel's R * S taps in (r, s) order as
 * pointers to runs of `channels` input values (a run of zeros for a tap in the padding, as
 * the NCHW depthwise driver's padded rows), and the weights as taps x channels (row t at
 * w + t * ld_w).  y[c] = bias[c] (or 0), then + w[t][c] * x_t[c] for t ascending: fused
 * multiply-adds on the SIMD members, as the NCHW depthwise kernels, whose sums these are,
 * bit for bit; the scalar member multiplies and adds, as its NCHW twin. */
#ifndef FC_KERNELS_DWCONV_NHWC_H
#define FC_KERNELS_DWCONV_NHWC_H

#include <stddef.h>

#define FC_DECLARE_DWCONV_NHWC_UKERNEL(name, real)                                            \
    void name(size_t channels, size_t taps, const real *const *x_ptrs, const real *w,         \
              size_t ld_w, const real *bias, real *y)
typedef FC_DECLARE_DWCONV_NHWC_UKERNEL((*fc_f32_dwconv_nhwc_ukernel_fn), float);
typedef FC_DECLARE_DWCONV_NHWC_UKERNEL((*fc_f64_dwconv_nhwc_ukernel_fn), double);

/* The weight gradient's twin (the member's fn2): a run of `pixels` output pixels, each tap's
 * input at x_ptrs[t] + p * x_step for pixel p (the driver lists only the taps inside the
 * image), grad_output at g + p * g_step:
 *
 *   acc[t][c] += g[p * g_step + c] * x_ptrs[t][p * x_step + c]   for p ascending
 *
 * one chain per (t, c), FMAs on the SIMD members, multiply then add on the scalar one, so a
 * lane's sum does not depend on which vector or tail it falls in.  The accumulators of a
 * vector of channels stay in registers over the whole run. */
#define FC_DECLARE_DWCONV_NHWC_GW_UKERNEL(name, real)                                         \
    void name(size_t channels, size_t pixels, size_t taps, const real *const *x_ptrs,         \
              size_t x_step, const real *g, size_t g_step, real *const *acc)
typedef FC_DECLARE_DWCONV_NHWC_GW_UKERNEL((*fc_f32_dwconv_nhwc_gw_ukernel_fn), float);
typedef FC_DECLARE_DWCONV_NHWC_GW_UKERNEL((*fc_f64_dwconv_nhwc_gw_ukernel_fn), double);

#define FC_DECLARE_DWCONV_NHWC_MEMBERS(isa)                                                   \
    FC_DECLARE_DWCONV_NHWC_UKERNEL(fc_f32_dwconv_nhwc_ukernel__##isa, float);                 \
    FC_DECLARE_DWCONV_NHWC_UKERNEL(fc_f64_dwconv_nhwc_ukernel__##isa, double);                \
    FC_DECLARE_DWCONV_NHWC_GW_UKERNEL(fc_f32_dwconv_nhwc_gw_ukernel__##isa, float);           \
    FC_DECLARE_DWCONV_NHWC_GW_UKERNEL(fc_f64_dwconv_nhwc_gw_ukernel__##isa, double);
FC_DECLARE_DWCONV_NHWC_MEMBERS(scalar)
FC_DECLARE_DWCONV_NHWC_MEMBERS(avx2)
FC_DECLARE_DWCONV_NHWC_MEMBERS(avx512)
FC_DECLARE_DWCONV_NHWC_MEMBERS(neon)
#undef FC_DECLARE_DWCONV_NHWC_MEMBERS

#endif

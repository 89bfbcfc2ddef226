/* Channels-last depthwise convolution microkernels (one filter per channel): a block of
 * `rows` x `pixels` output pixels, all their channels.
 *
 * The driver (ops/conv2d_nhwc.tmpl.h) lists, per row j, the R * S taps in (r, s) order: tap t
 * of pixel p of row j reads the run of `channels` input values at
 * x_ptrs[j * taps + t] + p * x_steps[j * taps + t] (a run of zeros with step 0 for a tap in
 * the padding, as the NCHW depthwise driver's padded rows), and the weights as taps x channels
 * (row t at w + t * ld_w); pixel p of row j goes to y + j * y_row_step + p * y_step.
 * y[c] = bias[c] (or 0), then + w[t][c] * x_t[c] for t ascending: fused multiply-adds on the
 * SIMD members, as the NCHW depthwise kernels, whose sums these are, bit for bit; the scalar
 * member multiplies and adds, as its NCHW twin.
 * The SIMD members take 8 pixels of a row at a time (then 4, then 1), with their accumulators
 * in registers over the taps, so that each weight vector is loaded once for 8 fused
 * multiply-adds; and where three taps read consecutive pixels (a filter row at stride 1 and
 * dilation 1: tap t + 1 of pixel p is tap t of pixel p + 1), each input vector once for the
 * three.  One pixel at a time, two loads per FMA bound the kernel: MobileNet's 56x56x256 3x3
 * layer ran at 0.70x its NCHW twin's speed, 0.79x with the 8 pixels, then 0.86x with the
 * shared loads (1 thread, Xeon AVX-512, shared machine; 14x14: 0.98x).  Row by row, per 8
 * pixels all the vectors of channels (address order); a 3x3 filter unrolled over its taps
 * (see simd.tmpl.h). */
#ifndef FC_KERNELS_DWCONV_NHWC_H
#define FC_KERNELS_DWCONV_NHWC_H

#include <stddef.h>

#define FC_DECLARE_DWCONV_NHWC_UKERNEL(name, real)                                            \
    void name(size_t channels, size_t rows, size_t pixels, size_t taps,                       \
              const real *const *x_ptrs, const size_t *x_steps, const real *w, size_t ld_w,   \
              const real *bias, real *y, size_t y_step, size_t y_row_step)
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

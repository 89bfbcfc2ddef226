"""Float64 NumPy oracle for fastconv's ops.

This module is the ground truth the tests compare against.  It is written the way a user
would write the ops by hand (np.pad + sliding windows + einsum) and it must never import
fastconv (tests/test_oracle.py checks that).

All functions take 4-D arrays (N, C, H, W); they compute in float64 whatever the input
dtype, and return float64 results (the tests cast to the dtype under test where the result
is exact, e.g. max pooling).

Argument conventions (already normalised, unlike the public API):

* ``stride``, ``dilation``, ``kernel_size``: pairs ``(h, w)``.
* conv ``padding``: ``((top, bottom), (left, right))``.
* pool ``padding``: pair ``(ph, pw)`` (symmetric).
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "conv2d",
    "conv2d_abs_bound",
    "conv_output_size",
    "pool_output_size",
    "same_padding",
    "max_pool2d",
    "avg_pool2d",
    "avg_pool2d_abs_bound",
    "relu",
    "relu6",
    "leaky_relu",
    "activation",
    "conv2d_backward",
    "conv2d_backward_abs_bound",
    "max_pool2d_backward",
    "avg_pool2d_backward",
    "avg_pool2d_backward_abs_bound",
    "relu_backward",
    "linear",
    "linear_abs_bound",
    "linear_backward",
    "linear_backward_abs_bound",
    "filter2d",
    "filter2d_abs_bound",
    "sep_filter2d",
    "sep_filter2d_abs_bound",
    "conv_transpose2d",
    "conv_transpose2d_abs_bound",
    "conv_transpose2d_backward",
    "conv_transpose2d_backward_abs_bound",
]


def conv_output_size(size, pad_before, pad_after, kernel, stride, dilation):
    """P = (H + top + bottom - dil*(R-1) - 1) // stride + 1."""
    return (size + pad_before + pad_after - dilation * (kernel - 1) - 1) // stride + 1


def same_padding(size, kernel, stride, dilation):
    """TensorFlow-style "same" padding for any stride: the output has ceil(size/stride)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    before = total // 2
    return before, total - before


def pool_output_size(size, kernel, stride, pad, dilation, ceil_mode):
    """PyTorch's pooling output size (pooling_output_shape)."""
    num = size + 2 * pad - dilation * (kernel - 1) - 1
    if ceil_mode:
        out = -(-num // stride) + 1
        # the last window must start inside the image or the left padding
        if (out - 1) * stride >= size + pad:
            out -= 1
    else:
        out = num // stride + 1
    return out


def conv2d(x, w, b=None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    """2-D cross-correlation (no kernel flip), float64.

    x (N, C, H, W), w (K, C/groups, R, S), b (K,) or None -> (N, K, P, Q).
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError("oracle.conv2d: x and w must be 4-D")
    n, c, h, wd = x.shape
    k, cg, r, s = w.shape
    if c != cg * groups or k % groups:
        raise ValueError("oracle.conv2d: channels do not match groups")
    (pt, pb), (pl, pr) = padding
    sh, sw = stride
    dh, dw = dilation
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    reff = dh * (r - 1) + 1
    seff = dw * (s - 1) + 1
    if xp.shape[2] < reff or xp.shape[3] < seff:
        raise ValueError("oracle.conv2d: padded input smaller than the dilated kernel")
    # (N, C, Hp-reff+1, Wp-seff+1, reff, seff) -> (N, C, P, Q, R, S)
    win = sliding_window_view(xp, (reff, seff), axis=(2, 3))
    win = win[:, :, ::sh, ::sw, ::dh, ::dw]
    p, q = win.shape[2], win.shape[3]
    assert p == conv_output_size(h, pt, pb, r, sh, dh)
    assert q == conv_output_size(wd, pl, pr, s, sw, dw)
    kg = k // groups
    y = np.empty((n, k, p, q), dtype=np.float64)
    for g in range(groups):
        y[:, g * kg:(g + 1) * kg] = np.einsum(
            "ncpqrs,kcrs->nkpq",
            win[:, g * cg:(g + 1) * cg],
            w[g * kg:(g + 1) * kg],
        )
    if b is not None:
        b = np.asarray(b, dtype=np.float64)
        y += b.reshape(1, k, 1, 1)
    return y


def conv2d_abs_bound(x, w, b=None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1),
                     groups=1):
    """conv2d on |x|, |w|, |b|: the scale of the forward error of any summation order."""
    x = np.abs(np.asarray(x, dtype=np.float64))
    w = np.abs(np.asarray(w, dtype=np.float64))
    if b is not None:
        b = np.abs(np.asarray(b, dtype=np.float64))
    return conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)


def _pool_rows(out_size, size, kernel, stride, pad, dilation):
    """For each output row, the input rows of its window (may lie outside [0, size))."""
    starts = np.arange(out_size) * stride - pad
    return starts[:, None] + np.arange(kernel)[None, :] * dilation


def max_pool2d(x, kernel_size, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False):
    """Max pooling with PyTorch semantics; returns (y float64, indices int64).

    Padding positions never win.  A window holding a NaN gives NaN with the index of its
    first NaN in row-major window order; ties go to the first index in row-major window
    order.  Indices are flat h*W + w into each HxW plane.  A window lying entirely in the
    padding gives -inf and index -1.
    """
    x = np.asarray(x, dtype=np.float64)
    n, c, h, wd = x.shape
    kh, kw = kernel_size
    sh, sw = stride
    ph, pw = padding
    dh, dw = dilation
    p = pool_output_size(h, kh, sh, ph, dh, ceil_mode)
    q = pool_output_size(wd, kw, sw, pw, dw, ceil_mode)
    if p <= 0 or q <= 0:
        raise ValueError("oracle.max_pool2d: output would be empty")
    rows = _pool_rows(p, h, kh, sh, ph, dh)  # (P, kh)
    cols = _pool_rows(q, wd, kw, sw, pw, dw)  # (Q, kw)
    y = np.empty((n, c, p, q), dtype=np.float64)
    idx = np.empty((n, c, p, q), dtype=np.int64)
    for i in range(p):
        for j in range(q):
            hh = np.repeat(rows[i], kw)  # row-major window order
            ww = np.tile(cols[j], kh)
            valid = (hh >= 0) & (hh < h) & (ww >= 0) & (ww < wd)
            flat = np.where(valid, hh * wd + ww, -1)
            vals = np.full((n, c, kh * kw), -np.inf)
            vals[:, :, valid] = x[:, :, hh[valid], ww[valid]]
            isnan = np.isnan(vals)
            anynan = isnan.any(axis=-1)
            first_nan = np.argmax(isnan, axis=-1)
            m = np.where(isnan, -np.inf, vals).max(axis=-1)
            eq = (vals == m[..., None]) & valid
            has = eq.any(axis=-1)
            first_eq = np.argmax(eq, axis=-1)
            k_win = np.where(anynan, first_nan, first_eq)
            won = anynan | has
            chosen = np.take_along_axis(vals, k_win[..., None], axis=-1)[..., 0]
            y[:, :, i, j] = np.where(won, chosen, -np.inf)
            idx[:, :, i, j] = np.where(won, flat[k_win], -1)
    return y, idx


def _avg_windows(size, kernel, stride, pad, ceil_mode):
    """Per output index: (clipped start, clipped end, unclipped pool size) as in PyTorch."""
    out = pool_output_size(size, kernel, stride, pad, 1, ceil_mode)
    res = []
    for o in range(out):
        start = o * stride - pad
        end = min(start + kernel, size + pad)
        pool = end - start
        res.append((max(start, 0), min(end, size), pool))
    return res


def _avg_divisor(h0, h1, hpool, w0, w1, wpool, count_include_pad, divisor_override):
    """torch's divisor: the override when given, else the window clipped to the padded input
    (count_include_pad) or to the input."""
    if divisor_override:
        return divisor_override
    return hpool * wpool if count_include_pad else (h1 - h0) * (w1 - w0)


def avg_pool2d(x, kernel_size, stride, padding=(0, 0), ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Average pooling with PyTorch semantics, float64."""
    x = np.asarray(x, dtype=np.float64)
    n, c, h, wd = x.shape
    kh, kw = kernel_size
    sh, sw = stride
    ph, pw = padding
    hw = _avg_windows(h, kh, sh, ph, ceil_mode)
    ww = _avg_windows(wd, kw, sw, pw, ceil_mode)
    if not hw or not ww:
        raise ValueError("oracle.avg_pool2d: output would be empty")
    y = np.empty((n, c, len(hw), len(ww)), dtype=np.float64)
    for i, (h0, h1, hpool) in enumerate(hw):
        for j, (w0, w1, wpool) in enumerate(ww):
            divisor = _avg_divisor(h0, h1, hpool, w0, w1, wpool, count_include_pad,
                                   divisor_override)
            y[:, :, i, j] = x[:, :, h0:h1, w0:w1].sum(axis=(2, 3)) / divisor
    return y


def avg_pool2d_abs_bound(x, kernel_size, stride, padding=(0, 0), ceil_mode=False,
                         count_include_pad=True, divisor_override=None):
    """avg_pool2d on |x|: the scale of the forward error of any summation order."""
    return np.abs(avg_pool2d(np.abs(np.asarray(x, dtype=np.float64)), kernel_size, stride,
                             padding, ceil_mode, count_include_pad, divisor_override))


def _adaptive_windows(size, out):
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


def adaptive_avg_pool2d(x, output_size):
    """torch's adaptive average pooling, float64; output_size a pair of ints (no None)."""
    x = np.asarray(x, dtype=np.float64)
    n, c, h, w = x.shape
    hw, ww = _adaptive_windows(h, output_size[0]), _adaptive_windows(w, output_size[1])
    y = np.empty((n, c, len(hw), len(ww)))
    for i, (h0, h1) in enumerate(hw):
        for j, (w0, w1) in enumerate(ww):
            y[:, :, i, j] = x[:, :, h0:h1, w0:w1].sum(axis=(2, 3)) / ((h1 - h0) * (w1 - w0))
    return y


def adaptive_avg_pool2d_abs_bound(x, output_size):
    return adaptive_avg_pool2d(np.abs(np.asarray(x, dtype=np.float64)), output_size)


def adaptive_avg_pool2d_backward(g, input_shape):
    """Each window element receives g / the window's size, float64; g (N, C, P, Q)."""
    g = np.asarray(g, dtype=np.float64)
    n, c, h, w = input_shape
    hw, ww = _adaptive_windows(h, g.shape[2]), _adaptive_windows(w, g.shape[3])
    gx = np.zeros(input_shape)
    for i, (h0, h1) in enumerate(hw):
        for j, (w0, w1) in enumerate(ww):
            gx[:, :, h0:h1, w0:w1] += (g[:, :, i, j] / ((h1 - h0) * (w1 - w0)))[:, :, None, None]
    return gx


def adaptive_avg_pool2d_backward_abs_bound(g, input_shape):
    return adaptive_avg_pool2d_backward(np.abs(np.asarray(g, dtype=np.float64)), input_shape)


def relu(x):
    """x where x > 0, else +0.0; NaN stays NaN.  Keeps the input dtype (it is exact)."""
    x = np.asarray(x)
    zero = np.zeros((), dtype=x.dtype)
    return np.where((x > 0) | np.isnan(x), x, zero).astype(x.dtype, copy=False)


def relu6(x):
    """min(max(x, 0), 6), NaN stays NaN, -0 -> +0.  Keeps the input dtype (it is exact)."""
    x = np.asarray(x)
    zero, six = np.zeros((), dtype=x.dtype), np.asarray(6, dtype=x.dtype)
    return np.where(np.isnan(x), x, np.where(x > 6, six, np.where(x > 0, x, zero))).astype(
        x.dtype, copy=False)


def leaky_relu(x, negative_slope=0.01):
    """x where x > 0 or NaN, else x * negative_slope (torch's formula; -0 stays -0), computed in
    x's dtype with the slope rounded to it, as torch does."""
    x = np.asarray(x)
    slope = np.asarray(negative_slope, dtype=x.dtype)
    return np.where((x > 0) | np.isnan(x), x, x * slope).astype(x.dtype, copy=False)


def relu6_backward(g, x):
    """g where 0 < x < 6, else +0.0 (a NaN x too): torch's hardtanh_backward on [0, 6].  Keeps
    g's dtype (it is exact)."""
    g, x = np.asarray(g), np.asarray(x)
    with np.errstate(invalid="ignore"):
        return np.where((x > 0) & (x < 6), g, np.zeros((), g.dtype)).astype(g.dtype, copy=False)


def leaky_relu_backward(g, x, negative_slope=0.01):
    """g where x > 0, else g * negative_slope (NaN x included), as torch's leaky_relu_backward,
    in g's dtype with the slope rounded to it."""
    g, x = np.asarray(g), np.asarray(x)
    slope = np.asarray(negative_slope, dtype=g.dtype)
    with np.errstate(invalid="ignore"):
        return np.where(x > 0, g, g * slope).astype(g.dtype, copy=False)


def activation(x, name, negative_slope=0.01):
    """The epilogue's activation `name` (None, "relu", "relu6", "leaky_relu") on x."""
    if name is None:
        return np.asarray(x)
    if name == "leaky_relu":
        return leaky_relu(x, negative_slope)
    return {"relu": relu, "relu6": relu6}[name](x)


# ---- backward passes (gradients of <op(inputs), g> with respect to each input) ---------------

def conv2d_backward(g, x, w, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1),
                    groups=1):
    """(grad_x, grad_w, grad_b) of conv2d, float64; g has conv2d's output shape.

    grad_w and grad_b contract the sliding windows with g; grad_x scatters, tap by tap, the
    product of g with the tap's weights into a padded gradient, then crops the padding.
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    n, c, h, wd = x.shape
    k, cg, r, s = w.shape
    (pt, pb), (pl, pr) = padding
    sh, sw = stride
    dh, dw = dilation
    p, q = g.shape[2], g.shape[3]
    kg = k // groups
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    win = sliding_window_view(xp, (dh * (r - 1) + 1, dw * (s - 1) + 1), axis=(2, 3))
    win = win[:, :, ::sh, ::sw, ::dh, ::dw][:, :, :p, :q]
    gw = np.empty_like(w)
    gxp = np.zeros_like(xp)
    for grp in range(groups):
        ks, cs = slice(grp * kg, (grp + 1) * kg), slice(grp * cg, (grp + 1) * cg)
        gw[ks] = np.einsum("ncpqrs,nkpq->kcrs", win[:, cs], g[:, ks])
        for i in range(r):
            for j in range(s):
                rows = slice(i * dh, i * dh + sh * (p - 1) + 1, sh)
                cols = slice(j * dw, j * dw + sw * (q - 1) + 1, sw)
                gxp[:, cs, rows, cols] += np.einsum("nkpq,kc->ncpq", g[:, ks], w[ks, :, i, j])
    gx = gxp[:, :, pt:pt + h, pl:pl + wd]
    return gx, gw, g.sum(axis=(0, 2, 3))


def conv2d_backward_abs_bound(g, x, w, stride=(1, 1), padding=((0, 0), (0, 0)),
                              dilation=(1, 1), groups=1):
    """conv2d_backward on |g|, |x|, |w|: the scale of the error of any summation order."""
    return conv2d_backward(np.abs(np.asarray(g, dtype=np.float64)),
                           np.abs(np.asarray(x, dtype=np.float64)),
                           np.abs(np.asarray(w, dtype=np.float64)), stride, padding, dilation,
                           groups)


def max_pool2d_backward(g, indices, input_shape):
    """Each gradient added at its flat index h*W + w of its plane; index -1 adds nothing."""
    g = np.asarray(g, dtype=np.float64)
    n, c, h, wd = input_shape
    gx = np.zeros((n * c, h * wd))
    flat_g = g.reshape(n * c, g.shape[2] * g.shape[3])
    flat_i = np.asarray(indices).reshape(flat_g.shape)
    for plane in range(n * c):
        keep = flat_i[plane] >= 0
        np.add.at(gx[plane], flat_i[plane][keep], flat_g[plane][keep])
    return gx.reshape(input_shape)


def avg_pool2d_backward(g, input_shape, kernel_size, stride, padding=(0, 0), ceil_mode=False,
                        count_include_pad=True, divisor_override=None):
    """Each window element receives g / the forward's divisor (PyTorch semantics), float64."""
    g = np.asarray(g, dtype=np.float64)
    n, c, h, wd = input_shape
    kh, kw = kernel_size
    sh, sw = stride
    ph, pw = padding
    hw = _avg_windows(h, kh, sh, ph, ceil_mode)
    ww = _avg_windows(wd, kw, sw, pw, ceil_mode)
    gx = np.zeros(input_shape)
    for i, (h0, h1, hpool) in enumerate(hw):
        for j, (w0, w1, wpool) in enumerate(ww):
            divisor = _avg_divisor(h0, h1, hpool, w0, w1, wpool, count_include_pad,
                                   divisor_override)
            gx[:, :, h0:h1, w0:w1] += (g[:, :, i, j] / divisor)[:, :, None, None]
    return gx


def avg_pool2d_backward_abs_bound(g, input_shape, kernel_size, stride, padding=(0, 0),
                                  ceil_mode=False, count_include_pad=True,
                                  divisor_override=None):
    """avg_pool2d_backward on |g|."""
    return np.abs(avg_pool2d_backward(np.abs(np.asarray(g, dtype=np.float64)), input_shape,
                                      kernel_size, stride, padding, ceil_mode,
                                      count_include_pad, divisor_override))


def relu_backward(g, y):
    """+0.0 where y <= 0, else g (a NaN y passes g, as torch's threshold_backward).  Keeps g's
    dtype (it is exact)."""
    g = np.asarray(g)
    y = np.asarray(y)
    with np.errstate(invalid="ignore"):
        return np.where(y <= 0, np.zeros((), dtype=g.dtype), g).astype(g.dtype, copy=False)


# ---- linear ------------------------------------------------------------------------------------

def linear(x, w, b=None):
    """y = x @ w.T + b, float64; x (..., in), w (out, in), b (out,) or None -> (..., out)."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2 or x.ndim < 1 or x.shape[-1] != w.shape[1]:
        raise ValueError("oracle.linear: x (..., in) and w (out, in) do not match")
    y = np.einsum("...k,ok->...o", x, w)
    if b is not None:
        y = y + np.asarray(b, dtype=np.float64)
    return y


def linear_abs_bound(x, w, b=None):
    """linear on |x|, |w|, |b|: the scale of the forward error of any summation order."""
    return linear(np.abs(np.asarray(x, dtype=np.float64)), np.abs(np.asarray(w, dtype=np.float64)),
                  None if b is None else np.abs(np.asarray(b, dtype=np.float64)))


def linear_backward(g, x, w):
    """(grad_x, grad_w, grad_b) of linear, float64; g has linear's output shape (..., out)."""
    g = np.asarray(g, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    rows = int(np.prod(x.shape[:-1]))  # (not -1: ambiguous for an empty row)
    g2 = g.reshape(rows, w.shape[0])
    x2 = x.reshape(rows, w.shape[1])
    return (np.einsum("...o,ok->...k", g, w), np.einsum("no,nk->ok", g2, x2), g2.sum(axis=0))


def linear_backward_abs_bound(g, x, w):
    """linear_backward on |g|, |x|, |w|."""
    return linear_backward(*(np.abs(np.asarray(a, dtype=np.float64)) for a in (g, x, w)))


# ---- image filtering ------------------------------------------------------------------------
# Images as OpenCV holds them: (H, W), (H, W, C) or (N, H, W, C); results in float64.

# fastconv's border names -> np.pad's modes (the same extensions as OpenCV's borderInterpolate)
PAD_MODES = {"constant": "constant", "replicate": "edge", "reflect": "symmetric",
             "reflect101": "reflect", "wrap": "wrap"}


def filter2d(image, kernel, border="reflect101", value=0.0, anchor=None, delta=0.0):
    """delta + sum_{r, s} kernel[r, s] * padded[i + r, j + s], np.pad'ed by `border`."""
    x = np.asarray(image, dtype=np.float64)
    k = np.asarray(kernel, dtype=np.float64)
    shape = x.shape
    x4 = x[None, :, :, None] if x.ndim == 2 else x[None] if x.ndim == 3 else x
    kh, kw = k.shape
    ay, ax = (kh // 2, kw // 2) if anchor is None else anchor
    pads = ((0, 0), (ay, kh - 1 - ay), (ax, kw - 1 - ax), (0, 0))
    if border == "constant":
        padded = np.pad(x4, pads, mode="constant", constant_values=value)
    else:
        padded = np.pad(x4, pads, mode=PAD_MODES[border])
    h, w = x4.shape[1:3]
    y = np.full(x4.shape, float(delta))
    for r in range(kh):
        for s in range(kw):
            y += k[r, s] * padded[:, r:r + h, s:s + w, :]
    return y.reshape(shape)


def filter2d_abs_bound(image, kernel, border="reflect101", value=0.0, anchor=None, delta=0.0):
    """filter2d of the absolute values: the scale of filter2d's rounding error."""
    return filter2d(np.abs(np.asarray(image, dtype=np.float64)), np.abs(kernel), border,
                    abs(value), anchor, abs(delta))


def sep_filter2d(image, kx, ky, border="reflect101", value=0.0, anchor=None, delta=0.0):
    """filter2d with the kernel np.outer(ky, kx)."""
    k = np.outer(np.ravel(ky).astype(np.float64), np.ravel(kx).astype(np.float64))
    return filter2d(image, k, border, value, anchor, delta)


def sep_filter2d_abs_bound(image, kx, ky, border="reflect101", value=0.0, anchor=None,
                           delta=0.0):
    k = np.outer(np.abs(np.ravel(ky)), np.abs(np.ravel(kx))).astype(np.float64)
    return filter2d_abs_bound(image, k, border, value, anchor, delta)


# ---- batch normalisation and add (float64) ----------------------------------------------------

def _per_channel(v, ndim):
    return np.asarray(v, np.float64).reshape((1, -1) + (1,) * (ndim - 2))


def batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps):
    """torch.nn.functional.batch_norm in float64: (y, mean, invstd, new running_mean, new
    running_var, abs_bound); abs_bound the same formula on absolute values (|x - m| |s| +
    |m| |s| + |b|), for the tolerance; the running statistics None when not given."""
    x = np.asarray(x, np.float64)
    axes = (0,) + tuple(range(2, x.ndim))
    count = x.size // x.shape[1]
    new_rm = new_rv = None
    if training:
        mean = x.mean(axis=axes)
        var = ((x - _per_channel(mean, x.ndim)) ** 2).mean(axis=axes)
        if running_mean is not None:
            new_rm = (1 - momentum) * np.asarray(running_mean, np.float64) + momentum * mean
            new_rv = (1 - momentum) * np.asarray(running_var, np.float64) + \
                momentum * var * count / (count - 1)
    else:
        mean = np.asarray(running_mean, np.float64)
        var = np.asarray(running_var, np.float64)
    invstd = 1 / np.sqrt(var + eps)
    w = np.ones(x.shape[1]) if weight is None else np.asarray(weight, np.float64)
    b = np.zeros(x.shape[1]) if bias is None else np.asarray(bias, np.float64)
    m, s = _per_channel(mean, x.ndim), _per_channel(invstd * w, x.ndim)
    y = (x - m) * s + _per_channel(b, x.ndim)
    bound = np.abs(x - m) * np.abs(s) + np.abs(m) * np.abs(s) + np.abs(_per_channel(b, x.ndim))
    return y, mean, invstd, new_rm, new_rv, bound


def batch_norm_backward(g, x, weight, mean, invstd, training):
    """(grad_x, grad_w, grad_b) of batch_norm, float64, for the mean and invstd the forward
    used; and their abs bounds (the formulas on absolute values)."""
    g, x = np.asarray(g, np.float64), np.asarray(x, np.float64)
    axes = (0,) + tuple(range(2, x.ndim))
    count = x.size // x.shape[1]
    w = np.ones(x.shape[1]) if weight is None else np.asarray(weight, np.float64)
    m, s = _per_channel(mean, x.ndim), _per_channel(invstd, x.ndim)
    d = x - m
    grad_w = (g * d).sum(axis=axes) * np.asarray(invstd, np.float64)
    grad_b = g.sum(axis=axes)
    scale = s * _per_channel(w, x.ndim)
    bound_w = (np.abs(g) * np.abs(d)).sum(axis=axes) * np.abs(invstd)
    bound_b = np.abs(g).sum(axis=axes)
    if training:
        grad_x = scale * (g - _per_channel(grad_b, x.ndim) / count -
                          d * s * s * _per_channel((g * d).sum(axis=axes), x.ndim) / count)
        bound_x = np.abs(scale) * (np.abs(g) + _per_channel(bound_b, x.ndim) / count + np.abs(d) *
                                   s * s * _per_channel((np.abs(g) * np.abs(d)).sum(axis=axes),
                                                        x.ndim) / count)
    else:
        grad_x = scale * g
        bound_x = np.abs(scale * g)
    return (grad_x, grad_w, grad_b), (bound_x, bound_w, bound_b)


def add(a, b, activation_name=None, negative_slope=0.01):
    """act(a + b): the sum in a's dtype (one rounding, as IEEE; b is cast to it first, exactly
    for the values an op of that dtype receives), then the activation."""
    a = np.asarray(a)
    return activation(a + np.asarray(b).astype(a.dtype), activation_name, negative_slope)


def _transpose_taps(x, w, stride, padding, output_padding, groups, dilation):
    """The uncropped output frame of conv_transpose2d (zeros, with room past its edge), the
    crop's (size, padding), and per group and tap (input channels, output channels, i, j,
    frame rows, frame columns): where that tap's products land."""
    n, cin, h, wd = x.shape
    _, og, r, s = w.shape
    cg = cin // groups
    (sh, sw), (dh, dw) = stride, dilation
    size = [(i - 1) * st - 2 * p + d * (k - 1) + o + 1 for i, st, p, d, k, o in
            zip((h, wd), stride, padding, dilation, (r, s), output_padding)]
    full = np.zeros((n, og * groups, size[0] + 2 * padding[0] + sh + dh * r,
                     size[1] + 2 * padding[1] + sw + dw * s))
    taps = [(slice(grp * cg, (grp + 1) * cg), slice(grp * og, (grp + 1) * og), i, j,
             slice(i * dh, i * dh + sh * (h - 1) + 1, sh),
             slice(j * dw, j * dw + sw * (wd - 1) + 1, sw))
            for grp in range(groups) for i in range(r) for j in range(s)]
    crop = (slice(None), slice(None), slice(padding[0], padding[0] + size[0]),
            slice(padding[1], padding[1] + size[1]))
    return full, crop, taps


def conv_transpose2d(x, w, b=None, stride=(1, 1), padding=(0, 0), output_padding=(0, 0),
                     groups=1, dilation=(1, 1)):
    """torch's conv_transpose2d by its definition, float64: every input pixel (i, j) of
    channel c scatters x * w[c, o, r, t] to output (i*sh - ph + r*dh, j*sw - pw + t*dw) of
    channel group * Cout/groups + o; outputs past the frame are dropped (padding crops).

    x (N, Cin, H, W), w (Cin, Cout/groups, R, S), b (Cout,) or None.
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    full, crop, taps = _transpose_taps(x, w, stride, padding, output_padding, groups, dilation)
    for cs, os_, i, j, rows, cols in taps:
        full[:, os_, rows, cols] += np.einsum("nchw,co->nohw", x[:, cs], w[cs, :, i, j])
    y = full[crop]
    if b is not None:
        y = y + np.asarray(b, dtype=np.float64).reshape(1, -1, 1, 1)
    return y


def conv_transpose2d_abs_bound(x, w, b=None, stride=(1, 1), padding=(0, 0),
                               output_padding=(0, 0), groups=1, dilation=(1, 1)):
    """conv_transpose2d on |x|, |w|, |b|."""
    return conv_transpose2d(np.abs(np.asarray(x, dtype=np.float64)),
                            np.abs(np.asarray(w, dtype=np.float64)),
                            None if b is None else np.abs(np.asarray(b, dtype=np.float64)),
                            stride, padding, output_padding, groups, dilation)


def conv_transpose2d_backward(g, x, w, stride=(1, 1), padding=(0, 0), output_padding=(0, 0),
                              groups=1, dilation=(1, 1)):
    """(grad_x, grad_w, grad_b) of conv_transpose2d, float64: each scattered product's
    gradient gathered back from where it landed (g placed in the uncropped frame)."""
    g = np.asarray(g, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    full, crop, taps = _transpose_taps(x, w, stride, padding, output_padding, groups, dilation)
    full[crop] = g
    gx, gw = np.zeros_like(x), np.zeros_like(w)
    for cs, os_, i, j, rows, cols in taps:
        part = full[:, os_, rows, cols]
        gx[:, cs] += np.einsum("nohw,co->nchw", part, w[cs, :, i, j])
        gw[cs, :, i, j] = np.einsum("nchw,nohw->co", x[:, cs], part)
    return gx, gw, g.sum(axis=(0, 2, 3))


def conv_transpose2d_backward_abs_bound(g, x, w, stride=(1, 1), padding=(0, 0),
                                        output_padding=(0, 0), groups=1, dilation=(1, 1)):
    """conv_transpose2d_backward on |g|, |x|, |w|."""
    return conv_transpose2d_backward(*(np.abs(np.asarray(a, dtype=np.float64)) for a in (g, x, w)),
                                     stride, padding, output_padding, groups, dilation)

"""Channels last (layout="NHWC"): every NHWC op against its NCHW twin, transposed.

The NHWC drivers sum every element in the NCHW order (conv2d: bias, then c, r, s, as the
im2col/pointwise GEMM; pooling forward and backward: the NCHW kernels' order per channel), so
the comparison is bitwise (assert_exact), on every ISA path, both dtypes, any thread count.
The NCHW ops themselves are tested against the float64 oracle elsewhere (test_conv2d.py,
test_pooling.py, test_backward.py).  Then the layout-mistake messages (issue 12, item 4)."""
import numpy as np
import pytest

import fastconv
from fastconv import nn
from fastconv.ops import _ext
from tolerances import assert_bitwise_equal, assert_exact

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]
ISAS = list(_ext.ISA_NAMES)
SESSION_ISA = _ext.active_isa()


@pytest.fixture(params=[pytest.param(isa, marks=pytest.mark.skipif(
    ISAS.index(isa) > ISAS.index(SESSION_ISA),
    reason=f"the session runs {SESSION_ISA}")) for isa in ISAS])
def isa(request):
    """Run on one ISA path; the session's path is restored afterwards."""
    _ext.select_isa(request.param)
    yield request.param
    _ext.select_isa(SESSION_ISA)


def nhwc(a):
    """(N, C, H, W) -> a C-contiguous (N, H, W, C) copy; (C, H, W) -> (H, W, C)."""
    return np.ascontiguousarray(np.moveaxis(a, -3, -1))


def strided_nhwc(a):
    """nhwc(a)'s values in a view with step 2 on every axis (not contiguous)."""
    b = nhwc(a)
    big = np.full(tuple(2 * d for d in b.shape), np.nan, b.dtype)
    view = big[tuple(slice(None, None, 2) for _ in b.shape)]
    view[...] = b
    assert not view.flags.c_contiguous
    return view


def rand(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


# (N, C, H, W, K, R, S, stride, padding, dilation, groups): tiles of every ISA crossed
# (K = 37, widths 23), groups, depthwise, stride, dilation, asymmetric padding, 1x1
CONV_CASES = [
    (2, 5, 11, 13, 37, 3, 3, 1, 1, 1, 1),
    (1, 3, 23, 17, 8, 5, 5, 2, 2, 1, 1),
    (2, 16, 7, 9, 33, 1, 1, 1, 0, 1, 1),       # the 1x1 GEMM on (N*H*W, C)
    (1, 12, 10, 10, 12, 3, 3, 1, 1, 1, 4),     # grouped
    (1, 6, 12, 11, 6, 3, 3, 2, 1, 2, 6),       # depthwise, strided, dilated
    (1, 4, 9, 9, 8, 1, 7, 1, ((0, 0), (3, 3)), 1, 1),  # Inception's 1x7
    (3, 9, 6, 5, 7, 2, 3, (2, 1), ((1, 0), (2, 1)), (1, 2), 1),
    (1, 1, 30, 30, 6, 5, 5, 1, 2, 1, 1),       # few filters: NR-tile edges
    # depthwise at stride 1 (the kernel's shared loads of a filter row, 8- and 4-pixel steps,
    # a channel tail), 5x5 on fewer rows than 4 per thread (blocks of channels), 1x1,
    # asymmetric padding
    (2, 37, 20, 19, 37, 3, 3, 1, 1, 1, 37),
    (1, 40, 5, 60, 40, 5, 5, 1, 2, 1, 40),
    (1, 8, 7, 9, 8, 1, 1, 1, 0, 1, 8),
    (1, 17, 9, 14, 17, 3, 3, 1, ((1, 0), (0, 2)), 1, 17),
    # the GEMM members' NHWC packs (8 channels a step): Cg 8 and 17 (two steps and a tail)
    (1, 16, 5, 9, 6, 3, 3, 1, 1, 1, 2),
    (1, 34, 7, 10, 18, 3, 3, 1, 1, 1, 2),
]


def _conv_args(case):
    n, c, h, w, k, r, s, stride, padding, dilation, groups = case
    return (n, c, h, w), (k, c // groups, r, s), dict(stride=stride, padding=padding,
                                                      dilation=dilation, groups=groups)


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_nhwc_is_nchw_transposed(isa, dtype, case):
    rng = np.random.default_rng(1)
    x_shape, w_shape, kw = _conv_args(case)
    x, w = rand(rng, x_shape, dtype), rand(rng, w_shape, dtype)
    b = rand(rng, w_shape[:1], dtype)
    for bias, activation in ((None, None), (b, "relu"), (b, "leaky_relu")):
        want = fastconv.conv2d(x, w, bias, activation=activation, algorithm="im2col", **kw)
        got = fastconv.conv2d(nhwc(x), w, bias, activation=activation, layout="NHWC", **kw)
        assert_exact(got, nhwc(want))


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_nhwc_residual_unbatched_strided_out(dtype):
    rng = np.random.default_rng(2)
    x, w = rand(rng, (2, 6, 9, 10), dtype), rand(rng, (11, 6, 3, 3), dtype)
    b = rand(rng, (11,), dtype)
    res = rand(rng, (2, 11, 9, 10), dtype)
    want = fastconv.conv2d(x, w, b, padding=1, residual=res, activation="relu6",
                           algorithm="im2col")
    x_in = strided_nhwc(x)
    before = x_in.copy()
    out = np.empty((2, 9, 10, 11), dtype)
    got = fastconv.conv2d(x_in, w, b, padding=1, residual=nhwc(res), activation="relu6",
                          layout="NHWC", out=out)
    assert got is out
    assert_exact(got, nhwc(want))
    assert_exact(x_in, before)  # inputs are never modified
    # unbatched (H, W, C)
    assert_exact(fastconv.conv2d(nhwc(x[1]), w, b, padding=1, layout="NHWC"),
                 nhwc(fastconv.conv2d(x[1], w, b, padding=1, algorithm="im2col")))


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_nhwc_workspace(dtype):
    rng = np.random.default_rng(3)
    x, w = rand(rng, (2, 16, 12, 12), dtype), rand(rng, (24, 16, 3, 3), dtype)
    want = fastconv.conv2d(nhwc(x), w, padding=1, layout="NHWC")
    # a small budget: smaller pixel blocks, the same sums
    small = fastconv.conv2d(nhwc(x), w, padding=1, layout="NHWC",
                            max_workspace_bytes=64 << 10)
    assert_exact(small, want)
    with pytest.raises(ValueError, match=r"max_workspace_bytes=64 is below the \d+ bytes"):
        fastconv.conv2d(nhwc(x), w, padding=1, layout="NHWC", max_workspace_bytes=64)


POOL_CASES = [  # (N, C, H, W, kernel, stride, padding, dilation, ceil_mode)
    (2, 3, 9, 11, 2, 2, 0, 1, False),
    (1, 37, 13, 12, 3, 2, 1, 1, True),
    (2, 40, 8, 8, 3, 1, 1, 2, False),
    (1, 5, 7, 7, (2, 3), (1, 2), (1, 1), 1, True),
    (1, 1, 10, 10, 9, 1, 4, 1, False),   # a window of 81: the kernel lists it off the stack
]


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_pooling_nhwc_is_nchw_transposed(isa, dtype, case):
    n, c, h, w, k, s, p, d, ceil_mode = case
    rng = np.random.default_rng(4)
    x = rand(rng, (n, c, h, w), dtype)
    x[0, 0, 1, 1] = np.nan        # the first NaN wins
    x[0, -1, 2, :] = 3.0          # ties: the first in window order
    x[-1, 0, -1, -1] = -np.inf
    y, i = fastconv.max_pool2d(x, k, s, p, d, ceil_mode, return_indices=True)
    yh, ih = fastconv.max_pool2d(nhwc(x), k, s, p, d, ceil_mode, return_indices=True,
                                 layout="NHWC")
    assert_exact(yh, nhwc(y))
    assert_exact(ih, nhwc(i))
    assert_exact(fastconv.max_pool2d(strided_nhwc(x), k, s, p, d, ceil_mode, layout="NHWC"),
                 nhwc(y))
    g = rand(rng, y.shape, dtype)
    assert_exact(fastconv.max_pool2d_backward(nhwc(g), nhwc(i), nhwc(x).shape, layout="NHWC"),
                 nhwc(fastconv.max_pool2d_backward(g, i, x.shape)))
    if d != 1:
        return
    x = np.nan_to_num(x)
    for cip, divisor in ((True, None), (False, None), (True, 3)):
        kw = dict(ceil_mode=ceil_mode, count_include_pad=cip, divisor_override=divisor)
        ya = fastconv.avg_pool2d(x, k, s, p, **kw)
        assert_exact(fastconv.avg_pool2d(nhwc(x), k, s, p, layout="NHWC", **kw), nhwc(ya))
        ga = rand(rng, ya.shape, dtype)
        assert_exact(fastconv.avg_pool2d_backward(nhwc(ga), nhwc(x).shape, k, s, p,
                                                  layout="NHWC", **kw),
                     nhwc(fastconv.avg_pool2d_backward(ga, x.shape, k, s, p, **kw)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_pooling_nhwc_unbatched(dtype):
    x = rand(np.random.default_rng(5), (6, 8, 8), dtype)
    y, i = fastconv.max_pool2d(x, 2, return_indices=True)
    yh, ih = fastconv.max_pool2d(nhwc(x), 2, return_indices=True, layout="NHWC")
    assert_exact(yh, nhwc(y))
    assert_exact(ih, nhwc(i))
    assert_exact(fastconv.max_pool2d_backward(nhwc(y), ih, nhwc(x).shape, layout="NHWC"),
                 nhwc(fastconv.max_pool2d_backward(y, i, x.shape)))
    assert_exact(fastconv.avg_pool2d(nhwc(x), 3, 2, 1, layout="NHWC"),
                 nhwc(fastconv.avg_pool2d(x, 3, 2, 1)))


def test_max_pool2d_backward_nhwc_bad_index():
    x = np.zeros((1, 4, 4, 3), np.float32)
    y, i = fastconv.max_pool2d(x, 2, return_indices=True, layout="NHWC")
    i[0, 1, 0, 2] = 16
    with pytest.raises(ValueError, match=r"indices must lie in \[-1, H \* W = 16\).*got 16 at "
                                         r"\(0, 1, 0, 2\)"):
        fastconv.max_pool2d_backward(np.ones_like(y), i, x.shape, layout="NHWC")


def _nhwc_runs(dtype):
    """Each NHWC op once, on shapes whose work takes several threads."""
    rng = np.random.default_rng(6)
    x = rand(rng, (2, 23, 21, 37), dtype)
    w = rand(rng, (37, 37, 3, 3), dtype)
    y, i = fastconv.max_pool2d(x, 3, 2, 1, return_indices=True, layout="NHWC")
    g = rand(rng, y.shape, dtype)
    return [fastconv.conv2d(x, w, padding=1, layout="NHWC"),
            fastconv.conv2d(x, w[:, :1], groups=37, padding=1, layout="NHWC"),
            y, i, fastconv.avg_pool2d(x, 3, 2, 1, layout="NHWC"),
            fastconv.max_pool2d_backward(g, i, x.shape, layout="NHWC"),
            fastconv.avg_pool2d_backward(g, x.shape, 3, 2, 1, layout="NHWC")]


@pytest.mark.parametrize("dtype", DTYPES)
def test_nhwc_bitwise_across_thread_counts(isa, restore_threads, dtype):
    fastconv.set_num_threads(1)
    first = _nhwc_runs(dtype)
    for threads in (2, 3, 4):
        fastconv.set_num_threads(threads)
        for k, (a, e) in enumerate(zip(_nhwc_runs(dtype), first)):
            assert_bitwise_equal(a, e, f"result {k} at {threads} threads against 1 thread")


def test_nn_layers_nhwc():
    rng = np.random.default_rng(7)
    x = rand(rng, (2, 3, 10, 10), np.float32)
    conv, conv_h = nn.Conv2d(3, 8, 3, padding=1, rng=0), nn.Conv2d(3, 8, 3, padding=1, rng=0,
                                                                      layout="NHWC")
    layers = [nn.ReLU(), nn.MaxPool2d(2), nn.AvgPool2d(2)]
    layers_h = [nn.ReLU(layout="NHWC"), nn.MaxPool2d(2, layout="NHWC"),
                nn.AvgPool2d(2, layout="NHWC")]
    y, yh = conv(x), conv_h(nhwc(x))
    np.testing.assert_allclose(yh, nhwc(y), rtol=1e-5, atol=1e-6)  # auto may differ: not im2col
    for a, b in zip(layers, layers_h):
        y, yh = a(y), b(nhwc(y))
        assert_exact(yh, nhwc(y))
    g = np.ones_like(y)
    for a, b in zip(reversed(layers), reversed(layers_h)):
        g, gh = a.backward(g), b.backward(nhwc(g))
        assert_exact(gh, nhwc(g))
    # the NHWC backward (tests/test_conv2d_backward_nhwc.py) sums in another order
    np.testing.assert_allclose(conv_h.backward(nhwc(g)), nhwc(conv.backward(g)), rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(conv_h.weight.grad, conv.weight.grad, rtol=1e-4, atol=1e-4)


# ---- errors -------------------------------------------------------------------------------

def test_layout_argument_is_checked():
    x = np.zeros((1, 2, 4, 4), np.float32)
    w = np.zeros((2, 2, 1, 1), np.float32)
    for call in (lambda: fastconv.conv2d(x, w, layout="nhwc"),
                 lambda: fastconv.max_pool2d(x, 2, layout="CHWN"),
                 lambda: fastconv.avg_pool2d(x, 2, layout=4),
                 lambda: fastconv.relu(x, layout="NWHC"),
                 lambda: nn.MaxPool2d(2, layout="HWC")):
        with pytest.raises(ValueError, match="layout must be 'NCHW' or 'NHWC', got"):
            call()
    with pytest.raises(ValueError, match="layout='NHWC' runs one algorithm"):
        fastconv.conv2d(nhwc(x), w, layout="NHWC", algorithm="winograd")


@pytest.mark.parametrize("op", ["conv2d", "max_pool2d", "avg_pool2d"])
def test_2d_input_says_filter2d_or_add_axes(op):
    image = np.zeros((8, 8), np.float32)
    call = {"conv2d": lambda: fastconv.conv2d(image, np.zeros((1, 1, 3, 3), np.float32)),
            "max_pool2d": lambda: fastconv.max_pool2d(image, 2),
            "avg_pool2d": lambda: fastconv.avg_pool2d(image, 2)}[op]
    with pytest.raises(ValueError, match=rf"{op}: x must be 3-D .* got shape \(8, 8\); for an "
                                         r"image \(H, W\) use fastconv.filter2d, or add the "
                                         r"batch and channel axes: x\[None, None\]"):
        call()


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_channels_last_input_suggests_nhwc(channels):
    w = np.zeros((8, channels, 3, 3), np.float32)
    with pytest.raises(ValueError, match=rf"x looks channels-last \(its last axis is "
                                         rf"{channels}\): pass layout='NHWC', or make it "
                                         r"\(N, C, H, W\) with x.transpose\(0, 3, 1, 2\)"):
        fastconv.conv2d(np.zeros((2, 16, 16, channels), np.float32), w)
    with pytest.raises(ValueError, match=r"x.transpose\(2, 0, 1\)"):
        fastconv.conv2d(np.zeros((16, 16, channels), np.float32), w)


def test_channels_first_input_with_nhwc_says_so():
    w = np.zeros((8, 3, 3, 3), np.float32)
    with pytest.raises(ValueError, match=r"x looks channels-first \(axis 1 has 3\): drop "
                                         r"layout='NHWC', or make it channels-last with "
                                         r"x.transpose\(0, 2, 3, 1\)"):
        fastconv.conv2d(np.zeros((2, 3, 16, 16), np.float32), w, layout="NHWC")


def test_mismatch_without_a_layout_look_gives_no_hint():
    with pytest.raises(ValueError, match=r"x has 5 channels but weight expects 1 \* groups=1 "
                                         r"= 1 \(x shape \(1, 5, 6, 7\), weight shape "
                                         r"\(2, 1, 3, 3\)\)$"):
        fastconv.conv2d(np.zeros((1, 5, 6, 7), np.float32), np.zeros((2, 1, 3, 3), np.float32))


@pytest.mark.parametrize("dtype", [np.uint8, np.float16])
def test_unsupported_dtype_says_how_to_convert(dtype):
    x = np.zeros((1, 3, 8, 8), dtype)
    w = np.zeros((4, 3, 3, 3), np.float32)
    message = (rf"conv2d: x must be float32 or float64, got dtype {np.dtype(dtype)}; convert it "
               r"with x.astype\(np.float32\)")
    if dtype == np.uint8:
        message += r" \(for a uint8 image, fastconv.filter2d filters it as it is"
    with pytest.raises(TypeError, match=message):
        fastconv.conv2d(x, w)

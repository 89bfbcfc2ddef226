"""conv2d_backward(layout="NHWC"): grad_input, grad_weight and grad_bias on channels-last data
(ops/conv2d_backward_nhwc.tmpl.h) against the NCHW backward transposed, the float64 oracle and
the C reference twin, on every ISA path, both dtypes, every output_mask; thread counts and
workspace limits bitwise; inputs untouched; the errors.

The NHWC driver sums in its own order (grad_weight: the batch's pixels in order; grad_input:
pixel by pixel, taps ascending; grad_bias: pixels in order), which is not the NCHW drivers'
(virtual grid, lanes, row-major col2im): the two agree within the reduction bound of
tests/tolerances.py, and exactly on integer-valued inputs.  The reference twins of the two
layouts run the same loops, so those agree bit for bit."""
import numpy as np
import pytest

import fastconv
import fastconv.reference
import oracle
from fastconv import nn
from fastconv.ops import _ext
from test_nhwc import CONV_CASES, DTYPES, _conv_args, isa, nhwc  # noqa: F401 (isa: fixture)
from tolerances import (assert_bitwise_equal, assert_exact, assert_integer_exact,
                        assert_reduction_close)

MASKS = [(True, True, True), (True, False, False), (False, True, False), (False, False, True),
         (False, True, True)]

# beyond test_nhwc's cases: ResNet-like 3x3 (more filters than one tile of columns, bands of
# one image), a 3x3 stride 2, channel multiplier 2 over groups, a 1x1 stride 2, a filter
# bigger than the padded input's stride pattern
BACKWARD_CASES = CONV_CASES + [
    (1, 20, 14, 13, 40, 3, 3, 1, 1, 1, 1),
    (2, 18, 15, 15, 24, 3, 3, 2, 1, 1, 1),
    (2, 6, 9, 10, 12, 3, 3, 1, 1, 1, 6),
    (2, 16, 9, 9, 20, 1, 1, 2, 0, 1, 1),
    (1, 5, 6, 7, 9, 4, 5, 3, ((2, 3), (0, 4)), (2, 1), 1),
    # depthwise pass (groups == C == K): grad_weight in several ranges of channels, 5x5, s2
    (2, 80, 7, 9, 80, 3, 3, 1, 1, 1, 80),
    (1, 20, 9, 10, 20, 5, 5, 2, ((2, 1), (3, 2)), 1, 20),
]


def problem(case, dtype, seed=3, integer=False):
    """g, x (NCHW), w and the call's keywords; integer: small integers (exact sums)."""
    x_shape, w_shape, kw = _conv_args(case)
    rng = np.random.default_rng(seed)

    def draw(shape):
        return (rng.integers(-3, 4, shape) if integer else rng.standard_normal(shape)).astype(
            dtype)
    x, w = draw(x_shape), draw(w_shape)
    g = draw(fastconv.conv2d(x, w, **kw).shape)
    return g, x, w, kw


def oracle_args(kw):
    """The normalised stride, padding, dilation of the oracle from the API's spellings."""
    pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    pad = kw["padding"]
    pads = pad if isinstance(pad, tuple) and isinstance(pad[0], tuple) else tuple(
        (p, p) for p in pair(pad))
    return dict(stride=pair(kw["stride"]), padding=pads, dilation=pair(kw["dilation"]),
                groups=kw["groups"])


def lengths(case, g):
    """Terms per element of (grad_input, grad_weight, grad_bias)."""
    n, _, _, _, k, r, s, *_, groups = case
    pixels = n * g.shape[2] * g.shape[3]
    return max(1, k // groups * r * s), max(1, pixels), max(1, pixels)


@pytest.mark.parametrize("mask", MASKS, ids=lambda m: "".join("xwb"[i] for i in range(3)
                                                              if m[i]))
@pytest.mark.parametrize("case", BACKWARD_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_nhwc_backward_matches_nchw_oracle_and_twin(isa, nan_outputs, dtype, case, mask):
    g, x, w, kw = problem(case, dtype)
    gh, xh = nhwc(g), nhwc(x)
    saved = [a.copy() for a in (gh, xh, w)]
    nan_outputs.reset()
    got = fastconv.conv2d_backward(gh, xh, w, output_mask=mask, layout="NHWC", **kw)
    assert len(nan_outputs.calls) == sum(mask), "outputs must come from _empty"
    nchw = fastconv.conv2d_backward(g, x, w, output_mask=mask, **kw)
    twin = fastconv.reference.conv2d_backward(gh, xh, w, output_mask=mask, layout="NHWC", **kw)
    expected = oracle.conv2d_backward(g, x, w, **oracle_args(kw))
    bounds = oracle.conv2d_backward_abs_bound(g, x, w, **oracle_args(kw))
    for i, (a, b, t, e, bound, length) in enumerate(zip(got, nchw, twin, expected, bounds,
                                                        lengths(case, g))):
        if not mask[i]:
            assert a is None and t is None
            continue
        to_nchw = (lambda v: np.ascontiguousarray(v.transpose(0, 3, 1, 2))) if i == 0 else (
            lambda v: v)
        assert_reduction_close(to_nchw(a), e, bound, length, dtype)
        assert_reduction_close(to_nchw(t), e, bound, length, dtype)
        # against the NCHW result: both within the bound of the oracle, so within twice it
        assert_reduction_close(to_nchw(a), b.astype(np.float64), bound, 2 * length, dtype)
    for a, s in zip((gh, xh, w), saved):
        assert_exact(a, s)


@pytest.mark.parametrize("case", BACKWARD_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_nhwc_backward_integer_inputs_are_exact_and_twins_agree_bitwise(isa, dtype, case):
    g, x, w, kw = problem(case, dtype, integer=True)
    expected = oracle.conv2d_backward(g, x, w, **oracle_args(kw))
    got = fastconv.conv2d_backward(nhwc(g), nhwc(x), w, layout="NHWC", **kw)
    assert_integer_exact(np.ascontiguousarray(got[0].transpose(0, 3, 1, 2)), expected[0], dtype)
    assert_integer_exact(got[1], expected[1], dtype)
    assert_integer_exact(got[2], expected[2], dtype)
    # the reference twins of the two layouts run the same loops: the same bits
    g, x, w, kw = problem(case, dtype)
    twin = fastconv.reference.conv2d_backward(nhwc(g), nhwc(x), w, layout="NHWC", **kw)
    twin_nchw = fastconv.reference.conv2d_backward(g, x, w, **kw)
    assert_exact(twin[0], nhwc(twin_nchw[0]))
    assert_exact(twin[1], twin_nchw[1])
    assert_exact(twin[2], twin_nchw[2])


@pytest.mark.parametrize("dtype", DTYPES)
def test_nhwc_backward_masks_threads_and_workspace_do_not_change_a_bit(isa, restore_threads,
                                                                       dtype):
    case = (2, 37, 13, 23, 37, 3, 3, 1, 1, 1, 1)
    g, x, w, kw = problem(case, dtype, seed=9)
    gh, xh = nhwc(g), nhwc(x)
    fastconv.set_num_threads(1)
    first = fastconv.conv2d_backward(gh, xh, w, layout="NHWC", **kw)
    for threads in (2, 3, 4):
        fastconv.set_num_threads(threads)
        for batch in (slice(None), slice(0, 1)):  # one image: grad_input in bands
            ref = first if batch == slice(None) else None
            got = fastconv.conv2d_backward(gh[batch], xh[batch], w, layout="NHWC", **kw)
            if ref is None:
                fastconv.set_num_threads(1)
                ref = fastconv.conv2d_backward(gh[batch], xh[batch], w, layout="NHWC", **kw)
                fastconv.set_num_threads(threads)
            for k, (a, e) in enumerate(zip(got, ref)):
                assert_bitwise_equal(a, e, f"gradient {k} at {threads} threads, batch {batch}")
    for mask in MASKS[1:]:
        got = fastconv.conv2d_backward(gh, xh, w, output_mask=mask, layout="NHWC", **kw)
        for k, (a, e) in enumerate(zip(got, first)):
            if mask[k]:
                assert_bitwise_equal(a, e, f"gradient {k} under output_mask {mask}")
    with pytest.raises(ValueError, match=r"conv2d_backward: max_workspace_bytes=64 is below "
                                         r"the \d+ bytes per thread this backward pass needs "
                                         r"\(x shape \(2, 13, 23, 37\), weight shape "
                                         r"\(37, 37, 3, 3\)\)") as info:
        fastconv.conv2d_backward(gh, xh, w, layout="NHWC", max_workspace_bytes=64, **kw)
    least = int(str(info.value).split("the ")[1].split(" bytes")[0])
    for limit in (4 * least, least):  # smaller blocks and kc, down to the least: the same sums
        got = fastconv.conv2d_backward(gh, xh, w, layout="NHWC", max_workspace_bytes=limit,
                                       **kw)
        for k, (a, e) in enumerate(zip(got, first)):
            assert_bitwise_equal(a, e, f"gradient {k} with max_workspace_bytes={limit}")
    with pytest.raises(ValueError, match=f"max_workspace_bytes={least - 1} is below the "
                                         f"{least} bytes"):
        fastconv.conv2d_backward(gh, xh, w, layout="NHWC", max_workspace_bytes=least - 1, **kw)


@pytest.mark.parametrize("groups", [6, 3], ids=["depthwise", "grouped"])
def test_nhwc_backward_with_an_infinite_weight_matches_the_twin(isa, groups):
    """An infinite weight: the depthwise pass hands grad_input to the GEMM (a tap with no term
    would add 0 * inf); NaN and infinity where the reference has them, the rest close."""
    g, x, w, kw = problem((2, 6, 7, 8, 6, 3, 3, 2, 1, 1, groups), np.float64)
    w[1, 0, 1, 2] = np.inf
    got = fastconv.conv2d_backward(nhwc(g), nhwc(x), w, layout="NHWC", **kw)
    twin = fastconv.reference.conv2d_backward(nhwc(g), nhwc(x), w, layout="NHWC", **kw)
    for a, e in zip(got, twin):
        assert np.array_equal(np.isnan(a), np.isnan(e))
        assert np.array_equal(np.isinf(a), np.isinf(e))
        finite = np.isfinite(e)
        np.testing.assert_allclose(a[finite], e[finite], rtol=1e-12, atol=1e-12)
    assert np.isinf(twin[0]).any()


def test_nhwc_backward_unbatched_strided_and_empty_inputs():
    g, x, w, kw = problem((1, 6, 8, 9, 10, 3, 3, 1, 1, 1, 2), np.float64)
    want = fastconv.conv2d_backward(nhwc(g), nhwc(x), w, layout="NHWC", **kw)
    got = fastconv.conv2d_backward(nhwc(g)[0], nhwc(x)[0], w, layout="NHWC", **kw)
    assert got[0].shape == (8, 9, 6)
    assert_exact(got[0], want[0][0])
    assert_exact(got[1], want[1])
    # a non-contiguous x (a view with steps): the values count, not the strides
    big = np.zeros((1, 16, 18, 12))
    view = big[:, ::2, ::2, ::2]
    view[...] = nhwc(x)
    got = fastconv.conv2d_backward(nhwc(g), view, w, layout="NHWC", **kw)
    for a, e in zip(got, want):
        assert_exact(a, e)
    # no image / no filter: zero gradients of the right shapes
    x0 = np.zeros((0, 6, 6, 4), np.float32)
    gx, gw, gb = fastconv.conv2d_backward(np.zeros((0, 3, 3, 8), np.float32), x0,
                                          np.ones((8, 2, 3, 3), np.float32), stride=2,
                                          padding=1, groups=2, layout="NHWC")
    assert gx.shape == x0.shape
    assert_exact(gw, np.zeros((8, 2, 3, 3), np.float32))
    assert_exact(gb, np.zeros(8, np.float32))
    gx, gw, gb = fastconv.conv2d_backward(np.zeros((2, 3, 3, 0)), np.ones((2, 5, 5, 3)),
                                          np.ones((0, 3, 3, 3)), layout="NHWC")
    assert_exact(gx, np.zeros((2, 5, 5, 3)))
    assert gw.shape == (0, 3, 3, 3) and gb.shape == (0,)


def test_nhwc_backward_errors_name_the_op_argument_and_shapes():
    x = np.zeros((1, 4, 4, 2), np.float32)
    w = np.zeros((3, 2, 1, 1), np.float32)
    g = np.zeros((1, 4, 4, 3), np.float32)
    with pytest.raises(ValueError, match=r"conv2d_backward: layout must be 'NCHW' or 'NHWC', "
                                         r"got 'nhwc'"):
        fastconv.conv2d_backward(g, x, w, layout="nhwc")
    with pytest.raises(ValueError, match=r"conv2d_backward: grad_output must have the "
                                         r"forward's output shape \(1, 4, 4, 3\) \(x shape "
                                         r"\(1, 4, 4, 2\), weight shape \(3, 2, 1, 1\).*"
                                         r"layout 'NHWC'\), got \(1, 3, 4, 4\)"):
        fastconv.conv2d_backward(np.zeros((1, 3, 4, 4), np.float32), x, w, layout="NHWC")
    with pytest.raises(ValueError, match=r"conv2d_backward: x has 4 channels but weight "
                                         r"expects 2 \* groups=1 = 2 \(x shape \(1, 2, 4, 4\), "
                                         r"weight shape \(3, 2, 1, 1\)\)"):
        fastconv.conv2d_backward(g, np.zeros((1, 2, 4, 4), np.float32), w, layout="NHWC")
    with pytest.raises(ValueError, match=r"conv2d_backward: layout='NHWC' runs one algorithm "
                                         r"for grad_input.*got algorithm='winograd'"):
        fastconv.conv2d_backward(g, x, w, layout="NHWC", algorithm="winograd")
    with pytest.raises(TypeError, match=r"conv2d_backward: .*grad_output"):
        fastconv.conv2d_backward(g.astype(np.float64), x, w, layout="NHWC")


def test_nn_conv2d_nhwc_trains_like_nchw():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 10, 10)).astype(np.float64)
    conv = nn.Conv2d(3, 8, 3, stride=2, padding=1, rng=0, dtype=np.float64, activation="relu")
    conv_h = nn.Conv2d(3, 8, 3, stride=2, padding=1, rng=0, dtype=np.float64,
                       activation="relu", layout="NHWC")
    y, yh = conv(x), conv_h(nhwc(x))
    np.testing.assert_allclose(yh, nhwc(y), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(y.shape)
    gx, gxh = conv.backward(g), conv_h.backward(nhwc(g))
    np.testing.assert_allclose(gxh, nhwc(gx), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(conv_h.weight.grad, conv.weight.grad, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(conv_h.bias.grad, conv.bias.grad, rtol=1e-12, atol=1e-12)

"""conv2d_backward's grad_input by Winograd F(4x4, 3x3) (algorithm="winograd", or "auto" at
precision "high") against the float64 oracle.

grad_input of a 3x3 stride-1 convolution is the 3x3 stride-1 convolution of grad_output with
the filters turned by 180 degrees and C, K swapped per group, padded by 2 - pad on each side;
the driver reads the forward's weight that way (no copy).  Its error bound is the forward's
Winograd bound (tolerances.winograd_abs_bound) of that convolution, with Kg channels per
group.  Shapes cross the tile edges (H, W not multiples of 4), every padding 0..2 and
asymmetric ones, groups and batches, on every ISA path of the machine; grad_weight and
grad_bias are the GEMM's, bitwise; results are bitwise identical for any thread count and
schedule; at precision "highest" nothing changes.
"""
import numpy as np
import pytest

import fastconv
import oracle
from fastconv import _ext
from tolerances import assert_bitwise_equal, assert_winograd_close, winograd_abs_bound
from test_winograd import isa  # noqa: F401  (the ISA fixture: every path of the machine)


def _pads(padding):
    if isinstance(padding, int):
        return ((padding, padding), (padding, padding))
    return padding


def _turned(w, groups):
    """The transposed convolution's filters: (C, K / groups, 3, 3), filter c's channel k the
    forward's filter k, channel c, turned by 180 degrees (within each group)."""
    k, cg = w.shape[:2]
    kg = k // groups
    wg = w.reshape(groups, kg, cg, 3, 3)[..., ::-1, ::-1]
    return np.ascontiguousarray(wg.transpose(0, 2, 1, 3, 4).reshape(groups * cg, kg, 3, 3))


def _case(rng, n, c, h, wd, k, padding=0, groups=1):
    pads = _pads(padding)
    x = rng.standard_normal((n, c, h, wd)).astype(np.float32)
    w = rng.standard_normal((k, c // groups, 3, 3)).astype(np.float32)
    out_h = h + pads[0][0] + pads[0][1] - 2
    out_w = wd + pads[1][0] + pads[1][1] - 2
    g = rng.standard_normal((n, k, out_h, out_w)).astype(np.float32)
    return x, w, g, pads


def _check(x, w, g, pads, groups=1, **kwargs):
    """grad_input by Winograd within its bound of the oracle, the other gradients the GEMM's
    bitwise, inputs untouched; returns grad_input."""
    copies = [a.copy() for a in (x, w, g)]
    gi, gw, gb = fastconv.conv2d_backward(g, x, w, padding=pads, groups=groups,
                                          algorithm="winograd", **kwargs)
    expected = oracle.conv2d_backward(g, x, w, padding=pads, groups=groups)[0]
    back = tuple((2 - a, 2 - b) for a, b in pads)
    bound = winograd_abs_bound(g, _turned(w, groups), None, back, groups)
    assert_winograd_close(gi, expected, bound, w.shape[0] // groups)
    _, gw0, gb0 = fastconv.conv2d_backward(g, x, w, padding=pads, groups=groups,
                                           algorithm="im2col", **kwargs)
    assert_bitwise_equal(gw, gw0, "grad_weight")
    assert_bitwise_equal(gb, gb0, "grad_bias")
    for a, b, name in zip((x, w, g), copies, ("x", "weight", "grad_output")):
        assert_bitwise_equal(a, b, f"{name} after the call")
    return gi


def test_turned_filters_are_the_transposed_convolution():
    """The identity the driver relies on, checked on the oracle alone (not on fastconv)."""
    rng = np.random.default_rng(1)
    x, w, g, pads = _case(rng, 2, 6, 7, 9, 4, ((0, 2), (1, 2)), groups=2)
    expected = oracle.conv2d_backward(g, x, w, padding=pads, groups=2)[0]
    back = tuple((2 - a, 2 - b) for a, b in pads)
    got = oracle.conv2d(g.astype(np.float64), _turned(w, 2).astype(np.float64), padding=back,
                        groups=2)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_every_input_size_up_to_9(isa):
    """H, W = 1 .. 9 at padding 1: one tile cut by the edge, whole tiles, a cut run."""
    rng = np.random.default_rng(2)
    for h in range(1, 10):
        for wd in (1, 4, 5, 8, 9):
            x, w, g, pads = _case(rng, 2, 3, h, wd, 5, 1)
            assert _check(x, w, g, pads).shape == x.shape


@pytest.mark.parametrize("padding", [0, 1, 2, ((0, 2), (1, 0)), ((2, 0), (0, 1)),
                                     ((1, 2), (2, 1))])
def test_padding(isa, padding):
    rng = np.random.default_rng(3)
    x, w, g, pads = _case(rng, 2, 6, 10, 7, 4, padding)
    _check(x, w, g, pads)


@pytest.mark.parametrize("c,k,groups", [(1, 1, 1), (9, 7, 1), (7, 9, 1), (16, 33, 1),
                                        (12, 8, 4), (6, 6, 6), (40, 300, 2)])
def test_channels_filters_groups(isa, c, k, groups):
    """C, K around the register tiles, groups, depthwise, and K > 256 (several kc slices of
    the transposed reduction over K)."""
    rng = np.random.default_rng(c * 1000 + k)
    x, w, g, pads = _case(rng, 3, c, 9, 11, k, 1, groups)
    _check(x, w, g, pads, groups)


def test_padding_past_the_filter():
    """pad 3 reads the transposed convolution at padding -1 (grad_output rows never used)."""
    rng = np.random.default_rng(4)
    x, w, g, pads = _case(rng, 1, 3, 6, 5, 4, ((3, 0), (1, 3)))
    gi = fastconv.conv2d_backward(g, x, w, padding=pads, algorithm="winograd")[0]
    expected = oracle.conv2d_backward(g, x, w, padding=pads)[0]
    scale = np.abs(expected).max()
    np.testing.assert_allclose(gi, expected, atol=1e-5 * scale, rtol=0)


def test_only_grad_input_and_unbatched(isa):
    rng = np.random.default_rng(5)
    x, w, g, pads = _case(rng, 1, 8, 9, 10, 8, 1)
    full = fastconv.conv2d_backward(g, x, w, padding=1, algorithm="winograd")[0]
    alone = fastconv.conv2d_backward(g, x, w, padding=1, algorithm="winograd",
                                     output_mask=(True, False, False))
    assert alone[1] is None and alone[2] is None
    assert_bitwise_equal(alone[0], full, "grad_input alone")
    one = fastconv.conv2d_backward(g[0], x[0], w, padding=1, algorithm="winograd")[0]
    assert_bitwise_equal(one, full[0], "unbatched")


def test_bitwise_identical_over_threads_and_schedules(isa, restore_threads):
    rng = np.random.default_rng(6)
    x, w, g, pads = _case(rng, 3, 37, 23, 21, 20, 1)
    fastconv.set_num_threads(1)
    first = fastconv.conv2d_backward(g, x, w, padding=1, algorithm="winograd")
    try:
        for threads in (2, 3, 4):
            fastconv.set_num_threads(threads)
            got = fastconv.conv2d_backward(g, x, w, padding=1, algorithm="winograd")
            for a, b, name in zip(got, first, ("grad_input", "grad_weight", "grad_bias")):
                assert_bitwise_equal(a, b, f"{name}, {threads} threads on {isa}")
        for mode, seed, threads in [(_ext.SCHEDULE_SHUFFLE, 1, 1), (_ext.SCHEDULE_SHUFFLE, 2, 2),
                                    (_ext.SCHEDULE_DELAY | _ext.SCHEDULE_SHUFFLE, 3, 3)]:
            fastconv.set_num_threads(threads)
            _ext.set_schedule_test(mode, seed)
            got = fastconv.conv2d_backward(g, x, w, padding=1, algorithm="winograd")
            assert_bitwise_equal(got[0], first[0], f"schedule {mode}, {threads} threads")
    finally:
        _ext.set_schedule_test(0)


def test_precision_controls_auto(restore_precision):
    """"highest" (the default) keeps the GEMM, bitwise; "high" runs Winograd where the
    forward's rule prefers it for the transposed convolution (16+ channels and filters per
    group, 32+ tiles of the input), per call or globally; "im2col" forces the GEMM."""
    assert restore_precision == "highest"
    rng = np.random.default_rng(7)
    x, w, g, pads = _case(rng, 1, 16, 30, 30, 16, 1)     # 64 tiles: Winograd's
    xs, ws, gs, _ = _case(rng, 1, 16, 12, 12, 16, 1)     # 9 tiles: not
    gemm = fastconv.conv2d_backward(g, x, w, padding=1, algorithm="im2col")
    wino = fastconv.conv2d_backward(g, x, w, padding=1, algorithm="winograd")
    assert not np.array_equal(wino[0], gemm[0])  # else the checks below prove nothing
    for precision, want in [(None, gemm), ("highest", gemm), ("high", wino)]:
        got = fastconv.conv2d_backward(g, x, w, padding=1, precision=precision)
        for a, b, name in zip(got, want, ("grad_input", "grad_weight", "grad_bias")):
            assert_bitwise_equal(a, b, f"{name} at precision {precision}")
    small = fastconv.conv2d_backward(gs, xs, ws, padding=1, algorithm="im2col")[0]
    assert_bitwise_equal(fastconv.conv2d_backward(gs, xs, ws, padding=1, precision="high")[0],
                         small, "high, few tiles")
    # past 128 x 128 filters per group it needs 128 tiles (csrc/ops/conv2d.c): 64 stay GEMM
    one = dict(padding=1, output_mask=(True, False, False))
    for n, want in [(4, "im2col"), (8, "winograd")]:
        xb, wb, gb, _ = _case(rng, n, 160, 16, 16, 160, 1)
        assert_bitwise_equal(fastconv.conv2d_backward(gb, xb, wb, precision="high", **one)[0],
                             fastconv.conv2d_backward(gb, xb, wb, algorithm=want, **one)[0],
                             f"high, 160 x 160 filters, {16 * n} tiles: {want}")
    fastconv.set_precision("high")
    assert_bitwise_equal(fastconv.conv2d_backward(g, x, w, padding=1)[0], wino[0],
                         "set_precision high")
    assert_bitwise_equal(fastconv.conv2d_backward(g, x, w, padding=1, precision="highest")[0],
                         gemm[0], "per-call highest over the global high")
    assert_bitwise_equal(fastconv.conv2d_backward(g, x, w, padding=1, algorithm="im2col")[0],
                         gemm[0], "im2col at high")
    x64, w64, g64 = (a.astype(np.float64) for a in (x, w, g))
    assert_bitwise_equal(fastconv.conv2d_backward(g64, x64, w64, padding=1)[0],
                         fastconv.conv2d_backward(g64, x64, w64, padding=1,
                                                  precision="highest")[0], "float64 at high")


def test_workspace_limit():
    rng = np.random.default_rng(8)
    x, w, g, pads = _case(rng, 1, 64, 20, 20, 64, 1)
    full = fastconv.conv2d_backward(g, x, w, padding=1, algorithm="winograd",
                                    output_mask=(True, False, False))[0]
    with pytest.raises(ValueError, match=r"max_workspace_bytes=1000 is below the (\d+) bytes"):
        fastconv.conv2d_backward(g, x, w, padding=1, algorithm="winograd",
                                 output_mask=(True, False, False), max_workspace_bytes=1000)
    for limit in (200_000, 600_000):
        got = fastconv.conv2d_backward(g, x, w, padding=1, algorithm="winograd",
                                       output_mask=(True, False, False),
                                       max_workspace_bytes=limit)[0]
        assert_bitwise_equal(got, full, f"max_workspace_bytes={limit}")


@pytest.mark.parametrize("kwargs,w_shape,dtype,match", [
    ({"stride": 2}, (4, 3, 3, 3), np.float32, "algorithm='winograd' needs 3x3 .*stride 1"),
    ({"dilation": 2}, (4, 3, 3, 3), np.float32, "algorithm='winograd' needs .*dilation 1"),
    ({}, (4, 3, 5, 5), np.float32, "algorithm='winograd' needs 3x3 filters"),
    ({}, (4, 3, 3, 3), np.float64, "algorithm='winograd' runs float32 only"),
    ({"algorithm": "direct"}, (4, 3, 3, 3), np.float32, "algorithm must be one of 'auto', "
                                                        "'im2col', 'winograd'"),
    ({"algorithm": None}, (4, 3, 3, 3), np.float32, "algorithm must be one of"),
    ({"algorithm": "auto", "precision": "low"}, (4, 3, 3, 3), np.float32,
     "precision must be"),
])
def test_bad_arguments_raise(kwargs, w_shape, dtype, match):
    kwargs = {"algorithm": "winograd", **kwargs}
    x = np.ones((1, 3, 9, 9), dtype)
    w = np.ones(w_shape, dtype)
    y = fastconv.conv2d(x, w, stride=kwargs.get("stride", 1),
                        dilation=kwargs.get("dilation", 1))
    with pytest.raises(ValueError, match=f"conv2d_backward: {match}"):
        fastconv.conv2d_backward(np.ones_like(y), x, w, **kwargs)

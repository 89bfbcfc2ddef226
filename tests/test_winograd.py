"""conv2d algorithm="winograd" (F(4x4, 3x3), float32) against the float64 oracle.

Its rounding differs from the exact-order sums of the other algorithms, so it has a tolerance
of its own (tolerances.assert_winograd_close: the first-order bound of the transforms taken in
absolute value).  Shapes cross every edge of the driver: output sizes 1 to 9 (tiles cut by
the image edge, runs of tiles shorter and longer than a vector of tiles), channels and filters
around the register tiles (1, 7, 8, 9, 16, 33: MR 4, 6, 8, lanes 8, 16), symmetric and
asymmetric padding, groups, batches whose tiles share a GEMM panel, bias and ReLU; on every
ISA path of the machine, switched in-process.  Integer-valued inputs must come out exact
(G' = 24 G keeps every transform integer; csrc/kernels/winograd/winograd.h); results are
bitwise identical for any thread count and schedule.
"""
import itertools

import numpy as np
import pytest

import fastconv
import oracle
from fastconv import _ext
from tolerances import (assert_bitwise_equal, assert_integer_exact, assert_reduction_close,
                        assert_winograd_close, winograd_abs_bound)

ISAS = list(_ext.ISA_NAMES)
SESSION_ISA = _ext.active_isa()


@pytest.fixture(params=[pytest.param(isa, marks=pytest.mark.skipif(
    ISAS.index(isa) > ISAS.index(SESSION_ISA),
    reason=f"the session runs {SESSION_ISA} (CPU: {_ext.cpu_isa()})")) for isa in ISAS])
def isa(request):
    """Run on one ISA path; the session's path is restored afterwards."""
    _ext.select_isa(request.param)
    yield request.param
    _ext.select_isa(SESSION_ISA)


def _pads(padding):
    if isinstance(padding, int):
        return ((padding, padding), (padding, padding))
    return padding


def _check(x, w, b=None, padding=0, groups=1, activation=None):
    """algorithm="winograd" within its bound of the oracle; returns the result."""
    xc, wc = x.copy(), w.copy()
    y = fastconv.conv2d(x, w, b, padding=padding, groups=groups, activation=activation,
                        algorithm="winograd")
    pads = _pads(padding)
    expected = oracle.conv2d(x, w, b, padding=pads, groups=groups)
    if activation == "relu":
        expected = np.maximum(expected, 0)
    assert_winograd_close(y, expected, winograd_abs_bound(x, w, b, pads, groups),
                          w.shape[1])
    assert_bitwise_equal(x, xc, "x after the call")
    assert_bitwise_equal(w, wc, "weight after the call")
    return y


def _inputs(rng, n, c, h, wd, k, groups=1, bias=True):
    x = rng.standard_normal((n, c, h, wd)).astype(np.float32)
    w = rng.standard_normal((k, c // groups, 3, 3)).astype(np.float32)
    b = rng.standard_normal(k).astype(np.float32) if bias else None
    return x, w, b


def test_every_output_size_up_to_9(isa):
    """P, Q = 1 .. 9: one tile cut by the edge, whole tiles, a run of tiles with a cut one."""
    rng = np.random.default_rng(0)
    for p, q in itertools.product(range(1, 10), repeat=2):
        x, w, b = _inputs(rng, 2, 3, p + 2, q + 2, 5)
        y = _check(x, w, b)
        assert y.shape == (2, 5, p, q)


@pytest.mark.parametrize("c,k", [(1, 1), (7, 9), (8, 8), (9, 7), (16, 33), (33, 16)])
def test_channels_and_filters_around_the_register_tiles(isa, c, k):
    rng = np.random.default_rng(c * 100 + k)
    x, w, b = _inputs(rng, 1, c, 11, 13, k)
    _check(x, w, b, padding=1)


@pytest.mark.parametrize("padding", [0, 1, 2, ((0, 2), (1, 0)), ((2, 0), (0, 1)),
                                     ((1, 2), (2, 1))])
def test_padding(isa, padding):
    rng = np.random.default_rng(7)
    x, w, b = _inputs(rng, 2, 4, 10, 7, 6)
    _check(x, w, b, padding=padding)


def test_groups_batch_bias_relu(isa):
    rng = np.random.default_rng(3)
    x, w, b = _inputs(rng, 3, 12, 9, 11, 8, groups=4)
    _check(x, w, b, padding=1, groups=4, activation="relu")
    _check(x, w, None, padding=1, groups=4)
    # unbatched input
    y = fastconv.conv2d(x[0], w, b, padding=1, groups=4, algorithm="winograd")
    assert_bitwise_equal(y, fastconv.conv2d(x[:1], w, b, padding=1, groups=4,
                                            algorithm="winograd")[0], "unbatched")


def test_many_tiles_and_deep_channels(isa):
    """More tiles than one GEMM panel, tile rows split across panels, several kc slices of
    the reduction (Cg > 256) and several k-blocks (K > 128)."""
    rng = np.random.default_rng(5)
    x, w, b = _inputs(rng, 2, 300, 10, 18, 140)
    _check(x, w, b, padding=1, activation="relu")


@pytest.mark.parametrize("width", [61, 64, 65, 127, 128, 129, 150])
def test_wide_rows_cut_into_runs(isa, width):
    """Tile rows wider than one GEMM panel (NR 32, 16, 4 tiles) are cut into runs, one per
    item; narrower ones share an item, side by side in the strip."""
    rng = np.random.default_rng(width)
    x, w, b = _inputs(rng, 2, 3, 7, width, 5)
    _check(x, w, b, padding=((1, 0), (1, 2)), activation="relu")


def test_integer_inputs_are_exact(isa):
    """x, w in {-1, 0, 1}, integer bias: every transform is integer (G' = 24 G) and below
    2^24 for up to 8 channels, and the scale fl(1/576) is exact on multiples of 576."""
    rng = np.random.default_rng(11)
    for c, k, padding in [(1, 3, 0), (8, 8, 1), (5, 9, ((2, 0), (1, 2)))]:
        x = rng.integers(-1, 2, (2, c, 9, 10)).astype(np.float32)
        w = rng.integers(-1, 2, (k, c, 3, 3)).astype(np.float32)
        b = rng.integers(-3, 4, k).astype(np.float32)
        y = fastconv.conv2d(x, w, b, padding=padding, algorithm="winograd")
        assert_integer_exact(y, oracle.conv2d(x, w, b, padding=_pads(padding)), np.float32)


def test_accuracy_on_normal_data_stays_small():
    """The measured error on N(0,1) data of a ResNet-like layer, relative to sum |x| |w|:
    some 3e-6 at most (docs/design.md, "Winograd"); the bound of the tests is far looser, this keeps
    the documented figure honest."""
    rng = np.random.default_rng(2)
    x, w, _ = _inputs(rng, 1, 64, 28, 28, 64, bias=False)
    y = fastconv.conv2d(x, w, padding=1, algorithm="winograd")
    pads = _pads(1)
    err = np.abs(y - oracle.conv2d(x, w, padding=pads))
    rel = err / oracle.conv2d_abs_bound(x, w, padding=pads)
    assert rel.max() < 1e-5
    assert np.median(rel) < 1e-7


def test_the_error_is_relative_to_the_patch_not_to_the_output():
    """The worst case of the transforms' growth: large values only at patch row and column 3
    (x rows and columns 2 mod 4 with padding 1), which output row and column 0 of the tile
    do not read.  Those outputs' error is then far beyond the bound of a direct sum of their
    own |x| |w| (docs/design.md: 8e-2 relative), yet within the Winograd bound, which counts the
    whole patch."""
    rng = np.random.default_rng(12)
    x = (rng.random((1, 16, 12, 12)) * 1e-3).astype(np.float32)
    x[:, :, 2::4, :] = 1e3
    x[:, :, :, 2::4] = 1e3
    w = rng.standard_normal((8, 16, 3, 3)).astype(np.float32)
    y = _check(x, w, padding=1)
    pads = _pads(1)
    expected = oracle.conv2d(x, w, padding=pads)
    with pytest.raises(AssertionError, match="not within the reduction bound"):
        assert_reduction_close(y, expected, oracle.conv2d_abs_bound(x, w, padding=pads),
                               16 * 9, np.float32)


def test_bitwise_identical_over_threads_and_schedules(isa, restore_threads):
    rng = np.random.default_rng(9)
    x, w, b = _inputs(rng, 3, 20, 23, 23, 37)
    fastconv.set_num_threads(1)
    first = fastconv.conv2d(x, w, b, padding=1, activation="relu", algorithm="winograd")
    try:
        for threads in (2, 3, 4):
            fastconv.set_num_threads(threads)
            got = fastconv.conv2d(x, w, b, padding=1, activation="relu", algorithm="winograd")
            assert_bitwise_equal(got, first, f"{threads} threads on {isa}")
        for mode, seed, threads in [(_ext.SCHEDULE_SHUFFLE, 1, 1), (_ext.SCHEDULE_SHUFFLE, 2, 2),
                                    (_ext.SCHEDULE_DELAY | _ext.SCHEDULE_SHUFFLE, 3, 3)]:
            fastconv.set_num_threads(threads)
            _ext.set_schedule_test(mode, seed)
            got = fastconv.conv2d(x, w, b, padding=1, activation="relu", algorithm="winograd")
            assert_bitwise_equal(got, first, f"schedule {mode}, {threads} threads on {isa}")
    finally:
        _ext.set_schedule_test(0)


def test_workspace_limit():
    rng = np.random.default_rng(4)
    x, w, b = _inputs(rng, 1, 64, 20, 20, 64)
    full = fastconv.conv2d(x, w, b, padding=1, algorithm="winograd")
    with pytest.raises(ValueError, match=r"max_workspace_bytes=1000 is below the (\d+) bytes"):
        fastconv.conv2d(x, w, b, padding=1, algorithm="winograd", max_workspace_bytes=1000)
    # a limit that forces chunks of k-blocks and thin kc slices: same bits
    for limit in (200_000, 600_000):
        got = fastconv.conv2d(x, w, b, padding=1, algorithm="winograd",
                              max_workspace_bytes=limit)
        assert_bitwise_equal(got, full, f"max_workspace_bytes={limit}")


@pytest.mark.parametrize("kwargs,w_shape,dtype,match", [
    ({"stride": 2}, (4, 3, 3, 3), np.float32, "stride 1"),
    ({"dilation": 2}, (4, 3, 3, 3), np.float32, "dilation 1"),
    ({}, (4, 3, 5, 5), np.float32, "3x3 filters"),
    ({}, (4, 3, 1, 3), np.float32, "3x3 filters"),
    ({}, (4, 3, 3, 3), np.float64, "float32 only"),
])
def test_shapes_it_cannot_do_raise(kwargs, w_shape, dtype, match):
    x = np.ones((1, 3, 9, 9), dtype)
    with pytest.raises(ValueError, match=f"conv2d: algorithm='winograd' .*{match}"):
        fastconv.conv2d(x, np.ones(w_shape, dtype), algorithm="winograd", **kwargs)


def test_auto_never_picks_winograd():
    """algorithm="auto" keeps exact-order sums (the precision contract of DESIGN.md)."""
    assert _ext.ALGORITHMS["winograd"] != _ext.ALGORITHMS["auto"]
    for shape in [(1, 64, 56, 56), (8, 128, 28, 28), (1, 512, 7, 7)]:
        name = _ext.conv2d_auto_algorithm(shape, (shape[1], shape[1], 3, 3), (1, 1),
                                          ((1, 1), (1, 1)), (1, 1), 1)
        assert name != "winograd"


def test_precision_controls_auto(restore_precision):
    """"highest" (the default) never runs Winograd; "high" runs it where the rule says
    (csrc/ops/conv2d.c winograd_preferred), globally or per call; algorithm="winograd"
    forces it at any precision."""
    assert restore_precision == "highest"
    rng = np.random.default_rng(8)
    x, w, b = _inputs(rng, 1, 16, 30, 30, 16)       # 64 tiles, 16 channels: Winograd's
    xs, ws, bs = _inputs(rng, 1, 16, 12, 12, 16)    # 9 tiles: not
    wino = fastconv.conv2d(x, w, b, padding=1, algorithm="winograd")
    exact = fastconv.conv2d(x, w, b, padding=1, algorithm="auto")
    assert not np.array_equal(wino, exact)  # else the checks below prove nothing
    assert_bitwise_equal(fastconv.conv2d(x, w, b, padding=1, precision="high"), wino, "high")
    assert_bitwise_equal(fastconv.conv2d(x, w, b, padding=1, precision="highest"), exact,
                         "highest")
    small = fastconv.conv2d(xs, ws, bs, padding=1)
    assert_bitwise_equal(fastconv.conv2d(xs, ws, bs, padding=1, precision="high"), small,
                         "high, few tiles")
    fastconv.set_precision("high")
    assert fastconv.get_precision() == "high"
    assert_bitwise_equal(fastconv.conv2d(x, w, b, padding=1), wino, "set_precision high")
    assert_bitwise_equal(fastconv.conv2d(x, w, b, padding=1, precision="highest"), exact,
                         "per-call highest over the global high")
    assert_bitwise_equal(fastconv.conv2d(x.astype(np.float64), w.astype(np.float64), None,
                                         padding=1),
                         fastconv.conv2d(x.astype(np.float64), w.astype(np.float64), None,
                                         padding=1, precision="highest"), "float64 at high")
    fastconv.set_precision("highest")
    assert_bitwise_equal(fastconv.conv2d(x, w, b, padding=1, algorithm="winograd"), wino,
                         "forced at highest")


@pytest.mark.parametrize("bad", ["low", "HIGH", None, 1])
def test_precision_values(restore_precision, bad):
    with pytest.raises(ValueError, match="set_precision: precision must be 'highest' or 'high'"):
        fastconv.set_precision(bad)
    if bad is not None:
        with pytest.raises(ValueError, match="conv2d: precision must be"):
            fastconv.conv2d(np.ones((1, 1, 5, 5), np.float32), np.ones((1, 1, 3, 3), np.float32),
                            precision=bad)
    assert fastconv.get_precision() == restore_precision


@pytest.mark.parametrize("activation,slope", [("relu6", None), ("leaky_relu", 0.2), ("relu", None),
                                              (None, None)])
def test_the_whole_epilogue_after_the_output_transform(isa, activation, slope):
    """Other activations and a residual: the output transform fuses the bias (and ReLU without
    a residual), the rest runs on y afterwards: y = act(winograd + bias + residual)."""
    rng = np.random.default_rng(11)
    x, w, b = _inputs(rng, 2, 16, 10, 9, 16)
    residual = rng.standard_normal((2, 16, 10, 9)).astype(np.float32)
    plain = fastconv.conv2d(x, w, b, padding=1, algorithm="winograd")
    y = fastconv.conv2d(x, w, b, padding=1, algorithm="winograd", activation=activation,
                        negative_slope=slope, residual=residual)
    v = plain + residual
    expected = {None: v, "relu": np.where(v > 0, v, 0),
                "relu6": np.minimum(np.where(v > 0, v, 0), 6),
                "leaky_relu": np.where(v > 0, v, v * np.float32(slope or 0))}[activation]
    assert_bitwise_equal(y, expected.astype(np.float32), f"winograd + {activation} + residual")

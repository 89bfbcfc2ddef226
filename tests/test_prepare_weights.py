"""fastconv.prepare_weights: Winograd's filters transformed once, passed to conv2d in place of
the weight.  Results are bitwise those of algorithm="winograd" on the same weight (every ISA
path, threads, epilogues, paddings, groups, batches); a call the plan does not fit raises
ValueError naming the mismatch; the plan is immutable, a snapshot of the weight, and not
picklable (its layout follows the GEMM of the ISA path that made it)."""
import copy
import pickle

import numpy as np
import pytest

import fastconv
from fastconv import _ext
from tolerances import assert_bitwise_equal
from test_winograd import isa  # noqa: F401  (the ISA fixture: every path of the machine)


def _layer(rng, c, k, groups=1):
    w = rng.standard_normal((k, c // groups, 3, 3)).astype(np.float32)
    b = rng.standard_normal(k).astype(np.float32)
    return w, b


@pytest.mark.parametrize("n,c,h,wd,k,groups,padding", [
    (1, 3, 5, 5, 4, 1, 0), (2, 5, 9, 7, 6, 1, 1), (1, 4, 6, 5, 6, 2, ((0, 2), (1, 0))),
    (3, 16, 13, 11, 33, 1, 2), (1, 300, 10, 18, 140, 1, 1), (2, 12, 9, 11, 8, 4, 1),
    (1, 8, 3, 130, 9, 1, ((1, 0), (1, 2))),
])
def test_bitwise_the_unprepared_winograd(isa, n, c, h, wd, k, groups, padding):
    rng = np.random.default_rng(c * 7 + k)
    x = rng.standard_normal((n, c, h, wd)).astype(np.float32)
    w, b = _layer(rng, c, k, groups)
    w_copy = w.copy()
    pw = fastconv.prepare_weights(w, groups=groups)
    assert_bitwise_equal(w, w_copy, "weight after prepare_weights")
    for bias, activation in [(b, "relu"), (None, None), (b, "leaky_relu")]:
        want = fastconv.conv2d(x, w, bias, padding=padding, groups=groups,
                               activation=activation, algorithm="winograd")
        got = fastconv.conv2d(x, pw, bias, padding=padding, groups=groups,
                              activation=activation)
        assert_bitwise_equal(got, want, f"prepared, bias {bias is not None}, {activation}")
    # unbatched, residual, out=, the algorithm named
    res = rng.standard_normal(want.shape).astype(np.float32)
    out = np.empty_like(want)
    got = fastconv.conv2d(x, pw, b, padding=padding, groups=groups, residual=res, out=out,
                          algorithm="winograd")
    assert got is out
    assert_bitwise_equal(got, fastconv.conv2d(x, w, b, padding=padding, groups=groups,
                                              residual=res, algorithm="winograd"), "residual")
    assert_bitwise_equal(fastconv.conv2d(x[0], pw, b, padding=padding, groups=groups),
                         fastconv.conv2d(x[:1], pw, b, padding=padding, groups=groups)[0],
                         "unbatched")


def test_threads_schedules_and_workspace(restore_threads):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 40, 21, 19)).astype(np.float32)
    w, b = _layer(rng, 40, 36)
    pw = fastconv.prepare_weights(w)
    fastconv.set_num_threads(1)
    first = fastconv.conv2d(x, w, b, padding=1, algorithm="winograd")
    try:
        for threads in (1, 2, 3):
            fastconv.set_num_threads(threads)
            assert_bitwise_equal(fastconv.conv2d(x, pw, b, padding=1), first, f"{threads} threads")
        fastconv.set_num_threads(2)
        _ext.set_schedule_test(_ext.SCHEDULE_DELAY | _ext.SCHEDULE_SHUFFLE, 5)
        assert_bitwise_equal(fastconv.conv2d(x, pw, b, padding=1), first, "shuffled schedule")
    finally:
        _ext.set_schedule_test(0)
    for limit in (150_000, 400_000):
        assert_bitwise_equal(fastconv.conv2d(x, pw, b, padding=1, max_workspace_bytes=limit),
                             first, f"max_workspace_bytes={limit}")
    with pytest.raises(ValueError, match=r"max_workspace_bytes=1000 is below the (\d+) bytes"):
        fastconv.conv2d(x, pw, b, padding=1, max_workspace_bytes=1000)


def test_precision_does_not_apply(restore_precision):
    """A prepared weight is an explicit choice of Winograd, as algorithm="winograd" is."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 16, 12, 12)).astype(np.float32)
    w, b = _layer(rng, 16, 16)
    pw = fastconv.prepare_weights(w)
    want = fastconv.conv2d(x, w, b, padding=1, algorithm="winograd")
    for precision in ("highest", "high"):
        assert_bitwise_equal(fastconv.conv2d(x, pw, b, padding=1, precision=precision), want,
                             precision)


def test_a_snapshot_of_the_weight():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 4, 8, 8)).astype(np.float32)
    w, b = _layer(rng, 4, 5)
    pw = fastconv.prepare_weights(w)
    before = fastconv.conv2d(x, pw, b)
    w *= 2
    assert_bitwise_equal(fastconv.conv2d(x, pw, b), before, "after the weight changed")
    assert not np.array_equal(fastconv.conv2d(x, fastconv.prepare_weights(w), b), before)


def test_read_only_copyable_not_picklable():
    w = np.ones((4, 2, 3, 3), np.float32)
    pw = fastconv.prepare_weights(w, groups=2)
    assert (pw.weight_shape, pw.groups, pw.dtype, pw.stride, pw.dilation, pw.algorithm) == \
        ((4, 2, 3, 3), 2, np.float32, (1, 1), (1, 1), "winograd")
    assert pw.isa == _ext.active_isa() and pw.nbytes > w.nbytes
    for name in ("groups", "weight_shape", "_u", "new"):
        with pytest.raises(AttributeError, match="immutable"):
            setattr(pw, name, 1)
    with pytest.raises(AttributeError, match="immutable"):
        del pw._u
    assert not pw._u.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        pw._u[0] = 1
    assert copy.copy(pw) is pw and copy.deepcopy(pw) is pw
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(pw)
    with pytest.raises(TypeError, match="made by fastconv.prepare_weights"):
        fastconv.PreparedWeights()
    assert "weight_shape=(4, 2, 3, 3)" in repr(pw)


@pytest.mark.parametrize("kwargs,match", [
    ({"groups": 2}, r"prepared for stride 1, dilation 1, groups=1, got .*groups=2"),
    ({"stride": 2}, r"prepared for stride 1, .*got stride \(2, 2\)"),
    ({"dilation": 2}, r"prepared for stride 1, .*dilation \(2, 2\)"),
    ({"algorithm": "im2col"}, r"prepared weights run algorithm='winograd', got "
                              r"algorithm='im2col'"),
    ({"x_dtype": np.float64}, "prepared for float32 x, got float64"),
    ({"channels": 5}, "x has 5 channels but weight expects 4"),
    ({"bias": np.ones(3, np.float32)}, r"bias must have shape \(6,\)"),
])
def test_calls_it_does_not_fit_raise(kwargs, match):
    pw = fastconv.prepare_weights(np.ones((6, 4, 3, 3), np.float32))
    x = np.ones((1, kwargs.pop("channels", 4), 8, 8), kwargs.pop("x_dtype", np.float32))
    with pytest.raises(ValueError, match=f"conv2d: .*{match}"):
        fastconv.conv2d(x, pw, **kwargs)


def test_another_gemm_layout_raises():
    """Prepared on one ISA path, called on another whose GEMM has other rows per panel."""
    session = _ext.active_isa()
    pw = fastconv.prepare_weights(np.ones((6, 4, 3, 3), np.float32))
    x = np.ones((1, 4, 8, 8), np.float32)
    want = fastconv.conv2d(x, np.ones((6, 4, 3, 3), np.float32), algorithm="winograd")
    others = [i for i in _ext.ISA_NAMES if i != session and
              list(_ext.ISA_NAMES).index(i) < list(_ext.ISA_NAMES).index(session)]
    if not others:
        pytest.skip(f"only the {session} path on this machine")
    try:
        _ext.select_isa("scalar")
        try:
            got = fastconv.conv2d(x, pw)
        except ValueError as e:
            assert f"prepare_weights ran on the {session} path" in str(e)
            assert "prepare them again" in str(e)
        else:   # the same GEMM rows: the layout holds, and so do the bits
            assert_bitwise_equal(got, want, "the same layout on another path")
    finally:
        _ext.select_isa(session)


@pytest.mark.parametrize("args,kwargs,error,match", [
    ((np.ones((4, 2, 5, 5), np.float32),), {}, ValueError, "needs 3x3 filters"),
    ((np.ones((4, 2, 3, 3), np.float64),), {}, ValueError, "float32 only"),
    ((np.ones((4, 2, 3, 3), np.float32),), {"stride": 2}, ValueError, "stride 1"),
    ((np.ones((4, 2, 3, 3), np.float32),), {"dilation": 2}, ValueError, "dilation 1"),
    ((np.ones((4, 2, 3, 3), np.float32),), {"groups": 3}, ValueError, "groups=3 must be"),
    ((np.ones((4, 2, 3, 3), np.float32),), {"algorithm": "im2col"}, ValueError,
     "algorithm must be 'winograd'"),
    ((np.ones((2, 3, 3), np.float32),), {}, ValueError, "needs 3x3 filters"),
])
def test_prepare_weights_rejects(args, kwargs, error, match):
    with pytest.raises(error, match=f"prepare_weights: .*{match}"):
        fastconv.prepare_weights(*args, **kwargs)


def test_the_reference_refuses_a_plan():
    pw = fastconv.prepare_weights(np.ones((2, 1, 3, 3), np.float32))
    with pytest.raises(ValueError, match="reference takes the weight"):
        fastconv.reference.conv2d(np.ones((1, 1, 5, 5), np.float32), pw)

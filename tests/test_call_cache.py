"""The per-shape caches of the ops (functional.py, under _ext.call_key): a call repeated with
the same shapes and arguments skips the argument checks.  Each test makes a call that fills
the cache, then repeats it with what the cache must not freeze or confuse: the precision
setting, a bool where an int was, a bad out=, the same data in another layout."""
import numpy as np
import pytest

import fastconv
from fastconv.ops import functional
from tolerances import assert_bitwise_equal


def _f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def test_a_repeated_call_follows_the_precision_setting(restore_precision):
    """auto is resolved on every call: the same call runs Winograd after set_precision("high")
    and the exact-order algorithm again after "highest" (conv2d and conv2d_backward)."""
    rng = np.random.default_rng(3)
    x, w, b = _f32(rng, 1, 16, 30, 30), _f32(rng, 16, 16, 3, 3), _f32(rng, 16)
    g = _f32(rng, 1, 16, 30, 30)
    cases = [
        (lambda **kw: fastconv.conv2d(x, w, b, padding=1, **kw), lambda y: y),
        (lambda **kw: fastconv.conv2d_backward(g, x, w, padding=1, **kw), lambda y: y[0]),
    ]
    for call, part in cases:
        exact = part(call())
        assert_bitwise_equal(part(call()), exact, "repeated at highest")
        wino = part(call(algorithm="winograd"))
        assert not np.array_equal(wino, exact)   # else the checks below prove nothing
        fastconv.set_precision("high")
        assert_bitwise_equal(part(call()), wino, "the same call after set_precision('high')")
        assert_bitwise_equal(part(call(precision="highest")), exact, "per call highest")
        fastconv.set_precision("highest")
        assert_bitwise_equal(part(call()), exact, "back at highest")


@pytest.mark.parametrize("op,good,bad", [
    ("conv2d", dict(stride=1), dict(stride=True)),
    ("conv2d", dict(stride=(1, 1)), dict(stride=(1, True))),
    ("conv2d", dict(groups=1), dict(groups=True)),
    ("conv2d", dict(padding=((0, 0), (1, 1))), dict(padding=((0, 0), (True, 1)))),
    ("conv2d_backward", dict(dilation=1), dict(dilation=True)),
    ("max_pool2d", dict(kernel_size=1), dict(kernel_size=True)),
    ("max_pool2d", dict(kernel_size=2, stride=1), dict(kernel_size=2, stride=1.0)),
])
def test_a_bool_or_float_never_finds_the_entry_of_an_int(op, good, bad):
    """True == 1 and 1.0 == 1 (with equal hashes): the key must tell them apart, or the int's
    entry would let the call through unchecked."""
    rng = np.random.default_rng(4)
    x, w = _f32(rng, 1, 1, 6, 6), _f32(rng, 1, 1, 1, 1)
    calls = {
        "conv2d": lambda kw: fastconv.conv2d(x, w, **kw),
        "conv2d_backward": lambda kw: fastconv.conv2d_backward(x, x, w, **kw),
        "max_pool2d": lambda kw: fastconv.max_pool2d(x, **kw),
    }
    for _ in range(2):
        calls[op](good)
    with pytest.raises(TypeError, match=op + ": "):
        calls[op](bad)


def test_out_is_checked_on_every_call():
    rng = np.random.default_rng(5)
    x, w = _f32(rng, 1, 1, 4, 4), _f32(rng, 1, 1, 1, 1)
    xl, wl = _f32(rng, 2, 4), _f32(rng, 4, 4)
    for call, shape, source in [
            (lambda out: fastconv.conv2d(x, w, out=out), (1, 1, 4, 4), x),
            (lambda out: fastconv.linear(xl, wl, out=out), (2, 4), xl)]:
        out = np.empty(shape, np.float32)
        assert call(out) is out and call(out) is out
        with pytest.raises(ValueError, match="out must have shape"):
            call(np.empty((1,) + shape, np.float32))
        with pytest.raises(TypeError, match="out must have dtype"):
            call(np.empty(shape, np.float64))
        with pytest.raises(ValueError, match="out overlaps input x"):
            call(source)


def test_the_same_data_in_another_form_takes_the_general_path():
    """After a C-contiguous call, the same values in Fortran order, byte-swapped, strided or
    reversed twice (which the C call cannot take as they are) give the same result."""
    rng = np.random.default_rng(6)
    x, w, b = _f32(rng, 2, 3, 7, 7), _f32(rng, 4, 3, 3, 3), _f32(rng, 4)
    xl, wl = _f32(rng, 3, 5), _f32(rng, 2, 5)
    g = _f32(rng, 2, 4, 5, 5)
    ops = [
        (lambda x: fastconv.conv2d(x, w, b), x),
        (lambda x: fastconv.conv2d_backward(g, x, w)[1], x),
        (lambda x: fastconv.max_pool2d(x, 2), x),
        (lambda x: fastconv.linear(x, wl), xl),
    ]
    for call, a in ops:
        want = call(a)
        assert_bitwise_equal(call(a), want, "repeated")
        wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), np.float32)
        wide[..., ::2] = a
        for other in (np.asfortranarray(a), a.astype(a.dtype.newbyteorder(">")),
                      wide[..., ::2], a[..., ::-1][..., ::-1]):
            assert_bitwise_equal(call(other), want, f"{type(other).__name__}")


def test_the_caches_stay_bounded():
    rng = np.random.default_rng(7)
    w = _f32(rng, 1, 3)
    for rows in range(1, functional._CALLS_MAX + 40):
        fastconv.linear(_f32(rng, rows, 3), w)
    assert 0 < len(functional._linear_calls) <= functional._CALLS_MAX

"""Every array-like gives the same result as its C-contiguous native copy, for every op."""

import numpy as np
import pytest

import fastconv
from tolerances import assert_exact

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]


def _strided(a):
    """A view with step 2 along every axis, holding a's values."""
    if a.ndim == 0:
        return None
    big = np.full(tuple(2 * d + 1 for d in a.shape), 12345.0, dtype=a.dtype)
    view = big[tuple(slice(1, None, 2) for _ in a.shape)]
    view[...] = a
    return view


def _negative(a):
    if a.ndim == 0:
        return None
    flipped = np.ascontiguousarray(a[..., ::-1])
    return flipped[..., ::-1]


def _unaligned(a):
    buf = np.zeros(a.nbytes + 1, dtype=np.uint8)
    u = buf[1:].view(a.dtype).reshape(a.shape)
    u[...] = a
    return u


def _read_only(a):
    r = a.copy()
    r.flags.writeable = False
    return r


def _byteswapped(a):
    return a.astype(a.dtype.newbyteorder())


def _list(a):
    return a.tolist()


VARIANTS = {
    "nested_list": _list,
    "strided_view": _strided,
    "fortran_order": lambda a: np.array(a, order="F"),  # (np.asfortranarray makes 0-d 1-d)
    "negative_strides": _negative,
    "read_only": _read_only,
    "byteswapped": _byteswapped,
    "unaligned": _unaligned,
}


def variant(name, a):
    """(array-like with a's values in layout `name`, the contiguous array it must act like)."""
    v = VARIANTS[name](a)
    assert v is not None, f"{name} has no meaning for a 0-d array"
    if name == "nested_list":
        return v, np.array(v)  # a list of Python floats is float64
    assert np.array_equal(np.asarray(v), a, equal_nan=True)  # the variant holds a's values
    return v, a


def check_layout_is_what_it_claims(name, v):
    """Guards the test itself: each variant really has the layout it is named after."""
    if name == "nested_list":
        assert isinstance(v, (list, float))
        return
    assert isinstance(v, np.ndarray)
    if v.size > 1 and v.ndim >= 1:
        if name == "strided_view":
            assert not v.flags.c_contiguous
        if name == "negative_strides":
            assert v.strides[-1] < 0
        if name == "fortran_order":
            assert v.flags.f_contiguous and (v.ndim == 1 or not v.flags.c_contiguous)
    if name == "read_only":
        assert not v.flags.writeable
    if name == "byteswapped":
        assert not v.dtype.isnative
    if name == "unaligned" and v.size:
        assert not v.flags.aligned


def _rng(dtype):
    return np.random.default_rng(42 + np.dtype(dtype).itemsize)


@pytest.mark.parametrize("name", list(VARIANTS))
@pytest.mark.parametrize("role", ["x", "weight", "bias"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_any_layout_equals_contiguous(dtype, role, name):
    rng = _rng(dtype)
    args = {"x": rng.standard_normal((2, 4, 7, 6)).astype(dtype),
            "weight": rng.standard_normal((6, 2, 3, 2)).astype(dtype),
            "bias": rng.standard_normal(6).astype(dtype)}
    v, contiguous = variant(name, args[role])
    check_layout_is_what_it_claims(name, v)
    # a nested list is float64: the other arrays follow, for one dtype per call
    common = np.float64 if name == "nested_list" else dtype
    args_c = {k: val.astype(common) for k, val in args.items()}
    args_c[role] = contiguous
    args_v = dict(args_c)
    args_v[role] = v
    saved = np.array(v, copy=True)
    kw = dict(stride=(1, 2), padding=1, groups=2, activation="relu")
    for algorithm in ("auto", "direct", "im2col"):
        y = fastconv.conv2d(args_v["x"], args_v["weight"], args_v["bias"], algorithm=algorithm,
                            **kw)
        assert_exact(y, fastconv.conv2d(args_c["x"], args_c["weight"], args_c["bias"],
                                        algorithm=algorithm, **kw))
        assert y.dtype.isnative and y.flags.c_contiguous
    np.testing.assert_array_equal(np.asarray(v), saved)  # the input is unchanged


@pytest.mark.parametrize("name", list(VARIANTS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_sliced_input_view_equals_contiguous(dtype, name):
    # the classic: a view x[:, :, ::2, 1:] of a bigger array, then any other layout of it
    base = _rng(dtype).standard_normal((2, 3, 14, 9)).astype(dtype)
    view = base[:, :, ::2, 1:]
    w = _rng(dtype).standard_normal((4, 3, 3, 3)).astype(dtype)
    v, contiguous = variant(name, view)
    check_layout_is_what_it_claims(name, v)
    wv = w.astype(np.float64) if name == "nested_list" else w
    expected = fastconv.conv2d(np.ascontiguousarray(contiguous), wv, padding="same")
    assert_exact(fastconv.conv2d(v, wv, padding="same"), expected)


@pytest.mark.parametrize("name", list(VARIANTS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_any_layout_equals_contiguous(dtype, name):
    x = _rng(dtype).integers(-3, 3, (2, 3, 7, 8)).astype(dtype)  # ties: order matters
    v, contiguous = variant(name, x)
    check_layout_is_what_it_claims(name, v)
    kw = dict(kernel_size=3, stride=2, padding=1, return_indices=True)
    y, idx = fastconv.max_pool2d(v, **kw)
    ey, eidx = fastconv.max_pool2d(contiguous, **kw)
    assert_exact(y, ey)
    assert_exact(idx, eidx)
    # unbatched too
    v3, c3 = variant(name, x[1])
    y3, idx3 = fastconv.max_pool2d(v3, **kw)
    assert_exact(y3, ey[1])
    assert_exact(idx3, eidx[1])


@pytest.mark.parametrize("name", list(VARIANTS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_pool2d_any_layout_equals_contiguous(dtype, name):
    x = _rng(dtype).standard_normal((2, 3, 7, 8)).astype(dtype)
    v, contiguous = variant(name, x)
    check_layout_is_what_it_claims(name, v)
    for kw in (dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
               dict(kernel_size=(2, 3), ceil_mode=True)):
        assert_exact(fastconv.avg_pool2d(v, **kw), fastconv.avg_pool2d(contiguous, **kw))


@pytest.mark.parametrize("name,shape", [
    (name, shape) for name in VARIANTS for shape in [(), (5,), (3, 4), (2, 3, 5, 4)]
    # a 0-d array has no axis to slice or reverse
    if not (shape == () and name in ("strided_view", "negative_strides"))
], ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_any_layout_equals_contiguous(dtype, name, shape):
    x = _rng(dtype).standard_normal(shape).astype(dtype)
    if x.size:
        x.flat[0] = np.nan
    v, contiguous = variant(name, x)
    check_layout_is_what_it_claims(name, v)
    y = fastconv.relu(v)
    assert_exact(y, fastconv.relu(contiguous.copy(order="C")))
    assert y.shape == shape


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_out_of_place_from_a_strided_view_writes_only_out(dtype):
    base = _rng(dtype).standard_normal((6, 8)).astype(dtype)
    saved = base.copy()
    view = base[::2, ::-3]
    out = np.empty(view.shape, dtype=dtype)
    assert fastconv.relu(view, out=out) is out
    assert_exact(out, fastconv.relu(view.copy(order="C")))
    assert_exact(base, saved)

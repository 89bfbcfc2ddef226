"""relu: exact against the oracle for any shape, NaN/inf/signed zero, out= and in place."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastconv
import fastconv.reference
import oracle
from tolerances import assert_exact

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]


def any_arrays(dtype, max_dims=5, max_side=7):
    width = np.dtype(dtype).itemsize * 8
    return hnp.arrays(dtype, hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0,
                                              max_side=max_side),
                      elements=st.floats(width=width, allow_nan=True, allow_infinity=True))


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_relu_matches_oracle_exactly_for_any_shape_and_value(nan_outputs, dtype, data):
    x = data.draw(any_arrays(dtype))
    saved = x.copy()
    nan_outputs.reset()
    y = fastconv.relu(x)
    assert nan_outputs.calls, "relu did not allocate its output through _empty"
    assert_exact(y, oracle.relu(x))
    assert_exact(x, saved)


@pytest.mark.parametrize("dtype", DTYPES)
@given(n=st.integers(0, 200), seed=st.integers(0, 2**32 - 1))
def test_relu_every_length_around_the_simd_width_is_exact(nan_outputs, dtype, n, seed):
    # lengths 0..200 cover every tail of 4/8/16-wide vectors and their unrolled loops
    x = np.random.default_rng(seed).standard_normal(n).astype(dtype)
    assert_exact(fastconv.relu(x), oracle.relu(x))


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_special_values(dtype):
    x = np.array([np.nan, -np.nan, np.inf, -np.inf, 1.0, -1.0, np.finfo(dtype).tiny,
                  -np.finfo(dtype).tiny, np.finfo(dtype).smallest_subnormal,
                  -np.finfo(dtype).smallest_subnormal, np.finfo(dtype).max,
                  -np.finfo(dtype).max, 0.0], dtype=dtype)
    y = fastconv.relu(x)
    assert np.isnan(y[0]) and np.isnan(y[1])
    assert y[2] == np.inf and y[3] == 0.0
    assert_exact(y[4:], np.array([1, 0, np.finfo(dtype).tiny, 0,
                                  np.finfo(dtype).smallest_subnormal, 0, np.finfo(dtype).max,
                                  0, 0], dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_of_negative_zero_is_positive_zero(dtype):
    # the spec: x where x > 0, else 0 (torch returns -0.0 here; fastconv follows its spec)
    y = fastconv.relu(np.array([-0.0, 0.0], dtype=dtype))
    assert_exact(y, np.array([0.0, 0.0], dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_nan_of_any_payload_or_sign_stays_nan(dtype):
    uint = np.dtype(f"u{np.dtype(dtype).itemsize}")
    bits = np.array([0x7FC00001, 0xFFC00002] if dtype == np.float32 else
                    [0x7FF8000000000001, 0xFFF8000000000002], dtype=uint)
    x = bits.view(dtype)
    y = fastconv.relu(np.ascontiguousarray(x))
    assert np.isnan(y).all()


def test_relu_zero_dim_returns_zero_dim_array():
    for v, e in [(-2.5, 0.0), (3.5, 3.5), (np.nan, np.nan)]:
        y = fastconv.relu(np.array(v))
        assert isinstance(y, np.ndarray) and y.shape == () and y.dtype == np.float64
        assert_exact(y, np.array(e))


@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 4, 5), (2, 0, 3, 1)])
def test_relu_empty_arrays_keep_their_shape(shape):
    for dtype in (np.float32, np.float64):
        y = fastconv.relu(np.zeros(shape, dtype=dtype))
        assert y.shape == shape and y.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_relu_out_argument_is_filled_and_returned(dtype, data):
    x = data.draw(any_arrays(dtype))
    saved = x.copy()
    out = np.full(x.shape, 7.0, dtype=dtype)
    y = fastconv.relu(x, out=out)
    assert y is out
    assert_exact(out, oracle.relu(saved))
    assert_exact(x, saved)


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_relu_in_place_returns_the_input_itself_modified(dtype, data):
    x = data.draw(any_arrays(dtype))
    expected = oracle.relu(x.copy())
    y = fastconv.relu(x, out=x)
    assert y is x
    assert_exact(x, expected)


def _unaligned(shape, dtype):
    itemsize = np.dtype(dtype).itemsize
    buf = np.zeros(int(np.prod(shape)) * itemsize + 1, np.uint8)
    arr = buf[1:].view(dtype).reshape(shape)
    assert arr.flags.c_contiguous and arr.flags.writeable and not arr.flags.aligned
    return arr


@pytest.mark.parametrize("shape", [(), (5,), (2, 3)], ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_unaligned_out_is_a_clear_value_error(dtype, shape):
    # found by tests/test_fuzz.py: relu(x, out=x) for a C-contiguous x at an odd byte offset
    # reached the C call, which refused it with "internal call: x is not C-contiguous and
    # aligned"; every op's out= now says what is wrong with it
    x = _unaligned(shape, dtype)
    x[...] = -1.5
    with pytest.raises(ValueError, match=r"^relu: out must be aligned"):
        fastconv.relu(x, out=x)
    with pytest.raises(ValueError, match=r"^relu: out must be aligned"):
        fastconv.relu(np.ones(shape, dtype), out=x)
    with pytest.raises(ValueError, match=r"^relu_backward: out must be aligned"):
        fastconv.relu_backward(x, np.ones(shape, dtype), out=x)
    assert (x == -1.5).all()
    with pytest.raises(ValueError, match=r"^conv2d: out must be aligned"):
        fastconv.conv2d(np.ones((1, 1, 2, 3), dtype), np.ones((1, 1, 1, 1), dtype),
                        out=_unaligned((1, 1, 2, 3), dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_large_array_in_place_and_out_of_place_agree(dtype):
    x = np.random.default_rng(0).standard_normal(1_000_003).astype(dtype)
    y = fastconv.relu(x)
    expected = oracle.relu(x)
    assert_exact(y, expected)
    assert fastconv.relu(x, out=x) is x
    assert_exact(x, expected)


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_relu_matches_reference_twin_bitwise(dtype, data):
    x = data.draw(any_arrays(dtype))
    assert_exact(fastconv.relu(x), fastconv.reference.relu(x))
    assert_exact(fastconv.reference.relu(x), oracle.relu(x))


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_one_and_two_threads_are_bitwise_identical(restore_threads, dtype):
    x = np.random.default_rng(1).standard_normal((8, 16, 65, 63)).astype(dtype)
    x[0, 0, 0, :5] = [np.nan, np.inf, -np.inf, -0.0, 0.0]
    fastconv.set_num_threads(1)
    y1 = fastconv.relu(x)
    fastconv.set_num_threads(2)
    y2 = fastconv.relu(x)
    assert_exact(y2, y1)
    assert_exact(y1, oracle.relu(x))


@settings(max_examples=40)
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_relu_accepts_read_only_input_and_leaves_it_intact(dtype, data):
    x = data.draw(any_arrays(dtype))
    saved = x.copy()
    x.flags.writeable = False
    assert_exact(fastconv.relu(x), oracle.relu(saved))
    assert_exact(x, saved)


def test_relu_matches_torch_except_the_sign_of_zero():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal((3, 50)).astype(np.float32)
    x[0, :4] = [np.nan, np.inf, -np.inf, 0.0]
    assert_exact(fastconv.relu(x), torch.relu(torch.from_numpy(x)).numpy())


def test_relu_is_exported_from_functional():
    import fastconv.functional
    assert fastconv.relu is fastconv.functional.relu

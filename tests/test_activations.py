"""The standalone activations relu6 and leaky_relu and their backward ops (issue 14, item 2):
the epilogue's formulas (the same values as conv2d's fused activation), torch's gradients."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastconv
import fastconv.reference
import oracle
from tolerances import assert_exact

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]
IMPLEMENTATIONS = [pytest.param(fastconv, id="fast"),
                   pytest.param(fastconv.reference, id="reference")]
SPECIALS = [np.nan, -np.nan, 0.0, -0.0, np.inf, -np.inf, 6.0, np.nextafter(6.0, 7.0),
            np.nextafter(6.0, 5.0), 5e-324, -5e-324, 1e-45, -1e-45, 3.0, -3.0, 1e30, -1e30]


def _inputs(dtype, n, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * 5).astype(dtype)
    special = rng.random(n) < 0.3
    x[special] = rng.choice(np.array(SPECIALS, dtype), n)[special]
    g = rng.standard_normal(n).astype(dtype)
    return x, g


def _bits_equal(a, b):
    """Bitwise, NaN payloads aside (torch and numpy may differ in a NaN's payload)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    nan = np.isnan(a)
    assert (nan == np.isnan(b)).all()
    assert_exact(np.where(nan, 0, a), np.where(nan, 0, b))


@settings(max_examples=40)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("module", IMPLEMENTATIONS)
@given(n=st.integers(0, 300), seed=st.integers(0, 2**31),
       slope=st.sampled_from([0.01, 0.2, 0.0, -0.5, 3.0]))
def test_matches_the_oracle(module, dtype, n, seed, slope):
    x, g = _inputs(dtype, n, seed)
    saved = x.copy(), g.copy()
    _bits_equal(module.relu6(x), oracle.relu6(x))
    _bits_equal(module.leaky_relu(x, slope), oracle.leaky_relu(x, slope))
    assert_exact(module.relu6_backward(g, x), oracle.relu6_backward(g, x))
    assert_exact(module.leaky_relu_backward(g, x, slope), oracle.leaky_relu_backward(g, x, slope))
    assert_exact(x, saved[0])
    assert_exact(g, saved[1])


@settings(max_examples=20)
@pytest.mark.parametrize("dtype", DTYPES)
@given(n=st.integers(0, 200_000), seed=st.integers(0, 2**31))
def test_fast_reference_and_threads_agree_bitwise(restore_threads, dtype, n, seed):
    x, g = _inputs(dtype, n, seed)
    fastconv.set_num_threads(1)
    one = [fastconv.relu6(x), fastconv.leaky_relu(x, 0.3), fastconv.relu6_backward(g, x),
           fastconv.leaky_relu_backward(g, x, 0.3)]
    fastconv.set_num_threads(2)
    two = [fastconv.relu6(x), fastconv.leaky_relu(x, 0.3), fastconv.relu6_backward(g, x),
           fastconv.leaky_relu_backward(g, x, 0.3)]
    ref = [fastconv.reference.relu6(x), fastconv.reference.leaky_relu(x, 0.3),
           fastconv.reference.relu6_backward(g, x),
           fastconv.reference.leaky_relu_backward(g, x, 0.3)]
    for a, b, c in zip(one, two, ref):
        assert_exact(b, a)
        assert_exact(c, a)


@pytest.mark.parametrize("dtype", DTYPES)
def test_same_values_as_the_fused_epilogue(dtype):
    # the standalone op and linear's fused activation read the same table
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((9, 5)).astype(dtype), rng.standard_normal((13, 5)).astype(dtype)
    pre = fastconv.linear(x, w)
    assert_exact(fastconv.relu6(pre), fastconv.linear(x, w, activation="relu6"))
    assert_exact(fastconv.leaky_relu(pre, 0.3),
                 fastconv.linear(x, w, activation="leaky_relu", negative_slope=0.3))


def test_the_rules_by_hand():
    x = np.array([np.nan, -0.0, 0.0, -2.0, 3.0, 6.0, 7.0, np.inf, -np.inf])
    g = np.arange(1.0, 10.0)
    bits = lambda a: np.asarray(a).view(np.uint64).tolist()  # noqa: E731
    y6 = fastconv.relu6(x)
    assert np.isnan(y6[0]) and bits(y6[1:]) == bits([0.0, 0.0, 0.0, 3.0, 6.0, 6.0, 6.0, 0.0])
    # relu6's gradient: 0 at and beyond both corners and at NaN (torch's hardtanh_backward)
    assert fastconv.relu6_backward(g, x).tolist() == [0, 0, 0, 0, 5, 0, 0, 0, 0]
    yl = fastconv.leaky_relu(x, 0.5)
    assert np.isnan(yl[0]) and bits(yl[1:]) == bits([-0.0, 0.0, -1.0, 3.0, 6.0, 7.0, np.inf,
                                                    -np.inf])
    # leaky_relu's gradient: slope where x <= 0 or NaN
    assert fastconv.leaky_relu_backward(g, x, 0.5).tolist() == [0.5, 1, 1.5, 2, 5, 6, 7, 8, 4.5]
    assert fastconv.leaky_relu(np.array([-2.0])).tolist() == [-0.02]  # torch's default 0.01


@pytest.mark.parametrize("dtype", DTYPES)
def test_out_and_in_place(dtype):
    x, g = _inputs(dtype, 1000, 7)
    want, gwant = fastconv.relu6(x), fastconv.leaky_relu_backward(g, x, 0.1)
    out = np.full_like(x, np.nan)
    assert fastconv.relu6(x, out=out) is out
    assert_exact(out, want)
    inplace = x.copy()
    assert fastconv.relu6(inplace, out=inplace) is inplace
    assert_exact(inplace, want)
    gi = g.copy()
    assert fastconv.leaky_relu_backward(gi, x, 0.1, out=gi) is gi
    assert_exact(gi, gwant)


@pytest.mark.parametrize("call, error, match", [
    (lambda: fastconv.leaky_relu(np.ones(3), "0.1"), TypeError, "^leaky_relu: negative_slope"),
    (lambda: fastconv.leaky_relu(np.ones(3), True), TypeError, "^leaky_relu: negative_slope"),
    (lambda: fastconv.leaky_relu_backward(np.ones(3), np.ones(3), None), TypeError,
     "^leaky_relu_backward: negative_slope"),
    (lambda: fastconv.relu6(np.arange(3)), TypeError, "^relu6: x must be float32 or float64"),
    (lambda: fastconv.relu6_backward(np.ones(3), np.ones(4)), ValueError,
     r"^relu6_backward: x must have the shape of grad_output \(3,\)"),
    (lambda: fastconv.leaky_relu_backward(np.ones(3), np.ones(3, np.float32)), TypeError,
     "^leaky_relu_backward: x has dtype float32"),
])
def test_errors_name_the_op_and_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("slope", [0.01, 0.2, -0.5])
def test_matches_torch_forward_and_autograd(dtype, slope):
    torch = pytest.importorskip("torch")
    x = np.array(SPECIALS * 2, dtype)
    x = np.concatenate([x, (np.random.default_rng(1).standard_normal(500) * 5).astype(dtype)])
    g = np.random.default_rng(2).standard_normal(x.size).astype(dtype)
    F = torch.nn.functional
    for ours, ours_backward, theirs in (
            (fastconv.relu6, fastconv.relu6_backward, F.relu6),
            (lambda v: fastconv.leaky_relu(v, slope),
             lambda gg, v: fastconv.leaky_relu_backward(gg, v, slope),
             lambda t: F.leaky_relu(t, slope))):
        tx = torch.from_numpy(x.copy()).requires_grad_()
        ty = theirs(tx)
        ty.backward(torch.from_numpy(g))
        # relu6 of -0: fastconv gives +0 (as its relu), torch -0; they compare equal
        np.testing.assert_array_equal(ours(x), ty.detach().numpy())
        _bits_equal(ours_backward(g, x), tx.grad.numpy())

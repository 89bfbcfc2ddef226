"""adaptive_avg_pool2d and its backward (issue 14, item 3): torch's windows
[floor(i H / P), ceil((i + 1) H / P)), against the float64 oracle, the reference twin, torch
(forward and autograd) and central differences."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastconv
import fastconv.nn
import fastconv.reference
import oracle
from tolerances import assert_exact, assert_reduction_close

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]
IMPLEMENTATIONS = [pytest.param(fastconv, id="fast"),
                   pytest.param(fastconv.reference, id="reference")]


@st.composite
def cases(draw):
    h, w = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    p = draw(st.sampled_from([None, 1, 2, 3, 5, 7, 13, 50]))
    q = draw(st.sampled_from([None, 1, 2, 4, 6, 33]))
    n, c = draw(st.integers(0, 3)), draw(st.integers(1, 4))
    return dict(shape=(n, c, h, w), size=(p, q), out=(h if p is None else p, w if q is None else q),
                seed=draw(st.integers(0, 2**31)))


def _length(c):
    (h, w), (p, q) = c["shape"][2:], c["out"]
    return 1 + (-(-h // p) + 1) * (-(-w // q) + 1)


@settings(max_examples=50)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("module", IMPLEMENTATIONS)
@given(c=cases())
def test_matches_the_oracle(nan_outputs, module, dtype, c):
    rng = np.random.default_rng(c["seed"])
    x = rng.standard_normal(c["shape"]).astype(dtype)
    saved = x.copy()
    y = module.adaptive_avg_pool2d(x, c["size"])
    assert y.shape == c["shape"][:2] + c["out"] and y.dtype == dtype
    if c["shape"][0]:
        assert_reduction_close(y, oracle.adaptive_avg_pool2d(x, c["out"]),
                               oracle.adaptive_avg_pool2d_abs_bound(x, c["out"]), _length(c),
                               dtype)
    g = rng.standard_normal(y.shape).astype(dtype)
    nan_outputs.reset()
    gx = module.adaptive_avg_pool2d_backward(g, x.shape)
    assert nan_outputs.calls
    assert_reduction_close(gx, oracle.adaptive_avg_pool2d_backward(g, x.shape),
                           oracle.adaptive_avg_pool2d_backward_abs_bound(g, x.shape),
                           _length(c), dtype)
    assert_exact(x, saved)


@settings(max_examples=25)
@pytest.mark.parametrize("dtype", DTYPES)
@given(c=cases())
def test_fast_reference_and_threads_agree_bitwise(restore_threads, dtype, c):
    rng = np.random.default_rng(c["seed"])
    x = rng.standard_normal((c["shape"][0] * 8,) + c["shape"][1:]).astype(dtype)
    fastconv.set_num_threads(1)
    y = fastconv.adaptive_avg_pool2d(x, c["size"])
    g = rng.standard_normal(y.shape).astype(dtype)
    gx = fastconv.adaptive_avg_pool2d_backward(g, x.shape)
    fastconv.set_num_threads(2)
    assert_exact(fastconv.adaptive_avg_pool2d(x, c["size"]), y)
    assert_exact(fastconv.adaptive_avg_pool2d_backward(g, x.shape), gx)
    assert_exact(fastconv.reference.adaptive_avg_pool2d(x, c["size"]), y)
    assert_exact(fastconv.reference.adaptive_avg_pool2d_backward(g, x.shape), gx)


def test_by_hand():
    x = np.arange(6.0).reshape(1, 1, 2, 3)
    # columns [0, 2) and [1, 3): overlapping windows, one of each row
    np.testing.assert_array_equal(fastconv.adaptive_avg_pool2d(x, (1, 2)), [[[[2.0, 3.0]]]])
    np.testing.assert_array_equal(fastconv.adaptive_avg_pool2d(x[0], 1), [[[2.5]]])
    # the shared column 1 receives from both windows
    np.testing.assert_array_equal(
        fastconv.adaptive_avg_pool2d_backward(np.array([[[[4.0, 8.0]]]]), (1, 1, 2, 3)),
        [[[[1.0, 3.0, 2.0], [1.0, 3.0, 2.0]]]])
    # larger than the input: windows of one element, repeated
    np.testing.assert_array_equal(fastconv.adaptive_avg_pool2d(x, (4, 3))[0, 0, :, 0],
                                  [0.0, 0.0, 3.0, 3.0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [1, (3, 2), (5, None), (None, 4), (11, 7), (20, 13), (4, 1)])
def test_matches_torch_forward_and_autograd(dtype, size):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 11, 7)).astype(dtype)
    tx = torch.from_numpy(x).requires_grad_()
    ty = torch.nn.functional.adaptive_avg_pool2d(tx, size)
    g = rng.standard_normal(tuple(ty.shape)).astype(dtype)
    ty.backward(torch.from_numpy(g))
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(fastconv.adaptive_avg_pool2d(x, size), ty.detach().numpy(),
                               rtol=tol, atol=tol)
    np.testing.assert_allclose(fastconv.adaptive_avg_pool2d_backward(g, x.shape),
                               tx.grad.numpy(), rtol=tol, atol=tol)


def test_backward_matches_central_differences():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 2, 7, 5))
    g = rng.standard_normal((1, 2, 3, 4))
    eps, numeric = 1e-6, np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        numeric[i] = (np.sum(fastconv.adaptive_avg_pool2d(x + d, (3, 4)) * g) -
                      np.sum(fastconv.adaptive_avg_pool2d(x - d, (3, 4)) * g)) / (2 * eps)
    np.testing.assert_allclose(fastconv.adaptive_avg_pool2d_backward(g, x.shape), numeric,
                               rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("call, error, match", [
    (lambda: fastconv.adaptive_avg_pool2d(np.ones((1, 1, 4, 4)), 0), ValueError,
     "^adaptive_avg_pool2d: output_size must be positive"),
    (lambda: fastconv.adaptive_avg_pool2d(np.ones((1, 1, 4, 4)), (2, -1)), ValueError,
     "^adaptive_avg_pool2d: output_size must be positive"),
    (lambda: fastconv.adaptive_avg_pool2d(np.ones((1, 1, 4, 4)), 1.5), TypeError,
     "^adaptive_avg_pool2d: output_size"),
    (lambda: fastconv.adaptive_avg_pool2d(np.ones((1, 1, 4, 4)), (1, 2, 3)), ValueError,
     "^adaptive_avg_pool2d: output_size"),
    (lambda: fastconv.adaptive_avg_pool2d(np.ones((4, 4)), 1), ValueError,
     r"^adaptive_avg_pool2d: x must be 3-D"),
    (lambda: fastconv.adaptive_avg_pool2d(np.ones((1, 1, 4, 4), np.int32), 1), TypeError,
     "^adaptive_avg_pool2d: x must be float32 or float64"),
    (lambda: fastconv.adaptive_avg_pool2d_backward(np.ones((1, 2, 2)), (1, 2, 4, 4)),
     ValueError, r"^adaptive_avg_pool2d_backward: grad_output must have shape"),
])
def test_errors_name_the_op_and_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_nn_layer_runs_the_op():
    layer = fastconv.nn.AdaptiveAvgPool2d((3, None))
    x = np.random.default_rng(5).standard_normal((2, 3, 8, 5)).astype(np.float32)
    assert_exact(layer(x), fastconv.adaptive_avg_pool2d(x, (3, None)))
    g = np.ones((2, 3, 3, 5), np.float32)
    assert_exact(layer.backward(g), fastconv.adaptive_avg_pool2d_backward(g, x.shape))

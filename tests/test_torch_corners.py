"""torch.nn.functional's corners (issue 14, item 1): avg_pool2d's divisor_override, one-element
tuples and the pools' empty stride, relu_backward's NaN rule.  Checked against the float64
oracle, the reference twin, and torch when it is installed."""
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


# --- divisor_override ---------------------------------------------------------------------------

@st.composite
def avg_cases(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    h, w = draw(st.integers(kh, 19)), draw(st.integers(kw, 37))
    divisor = draw(st.sampled_from([1, 2, 3, 7, -1, -5, 2**40]))
    return dict(shape=(draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w),
                kernel=(kh, kw), stride=(sh, sw), pad=(ph, pw), ceil=draw(st.booleans()),
                include=draw(st.booleans()), divisor=divisor, seed=draw(st.integers(0, 2**31)))


def _avg_call(c):
    return dict(kernel_size=c["kernel"], stride=c["stride"], padding=c["pad"],
                ceil_mode=c["ceil"], count_include_pad=c["include"],
                divisor_override=c["divisor"])


def _oracle_args(c):
    return (c["kernel"], c["stride"], c["pad"], c["ceil"], c["include"], c["divisor"])


@settings(max_examples=40)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("module", IMPLEMENTATIONS)
@given(c=avg_cases())
def test_avg_pool2d_divisor_override_matches_oracle(module, dtype, c):
    rng = np.random.default_rng(c["seed"])
    x = rng.standard_normal(c["shape"]).astype(dtype)
    saved = x.copy()
    y = module.avg_pool2d(x, **_avg_call(c))
    length = 1 + c["kernel"][0] * c["kernel"][1]
    assert_reduction_close(y, oracle.avg_pool2d(x, *_oracle_args(c)),
                           oracle.avg_pool2d_abs_bound(x, *_oracle_args(c)), length, dtype)
    assert_exact(x, saved)
    g = rng.standard_normal(y.shape).astype(dtype)
    gx = module.avg_pool2d_backward(g, x.shape, **_avg_call(c))
    assert_reduction_close(gx, oracle.avg_pool2d_backward(g, x.shape, *_oracle_args(c)),
                           oracle.avg_pool2d_backward_abs_bound(g, x.shape, *_oracle_args(c)),
                           length, dtype)


@settings(max_examples=25)
@pytest.mark.parametrize("dtype", DTYPES)
@given(c=avg_cases())
def test_avg_pool2d_divisor_override_fast_and_reference_agree_bitwise(dtype, c):
    rng = np.random.default_rng(c["seed"])
    x = rng.standard_normal(c["shape"]).astype(dtype)
    y = fastconv.avg_pool2d(x, **_avg_call(c))
    assert_exact(fastconv.reference.avg_pool2d(x, **_avg_call(c)), y)
    g = rng.standard_normal(y.shape).astype(dtype)
    assert_exact(fastconv.reference.avg_pool2d_backward(g, x.shape, **_avg_call(c)),
                 fastconv.avg_pool2d_backward(g, x.shape, **_avg_call(c)))


def test_avg_pool2d_divisor_override_by_hand():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    # window sums 10, 18, 42, 50 divided by 4 (not the count 4 of a 2x2 window: say 5)
    np.testing.assert_array_equal(fastconv.avg_pool2d(x, 2, divisor_override=5),
                                  [[[[2.0, 3.6], [8.4, 10.0]]]])
    # with padding, count_include_pad no longer matters: every window divides by the override
    a = fastconv.avg_pool2d(x, 2, 1, 1, count_include_pad=False, divisor_override=2)
    b = fastconv.avg_pool2d(x, 2, 1, 1, count_include_pad=True, divisor_override=2)
    assert_exact(a, b)
    assert a[0, 0, 0, 0] == 0.0 / 2 and a[0, 0, 4, 4] == 15.0 / 2
    np.testing.assert_array_equal(
        fastconv.avg_pool2d_backward(np.full((1, 1, 1), 6.0), (1, 2, 2), 2, divisor_override=-3),
        np.full((1, 2, 2), -2.0))


@pytest.mark.parametrize("op", ["forward", "backward"])
@pytest.mark.parametrize("bad, error", [(0, ValueError), (2**62 + 1, ValueError),
                                        (1.5, TypeError), (True, TypeError), ("2", TypeError),
                                        (2.0, TypeError)])
def test_avg_pool2d_divisor_override_rejects(op, bad, error):
    x = np.ones((1, 1, 4, 4), np.float32)
    name = "avg_pool2d" if op == "forward" else "avg_pool2d_backward"
    with pytest.raises(error, match=rf"^{name}: divisor_override .*{bad!r}"):
        if op == "forward":
            fastconv.avg_pool2d(x, 2, divisor_override=bad)
        else:
            fastconv.avg_pool2d_backward(np.ones((1, 1, 2, 2), np.float32), x.shape, 2,
                                         divisor_override=bad)


def test_avg_pool2d_divisor_override_accepts_numpy_ints():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    assert_exact(fastconv.avg_pool2d(x, 2, divisor_override=np.int32(5)),
                 fastconv.avg_pool2d(x, 2, divisor_override=5))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("divisor", [1, 3, -2, 100])
def test_avg_pool2d_divisor_override_matches_torch(dtype, divisor):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(divisor + 50)
    x = rng.standard_normal((2, 3, 11, 9)).astype(dtype)
    args = dict(kernel_size=(3, 2), stride=(2, 1), padding=1, ceil_mode=True,
                divisor_override=divisor)
    tx = torch.from_numpy(x).requires_grad_()
    ty = torch.nn.functional.avg_pool2d(tx, **args)
    g = rng.standard_normal(tuple(ty.shape)).astype(dtype)
    ty.backward(torch.from_numpy(g))
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(fastconv.avg_pool2d(x, **args), ty.detach().numpy(), rtol=rtol,
                               atol=rtol)
    np.testing.assert_allclose(fastconv.avg_pool2d_backward(g, x.shape, **args),
                               tx.grad.numpy(), rtol=rtol, atol=rtol)


# --- one-element tuples, the pools' empty stride ------------------------------------------------

def _tuple_cases():
    # (op, torch's call and ours, the same with plain ints)
    return [
        ("conv2d", dict(stride=(2,), padding=(1,), dilation=(2,)),
         dict(stride=2, padding=1, dilation=2)),
        ("conv2d", dict(stride=[1], padding=[2]), dict(stride=1, padding=2)),
        ("max_pool2d", dict(kernel_size=(3,), stride=(2,), padding=(1,), dilation=(1,)),
         dict(kernel_size=3, stride=2, padding=1, dilation=1)),
        ("max_pool2d", dict(kernel_size=(2,), stride=()), dict(kernel_size=2)),
        ("max_pool2d", dict(kernel_size=(3, 2), stride=[]), dict(kernel_size=(3, 2))),
        ("avg_pool2d", dict(kernel_size=(2,), stride=(3,), padding=(1,)),
         dict(kernel_size=2, stride=3, padding=1)),
        ("avg_pool2d", dict(kernel_size=[3], stride=()), dict(kernel_size=3)),
    ]


def _run(op, x, w, kw):
    if op == "conv2d":
        return fastconv.conv2d(x, w, **kw)
    return getattr(fastconv, op)(x, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op, tuples, ints", _tuple_cases())
def test_one_element_tuples_and_empty_stride_mean_what_torch_means(dtype, op, tuples, ints):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 13, 11)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    got = _run(op, x, w, tuples)
    assert_exact(got, _run(op, x, w, ints))
    torch = pytest.importorskip("torch")
    tx, tw = torch.from_numpy(x), torch.from_numpy(w)
    fn = getattr(torch.nn.functional, op)
    want = (fn(tx, tw, **tuples) if op == "conv2d" else fn(tx, **tuples)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_ops_take_one_element_tuples_and_empty_stride(dtype):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 9, 10)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    g = rng.standard_normal(fastconv.conv2d(x, w, stride=2, padding=1).shape).astype(dtype)
    for a, b in zip(fastconv.conv2d_backward(g, x, w, stride=(2,), padding=(1,), dilation=(1,)),
                    fastconv.conv2d_backward(g, x, w, stride=2, padding=1)):
        assert_exact(a, b)
    ga = rng.standard_normal(fastconv.avg_pool2d(x, 2, padding=1).shape).astype(dtype)
    assert_exact(fastconv.avg_pool2d_backward(ga, x.shape, (2,), stride=(), padding=(1,)),
                 fastconv.avg_pool2d_backward(ga, x.shape, 2, padding=1))


@pytest.mark.parametrize("op, name, bad", [
    (op, name, bad) for op in ("conv2d", "max_pool2d", "avg_pool2d")
    for name, bad in (("padding", ()), ("padding", (1, 1, 1)), ("kernel_size", ()),
                      ("dilation", []))
    if (op, name) not in (("conv2d", "kernel_size"), ("avg_pool2d", "dilation"))])
def test_empty_and_long_sequences_stay_errors(op, name, bad):
    x = np.ones((1, 2, 6, 6), np.float32)
    kw = {} if op == "conv2d" else dict(kernel_size=2)
    kw[name] = bad
    with pytest.raises(ValueError, match=rf"^{op}: {name} "):
        _run(op, x, np.ones((2, 2, 3, 3), np.float32), kw)


def test_conv2d_empty_stride_stays_an_error():
    # torch's conv2d, unlike its pools, has no "kernel size" default for the stride
    with pytest.raises(ValueError, match=r"^conv2d: stride "):
        fastconv.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2)), stride=())


def test_from_torch_carries_avg_pool_divisor_override():
    torch = pytest.importorskip("torch")
    m = torch.nn.AvgPool2d(3, stride=2, padding=1, divisor_override=4).double()
    x = np.random.default_rng(5).standard_normal((1, 2, 7, 8))
    np.testing.assert_allclose(fastconv.nn.from_torch(m, dtype=np.float64)(x),
                               m(torch.from_numpy(x)).numpy(), rtol=1e-13, atol=1e-13)


# --- relu_backward's NaN rule -------------------------------------------------------------------

_SPECIALS = [np.nan, -np.nan, 0.0, -0.0, np.inf, -np.inf, 1.0, -1.0, 1e-45, -1e-45, 5e-324]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("module", IMPLEMENTATIONS)
@pytest.mark.parametrize("n", [1, 7, 33, 1000])
def test_relu_backward_passes_the_gradient_where_the_output_is_nan(module, dtype, n):
    rng = np.random.default_rng(n)
    y = rng.choice(np.array(_SPECIALS, dtype), n)
    g = rng.standard_normal(n).astype(dtype)
    gx = module.relu_backward(g, y)
    with np.errstate(invalid="ignore"):
        want = np.where(np.isnan(y) | (y > 0), g, 0).astype(dtype)
    assert_exact(gx, want)
    assert not np.signbit(gx[~(np.isnan(y) | (y > 0))]).any()  # the zeros are +0


def test_relu_backward_nan_by_hand():
    g = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    y = np.array([np.nan, 0.0, -0.0, np.inf, -np.inf, -np.nan])
    assert_exact(fastconv.relu_backward(g, y), np.array([1.0, 0.0, 0.0, 4.0, 0.0, 6.0]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("through", ["input", "output"])
def test_relu_backward_matches_torch_on_specials(dtype, through):
    torch = pytest.importorskip("torch")
    x = np.array(_SPECIALS * 3, dtype)
    g = np.arange(1, x.size + 1, dtype=dtype)
    g[::4] = np.nan  # a NaN gradient where the mask is 0 still gives 0, as torch
    tx = torch.from_numpy(x).requires_grad_()
    torch.relu(tx).backward(torch.from_numpy(g))
    mask_source = x if through == "input" else fastconv.relu(x)
    assert_exact(fastconv.relu_backward(g, mask_source), tx.grad.numpy())

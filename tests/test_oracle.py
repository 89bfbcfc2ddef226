"""The oracle itself: hand-computed cases, and torch.nn.functional when torch is installed.

These tests never touch fastconv.
"""

import ast
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import oracle

HERE = os.path.dirname(os.path.abspath(__file__))

X5 = np.array([[3, 5, 2, 8, 1],
               [9, 7, 5, 4, 3],
               [2, 0, 6, 1, 6],
               [6, 3, 7, 9, 2],
               [1, 4, 9, 5, 1]], dtype=np.float64)
F3 = np.array([[1, 0, 0],
               [1, 1, 0],
               [0, 0, 1]], dtype=np.float64)


# --- the oracle is independent of fastconv -------------------------------------------------

def test_oracle_and_tolerances_do_not_import_fastconv_in_a_fresh_interpreter():
    code = ("import sys; sys.path.insert(0, %r); import oracle, tolerances; "
            "bad = [m for m in sys.modules if m == 'fastconv' or m.startswith('fastconv.')]; "
            "assert not bad, bad; print('ok')" % HERE)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=HERE, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


@pytest.mark.parametrize("name", ["oracle.py", "tolerances.py"])
def test_oracle_source_has_no_fastconv_import(name):
    with open(os.path.join(HERE, name)) as f:
        tree = ast.parse(f.read())
    imported = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            imported.append(node.module or "")
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            imported.append(ast.unparse(node))
    assert imported, "the parser found no imports at all: this test is broken"
    assert not [m for m in imported if "fastconv" in m], imported


# --- conv2d by hand --------------------------------------------------------------------

def test_conv2d_worked_example_5x5_with_3x3_filter():
    y = oracle.conv2d(X5[None, None], F3[None, None])
    np.testing.assert_array_equal(y[0, 0], [[25, 18, 17], [18, 22, 14], [20, 15, 23]])


def test_conv2d_is_cross_correlation_not_convolution():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 0, 0] = 1.0
    w = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    # a flipped kernel would give w[2, 2] = 9
    assert oracle.conv2d(x, w)[0, 0, 0, 0] == 1.0


def test_conv2d_dilation_by_hand():
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    y = oracle.conv2d(x, w, dilation=(2, 2))
    assert y.shape == (1, 1, 1, 1)
    assert y[0, 0, 0, 0] == 1 * 0 + 2 * 2 + 3 * 6 + 4 * 8


def test_conv2d_stride_and_padding_by_hand():
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.ones((1, 1, 2, 2))
    y = oracle.conv2d(x, w, stride=(2, 2), padding=((1, 1), (1, 1)))
    np.testing.assert_array_equal(y[0, 0], [[0, 1 + 2], [3 + 6, 4 + 5 + 7 + 8]])


def test_conv2d_asymmetric_padding_with_unit_kernel_is_the_padded_input():
    x = np.arange(1.0, 7.0).reshape(1, 1, 2, 3)
    y = oracle.conv2d(x, np.ones((1, 1, 1, 1)), padding=((1, 0), (0, 2)))
    expected = np.zeros((3, 5))
    expected[1:, :3] = x[0, 0]
    np.testing.assert_array_equal(y[0, 0], expected)


def test_conv2d_groups_and_bias_by_hand():
    x = np.arange(8.0).reshape(1, 2, 2, 2)
    w = np.array([2.0, -3.0]).reshape(2, 1, 1, 1)
    b = np.array([0.5, 1.0])
    y = oracle.conv2d(x, w, b, groups=2)
    np.testing.assert_array_equal(y[0, 0], 2 * x[0, 0] + 0.5)
    np.testing.assert_array_equal(y[0, 1], -3 * x[0, 1] + 1.0)


def test_conv2d_sums_over_input_channels():
    x = np.stack([np.full((2, 2), 1.0), np.full((2, 2), 10.0)])[None]
    w = np.array([1.0, 2.0]).reshape(1, 2, 1, 1)
    np.testing.assert_array_equal(oracle.conv2d(x, w)[0, 0], np.full((2, 2), 21.0))


def test_conv2d_zero_batch_gives_empty_output():
    y = oracle.conv2d(np.zeros((0, 2, 5, 5)), np.zeros((3, 2, 3, 3)))
    assert y.shape == (0, 3, 3, 3)


def test_conv2d_abs_bound_uses_absolute_values():
    x = np.array([1.0, -2.0]).reshape(1, 2, 1, 1)
    w = np.array([3.0, 4.0]).reshape(1, 2, 1, 1)
    assert oracle.conv2d(x, w)[0, 0, 0, 0] == 3 - 8
    assert oracle.conv2d_abs_bound(x, w, np.array([-1.0]))[0, 0, 0, 0] == 3 + 8 + 1


@pytest.mark.parametrize("size,kernel,stride,dilation,expected", [
    (5, 3, 1, 1, (1, 1)),
    (5, 4, 1, 1, (1, 2)),
    (5, 3, 2, 1, (1, 1)),
    (6, 3, 2, 1, (0, 1)),
    (7, 1, 3, 1, (0, 0)),
    (4, 3, 1, 2, (2, 2)),
    (1, 5, 3, 1, (2, 2)),
])
def test_same_padding_by_hand(size, kernel, stride, dilation, expected):
    assert oracle.same_padding(size, kernel, stride, dilation) == expected
    before, after = expected
    out = oracle.conv_output_size(size, before, after, kernel, stride, dilation)
    assert out == -(-size // stride)


# --- pooling by hand ----------------------------------------------------------------------

def test_max_pool_2x2_stride_2_by_hand():
    x = np.array([[1, 3, 2, 0],
                  [4, 6, 5, 7],
                  [8, 0, 1, 2],
                  [3, 9, 4, 1]], dtype=np.float64)[None, None]
    y, idx = oracle.max_pool2d(x, (2, 2), (2, 2))
    np.testing.assert_array_equal(y[0, 0], [[6, 7], [9, 4]])
    np.testing.assert_array_equal(idx[0, 0], [[5, 7], [13, 14]])
    assert idx.dtype == np.int64


def test_max_pool_ties_take_the_first_index_in_row_major_order():
    x = np.array([[5, 1], [5, 5]], dtype=np.float64)[None, None]
    y, idx = oracle.max_pool2d(x, (2, 2), (2, 2))
    assert y[0, 0, 0, 0] == 5 and idx[0, 0, 0, 0] == 0
    x = np.array([[1, 5], [5, 0]], dtype=np.float64)[None, None]
    assert oracle.max_pool2d(x, (2, 2), (2, 2))[1][0, 0, 0, 0] == 1


def test_max_pool_signed_zero_tie_keeps_the_first_element():
    x = np.array([[-0.0, 0.0]])[None, None]
    y, idx = oracle.max_pool2d(x, (1, 2), (1, 2))
    assert idx[0, 0, 0, 0] == 0 and np.signbit(y[0, 0, 0, 0])


def test_max_pool_nan_wins_with_the_index_of_the_first_nan():
    x = np.array([[1, np.nan], [7, np.nan]], dtype=np.float64)[None, None]
    y, idx = oracle.max_pool2d(x, (2, 2), (2, 2))
    assert np.isnan(y[0, 0, 0, 0]) and idx[0, 0, 0, 0] == 1


def test_max_pool_padding_never_wins_over_negative_values():
    x = np.full((1, 1, 2, 2), -3.0)
    x[0, 0, 1, 1] = -1.0
    y, idx = oracle.max_pool2d(x, (3, 3), (1, 1), padding=(1, 1))
    np.testing.assert_array_equal(y[0, 0], [[-1, -1], [-1, -1]])
    np.testing.assert_array_equal(idx[0, 0], [[3, 3], [3, 3]])


def test_max_pool_all_minus_inf_window_takes_first_valid_position():
    x = np.full((1, 1, 2, 2), -np.inf)
    y, idx = oracle.max_pool2d(x, (2, 2), (1, 1), padding=(1, 1))
    assert np.all(y == -np.inf)
    # windows start in the padding: the first valid position is the winner
    np.testing.assert_array_equal(idx[0, 0], [[0, 0, 1], [0, 0, 1], [2, 2, 3]])


def test_max_pool_window_entirely_in_padding_gives_minus_inf_and_index_minus_one():
    x = np.full((1, 1, 1, 1), 5.0)
    # rows -1 and 1 of a 1-row input: neither is inside
    y, idx = oracle.max_pool2d(x, (2, 2), (1, 1), padding=(1, 1), dilation=(2, 2))
    assert y.shape == (1, 1, 1, 1)
    assert y[0, 0, 0, 0] == -np.inf and idx[0, 0, 0, 0] == -1


@pytest.mark.parametrize("size,kernel,stride,pad,dilation,ceil_mode,expected", [
    (4, 2, 2, 0, 1, False, 2),
    (5, 2, 2, 0, 1, False, 2),
    (5, 2, 2, 0, 1, True, 3),
    (5, 2, 2, 1, 1, False, 3),
    # ceil gives 4, but the last window would start at 6 >= 5 + 1: dropped
    (5, 2, 2, 1, 1, True, 3),
    (7, 3, 1, 0, 2, False, 3),
    (6, 3, 3, 1, 1, True, 3),
])
def test_pool_output_size_by_hand(size, kernel, stride, pad, dilation, ceil_mode, expected):
    assert oracle.pool_output_size(size, kernel, stride, pad, dilation, ceil_mode) == expected


def test_avg_pool_count_include_pad_by_hand():
    x = np.ones((1, 1, 2, 2))
    inc = oracle.avg_pool2d(x, (2, 2), (1, 1), (1, 1), count_include_pad=True)
    exc = oracle.avg_pool2d(x, (2, 2), (1, 1), (1, 1), count_include_pad=False)
    np.testing.assert_array_equal(inc[0, 0], [[0.25, 0.5, 0.25], [0.5, 1, 0.5], [0.25, 0.5, 0.25]])
    np.testing.assert_array_equal(exc[0, 0], np.ones((3, 3)))


def test_avg_pool_ceil_mode_window_past_the_padding_divides_by_its_clipped_size():
    x = np.array([[1.0, 2.0, 3.0]])[None, None]
    y = oracle.avg_pool2d(x, (1, 2), (1, 2), (0, 0), ceil_mode=True, count_include_pad=True)
    np.testing.assert_array_equal(y[0, 0], [[1.5, 3.0]])


def test_avg_pool_ceil_mode_with_padding_counts_the_padding_but_not_beyond():
    # W=4, k=3, s=2, p=1, ceil: windows [-1,2), [1,4), [3,5->min(6,5)) -> pool sizes 3, 3, 2
    x = np.array([[1.0, 2.0, 3.0, 4.0]])[None, None]
    y = oracle.avg_pool2d(x, (1, 3), (1, 2), (0, 1), ceil_mode=True, count_include_pad=True)
    np.testing.assert_allclose(y[0, 0], [[3 / 3, 9 / 3, 4 / 2]], rtol=0, atol=1e-15)


def test_relu_by_hand():
    x = np.array([-2.0, -0.0, 0.0, 3.0, np.nan, -np.inf, np.inf])
    y = oracle.relu(x)
    np.testing.assert_array_equal(y, [0, 0, 0, 3, np.nan, 0, np.inf])
    assert not np.signbit(y[1])
    assert oracle.relu(np.float32(-1.5)).dtype == np.float32


# --- against torch -----------------------------------------------------------------------

@st.composite
def conv_cases(draw):
    groups = draw(st.integers(1, 3))
    c = groups * draw(st.integers(1, 3))
    k = groups * draw(st.integers(1, 3))
    r, s = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dil = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    pad = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    h = draw(st.integers(max(1, dil[0] * (r - 1) + 1 - 2 * pad[0]), 10))
    w = draw(st.integers(max(1, dil[1] * (s - 1) + 1 - 2 * pad[1]), 10))
    n = draw(st.integers(1, 2))
    bias = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    return n, c, h, w, k, r, s, stride, pad, dil, groups, bias, seed


@settings(max_examples=40)
@given(conv_cases())
def test_oracle_conv2d_matches_torch(case):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    n, c, h, w, k, r, s, stride, pad, dil, groups, bias, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    wt = rng.standard_normal((k, c // groups, r, s))
    b = rng.standard_normal(k) if bias else None
    got = oracle.conv2d(x, wt, b, stride, ((pad[0], pad[0]), (pad[1], pad[1])), dil, groups)
    ref = F.conv2d(torch.from_numpy(x), torch.from_numpy(wt),
                   None if b is None else torch.from_numpy(b),
                   stride=stride, padding=pad, dilation=dil, groups=groups).numpy()
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


# torch warns that even kernels make it pad a copy of the input: expected, not our concern
@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
@pytest.mark.parametrize("r,dil", [(3, 1), (4, 1), (3, 2), (2, 3)])
def test_oracle_same_padding_matches_torch_for_stride_1(r, dil):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(r * 10 + dil)
    x = rng.standard_normal((1, 2, 7, 6))
    w = rng.standard_normal((3, 2, r, r))
    pad = [oracle.same_padding(size, r, 1, dil) for size in (7, 6)]
    got = oracle.conv2d(x, w, padding=tuple(pad), dilation=(dil, dil))
    ref = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w),
                                     padding="same", dilation=dil).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


@st.composite
def pool_cases(draw, with_dilation):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    pad = (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2)))
    dil = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if with_dilation else (1, 1)
    h = draw(st.integers(max(1, dil[0] * (kh - 1) + 1 - 2 * pad[0]), 10))
    w = draw(st.integers(max(1, dil[1] * (kw - 1) + 1 - 2 * pad[1]), 10))
    ceil_mode = draw(st.booleans())
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    ints = draw(st.booleans())  # small integers make ties frequent
    seed = draw(st.integers(0, 2**32 - 1))
    return (kh, kw), stride, pad, dil, ceil_mode, (n, c, h, w), ints, seed


def _windows_all_padding(shape, kernel, stride, pad, dil, ceil_mode):
    """True if some max-pool window holds no input position (torch's index is then junk)."""
    def axis(size, k, s, p, d):
        out = oracle.pool_output_size(size, k, s, p, d, ceil_mode)
        rows = np.arange(out)[:, None] * s - p + np.arange(k)[None, :] * d
        return (((rows >= 0) & (rows < size)).sum(axis=1) == 0).any()
    return axis(shape[2], kernel[0], stride[0], pad[0], dil[0]) or \
        axis(shape[3], kernel[1], stride[1], pad[1], dil[1])


@settings(max_examples=60)
@given(pool_cases(with_dilation=True))
def test_oracle_max_pool2d_matches_torch_values_and_indices(case):
    torch = pytest.importorskip("torch")
    kernel, stride, pad, dil, ceil_mode, shape, ints, seed = case
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, shape).astype(np.float64) if ints else rng.standard_normal(shape)
    y, idx = oracle.max_pool2d(x, kernel, stride, pad, dil, ceil_mode)
    ty, tidx = torch.nn.functional.max_pool2d(
        torch.from_numpy(x), kernel, stride, pad, dil, ceil_mode=ceil_mode, return_indices=True)
    np.testing.assert_array_equal(y, ty.numpy())
    if _windows_all_padding(shape, kernel, stride, pad, dil, ceil_mode):
        # torch leaves an arbitrary index there; ours is -1 (checked by hand above)
        keep = idx != -1
        assert not keep.all()
        np.testing.assert_array_equal(idx[keep], tidx.numpy()[keep])
    else:
        np.testing.assert_array_equal(idx, tidx.numpy())


def test_oracle_max_pool2d_nan_values_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 8))
    x[rng.random(x.shape) < 0.1] = np.nan
    y, idx = oracle.max_pool2d(x, (3, 2), (2, 2), (1, 1), (1, 1), True)
    ty, tidx = torch.nn.functional.max_pool2d(torch.from_numpy(x), (3, 2), (2, 2), (1, 1),
                                              ceil_mode=True, return_indices=True)
    np.testing.assert_array_equal(y, ty.numpy())
    assert np.isnan(y).any()
    # torch reports the LAST NaN of a window, the spec the FIRST: compare where no NaN won
    clean = ~np.isnan(y)
    np.testing.assert_array_equal(idx[clean], tidx.numpy()[clean])


@settings(max_examples=60)
@given(pool_cases(with_dilation=False), st.booleans())
def test_oracle_avg_pool2d_matches_torch(case, count_include_pad):
    torch = pytest.importorskip("torch")
    kernel, stride, pad, _, ceil_mode, shape, _, seed = case
    x = np.random.default_rng(seed).standard_normal(shape)
    y = oracle.avg_pool2d(x, kernel, stride, pad, ceil_mode, count_include_pad)
    ty = torch.nn.functional.avg_pool2d(torch.from_numpy(x), kernel, stride, pad,
                                        ceil_mode=ceil_mode,
                                        count_include_pad=count_include_pad).numpy()
    assert y.shape == ty.shape
    np.testing.assert_allclose(y, ty, rtol=1e-13, atol=1e-13)


def test_oracle_relu_matches_torch_except_the_sign_of_zero():
    torch = pytest.importorskip("torch")
    x = np.array([-2.0, -1e-300, 0.0, 5e-324, 3.0, np.nan, -np.inf, np.inf])
    np.testing.assert_array_equal(oracle.relu(x), torch.relu(torch.from_numpy(x)).numpy())


def test_oracle_linear_by_hand():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    w = np.array([[1.0, 0.0], [1.0, -1.0], [0.5, 0.5]])
    np.testing.assert_array_equal(oracle.linear(x, w, [0.0, 0.0, 1.0]),
                                  [[1.0, -1.0, 2.5], [3.0, -1.0, 4.5]])
    np.testing.assert_array_equal(oracle.linear(x[0], w), [1.0, -1.0, 1.5])  # one sample
    gx, gw, gb = oracle.linear_backward(np.ones((2, 3)), x, w)
    np.testing.assert_array_equal(gx, [[2.5, -0.5], [2.5, -0.5]])
    np.testing.assert_array_equal(gw, [[4.0, 6.0]] * 3)
    np.testing.assert_array_equal(gb, [2.0, 2.0, 2.0])
    # leading dims flatten; the adjoint identity <linear(x), g> = <x, grad_x> without bias
    rng = np.random.default_rng(0)
    x3, w3, g3 = rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4)), \
        rng.standard_normal((2, 3, 5))
    gx3, gw3, _ = oracle.linear_backward(g3, x3, w3)
    assert np.isclose((oracle.linear(x3, w3) * g3).sum(), (x3 * gx3).sum())
    assert np.isclose((oracle.linear(x3, w3) * g3).sum(), (w3 * gw3).sum())


def test_oracle_linear_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x, w, b, g = (rng.standard_normal(s) for s in ((2, 3, 7), (5, 7), (5,), (2, 3, 5)))
    tx, tw, tb = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    ty = torch.nn.functional.linear(tx, tw, tb)
    ty.backward(torch.from_numpy(g))
    np.testing.assert_allclose(oracle.linear(x, w, b), ty.detach().numpy(), rtol=1e-13)
    for mine, theirs in zip(oracle.linear_backward(g, x, w), (tx.grad, tw.grad, tb.grad)):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-13, atol=1e-13)


def test_hypothesis_profile_follows_the_ci_environment_variable():
    from hypothesis import settings as current
    if os.environ.get("HYPOTHESIS_PROFILE"):
        expected = os.environ["HYPOTHESIS_PROFILE"]
    else:
        expected = "ci" if os.environ.get("CI") else "dev"
    assert current._current_profile == expected
    assert current.default.derandomize == (expected == "ci")
    assert current.default.deadline is None

"""max_pool2d and avg_pool2d against the oracle, the C reference twins and thread counts."""

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastconv
import fastconv.reference
import oracle
from strategies import int_or_pair
from tolerances import assert_exact, assert_integer_exact, assert_reduction_close

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]


def _pair(draw, lo, hi):
    return int_or_pair(draw, st, lo, hi)


@st.composite
def pool_configs(draw, with_dilation, max_batch=3):
    k_spec, k = _pair(draw, 1, 4)
    if draw(st.booleans()):
        stride_spec, stride = None, k
    else:
        stride_spec, stride = _pair(draw, 1, 3)
    if draw(st.booleans()):
        p = draw(st.integers(0, min(k) // 2))
        pad_spec, pad = p, (p, p)
    else:
        pad = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
        pad_spec = pad
    if with_dilation and draw(st.booleans()):
        dil_spec, dil = _pair(draw, 1, 3)
    else:
        dil_spec, dil = 1, (1, 1)
    dims = []
    for a in range(2):
        lo = max(1, dil[a] * (k[a] - 1) + 1 - 2 * pad[a])
        dims.append(draw(st.integers(lo, max(lo, 11))))
    n = draw(st.integers(0, max_batch))
    return dict(
        n=n, c=draw(st.integers(1, 5)), h=dims[0], w=dims[1],
        k_spec=k_spec, k=k, stride_spec=stride_spec, stride=stride, pad_spec=pad_spec, pad=pad,
        dil_spec=dil_spec, dil=dil, ceil_mode=draw(st.booleans()),
        unbatched=n == 1 and draw(st.booleans()),
        data=draw(st.sampled_from(["normal", "ints", "ints_with_inf"])),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


def make_x(cfg, dtype, data=None):
    rng = np.random.default_rng(cfg["seed"])
    shape = (cfg["n"], cfg["c"], cfg["h"], cfg["w"])
    data = data or cfg["data"]
    if data == "normal":
        x = rng.standard_normal(shape)
    else:
        # small integers: many ties; all-negative windows check that padding never wins
        x = rng.integers(-3, 2, shape).astype(np.float64)
        if data == "ints_with_inf":
            x[rng.random(shape) < 0.2] = -np.inf
            x[rng.random(shape) < 0.05] = np.inf
    return x.astype(dtype)


def api_x(cfg, x):
    return x[0] if cfg["unbatched"] else x


def unbatch(cfg, *arrays):
    return [a[0] for a in arrays] if cfg["unbatched"] else list(arrays)


def max_kwargs(cfg):
    return dict(stride=cfg["stride_spec"], padding=cfg["pad_spec"], dilation=cfg["dil_spec"],
                ceil_mode=cfg["ceil_mode"])


def avg_kwargs(cfg, count_include_pad):
    return dict(stride=cfg["stride_spec"], padding=cfg["pad_spec"], ceil_mode=cfg["ceil_mode"],
                count_include_pad=count_include_pad)


def max_expected(cfg, x):
    y, idx = oracle.max_pool2d(x, cfg["k"], cfg["stride"], cfg["pad"], cfg["dil"],
                               cfg["ceil_mode"])
    y, idx = unbatch(cfg, y.astype(x.dtype), idx)
    return y, idx


def avg_expected(cfg, x, count_include_pad):
    args = (cfg["k"], cfg["stride"], cfg["pad"], cfg["ceil_mode"], count_include_pad)
    y = oracle.avg_pool2d(x, *args)
    bound = oracle.avg_pool2d_abs_bound(x, *args)
    y, bound = unbatch(cfg, y, bound)
    return y, bound, cfg["k"][0] * cfg["k"][1]


# --- max_pool2d -----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=pool_configs(with_dilation=True))
def test_max_pool2d_values_and_indices_match_oracle_exactly(nan_outputs, dtype, cfg):
    x = make_x(cfg, dtype)
    saved = x.copy()
    nan_outputs.reset()
    y, idx = fastconv.max_pool2d(api_x(cfg, x), cfg["k_spec"], return_indices=True,
                                 **max_kwargs(cfg))
    # both outputs, values and indices, come from _empty (so the sentinels are in place)
    assert sorted(str(c[1]) for c in nan_outputs.calls) == sorted([np.dtype(dtype).name, "int64"])
    ey, eidx = max_expected(cfg, x)
    assert_exact(y, ey)
    assert_exact(idx, eidx)
    assert_exact(x, saved)


@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=pool_configs(with_dilation=True))
def test_max_pool2d_without_indices_gives_the_same_values(nan_outputs, dtype, cfg):
    x = make_x(cfg, dtype)
    nan_outputs.reset()
    y = fastconv.max_pool2d(api_x(cfg, x), cfg["k_spec"], **max_kwargs(cfg))
    assert nan_outputs.calls
    assert_exact(y, max_expected(cfg, x)[0])


@settings(max_examples=40)
@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=pool_configs(with_dilation=True))
def test_max_pool2d_accepts_read_only_input_and_leaves_it_intact(dtype, cfg):
    x = make_x(cfg, dtype)
    saved = x.copy()
    x.flags.writeable = False
    y, idx = fastconv.max_pool2d(api_x(cfg, x), cfg["k_spec"], return_indices=True,
                                 **max_kwargs(cfg))
    ey, eidx = max_expected(cfg, x)
    assert_exact(y, ey)
    assert_exact(idx, eidx)
    assert_exact(x, saved)


@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=pool_configs(with_dilation=True), nan_rate=st.sampled_from([0.05, 0.3, 1.0]))
def test_max_pool2d_nan_wins_with_the_index_of_the_first_nan(dtype, cfg, nan_rate):
    x = make_x(cfg, dtype)
    x[np.random.default_rng(cfg["seed"] + 1).random(x.shape) < nan_rate] = np.nan
    y, idx = fastconv.max_pool2d(api_x(cfg, x), cfg["k_spec"], return_indices=True,
                                 **max_kwargs(cfg))
    ey, eidx = max_expected(cfg, x)
    assert_exact(y, ey)
    assert_exact(idx, eidx)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_nan_by_hand(dtype):
    x = np.array([[1, np.nan, 5, 2],
                  [np.nan, 9, 3, np.nan]], dtype=dtype).reshape(1, 1, 2, 4)
    y, idx = fastconv.max_pool2d(x, 2, return_indices=True)
    assert np.isnan(y[0, 0, 0, 0]) and idx[0, 0, 0, 0] == 1  # first NaN in row-major order
    assert np.isnan(y[0, 0, 0, 1]) and idx[0, 0, 0, 1] == 7


@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_pool_with_a_huge_row_stride_takes_no_time(dtype, op):
    # found by tests/test_fuzz.py: the input-row prefetch covered stride_h rows per output row,
    # so a stride of 2**36 (one output row) spent ~10 s issuing prefetches, 2**40 minutes
    x = np.arange(2 * 3 * 5, dtype=dtype).reshape(2, 3, 5)
    start = time.perf_counter()
    y = getattr(fastconv, op)(x, (1, 2), stride=(2**36, 1))
    took = time.perf_counter() - start
    expected = getattr(oracle, op)(x[None], (1, 2), (2**36, 1))
    expected = expected[0] if op == "avg_pool2d" else expected[0][0]
    assert_exact(y, expected.astype(dtype))
    assert took < 2.0, f"{op} with stride 2**36 took {took:.1f} s"


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_ties_take_the_first_index_in_row_major_order(dtype):
    x = np.array([[0, 7, 7, 1],
                  [7, 7, 2, 7]], dtype=dtype).reshape(1, 1, 2, 4)
    y, idx = fastconv.max_pool2d(x, 2, return_indices=True)
    assert_exact(y, np.array([[[[7, 7]]]], dtype=dtype))
    assert_exact(idx, np.array([[[[1, 2]]]], dtype=np.int64))


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_signed_zero_tie_keeps_the_first_element(dtype):
    x = np.array([[-0.0, 0.0, 0.0, -0.0]], dtype=dtype).reshape(1, 1, 1, 4)
    y, idx = fastconv.max_pool2d(x, (1, 2), return_indices=True)
    assert_exact(idx, np.array([[[[0, 2]]]], dtype=np.int64))
    assert_exact(y, np.array([[[[-0.0, 0.0]]]], dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_padding_never_wins_over_negative_values(dtype):
    x = -np.arange(1, 10, dtype=dtype).reshape(1, 1, 3, 3)
    y, idx = fastconv.max_pool2d(x, 3, stride=1, padding=1, return_indices=True)
    assert (y < 0).all()
    ey, eidx = oracle.max_pool2d(x, (3, 3), (1, 1), (1, 1))
    assert_exact(y, ey.astype(dtype))
    assert_exact(idx, eidx)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_all_minus_inf_window_gives_minus_inf_at_the_first_valid_index(dtype):
    x = np.full((1, 1, 3, 3), -np.inf, dtype=dtype)
    y, idx = fastconv.max_pool2d(x, 2, stride=2, padding=1, return_indices=True)
    assert_exact(y, np.full((1, 1, 2, 2), -np.inf, dtype=dtype))
    # windows rows {-1,0},{1,2} x cols {-1,0},{1,2}: first inside positions 0, 1, 3, 4
    assert_exact(idx, np.array([[[[0, 1], [3, 4]]]], dtype=np.int64))


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_window_entirely_in_padding_gives_minus_inf_and_index_minus_one(dtype):
    x = np.full((1, 2, 1, 3), 5.0, dtype=dtype)
    # rows -1 and 1 of a 1-row input: the window holds no input element
    y, idx = fastconv.max_pool2d(x, (2, 1), stride=1, padding=(1, 0), dilation=(2, 1),
                                 return_indices=True)
    assert y.shape == (1, 2, 1, 3)
    assert_exact(y, np.full((1, 2, 1, 3), -np.inf, dtype=dtype))
    assert_exact(idx, np.full((1, 2, 1, 3), -1, dtype=np.int64))


@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=pool_configs(with_dilation=True))
def test_max_pool2d_matches_reference_twin_bitwise(dtype, cfg):
    x = make_x(cfg, dtype)
    y, idx = fastconv.max_pool2d(api_x(cfg, x), cfg["k_spec"], return_indices=True,
                                 **max_kwargs(cfg))
    ry, ridx = fastconv.reference.max_pool2d(api_x(cfg, x), cfg["k_spec"], return_indices=True,
                                             **max_kwargs(cfg))
    assert_exact(y, ry)
    assert_exact(idx, ridx)
    ey, eidx = max_expected(cfg, x)
    assert_exact(ry, ey)
    assert_exact(ridx, eidx)


@settings(max_examples=25)
@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=pool_configs(with_dilation=True))
def test_max_pool2d_one_and_two_threads_are_bitwise_identical(restore_threads, dtype, cfg):
    x = make_x(cfg, dtype)
    fastconv.set_num_threads(1)
    y1, i1 = fastconv.max_pool2d(api_x(cfg, x), cfg["k_spec"], return_indices=True,
                                 **max_kwargs(cfg))
    fastconv.set_num_threads(2)
    y2, i2 = fastconv.max_pool2d(api_x(cfg, x), cfg["k_spec"], return_indices=True,
                                 **max_kwargs(cfg))
    assert_exact(y2, y1)
    assert_exact(i2, i1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_unbatched_input_gives_unbatched_output(dtype):
    x = np.random.default_rng(1).standard_normal((3, 7, 6)).astype(dtype)
    y, idx = fastconv.max_pool2d(x, 3, stride=2, padding=1, return_indices=True)
    by, bidx = fastconv.max_pool2d(x[None], 3, stride=2, padding=1, return_indices=True)
    assert y.shape == (3, 4, 3) and idx.shape == (3, 4, 3)
    assert_exact(y, by[0])
    assert_exact(idx, bidx[0])


def test_max_pool2d_zero_batch_returns_empty_arrays():
    x = np.zeros((0, 3, 6, 6), np.float32)
    y, idx = fastconv.max_pool2d(x, 2, return_indices=True)
    assert y.shape == (0, 3, 3, 3) and y.dtype == np.float32
    assert idx.shape == (0, 3, 3, 3) and idx.dtype == np.int64
    assert fastconv.max_pool2d(x, 2).shape == (0, 3, 3, 3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_matches_torch(dtype):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal((2, 3, 11, 10)).astype(dtype)
    for k, s, p, d, ceil in [(3, 2, 1, 1, False), (3, 2, 1, 1, True), ((2, 3), (1, 2), (1, 0),
                                                                      (2, 1), True)]:
        y, idx = fastconv.max_pool2d(x, k, stride=s, padding=p, dilation=d, ceil_mode=ceil,
                                     return_indices=True)
        ty, tidx = torch.nn.functional.max_pool2d(torch.from_numpy(x), k, s, p, d,
                                                  ceil_mode=ceil, return_indices=True)
        assert_exact(y, ty.numpy())
        assert_exact(idx, tidx.numpy())


POOL_SWEEP = [(kernel, stride, pad, w) for kernel, stride, pad in
              [(2, 2, 0), (3, 1, 1), (3, 2, 1), ((1, 5), (1, 3), (0, 2))]
              for w in (1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel,stride,pad,width", POOL_SWEEP, ids=str)
def test_pools_every_width_around_the_simd_tiles(nan_outputs, dtype, kernel, stride, pad,
                                                 width):
    k = (kernel, kernel) if isinstance(kernel, int) else kernel
    if width + 2 * (pad if isinstance(pad, int) else pad[1]) < k[1]:
        width = k[1]
    x = np.random.default_rng(width).integers(-3, 3, (2, 17, 6, width)).astype(dtype)
    s2 = (stride, stride) if isinstance(stride, int) else stride
    p2 = (pad, pad) if isinstance(pad, int) else pad
    for ceil_mode in (False, True):
        y, idx = fastconv.max_pool2d(x, kernel, stride, pad, ceil_mode=ceil_mode,
                                     return_indices=True)
        ey, eidx = oracle.max_pool2d(x, k, s2, p2, (1, 1), ceil_mode)
        assert_exact(y, ey.astype(dtype))
        assert_exact(idx, eidx)
        for inc in (True, False):
            a = fastconv.avg_pool2d(x, kernel, stride, pad, ceil_mode, inc)
            assert_reduction_close(a, oracle.avg_pool2d(x, k, s2, p2, ceil_mode, inc),
                                   oracle.avg_pool2d_abs_bound(x, k, s2, p2, ceil_mode, inc),
                                   k[0] * k[1], dtype)


# --- avg_pool2d -----------------------------------------------------------------------------

@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=pool_configs(with_dilation=False))
def test_avg_pool2d_matches_oracle_within_reduction_bound(nan_outputs, dtype, count_include_pad,
                                                          cfg):
    x = make_x(cfg, dtype, data="normal" if cfg["data"] == "ints_with_inf" else None)
    saved = x.copy()
    nan_outputs.reset()
    y = fastconv.avg_pool2d(api_x(cfg, x), cfg["k_spec"], **avg_kwargs(cfg, count_include_pad))
    assert nan_outputs.calls
    ey, bound, length = avg_expected(cfg, x, count_include_pad)
    assert_reduction_close(y, ey, bound, length, dtype)
    assert_exact(x, saved)


@settings(max_examples=40)
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=pool_configs(with_dilation=False))
def test_avg_pool2d_accepts_read_only_input_and_leaves_it_intact(dtype, count_include_pad, cfg):
    x = make_x(cfg, dtype, data="normal")
    saved = x.copy()
    x.flags.writeable = False
    y = fastconv.avg_pool2d(api_x(cfg, x), cfg["k_spec"], **avg_kwargs(cfg, count_include_pad))
    ey, bound, length = avg_expected(cfg, x, count_include_pad)
    assert_reduction_close(y, ey, bound, length, dtype)
    assert_exact(x, saved)


@pytest.mark.parametrize("dtype", DTYPES)
@given(kernel=st.sampled_from([(1, 1), (1, 2), (2, 1), (2, 2), (1, 4), (4, 1), (2, 4), (4, 4)]),
       n=st.integers(0, 2), c=st.integers(1, 4), extra=st.tuples(st.integers(0, 5),
                                                                 st.integers(0, 5)),
       stride=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_avg_pool2d_integer_inputs_with_power_of_two_windows_are_exact(nan_outputs, dtype,
                                                                      kernel, n, c, extra,
                                                                      stride, seed):
    # no padding, floor mode: every divisor is the window area, a power of two, so the exact
    # integer sum divided by it is representable and any correct order gives it exactly
    shape = (n, c, kernel[0] + extra[0], kernel[1] + extra[1])
    x = np.random.default_rng(seed).integers(-50, 51, shape).astype(dtype)
    y = fastconv.avg_pool2d(x, kernel, stride=stride)
    assert_integer_exact(y, oracle.avg_pool2d(x, kernel, (stride, stride)), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_pool2d_count_include_pad_by_hand(dtype):
    x = np.ones((1, 1, 2, 2), dtype=dtype)
    inc = fastconv.avg_pool2d(x, 2, stride=1, padding=1, count_include_pad=True)
    exc = fastconv.avg_pool2d(x, 2, stride=1, padding=1, count_include_pad=False)
    assert_exact(inc, np.array([[0.25, 0.5, 0.25], [0.5, 1, 0.5], [0.25, 0.5, 0.25]],
                               dtype=dtype).reshape(1, 1, 3, 3))
    assert_exact(exc, np.ones((1, 1, 3, 3), dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_pool2d_ceil_mode_window_past_the_padding_is_not_counted(dtype):
    # W=4, k=3, s=2, p=1, ceil: windows [-1,2), [1,4), [3,5) -> divisors 3, 3, 2
    x = np.array([[1.0, 2.0, 3.0, 4.0]], dtype=dtype).reshape(1, 1, 1, 4)
    y = fastconv.avg_pool2d(x, (1, 3), stride=(1, 2), padding=(0, 1), ceil_mode=True)
    assert_exact(y, np.array([[[[1.0, 3.0, 2.0]]]], dtype=dtype))


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=pool_configs(with_dilation=False))
def test_avg_pool2d_matches_reference_twin(dtype, count_include_pad, cfg):
    x = make_x(cfg, dtype, data="normal")
    y = fastconv.avg_pool2d(api_x(cfg, x), cfg["k_spec"], **avg_kwargs(cfg, count_include_pad))
    ry = fastconv.reference.avg_pool2d(api_x(cfg, x), cfg["k_spec"],
                                       **avg_kwargs(cfg, count_include_pad))
    ey, bound, length = avg_expected(cfg, x, count_include_pad)
    assert_reduction_close(ry, ey, bound, length, dtype)
    assert_reduction_close(y, ry.astype(np.float64), bound, 2 * length, dtype)


@settings(max_examples=25)
@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=pool_configs(with_dilation=False), count_include_pad=st.booleans())
def test_avg_pool2d_one_and_two_threads_are_bitwise_identical(restore_threads, dtype, cfg,
                                                              count_include_pad):
    x = make_x(cfg, dtype, data="normal")
    kw = avg_kwargs(cfg, count_include_pad)
    fastconv.set_num_threads(1)
    y1 = fastconv.avg_pool2d(api_x(cfg, x), cfg["k_spec"], **kw)
    fastconv.set_num_threads(2)
    y2 = fastconv.avg_pool2d(api_x(cfg, x), cfg["k_spec"], **kw)
    assert_exact(y2, y1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_pools_threads_bitwise_identical_on_a_map_big_enough_to_split(restore_threads, dtype):
    x = np.random.default_rng(8).standard_normal((4, 16, 33, 31)).astype(dtype)
    res = []
    for n in (1, 2, 3):
        fastconv.set_num_threads(n)
        res.append((fastconv.max_pool2d(x, 3, stride=2, padding=1, return_indices=True),
                    fastconv.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True)))
    for (m, a) in res[1:]:
        assert_exact(m[0], res[0][0][0])
        assert_exact(m[1], res[0][0][1])
        assert_exact(a, res[0][1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_pool2d_unbatched_input_gives_unbatched_output(dtype):
    x = np.random.default_rng(1).standard_normal((3, 7, 6)).astype(dtype)
    y = fastconv.avg_pool2d(x, 3, stride=2, padding=1)
    assert y.shape == (3, 4, 3)
    assert_exact(y, fastconv.avg_pool2d(x[None], 3, stride=2, padding=1)[0])


def test_avg_pool2d_zero_batch_returns_empty_array():
    y = fastconv.avg_pool2d(np.zeros((0, 2, 5, 5)), 2, stride=1)
    assert y.shape == (0, 2, 4, 4) and y.dtype == np.float64


@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_pool2d_matches_torch(dtype):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).standard_normal((2, 3, 11, 10)).astype(dtype)
    for k, s, p, ceil, inc in [(3, 2, 1, False, True), (3, 2, 1, True, False),
                               ((2, 3), (1, 2), (1, 0), True, True), (2, None, 0, False, True)]:
        y = fastconv.avg_pool2d(x, k, stride=s, padding=p, ceil_mode=ceil,
                                count_include_pad=inc)
        t = torch.nn.functional.avg_pool2d(torch.from_numpy(x).double(), k, s, p,
                                           ceil_mode=ceil, count_include_pad=inc).numpy()
        bound = torch.nn.functional.avg_pool2d(torch.from_numpy(np.abs(x)).double(), k, s, p,
                                               ceil_mode=ceil, count_include_pad=inc).numpy()
        kh, kw = (k, k) if isinstance(k, int) else k
        assert_reduction_close(y, t, bound, 2 * kh * kw, dtype)


def test_pools_are_exported_from_functional():
    import fastconv.functional
    assert fastconv.max_pool2d is fastconv.functional.max_pool2d
    assert fastconv.avg_pool2d is fastconv.functional.avg_pool2d

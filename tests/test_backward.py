"""Backward passes: conv2d, max/avg pooling and ReLU against the float64 oracle, the C reference
twins, finite differences, the adjoint identities, torch.autograd and thread counts."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastconv
import fastconv.reference
import oracle
from test_conv2d import api_x, conv_configs, make_inputs
from test_pooling import pool_configs
from tolerances import (assert_exact, assert_integer_exact, assert_reduction_close,
                        reduction_tolerance)

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]
MASKS = [(True, True, True), (True, False, False), (False, True, False), (False, False, True),
         (False, True, True), (True, True, False), (False, False, False)]
IMPLEMENTATIONS = [pytest.param(fastconv, id="fast"),
                   pytest.param(fastconv.reference, id="reference")]


# --- conv2d: helpers ----------------------------------------------------------------------

def conv_args(cfg):
    """The normalised forward arguments, for the oracle."""
    return dict(stride=cfg["stride"], padding=cfg["pads"], dilation=cfg["dil"],
                groups=cfg["groups"])


def api_args(cfg):
    """The API spellings of the same arguments (int, pair, asymmetric, 'same', ...)."""
    return dict(stride=cfg["stride_spec"], padding=cfg["pad_spec"], dilation=cfg["dil_spec"],
                groups=cfg["groups"])


def conv_problem(cfg, dtype, integer=False):
    """x, w and a random grad_output of the forward's output shape (batched arrays)."""
    x, w, _ = make_inputs(cfg, dtype, integer)
    shape = oracle.conv2d(x[:1] if len(x) else np.zeros((1,) + x.shape[1:]), w,
                          **conv_args(cfg)).shape[1:]
    rng = np.random.default_rng(cfg["seed"] + 1)
    gshape = (cfg["n"],) + shape
    g = (rng.integers(-4, 5, gshape) if integer else rng.standard_normal(gshape)).astype(dtype)
    return g, x, w


def conv_lengths(cfg, g):
    """Terms per element of (grad_input, grad_weight, grad_bias)."""
    kg = cfg["k"] // cfg["groups"]
    pixels = cfg["n"] * g.shape[2] * g.shape[3]
    return max(1, kg * cfg["r"] * cfg["s"]), max(1, pixels), max(1, pixels)


def call_backward(module, cfg, g, x, w, mask=(True, True, True)):
    return module.conv2d_backward(api_x(cfg, g), api_x(cfg, x), w, **api_args(cfg),
                                  output_mask=mask)


def batched(cfg, result):
    return None if result is None else (result[None] if cfg["unbatched"] else result)


# --- conv2d: oracle, reference twin, torch ---------------------------------------------------

@settings(max_examples=60)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("module", IMPLEMENTATIONS)
@given(cfg=conv_configs(), mask=st.sampled_from(MASKS))
def test_conv2d_backward_matches_oracle_within_reduction_bound(nan_outputs, module, dtype, cfg,
                                                               mask):
    g, x, w = conv_problem(cfg, dtype)
    saved = [a.copy() for a in (g, x, w)]
    nan_outputs.reset()
    grads = call_backward(module, cfg, g, x, w, mask)
    assert len(nan_outputs.calls) == sum(mask), "outputs must come from _empty"
    expected = oracle.conv2d_backward(g, x, w, **conv_args(cfg))
    bounds = oracle.conv2d_backward_abs_bound(g, x, w, **conv_args(cfg))
    for i, (got, want, bound, length) in enumerate(zip(grads, expected, bounds,
                                                       conv_lengths(cfg, g))):
        if not mask[i]:
            assert got is None
            continue
        got = batched(cfg, got) if i == 0 else got
        assert_reduction_close(got, want, bound, length, dtype)
    for a, b in zip(saved, (g, x, w)):
        assert_exact(b, a)


@settings(max_examples=40)
@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=conv_configs())
def test_conv2d_backward_integer_inputs_match_oracle_exactly(nan_outputs, dtype, cfg):
    g, x, w = conv_problem(cfg, dtype, integer=True)
    expected = oracle.conv2d_backward(g, x, w, **conv_args(cfg))
    for module in (fastconv, fastconv.reference):
        gx, gw, gb = call_backward(module, cfg, g, x, w)
        assert_integer_exact(batched(cfg, gx), expected[0], dtype)
        assert_integer_exact(gw, expected[1], dtype)
        assert_integer_exact(gb, expected[2], dtype)


@settings(max_examples=40)
@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=conv_configs())
def test_conv2d_backward_matches_reference_twin(dtype, cfg):
    g, x, w = conv_problem(cfg, dtype)
    fast = call_backward(fastconv, cfg, g, x, w)
    ref = call_backward(fastconv.reference, cfg, g, x, w)
    bounds = oracle.conv2d_backward_abs_bound(g, x, w, **conv_args(cfg))
    for i, (a, b, bound, length) in enumerate(zip(fast, ref, bounds, conv_lengths(cfg, g))):
        if i == 0:
            a, b = batched(cfg, a), batched(cfg, b)
        # both within the bound of the exact result, so of each other within twice it
        assert_reduction_close(a, b.astype(np.float64), bound, 2 * length, dtype)


@settings(max_examples=20)
@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=conv_configs())
def test_conv2d_backward_matches_torch_autograd(dtype, cfg):
    torch = pytest.importorskip("torch")
    g, x, w = conv_problem(cfg, dtype)
    if cfg["n"] == 0:
        return  # torch refuses empty batches for some configurations; covered below
    (pt, pb), (pl, pr) = cfg["pads"]
    tx = torch.from_numpy(np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pt, pb), (pl, pr))))
    tx.requires_grad_()
    tw = torch.from_numpy(w.astype(np.float64)).requires_grad_()
    tb = torch.zeros(cfg["k"], dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.conv2d(tx, tw, tb, stride=cfg["stride"], dilation=cfg["dil"],
                                   groups=cfg["groups"])
    y.backward(torch.from_numpy(g.astype(np.float64)))
    expected = (tx.grad.numpy()[:, :, pt:pt + cfg["h"], pl:pl + cfg["w"]], tw.grad.numpy(),
                tb.grad.numpy())
    bounds = oracle.conv2d_backward_abs_bound(g, x, w, **conv_args(cfg))
    got = call_backward(fastconv, cfg, g, x, w)
    for i, (a, e, bound, length) in enumerate(zip(got, expected, bounds, conv_lengths(cfg, g))):
        assert_reduction_close(batched(cfg, a) if i == 0 else a, e, bound, 2 * length, dtype)


# --- conv2d: identities, finite differences -------------------------------------------------

@settings(max_examples=40)
@given(cfg=conv_configs())
def test_conv2d_backward_adjoint_identities(cfg):
    """<conv(x, w), g> = <x, grad_input(g, w)> = <w, grad_weight(x, g)>, in float64."""
    g, x, w = conv_problem(cfg, np.float64)
    y = fastconv.conv2d(x, w, **api_args(cfg))
    gx, gw, gb = fastconv.conv2d_backward(g, x, w, **api_args(cfg))
    lhs = float(np.sum(y * g))
    scale = float(np.sum(np.abs(oracle.conv2d(np.abs(x), np.abs(w), **conv_args(cfg))) *
                         np.abs(g))) + 1e-300
    assert abs(lhs - float(np.sum(x * gx))) <= 1e-12 * scale
    assert abs(lhs - float(np.sum(w * gw))) <= 1e-12 * scale
    # with a bias b, the output moves by b[k] at every pixel: <1, g[:, k]> = grad_bias[k]
    np.testing.assert_allclose(gb, g.sum(axis=(0, 2, 3)), rtol=1e-12, atol=1e-12)


def central_differences(f, a, step=1e-6):
    """d f / d a[i] for every element of a (float64), by central differences."""
    grad = np.empty_like(a)
    for i in np.ndindex(a.shape):
        saved = a[i]
        a[i] = saved + step
        up = f()
        a[i] = saved - step
        down = f()
        a[i] = saved
        grad[i] = (up - down) / (2 * step)
    return grad


@pytest.mark.parametrize("case", [
    # (N, C, H, W), (K, C/g, R, S), stride, padding, dilation, groups
    ((2, 2, 5, 4), (3, 2, 3, 2), 1, 1, 1, 1),
    ((1, 4, 6, 7), (4, 2, 2, 3), (2, 1), ((0, 2), (1, 0)), (1, 2), 2),
    ((2, 3, 5, 5), (3, 1, 3, 3), 2, "same", 1, 3),
], ids=["plain", "grouped-asym", "depthwise-same"])
def test_conv2d_backward_matches_finite_differences(case):
    xs, ws, stride, padding, dilation, groups = case
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    b = rng.standard_normal(ws[0])
    args = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    g = rng.standard_normal(fastconv.conv2d(x, w, b, **args).shape)

    def loss():
        return float(np.sum(fastconv.conv2d(x, w, b, **args) * g))

    gx, gw, gb = fastconv.conv2d_backward(g, x, w, **args)
    for grad, array in ((gx, x), (gw, w), (gb, b)):
        np.testing.assert_allclose(grad, central_differences(loss, array), rtol=1e-6,
                                   atol=1e-6)


# --- conv2d: threads, edge cases, layouts ----------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("stride", [(2, 1), (1, 1)], ids=["packed", "virtual-grid"])
def test_conv2d_backward_threads_bitwise_identical_on_a_layer_big_enough_to_split(
        restore_threads, dtype, stride):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((6, 8, 17, 15)).astype(dtype)
    w = rng.standard_normal((12, 4, 3, 3)).astype(dtype)
    p = (17 + 2 - 3) // stride[0] + 1
    g = rng.standard_normal((6, 12, p, 15)).astype(dtype)
    args = dict(stride=stride, padding=1, groups=2)
    results = []
    for n in (1, 2, 3, 1):
        fastconv.set_num_threads(n)
        results.append(fastconv.conv2d_backward(g, x, w, **args))
    for r in results[1:]:
        for a, b in zip(r, results[0]):
            assert_exact(a, b)
    expected = oracle.conv2d_backward(g, x, w, stride, ((1, 1), (1, 1)), (1, 1), 2)
    bounds = oracle.conv2d_backward_abs_bound(g, x, w, stride, ((1, 1), (1, 1)), (1, 1), 2)
    for a, e, bound, length in zip(results[0], expected, bounds, (54, 6 * p * 15, 6 * p * 15)):
        assert_reduction_close(a, e, bound, length, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_backward_lenet_layers_threads_bitwise_identical(restore_threads, dtype):
    rng = np.random.default_rng(18)
    for xs, ws, pad, gs in (((64, 1, 28, 28), (6, 1, 5, 5), 2, (64, 6, 28, 28)),
                            ((64, 6, 14, 14), (16, 6, 5, 5), 0, (64, 16, 10, 10))):
        x = rng.standard_normal(xs).astype(dtype)
        w = rng.standard_normal(ws).astype(dtype)
        g = rng.standard_normal(gs).astype(dtype)
        fastconv.set_num_threads(1)
        one = fastconv.conv2d_backward(g, x, w, padding=pad)
        fastconv.set_num_threads(2)
        two = fastconv.conv2d_backward(g, x, w, padding=pad)
        for a, b in zip(one, two):
            assert_exact(b, a)
        ref = fastconv.reference.conv2d_backward(g, x, w, padding=pad)
        bounds = oracle.conv2d_backward_abs_bound(g, x, w, padding=((pad, pad), (pad, pad)))
        lengths = (ws[0] * 25, 64 * gs[2] * gs[3], 64 * gs[2] * gs[3])
        for a, e, bound, length in zip(one, ref, bounds, lengths):
            assert_reduction_close(a, e.astype(np.float64), bound, 2 * length, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs, ws, stride, padding, groups", [
    ((1, 45, 13, 11), (21, 45, 3, 3), 1, (1, 2), 1),     # grid, 45 channels: ranges 16, 16, 13
    ((1, 90, 9, 10), (34, 45, 3, 3), 1, 1, 2),           # two groups of 45
    ((1, 45, 13, 11), (21, 45, 3, 3), 2, 1, 1),          # stride 2: col2im
    ((2, 300, 7, 9), (40, 300, 1, 1), 1, 0, 1),          # 1x1: ranges of 8-channel units
    ((1, 23, 12, 12), (16, 23, 5, 5), 1, 2, 1),          # 5x5: a range ends at the last row
    ((1, 130, 8, 9), (20, 130, 2, 2), (1, 2), (1, 0), 1),  # 2x2: units of 2 channels
], ids=["grid", "groups", "stride2", "1x1", "5x5", "2x2"])
def test_conv2d_backward_grad_input_channel_ranges_match_the_oracle_on_any_threads(
        restore_threads, dtype, xs, ws, stride, padding, groups):
    """A batch of one or two: grad_input's items are ranges of input channels (whole MR-row
    strips) on 2 threads and more, one item on 1 thread; the bits are the same, alone or beside
    grad_weight, and within the oracle's bound."""
    rng = np.random.default_rng(21)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    pads = (padding, padding) if isinstance(padding, int) else padding
    strides = (stride, stride) if isinstance(stride, int) else stride
    args = dict(stride=strides, padding=((pads[0], pads[0]), (pads[1], pads[1])),
                dilation=(1, 1), groups=groups)
    g = rng.standard_normal(oracle.conv2d(x, w, **args).shape).astype(dtype)
    results = []
    for threads in (1, 2, 3, 4):
        fastconv.set_num_threads(threads)
        for mask in ((True, False, False), (True, True, True)):
            results.append(fastconv.conv2d_backward(g, x, w, strides, pads, 1, groups,
                                                    output_mask=mask)[0])
    for r in results[1:]:
        assert_exact(r, results[0])
    expected = oracle.conv2d_backward(g, x, w, **args)[0]
    bound = oracle.conv2d_backward_abs_bound(g, x, w, **args)[0]
    assert_reduction_close(results[0], expected, bound, (ws[0] // groups) * ws[2] * ws[3],
                           dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs, ws, groups", [
    ((3, 20, 9, 7), (37, 20, 1, 1), 1),        # 37 filters: the last A panel read in part
    ((2, 30, 5, 13), (74, 15, 1, 1), 2),       # groups: the first group's rows stop at its own
    ((1, 9, 40, 30), (40, 9, 1, 1), 1),        # 1200 pixels: blocks of pixels, a short last
])
def test_conv2d_backward_1x1_grad_weight_in_place_matches_the_oracle(restore_threads, dtype,
                                                                     xs, ws, groups):
    """1x1, stride 1, no padding, 32 filters per group or more: grad_weight reads grad_output
    and x in place (no grid); the same bits on 1-3 threads and under a small workspace."""
    rng = np.random.default_rng(22)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    g = rng.standard_normal((xs[0], ws[0]) + xs[2:]).astype(dtype)
    results = []
    for threads, limit in ((1, None), (2, None), (3, None), (2, 1 << 18)):
        fastconv.set_num_threads(threads)
        results.append(fastconv.conv2d_backward(g, x, w, groups=groups,
                                                max_workspace_bytes=limit))
    for r in results[1:]:
        for a, b in zip(r, results[0]):
            assert_exact(a, b)
    expected = oracle.conv2d_backward(g, x, w, groups=groups)
    bounds = oracle.conv2d_backward_abs_bound(g, x, w, groups=groups)
    pixels = xs[0] * xs[2] * xs[3]
    for a, e, bound, length in zip(results[0], expected, bounds,
                                   (ws[0] // groups, pixels, pixels)):
        assert_reduction_close(a, e, bound, length, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs, ws, padding, dilation, groups", [
    ((3, 5, 9, 7), (40, 5, 3, 3), 1, 1, 1),       # 40 filters: the last k tile read in part
    ((2, 8, 11, 10), (64, 4, 5, 5), 2, 1, 2),     # groups, 5x5: segments of 10, tails of 2
    ((5, 3, 6, 13), (33, 3, 3, 2), (0, 2), 2, 1),  # dilation, one-sided padding, 5 images
    ((1, 7, 40, 30), (36, 7, 3, 3), 1, 1, 1),     # 1200 pixels: blocks that split a row
])
def test_conv2d_backward_stride1_many_filters_off_the_virtual_columns(restore_threads, dtype, xs,
                                                                      ws, padding, dilation,
                                                                      groups):
    """Stride 1 with 32 filters per group or more: grad_weight sums the output pixels only
    (grad_output in place, the padded planes packed per output row segment) and grad_input
    leaves the grid where its junk columns cost more; the same bits on 1-3 threads, under a
    small workspace and beside or without the other gradients, within the oracle's bound."""
    rng = np.random.default_rng(23)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    pads = (padding, padding) if isinstance(padding, int) else padding
    args = dict(stride=(1, 1), padding=((pads[0], pads[0]), (pads[1], pads[1])),
                dilation=(dilation, dilation), groups=groups)
    g = rng.standard_normal(oracle.conv2d(x, w, **args).shape).astype(dtype)
    call = dict(stride=1, padding=pads, dilation=dilation, groups=groups)
    fastconv.set_num_threads(2)
    with pytest.raises(ValueError, match="bytes per thread") as info:
        fastconv.conv2d_backward(g, x, w, **call, max_workspace_bytes=1)
    least = int(re.search(r"below the (\d+) bytes", str(info.value)).group(1))
    results = []
    # (the least limit: each item builds its own planes, the same sums)
    for threads, limit in ((1, None), (2, None), (3, None), (2, 1 << 18), (2, least)):
        fastconv.set_num_threads(threads)
        results.append(fastconv.conv2d_backward(g, x, w, **call, max_workspace_bytes=limit))
    fastconv.set_num_threads(2)
    alone = [fastconv.conv2d_backward(g, x, w, **call, output_mask=mask)[i]
             for i, mask in enumerate(((True, False, False), (False, True, False)))]
    for r in results[1:]:
        for a, b in zip(r, results[0]):
            assert_exact(a, b)
    for a, b in zip(alone, results[0]):
        assert_exact(a, b)
    expected = oracle.conv2d_backward(g, x, w, **args)
    bounds = oracle.conv2d_backward_abs_bound(g, x, w, **args)
    pixels = g.shape[0] * g.shape[2] * g.shape[3]
    for a, e, bound, length in zip(results[0], expected, bounds,
                                   ((ws[0] // groups) * ws[2] * ws[3], pixels, pixels)):
        assert_reduction_close(a, e, bound, length, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_backward_many_filters_infinite_input_matches_the_reference(dtype):
    """grad_weight off the virtual columns skips the inputs' finite check: an infinity in x
    must still reach exactly the sums it is part of (and NaN those of a NaN)."""
    rng = np.random.default_rng(24)
    x = rng.standard_normal((2, 4, 9, 8)).astype(dtype)
    w = rng.standard_normal((48, 4, 3, 3)).astype(dtype)
    g = rng.standard_normal((2, 48, 9, 8)).astype(dtype)
    x[1, 2, 4, 7] = np.inf   # the last column: the grid's junk columns would meet it
    x[0, 1, 0, 0] = np.nan
    fast = fastconv.conv2d_backward(g, x, w, padding=1)
    ref = fastconv.reference.conv2d_backward(g, x, w, padding=1)
    finite_args = [np.where(np.isfinite(a), a, 0) for a in (g, x, w)]
    bounds = oracle.conv2d_backward_abs_bound(*finite_args, padding=((1, 1), (1, 1)))
    assert not np.isfinite(ref[1]).all()
    for a, b, bound, length in zip(fast, ref, bounds, (48 * 9, 2 * 72, 2 * 72)):
        _assert_same_non_finite_and_close(a, b, bound, length, dtype)


@settings(max_examples=25)
@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=conv_configs(max_batch=4))
def test_conv2d_backward_one_and_two_threads_are_bitwise_identical(restore_threads, dtype, cfg):
    g, x, w = conv_problem(cfg, dtype)
    fastconv.set_num_threads(1)
    one = call_backward(fastconv, cfg, g, x, w)
    fastconv.set_num_threads(2)
    two = call_backward(fastconv, cfg, g, x, w)
    for a, b in zip(one, two):
        assert_exact(b, a)


@pytest.mark.parametrize("module", IMPLEMENTATIONS)
def test_conv2d_backward_empty_batch_gives_zero_weight_and_bias_gradients(nan_outputs, module):
    x = np.zeros((0, 4, 6, 6), np.float32)
    w = np.ones((8, 2, 3, 3), np.float32)
    g = np.zeros((0, 8, 3, 3), np.float32)
    gx, gw, gb = module.conv2d_backward(g, x, w, stride=2, padding=1, groups=2)
    assert gx.shape == x.shape and gx.dtype == np.float32
    assert_exact(gw, np.zeros_like(w))
    assert_exact(gb, np.zeros(8, np.float32))


@pytest.mark.parametrize("module", IMPLEMENTATIONS)
def test_conv2d_backward_no_filters_gives_zero_input_gradient(nan_outputs, module):
    x = np.ones((2, 3, 5, 5))
    w = np.ones((0, 3, 3, 3))
    g = np.zeros((2, 0, 3, 3))
    gx, gw, gb = module.conv2d_backward(g, x, w)
    assert_exact(gx, np.zeros_like(x))
    assert gw.shape == w.shape and gb.shape == (0,)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_backward_accepts_any_layout_and_leaves_inputs_intact(dtype):
    rng = np.random.default_rng(5)
    x = np.asfortranarray(rng.standard_normal((2, 3, 7, 6)).astype(dtype))
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)[:, :, ::-1]
    g = rng.standard_normal((2, 4, 5, 4)).astype(dtype).astype(np.dtype(dtype).newbyteorder())
    for a in (x, w, g):
        a.flags.writeable = False
    saved = [a.copy() for a in (x, w, g)]
    got = fastconv.conv2d_backward(g, x, w)
    expected = fastconv.conv2d_backward(*(np.ascontiguousarray(a, a.dtype.newbyteorder("="))
                                          for a in (g, x, w)))
    for a, e in zip(got, expected):
        assert_exact(a, e)
    for a, s in zip((x, w, g), saved):
        assert_exact(a, s)


# --- max_pool2d_backward ------------------------------------------------------------------------

def pool_problem(cfg, dtype, integer=False):
    rng = np.random.default_rng(cfg["seed"])
    shape = (cfg["n"], cfg["c"], cfg["h"], cfg["w"])
    x = rng.standard_normal(shape).astype(dtype)
    return x, rng


def max_args(cfg):
    return dict(stride=cfg["stride_spec"], padding=cfg["pad_spec"], dilation=cfg["dil_spec"],
                ceil_mode=cfg["ceil_mode"])


@settings(max_examples=60)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("module", IMPLEMENTATIONS)
@given(cfg=pool_configs(with_dilation=True))
def test_max_pool2d_backward_matches_oracle(nan_outputs, module, dtype, cfg):
    x, rng = pool_problem(cfg, dtype)
    xa = x[0] if cfg["unbatched"] else x
    y, idx = fastconv.max_pool2d(xa, cfg["k_spec"], **max_args(cfg), return_indices=True)
    # small integers: overlapping windows add exactly, so the sums compare exactly
    g = rng.integers(-8, 9, y.shape).astype(dtype)
    saved = [g.copy(), idx.copy()]
    nan_outputs.reset()
    gx = module.max_pool2d_backward(g, idx, xa.shape)
    assert nan_outputs.calls
    expected = oracle.max_pool2d_backward(g.reshape((-1,) + g.shape[-3:]),
                                          idx.reshape((-1,) + idx.shape[-3:]), x.shape)
    assert_integer_exact(gx.reshape(x.shape), expected, dtype)
    assert_exact(g, saved[0])
    assert_exact(idx, saved[1])


@settings(max_examples=30)
@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=pool_configs(with_dilation=True, max_batch=4))
def test_max_pool2d_backward_fast_reference_and_threads_agree_bitwise(restore_threads, dtype,
                                                                       cfg):
    x, rng = pool_problem(cfg, dtype)
    _, idx = fastconv.max_pool2d(x, cfg["k_spec"], **max_args(cfg), return_indices=True)
    g = rng.standard_normal(idx.shape).astype(dtype)
    fastconv.set_num_threads(1)
    one = fastconv.max_pool2d_backward(g, idx, x.shape)
    fastconv.set_num_threads(2)
    assert_exact(fastconv.max_pool2d_backward(g, idx, x.shape), one)
    assert_exact(fastconv.reference.max_pool2d_backward(g, idx, x.shape), one)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_backward_overlapping_windows_accumulate_and_minus_one_is_skipped(dtype):
    g = np.array([[[[1.0, 2.0, 4.0], [8.0, 16.0, 32.0]]]], dtype)
    idx = np.array([[[[5, 5, -1], [0, 5, 3]]]])
    gx = fastconv.max_pool2d_backward(g, idx, (1, 1, 2, 3))
    assert_exact(gx, np.array([[[[8.0, 0.0, 0.0], [32.0, 0.0, 19.0]]]], dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_backward_accepts_unaligned_indices(dtype):
    # found by tests/test_fuzz.py: C-contiguous int64 indices at an odd byte offset were
    # passed on as they were and refused by the C call ("internal call: indices is not
    # C-contiguous and aligned")
    g = np.array([[[[1.0, 2.0, 4.0], [8.0, 16.0, 32.0]]]], dtype)
    buf = np.zeros(6 * 8 + 1, np.uint8)
    idx = buf[1:].view(np.int64).reshape(g.shape)
    idx[...] = [[[[5, 5, -1], [0, 5, 3]]]]
    assert idx.flags.c_contiguous and not idx.flags.aligned
    gx = fastconv.max_pool2d_backward(g, idx, (1, 1, 2, 3))
    assert_exact(gx, np.array([[[[8.0, 0.0, 0.0], [32.0, 0.0, 19.0]]]], dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_backward_window_wholly_in_padding(dtype):
    # rows -1 and 1 of a 1-row input: the window holds no input element
    x = np.arange(4, dtype=dtype).reshape(1, 1, 1, 4)
    y, idx = fastconv.max_pool2d(x, (2, 1), stride=1, padding=(1, 0), dilation=(2, 1),
                                 return_indices=True)
    assert (idx == -1).all()
    gx = fastconv.max_pool2d_backward(np.ones_like(y), idx, x.shape)
    assert_exact(gx, np.zeros_like(x))


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_backward_matches_finite_differences(dtype):
    rng = np.random.default_rng(8)
    x = rng.permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6).astype(np.float64)  # no ties
    args = dict(kernel_size=3, stride=2, padding=1)
    y, idx = fastconv.max_pool2d(x, return_indices=True, **args)
    g = rng.standard_normal(y.shape)

    def loss():
        return float(np.sum(fastconv.max_pool2d(x, **args) * g))

    np.testing.assert_allclose(fastconv.max_pool2d_backward(g, idx, x.shape),
                               central_differences(loss, x, step=0.25), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_backward_matches_torch(dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 3, 11, 9)).astype(dtype)
    tx = torch.from_numpy(x).requires_grad_()
    ty = torch.nn.functional.max_pool2d(tx, 3, stride=2, padding=1, dilation=(1, 2),
                                        ceil_mode=True)
    g = rng.standard_normal(tuple(ty.shape)).astype(dtype)
    ty.backward(torch.from_numpy(g))
    _, idx = fastconv.max_pool2d(x, 3, stride=2, padding=1, dilation=(1, 2), ceil_mode=True,
                                 return_indices=True)
    gx = fastconv.max_pool2d_backward(g, idx, x.shape)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-6, atol=1e-6)


# --- avg_pool2d_backward ------------------------------------------------------------------------

def avg_args(cfg, count_include_pad):
    return dict(stride=cfg["stride_spec"], padding=cfg["pad_spec"], ceil_mode=cfg["ceil_mode"],
                count_include_pad=count_include_pad)


@settings(max_examples=60)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("module", IMPLEMENTATIONS)
@given(cfg=pool_configs(with_dilation=False))
def test_avg_pool2d_backward_matches_oracle(nan_outputs, module, count_include_pad, dtype, cfg):
    x, rng = pool_problem(cfg, dtype)
    xa = x[0] if cfg["unbatched"] else x
    y = fastconv.avg_pool2d(xa, cfg["k_spec"], **avg_args(cfg, count_include_pad))
    g = rng.standard_normal(y.shape).astype(dtype)
    saved = g.copy()
    nan_outputs.reset()
    gx = module.avg_pool2d_backward(g, xa.shape, cfg["k_spec"],
                                    **avg_args(cfg, count_include_pad))
    assert nan_outputs.calls
    g4 = g.reshape((-1,) + g.shape[-3:])
    a = (x.shape, cfg["k"], cfg["stride"], cfg["pad"], cfg["ceil_mode"], count_include_pad)
    # each input element sums at most kh * kw shares, each one division away from exact
    length = 1 + cfg["k"][0] * cfg["k"][1]
    assert_reduction_close(gx.reshape(x.shape), oracle.avg_pool2d_backward(g4, *a),
                           oracle.avg_pool2d_backward_abs_bound(g4, *a), length, dtype)
    assert_exact(g, saved)


@settings(max_examples=30)
@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=pool_configs(with_dilation=False, max_batch=4), count_include_pad=st.booleans())
def test_avg_pool2d_backward_fast_reference_and_threads_agree_bitwise(restore_threads, dtype,
                                                                       cfg, count_include_pad):
    x, rng = pool_problem(cfg, dtype)
    y = fastconv.avg_pool2d(x, cfg["k_spec"], **avg_args(cfg, count_include_pad))
    g = rng.standard_normal(y.shape).astype(dtype)
    call = dict(kernel_size=cfg["k_spec"], **avg_args(cfg, count_include_pad))
    fastconv.set_num_threads(1)
    one = fastconv.avg_pool2d_backward(g, x.shape, **call)
    fastconv.set_num_threads(2)
    assert_exact(fastconv.avg_pool2d_backward(g, x.shape, **call), one)
    # same shares, same order (window rows then columns, outputs ascending)
    assert_exact(fastconv.reference.avg_pool2d_backward(g, x.shape, **call), one)


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d_backward_matches_finite_differences(count_include_pad):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 2, 7, 6))
    args = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                count_include_pad=count_include_pad)
    g = rng.standard_normal(fastconv.avg_pool2d(x, **args).shape)

    def loss():
        return float(np.sum(fastconv.avg_pool2d(x, **args) * g))

    np.testing.assert_allclose(fastconv.avg_pool2d_backward(g, x.shape, **args),
                               central_differences(loss, x), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d_backward_matches_torch(dtype, count_include_pad):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 3, 10, 9)).astype(dtype)
    args = dict(kernel_size=(3, 2), stride=(2, 1), padding=1, ceil_mode=True,
                count_include_pad=count_include_pad)
    tx = torch.from_numpy(x).requires_grad_()
    ty = torch.nn.functional.avg_pool2d(tx, **args)
    g = rng.standard_normal(tuple(ty.shape)).astype(dtype)
    ty.backward(torch.from_numpy(g))
    np.testing.assert_allclose(fastconv.avg_pool2d_backward(g, x.shape, **args),
                               tx.grad.numpy(), rtol=1e-5, atol=1e-6)


# --- relu_backward ------------------------------------------------------------------------------

@settings(max_examples=60)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("module", IMPLEMENTATIONS)
@given(shape=st.lists(st.integers(0, 9), min_size=0, max_size=4), seed=st.integers(0, 2**32 - 1))
def test_relu_backward_matches_oracle_exactly(nan_outputs, module, dtype, shape, seed):
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(shape).astype(dtype)
    y = rng.choice(np.array([-1.0, -0.0, 0.0, 0.5, 2.0, np.nan, np.inf, -np.inf]),
                   size=shape).astype(dtype)
    saved = (g.copy(), y.copy())
    nan_outputs.reset()
    gx = module.relu_backward(g, y)
    assert nan_outputs.calls, "relu_backward did not allocate its output through _empty"
    assert_exact(gx, oracle.relu_backward(g, y))
    assert_exact(g, saved[0])
    assert_exact(y, saved[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_backward_with_the_input_or_the_output_gives_the_same_mask(dtype):
    rng = np.random.default_rng(13)
    x = rng.standard_normal(1000).astype(dtype)
    g = rng.standard_normal(1000).astype(dtype)
    assert_exact(fastconv.relu_backward(g, x), fastconv.relu_backward(g, fastconv.relu(x)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_backward_out_and_in_place(dtype):
    rng = np.random.default_rng(14)
    g = rng.standard_normal((3, 70001)).astype(dtype)  # big enough for two threads
    y = rng.standard_normal((3, 70001)).astype(dtype)
    expected = oracle.relu_backward(g, y)
    out = np.full_like(g, np.nan)
    assert fastconv.relu_backward(g, y, out=out) is out
    assert_exact(out, expected)
    assert fastconv.relu_backward(g, y, out=g) is g
    assert_exact(g, expected)


def test_relu_backward_matches_finite_differences():
    rng = np.random.default_rng(15)
    x = rng.standard_normal((3, 4, 5))
    x[np.abs(x) < 0.01] = 0.5  # keep away from the kink
    g = rng.standard_normal(x.shape)

    def loss():
        return float(np.sum(fastconv.relu(x) * g))

    np.testing.assert_allclose(fastconv.relu_backward(g, x), central_differences(loss, x),
                               rtol=1e-8, atol=1e-8)


# --- errors -------------------------------------------------------------------------------------

def test_conv2d_backward_rejects_a_grad_output_of_the_wrong_shape():
    x, w = np.ones((2, 3, 8, 8)), np.ones((4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d_backward: grad_output must have the forward's "
                                         r"output shape \(2, 4, 6, 6\).*got \(2, 4, 8, 8\)"):
        fastconv.conv2d_backward(np.ones((2, 4, 8, 8)), x, w)
    with pytest.raises(ValueError, match=r"conv2d_backward: grad_output .* \(4, 6, 6\)"):
        fastconv.conv2d_backward(np.ones((2, 4, 6, 6)), x[0], w)


def test_conv2d_backward_rejects_mismatched_dtypes_and_bad_arguments():
    x, w, g = np.ones((1, 2, 5, 5)), np.ones((3, 2, 3, 3)), np.ones((1, 3, 3, 3))
    with pytest.raises(TypeError, match="conv2d_backward: grad_output has dtype float32 but x "
                                        "has float64"):
        fastconv.conv2d_backward(g.astype(np.float32), x, w)
    with pytest.raises(TypeError, match="conv2d_backward: grad_output must be float32 or "
                                        "float64, got dtype int64"):
        fastconv.conv2d_backward(g.astype(np.int64), x, w)
    with pytest.raises(ValueError, match="conv2d_backward: x has 2 channels but weight expects"):
        fastconv.conv2d_backward(g, x, np.ones((3, 1, 3, 3)))
    with pytest.raises(ValueError, match="conv2d_backward: output_mask must be a sequence of 3"):
        fastconv.conv2d_backward(g, x, w, output_mask=(True, False))
    with pytest.raises(TypeError, match="conv2d_backward: output_mask"):
        fastconv.conv2d_backward(g, x, w, output_mask=True)
    with pytest.raises(ValueError, match="conv2d_backward: padding must be"):
        fastconv.conv2d_backward(g, x, w, padding="full")


@pytest.mark.parametrize("op", ["max_pool2d_backward", "avg_pool2d_backward"])
@pytest.mark.parametrize("hw", [(2**31, 2**31), (2**40, 2**40), (1, 2**62)], ids=str)
def test_pool_backward_input_shape_too_large_is_the_ops_value_error(op, hw):
    # found by tests/test_fuzz.py: an input_shape of 2**62 elements (here with an index out
    # of range, which the C call reports only after the gradient is allocated) made numpy
    # raise its own "array is too big", without the op's name
    shape = (1, 1) + hw
    g = np.ones((1, 1, 1, 1))
    with pytest.raises(ValueError, match=rf"^{op}: .*too large"):
        if op == "max_pool2d_backward":
            fastconv.max_pool2d_backward(g, np.full(g.shape, -2), shape)
        else:
            fastconv.avg_pool2d_backward(g, shape, hw)


def test_max_pool2d_backward_rejects_bad_indices_and_shapes():
    g = np.ones((1, 2, 2, 2))
    good = np.zeros((1, 2, 2, 2), np.int64)
    for bad_value in (16, -2, 2**40):
        idx = good.copy()
        idx[0, 1, 1, 0] = bad_value
        for module in (fastconv, fastconv.reference):
            with pytest.raises(ValueError, match=rf"max_pool2d_backward: indices must lie in "
                                                 rf"\[-1, H \* W = 16\).*got {bad_value} at "
                                                 rf"\(0, 1, 1, 0\)"):
                module.max_pool2d_backward(g, idx, (1, 2, 4, 4))
    with pytest.raises(ValueError, match="max_pool2d_backward: indices must lie in"):
        fastconv.max_pool2d_backward(g, np.full((1, 2, 2, 2), 2**63 - 1, np.uint64),
                                     (1, 2, 4, 4))
    with pytest.raises(ValueError, match=r"max_pool2d_backward: indices must have the shape of "
                                         r"grad_output \(1, 2, 2, 2\), got \(2, 2, 2\)"):
        fastconv.max_pool2d_backward(g, good[0], (1, 2, 4, 4))
    with pytest.raises(TypeError, match="max_pool2d_backward: indices must be an integer"):
        fastconv.max_pool2d_backward(g, good.astype(np.float64), (1, 2, 4, 4))
    with pytest.raises(ValueError, match=r"max_pool2d_backward: grad_output must have shape "
                                         r"\(1, 3, 'P', 'Q'\)"):
        fastconv.max_pool2d_backward(g, good, (1, 3, 4, 4))
    with pytest.raises(ValueError, match="max_pool2d_backward: input_shape must be"):
        fastconv.max_pool2d_backward(g, good, (2, 4, 4, 0))
    with pytest.raises(TypeError, match="max_pool2d_backward: input_shape must be a tuple"):
        fastconv.max_pool2d_backward(g, good, (1, 2, 4.0, 4))


def test_avg_pool2d_backward_rejects_a_grad_output_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"avg_pool2d_backward: grad_output must have the "
                                         r"forward's output shape \(1, 2, 3, 3\).*got "
                                         r"\(1, 2, 2, 2\)"):
        fastconv.avg_pool2d_backward(np.ones((1, 2, 2, 2)), (1, 2, 6, 6), 2)
    with pytest.raises(ValueError, match="avg_pool2d_backward: padding"):
        fastconv.avg_pool2d_backward(np.ones((1, 2, 3, 3)), (1, 2, 6, 6), 2, padding=2)


def test_relu_backward_rejects_mismatched_shapes_and_dtypes():
    with pytest.raises(ValueError, match=r"relu_backward: output must have the shape of "
                                         r"grad_output \(3,\), got \(4,\)"):
        fastconv.relu_backward(np.ones(3), np.ones(4))
    with pytest.raises(TypeError, match="relu_backward: output has dtype float32 but "
                                        "grad_output has float64"):
        fastconv.relu_backward(np.ones(3), np.ones(3, np.float32))
    with pytest.raises(ValueError, match="relu_backward: out overlaps input output"):
        y = np.ones(3)
        fastconv.relu_backward(np.ones(3), y, out=y)


def test_backward_ops_are_exported():
    import fastconv.functional as functional
    for name in ("conv2d_backward", "max_pool2d_backward", "avg_pool2d_backward",
                 "relu_backward"):
        assert getattr(fastconv, name) is getattr(functional, name)
        assert name in fastconv.__all__ and name in functional.__all__
        assert callable(getattr(fastconv.reference, name))


# --- conv2d: every path of the driver -------------------------------------------------------

def _assert_same_non_finite_and_close(fast, ref, bound, length, dtype):
    assert_exact(np.isfinite(fast), np.isfinite(ref))
    finite = np.isfinite(ref)
    assert_reduction_close(np.where(finite, fast, 0).astype(dtype), np.where(finite, ref, 0),
                           np.where(finite, bound, 0), 2 * length, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("where", ["x", "weight", "grad_output"])
def test_conv2d_backward_with_an_infinity_matches_the_reference(dtype, where):
    """Stride 1 reads padded planes whose extra columns meet zeros: a non-finite input must not
    leak into sums it is not part of (those images take the packed path)."""
    rng = np.random.default_rng(16)
    x = rng.standard_normal((3, 4, 9, 8)).astype(dtype)
    w = rng.standard_normal((6, 2, 3, 3)).astype(dtype)
    g = rng.standard_normal((3, 6, 9, 8)).astype(dtype)
    # x: its last column, which the virtual columns of tap s = 0 meet
    array, index = {"x": (x, (1, 1, 2, 7)), "weight": (w, (1, 1, 2, 2)),
                    "grad_output": (g, (1, 1, 2, 2))}[where]
    array[index] = np.inf
    args = dict(padding=1, groups=2)
    fast = fastconv.conv2d_backward(g, x, w, **args)
    ref = fastconv.reference.conv2d_backward(g, x, w, **args)
    finite_args = [np.where(np.isfinite(a), a, 0) for a in (g, x, w)]
    bounds = oracle.conv2d_backward_abs_bound(*finite_args, padding=((1, 1), (1, 1)), groups=2)
    assert not all(np.isfinite(r).all() for r in ref)
    for a, b, bound, length in zip(fast, ref, bounds, (27, 3 * 72, 3 * 72)):
        _assert_same_non_finite_and_close(a, b, bound, length, dtype)


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_conv2d_backward_an_infinity_in_many_weights_is_found_on_two_threads(restore_threads,
                                                                             where):
    """2^18 weights and more are checked in ranges over the team: an infinity in any range
    keeps grad_input off the virtual grid (whose extra columns would meet it)."""
    rng = np.random.default_rng(23)
    x = rng.standard_normal((1, 64, 9, 9)).astype(np.float32)
    w = rng.standard_normal((64, 64, 8, 8)).astype(np.float32)
    g = rng.standard_normal((1, 64, 4, 4)).astype(np.float32)
    w.reshape(-1)[{"first": 0, "middle": w.size // 2 + 5, "last": w.size - 1}[where]] = np.inf
    fastconv.set_num_threads(2)
    fast = fastconv.conv2d_backward(g, x, w, padding=1, output_mask=(True, False, False))[0]
    ref = fastconv.reference.conv2d_backward(g, x, w, padding=1,
                                             output_mask=(True, False, False))[0]
    bound = oracle.conv2d_backward_abs_bound(g, x, np.where(np.isfinite(w), w, 0),
                                             padding=((1, 1), (1, 1)))[0]
    assert not np.isfinite(ref).all()
    _assert_same_non_finite_and_close(fast, ref, bound, 64 * 64, np.float32)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_backward_large_planes_take_the_packed_path_and_agree(dtype):
    rng = np.random.default_rng(17)
    x = rng.integers(-3, 4, (1, 3, 300, 290)).astype(dtype)
    w = rng.integers(-3, 4, (8, 3, 3, 3)).astype(dtype)
    g = rng.integers(-3, 4, (1, 8, 300, 290)).astype(dtype)
    fast = fastconv.conv2d_backward(g, x, w, padding=1)
    expected = oracle.conv2d_backward(g, x, w, padding=((1, 1), (1, 1)))
    for a, e in zip(fast, expected):
        assert_integer_exact(a, e, dtype)


# groups == C: the depthwise pass (grad_input spread and turned for multiplier 1, grad_weight
# and grad_bias per channel on the padded rows); output widths around the members' vectors (4,
# 8, 16 lanes) and tiles (16, 24, 64 columns), strides, dilation, a padding past the filter's
# reach (grad_input on the GEMM frame), multipliers 1 and 2
DEPTHWISE_BACKWARD_CASES = [
    pytest.param((2, 5, 9, 15), (5, 1, 3, 3), 1, 1, 1, id="3x3-w15"),
    pytest.param((1, 3, 7, 16), (3, 1, 3, 3), 1, 1, 1, id="3x3-w16"),
    pytest.param((1, 3, 7, 17), (3, 1, 3, 3), 1, 1, 1, id="3x3-w17"),
    pytest.param((1, 2, 5, 65), (2, 1, 3, 3), 1, 1, 1, id="3x3-w65"),
    pytest.param((2, 4, 20, 35), (4, 1, 3, 3), 2, 1, 1, id="3x3-s2-w18"),
    pytest.param((1, 4, 21, 49), (4, 1, 3, 3), 2, 0, 1, id="3x3-s2-p0-w24"),
    pytest.param((1, 3, 12, 17), (3, 1, 5, 5), 1, 2, 1, id="5x5"),
    pytest.param((1, 3, 19, 23), (3, 1, 5, 5), 2, 2, 1, id="5x5-s2"),
    pytest.param((2, 3, 11, 25), (3, 1, 3, 3), 1, 2, 2, id="3x3-dilated"),
    pytest.param((1, 3, 8, 9), (3, 1, 3, 3), (1, 2), (3, 1), 1, id="pad-beyond-reach"),
    pytest.param((2, 4, 10, 23), (8, 1, 3, 3), 1, 1, 1, id="multiplier-2"),
    pytest.param((1, 4, 14, 23), (8, 1, 5, 3), 2, (2, 1), 1, id="multiplier-2-s2"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs,ws,stride,padding,dilation", DEPTHWISE_BACKWARD_CASES)
def test_conv2d_backward_depthwise_matches_the_oracle(dtype, xs, ws, stride, padding, dilation):
    rng = np.random.default_rng(21)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    args = dict(stride=stride, padding=padding, dilation=dilation, groups=xs[1])
    g = rng.standard_normal(fastconv.conv2d(x, w, **args).shape).astype(dtype)
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    oracle_args = dict(args, stride=pair(stride), dilation=pair(dilation),
                       padding=tuple((p, p) for p in pair(padding)))
    expected = oracle.conv2d_backward(g, x, w, **oracle_args)
    bounds = oracle.conv2d_backward_abs_bound(g, x, w, **oracle_args)
    pixels = g.shape[0] * g.shape[2] * g.shape[3]
    lengths = (ws[0] // xs[1] * ws[2] * ws[3], pixels, pixels)
    for mask in ((True, True, True), (True, False, False), (False, True, False)):
        got = fastconv.conv2d_backward(g, x, w, output_mask=mask, **args)
        for i, (a, want, bound, length) in enumerate(zip(got, expected, bounds, lengths)):
            if mask[i]:
                assert_reduction_close(a, want, bound, length, dtype)
            else:
                assert a is None


def test_conv2d_backward_depthwise_non_finite_weights_match_the_reference():
    """The spread grad_input would meet an infinite weight with its zeros (NaN where the
    reference has none): such weights take the reference's loop."""
    rng = np.random.default_rng(22)
    x = rng.standard_normal((1, 3, 9, 10)).astype(np.float32)
    w = rng.standard_normal((3, 1, 3, 3)).astype(np.float32)
    w[1, 0, 0, 2] = np.inf
    g = rng.standard_normal((1, 3, 5, 5)).astype(np.float32)
    got = fastconv.conv2d_backward(g, x, w, stride=2, padding=1, groups=3)
    want = fastconv.reference.conv2d_backward(g, x, w, stride=2, padding=1, groups=3)
    assert np.isinf(want[0]).any()
    assert_exact(np.isnan(got[0]), np.isnan(want[0]))
    assert_exact(np.isinf(got[0]), np.isinf(want[0]))


@pytest.mark.parametrize("isa", fastconv.ops._ext.ISA_NAMES)
def test_conv2d_backward_on_every_isa_path_matches_the_oracle(isa):
    """Each ISA path's kernels (gemm, gemm-nt, vadd, relu-backward members) in a subprocess."""
    from test_api import ISAS, run_python
    if ISAS.index(isa) > ISAS.index(fastconv.ops._ext.cpu_isa()):
        pytest.skip(f"the CPU has no {isa}")
    res = run_python(ISA_BACKWARD_BATTERY.replace("ISA", repr(isa)), FASTCONV_ISA=isa)
    assert res.stdout.strip() == "ok", res.stdout


ISA_BACKWARD_BATTERY = r"""
import numpy as np
import fastconv, oracle
from tolerances import assert_exact, assert_integer_exact
assert fastconv.ops._ext.active_isa() == ISA
rng = np.random.default_rng(0)
for dtype in (np.float32, np.float64):
    for xs, ws, st, pd, dl, gr in [
            ((3, 4, 9, 8), (6, 2, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 2),
            ((2, 3, 11, 10), (17, 3, 5, 2), (2, 1), ((2, 0), (1, 3)), (1, 2), 1),
            ((4, 1, 12, 12), (6, 1, 5, 5), (1, 1), ((2, 2), (2, 2)), (1, 1), 1),
            ((2, 6, 14, 14), (16, 6, 5, 5), (1, 1), ((0, 0), (0, 0)), (1, 1), 1),
            ((2, 5, 9, 33), (5, 1, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 5),
            ((1, 4, 20, 35), (4, 1, 3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1), 4),
            ((1, 3, 12, 17), (6, 1, 5, 5), (1, 1), ((2, 2), (2, 2)), (1, 1), 3)]:
        x = rng.integers(-4, 5, xs).astype(dtype)
        w = rng.integers(-4, 5, ws).astype(dtype)
        y = oracle.conv2d(x, w, None, st, pd, dl, gr)
        g = rng.integers(-4, 5, y.shape).astype(dtype)
        got = fastconv.conv2d_backward(g, x, w, st, pd, dl, gr)
        for a, e in zip(got, oracle.conv2d_backward(g, x, w, st, pd, dl, gr)):
            assert_integer_exact(a, e, dtype)
    g = rng.standard_normal(1000).astype(dtype)
    y = rng.standard_normal(1000).astype(dtype)
    assert_exact(fastconv.relu_backward(g, y), oracle.relu_backward(g, y))
# the index check of max_pool2d_backward: every position of a vector and of the tail
for count in (7, 8, 9, 23):
    g = np.ones((1, 1, 1, count))
    for at in range(count):
        for bad in (-2, 2 * count, 2**63 - 1):
            idx = np.zeros((1, 1, 1, count), np.int64)
            idx[0, 0, 0, at] = bad
            try:
                fastconv.max_pool2d_backward(g, idx, (1, 1, 2, count))
            except ValueError:
                pass
            else:
                raise AssertionError((count, at, bad))
    idx = np.arange(count, dtype=np.int64)[None, None, None] * 2 - 1
    assert_exact(fastconv.max_pool2d_backward(g, idx, (1, 1, 2, count)),
                 oracle.max_pool2d_backward(g, idx, (1, 1, 2, count)))
print("ok")
"""


@pytest.mark.parametrize("module", IMPLEMENTATIONS)
def test_conv2d_backward_huge_dilation_and_padding_with_a_small_output(module):
    """Padded planes of 2**80 values (no direct path) while every tap falls in the padding."""
    d, p = 2**40, 2**39
    x = np.ones((1, 1, 2, 2))
    w = np.ones((1, 1, 2, 2))
    g = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    gx, gw, gb = module.conv2d_backward(g, x, w, padding=p, dilation=d)
    assert_exact(gx, np.zeros_like(x))
    assert_exact(gw, np.zeros_like(w))
    assert_exact(gb, np.array([10.0]))


# --- conv2d_backward: max_workspace_bytes ---------------------------------------------------

WORKSPACE_CASES = [
    pytest.param(dict(x=(2, 6, 14, 14), w=(16, 6, 5, 5)), id="lenet_c2-grid"),
    pytest.param(dict(x=(1, 24, 12, 12), w=(20, 24, 3, 3), padding=1), id="3x3-pad-grid"),
    pytest.param(dict(x=(2, 16, 11, 13), w=(24, 16, 3, 3), stride=2, padding=1), id="stride2"),
    pytest.param(dict(x=(2, 8, 13, 11), w=(12, 4, 3, 2), stride=(1, 2), padding=(2, 0),
                      dilation=(2, 1), groups=2), id="groups-dilation-strided"),
    pytest.param(dict(x=(3, 12, 9, 9), w=(12, 4, 3, 3), padding=1, dilation=3, groups=3),
                 id="groups-dilated-grid"),
]
WORKSPACE_MASKS = [(True, True, True), (True, False, False), (False, True, False),
                   (False, True, True)]


def _backward_problem(case, dtype):
    """Real-valued x, weight and grad_output (so that any reordered sum shows in the bits)."""
    rng = np.random.default_rng(15)
    kwargs = {k: v for k, v in case.items() if k not in ("x", "w")}
    x = rng.standard_normal(case["x"]).astype(dtype)
    w = rng.standard_normal(case["w"]).astype(dtype)
    g = rng.standard_normal(fastconv.conv2d(x, w, **kwargs).shape).astype(dtype)
    return g, x, w, kwargs


def _backward_minimum(g, x, w, **kwargs):
    """The minimum conv2d_backward reports for a limit of 1 byte."""
    with pytest.raises(ValueError, match=r"conv2d_backward: max_workspace_bytes=1 is below the "
                                         r"(\d+) bytes per thread") as info:
        fastconv.conv2d_backward(g, x, w, max_workspace_bytes=1, **kwargs)
    return int(re.search(r"below the (\d+) bytes", str(info.value)).group(1))


@pytest.mark.parametrize("mask", WORKSPACE_MASKS, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", WORKSPACE_CASES)
def test_conv2d_backward_small_workspace_limits_give_the_same_bits(restore_threads, case, dtype,
                                                                   mask):
    """From the minimum (grad_input: W^T packed per strip, 1-deep B sub-panels; grad_weight:
    one k tile per item, each item building its own virtual grid) up to the default, every
    limit gives the default's bits, on 1 and 2 threads; one byte less raises, naming it."""
    g, x, w, kwargs = _backward_problem(case, dtype)
    kwargs["output_mask"] = mask
    default = fastconv.conv2d_backward(g, x, w, **kwargs)
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        least = _backward_minimum(g, x, w, **kwargs)
        for limit in (least, least + 1, 2 * least, 5 * least, 40 * least):
            for got, want in zip(fastconv.conv2d_backward(g, x, w, max_workspace_bytes=limit,
                                                          **kwargs), default):
                if want is None:
                    assert got is None
                else:
                    assert_exact(got, want)
        with pytest.raises(ValueError, match=f"below the {least} bytes"):
            fastconv.conv2d_backward(g, x, w, max_workspace_bytes=least - 1, **kwargs)


@pytest.mark.parametrize("value,error", [(0, ValueError), (-5, ValueError), (2**63, ValueError),
                                         (1.5, TypeError), ("1024", TypeError),
                                         (True, TypeError)])
def test_conv2d_backward_max_workspace_bytes_must_be_a_positive_int(value, error):
    x = np.ones((1, 2, 5, 5), np.float32)
    w = np.ones((3, 2, 3, 3), np.float32)
    with pytest.raises(error, match=r"conv2d_backward: max_workspace_bytes must be a positive "
                                    r"int"):
        fastconv.conv2d_backward(np.ones((1, 3, 3, 3), np.float32), x, w,
                                 max_workspace_bytes=value)


@pytest.mark.skipif(fastconv._ext.cache_info()[1] == 0,
                    reason="the sanitizer build has no block cache to measure with")
@pytest.mark.parametrize("op", ["conv2d", "conv2d_backward"])
@pytest.mark.parametrize("stride", [1, 2])
def test_gemm_workspace_stays_within_max_workspace_bytes(restore_threads, op, stride):
    """The blocks an op frees (what the output cache then holds, blocks of 64 KiB and more) stay
    within threads x max_workspace_bytes, forward and backward; the default takes more, so
    the limit is what bounds them."""
    fastconv.set_num_threads(2)
    rng = np.random.default_rng(16)
    # 256 filters of 64 x 3 x 3: the packed weights alone (590 KB) exceed 2 x 256 KiB on every
    # ISA's default blocking
    x = rng.standard_normal((2, 64, 30, 30)).astype(np.float32)
    w = rng.standard_normal((256, 64, 3, 3)).astype(np.float32)
    g = rng.standard_normal(fastconv.conv2d(x, w, stride=stride, padding=1).shape)
    g = g.astype(np.float32)

    def run(limit):
        if op == "conv2d":
            return (fastconv.conv2d(x, w, stride=stride, padding=1, algorithm="im2col",
                                    max_workspace_bytes=limit),)
        return fastconv.conv2d_backward(g, x, w, stride=stride, padding=1,
                                        max_workspace_bytes=limit)

    fastconv.empty_cache()
    default = run(None)
    held_default = fastconv.empty_cache()
    assert held_default > 2 * (256 << 10)
    for limit in (256 << 10, 512 << 10, 1 << 20):
        got = run(limit)
        held = fastconv.empty_cache()  # (the outputs are alive: workspace only)
        assert 0 < held <= 2 * limit, (limit, held)
        for a, b in zip(got, default):
            assert_exact(a, b)
        del got, a, b
        fastconv.empty_cache()


# --- depthwise grad_input with a stride: phase by phase -------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hw,kernel,stride,pads", [
    ((112, 112), (3, 3), (2, 2), ((1, 1), (1, 1))),   # MobileNetV2's downsampling
    ((13, 33), (3, 3), (2, 2), ((1, 1), (1, 1))),     # odd / even sizes: phases of unequal size
    ((9, 35), (3, 3), (2, 2), ((0, 0), (0, 0))),      # rows no output reads (zeros in gx)
    ((14, 40), (5, 5), (2, 2), ((2, 2), (2, 2))),
    ((12, 36), (2, 3), (3, 2), ((1, 0), (0, 1))),     # asymmetric padding, unequal strides
    ((10, 50), (3, 3), (3, 3), ((1, 1), (1, 1))),
    ((11, 34), (1, 1), (2, 2), ((0, 0), (0, 0))),     # phases no tap reaches: zeros
    ((16, 17), (3, 1), (4, 1), ((1, 1), (0, 0))),
    ((7, 49), (7, 7), (2, 3), ((3, 3), (3, 3))),
    ((5, 36), (3, 3), (2, 2), ((2, 2), (2, 2))),      # padding past the filter's reach
    ((14, 14), (3, 3), (2, 2), ((1, 1), (1, 1))),     # narrow planes: the spread input
], ids=lambda v: str(v).replace(" ", ""))
def test_conv2d_backward_strided_depthwise_grad_input_phases(restore_threads, dtype, hw, kernel,
                                                             stride, pads):
    """grad_input of a strided depthwise layer runs phase by phase (stride-1 correlations of
    grad_output with sub-filters, interleaved into gx): within the oracle's bound, equal to
    the reference twin within it, exact on integers, and bitwise the same on any threads."""
    rng = np.random.default_rng(sum(hw) + sum(kernel) * 7 + sum(stride) * 31)
    c = 6
    x = rng.standard_normal((2, c) + hw).astype(dtype)
    w = rng.standard_normal((c, 1) + kernel).astype(dtype)
    out = [(n + p[0] + p[1] - k) // s + 1 for n, p, k, s in zip(hw, pads, kernel, stride)]
    g = rng.standard_normal((2, c, *out)).astype(dtype)
    args = dict(stride=stride, padding=pads, groups=c, output_mask=(True, False, False))
    results = []
    for n in (1, 2, 1):
        fastconv.set_num_threads(n)
        results.append(fastconv.conv2d_backward(g, x, w, **args)[0])
    for r in results[1:]:
        assert_exact(r, results[0])
    expected = oracle.conv2d_backward(g, x, w, stride, pads, (1, 1), c)[0]
    bound = oracle.conv2d_backward_abs_bound(g, x, w, stride, pads, (1, 1), c)[0]
    length = kernel[0] * kernel[1]
    assert_reduction_close(results[0], expected, bound, length, dtype)
    ref = fastconv.reference.conv2d_backward(g, x, w, **args)[0]
    assert_reduction_close(results[0], ref.astype(np.float64), bound, 2 * length, dtype)
    gi = rng.integers(-4, 5, g.shape).astype(dtype)
    wi = rng.integers(-4, 5, w.shape).astype(dtype)
    exact = oracle.conv2d_backward(gi, x, wi, stride, pads, (1, 1), c)[0]
    assert_integer_exact(fastconv.conv2d_backward(gi, x, wi, **args)[0], exact, dtype)

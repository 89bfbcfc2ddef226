"""conv2d: property tests against the float64 oracle, the C reference twin and torch."""

import re
import zlib

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
ALGORITHMS = ["auto", "direct", "im2col"]


# --- strategies ---------------------------------------------------------------------------

def _pair(draw, lo, hi):
    return int_or_pair(draw, st, lo, hi)


@st.composite
def conv_configs(draw, max_batch=3, max_hw=12):
    kind = draw(st.sampled_from(["plain", "plain", "grouped", "depthwise"]))
    if kind == "plain":
        groups, cg = 1, draw(st.integers(1, 8))
        k = draw(st.integers(1, 8))
    elif kind == "grouped":
        groups = draw(st.integers(2, 4))
        cg = draw(st.integers(1, 8 // groups))
        k = groups * draw(st.integers(1, 8 // groups))
    else:  # depthwise: groups == C, K a multiple of C
        groups = draw(st.integers(1, 8))
        cg = 1
        k = groups * draw(st.integers(1, max(1, 8 // groups)))
    c = groups * cg
    r, s = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    stride_spec, stride = _pair(draw, 1, 3)
    dil_spec, dil = _pair(draw, 1, 3) if draw(st.booleans()) else (1, (1, 1))
    pad_kind = draw(st.sampled_from(["int", "pair", "asym", "valid", "same"]))
    if pad_kind == "int":
        p = draw(st.integers(0, 3))
        pad_spec, pads = p, ((p, p), (p, p))
    elif pad_kind == "pair":
        ph, pw = draw(st.integers(0, 3)), draw(st.integers(0, 3))
        pad_spec, pads = (ph, pw), ((ph, ph), (pw, pw))
    elif pad_kind == "asym":
        pads = tuple((draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(2))
        pad_spec = pads
    elif pad_kind == "valid":
        pad_spec, pads = "valid", ((0, 0), (0, 0))
    else:  # "same": the padding depends on the input size, drawn below
        pad_spec, pads = "same", None
    dims = []
    for axis, kk in ((0, r), (1, s)):
        if pads is None:
            lo = 1
        else:
            lo = max(1, dil[axis] * (kk - 1) + 1 - sum(pads[axis]))
        hi = max_hw if lo <= max_hw else lo + 3  # a big dilated kernel needs a bigger input
        dims.append(draw(st.integers(lo, hi)))
    h, w = dims
    if pad_spec == "same":
        pads = (oracle.same_padding(h, r, stride[0], dil[0]),
                oracle.same_padding(w, s, stride[1], dil[1]))
    n = draw(st.integers(0, max_batch))
    unbatched = n == 1 and draw(st.booleans())
    return dict(
        n=n, c=c, h=h, w=w, k=k, r=r, s=s, groups=groups,
        stride_spec=stride_spec, stride=stride, dil_spec=dil_spec, dil=dil,
        pad_spec=pad_spec, pads=pads,
        bias=draw(st.booleans()),
        activation=draw(st.sampled_from([None, "relu"])),
        unbatched=unbatched,
        seed=draw(st.integers(0, 2**32 - 1)),
    )


def make_inputs(cfg, dtype, integer=False):
    rng = np.random.default_rng(cfg["seed"])
    xs = (cfg["n"], cfg["c"], cfg["h"], cfg["w"])
    ws = (cfg["k"], cfg["c"] // cfg["groups"], cfg["r"], cfg["s"])
    if integer:
        x = rng.integers(-4, 5, xs).astype(dtype)
        w = rng.integers(-4, 5, ws).astype(dtype)
        b = rng.integers(-4, 5, cfg["k"]).astype(dtype) if cfg["bias"] else None
    else:
        x = rng.standard_normal(xs).astype(dtype)
        w = rng.standard_normal(ws).astype(dtype)
        b = rng.standard_normal(cfg["k"]).astype(dtype) if cfg["bias"] else None
    return x, w, b


def call_kwargs(cfg):
    return dict(stride=cfg["stride_spec"], padding=cfg["pad_spec"], dilation=cfg["dil_spec"],
                groups=cfg["groups"], activation=cfg["activation"])


def api_x(cfg, x):
    return x[0] if cfg["unbatched"] else x


def expected_of(cfg, x, w, b):
    """(oracle result, abs bound, reduction length) in the batched/unbatched form of the call."""
    args = dict(stride=cfg["stride"], padding=cfg["pads"], dilation=cfg["dil"],
                groups=cfg["groups"])
    y = oracle.conv2d(x, w, b, **args)
    bound = oracle.conv2d_abs_bound(x, w, b, **args)
    if cfg["activation"] == "relu":
        y = oracle.relu(y)  # 1-Lipschitz: the bound still holds
    if cfg["unbatched"]:
        y, bound = y[0], bound[0]
    length = cfg["c"] // cfg["groups"] * cfg["r"] * cfg["s"] + (1 if b is not None else 0)
    return y, bound, length


def copies(*arrays):
    return [None if a is None else a.copy() for a in arrays]


def assert_unchanged(originals, arrays):
    for o, a in zip(originals, arrays):
        if a is not None:
            assert_exact(a, o)


# --- against the oracle ---------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@given(cfg=conv_configs())
def test_conv2d_matches_oracle_within_reduction_bound(nan_outputs, algorithm, dtype, cfg):
    x, w, b = make_inputs(cfg, dtype)
    saved = copies(x, w, b)
    nan_outputs.reset()
    y = fastconv.conv2d(api_x(cfg, x), w, b, algorithm=algorithm, **call_kwargs(cfg))
    assert nan_outputs.calls, "conv2d did not allocate its output through _empty"
    expected, bound, length = expected_of(cfg, x, w, b)
    assert_reduction_close(y, expected, bound, length, dtype)
    assert_unchanged(saved, (x, w, b))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@given(cfg=conv_configs())
def test_conv2d_integer_valued_inputs_match_oracle_exactly(nan_outputs, algorithm, dtype, cfg):
    x, w, b = make_inputs(cfg, dtype, integer=True)
    saved = copies(x, w, b)
    y = fastconv.conv2d(api_x(cfg, x), w, b, algorithm=algorithm, **call_kwargs(cfg))
    expected, _, _ = expected_of(cfg, x, w, b)
    assert_integer_exact(y, expected, dtype)
    assert_unchanged(saved, (x, w, b))


@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=conv_configs().filter(lambda cfg: cfg["groups"] == cfg["c"]),
       integer=st.booleans())
def test_conv2d_depthwise_algorithm_matches_oracle(nan_outputs, dtype, cfg, integer):
    # groups == C: depthwise layers and single-channel filter banks (C = groups = 1)
    x, w, b = make_inputs(cfg, dtype, integer=integer)
    saved = copies(x, w, b)
    nan_outputs.reset()
    y = fastconv.conv2d(api_x(cfg, x), w, b, algorithm="depthwise", **call_kwargs(cfg))
    expected, bound, length = expected_of(cfg, x, w, b)
    if cfg["n"]:
        assert nan_outputs.calls, "conv2d did not allocate its output through _empty"
    if integer:
        assert_integer_exact(y, expected, dtype)
    else:
        assert_reduction_close(y, expected, bound, length, dtype)
    assert_unchanged(saved, (x, w, b))


@pytest.mark.parametrize("xs,ws,stride,groups,expected", [
    ((2, 6, 11, 13), (12, 1, 3, 3), 1, 6, "depthwise"),  # channel multiplier 2
    ((1, 1, 64, 64), (1, 1, 5, 5), 1, 1, "depthwise"),   # one image, one filter (image_5x5)
    ((1, 1, 64, 64), (3, 1, 5, 5), 1, 1, "depthwise"),   # single channel, few filters
    ((8, 1, 28, 28), (6, 1, 5, 5), 1, 1, "im2col"),      # single-channel filter bank (lenet_c1)
    ((1, 16, 9, 9), (8, 16, 1, 1), 1, 1, "pointwise"),
    ((1, 3, 16, 16), (8, 3, 3, 3), 1, 1, "direct"),      # stride 1, 27 products per output
    ((1, 3, 16, 16), (8, 3, 3, 3), 2, 1, "im2col"),      # the same at stride 2
    ((1, 8, 16, 16), (8, 2, 3, 3), 1, 4, "direct"),      # 18 products per output
    ((1, 16, 16, 16), (2, 16, 3, 3), 1, 1, "im2col"),    # few filters, deep reduction
    ((1, 64, 16, 16), (64, 64, 3, 3), 1, 1, "im2col"),
])
def test_conv2d_auto_follows_the_measured_rule(xs, ws, stride, groups, expected):
    """The rule written in csrc/ops/conv2d.c (measured there) and in the README."""
    from fastconv.ops import _ext
    chosen = _ext.conv2d_auto_algorithm(xs, ws, (stride, stride), ((1, 1), (1, 1)), (1, 1),
                                        groups)
    if expected == "pointwise":  # 1x1 without padding
        chosen = _ext.conv2d_auto_algorithm(xs, ws, (1, 1), ((0, 0), (0, 0)), (1, 1), groups)
    assert chosen == expected


_RULE_LAYERS = [  # (x shape, weight shape, stride, groups)
    ((1, 3, 16, 16), (8, 3, 3, 3), 1, 1), ((1, 8, 16, 16), (8, 2, 3, 3), 1, 4),
    ((1, 2, 32, 32), (4, 2, 3, 3), 1, 1), ((1, 16, 16, 16), (16, 1, 3, 3), 1, 16),
    ((1, 16, 16, 16), (16, 1, 3, 3), 2, 16), ((1, 16, 16, 16), (16, 1, 5, 5), 2, 16),
    ((1, 1, 64, 64), (1, 1, 5, 5), 1, 1), ((1, 64, 16, 16), (64, 64, 3, 3), 1, 1),
]


@pytest.mark.parametrize("isa", [None, "avx2", "scalar"])
@pytest.mark.parametrize("xs,ws,stride,groups", _RULE_LAYERS)
def test_conv2d_auto_never_picks_a_scalar_direct_member_beside_a_simd_gemm(
        isa, xs, ws, stride, groups):
    """float64 has no SIMD direct member: the rule must not send it there while the float64
    GEMM is vectorised (the issue's case: 3 channels, 64 filters, 1.38 ms direct against 0.36
    ms im2col).  On the scalar path every member is scalar and the shape rule stands."""
    from fastconv.ops import _ext
    if isa is not None and isa not in _ext.ISA_NAMES:
        pytest.skip(f"{isa} is not an ISA path of this architecture")
    previous = _ext.active_isa()
    try:
        if isa is not None:
            _ext.select_isa(isa)
        for dtype in ("float32", "float64"):
            chosen = _ext.conv2d_auto_algorithm(xs, ws, (stride, stride), ((1, 1), (1, 1)),
                                                (1, 1), groups, dtype)
            gemm_simd = "scalar" not in _ext.kernel_name("conv2d_im2col", dtype)
            if chosen == "direct":
                assert not gemm_simd or "scalar" not in _ext.kernel_name("conv2d_direct", dtype)
            if groups == xs[1] and not (xs[1] == 1 and ws[0] >= 4):
                # a depthwise layer's driver, even scalar (float64), beats a GEMM of one filter
                # per group at any stride: float64 3x3 stride 2, 96 channels on 112x112, ran
                # 1.3 ms depthwise against 3.3 ms im2col
                assert chosen == "depthwise"
            f32 = _ext.conv2d_auto_algorithm(xs, ws, (stride, stride), ((1, 1), (1, 1)),
                                             (1, 1), groups, "float32")
            if dtype == "float64" and f32 not in ("direct", "depthwise"):
                assert chosen == f32  # the dtype only moves layers off scalar members
    finally:
        _ext.select_isa(previous)


def test_conv2d_auto_at_precision_high_is_winograd_where_it_measured_faster():
    from fastconv.ops import _ext
    layer = ((1, 64, 56, 56), (64, 64, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    assert _ext.conv2d_auto_algorithm(*layer, "float32", "high") == "winograd"
    assert _ext.conv2d_auto_algorithm(*layer, "float32", "highest") == "im2col"
    assert _ext.conv2d_auto_algorithm(*layer, "float64", "high") == "im2col"  # no f64 Winograd


@settings(max_examples=40)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@given(cfg=conv_configs())
def test_conv2d_accepts_read_only_inputs_and_leaves_them_intact(algorithm, dtype, cfg):
    x, w, b = make_inputs(cfg, dtype)
    saved = copies(x, w, b)
    for a in (x, w, b):
        if a is not None:
            a.flags.writeable = False
    y = fastconv.conv2d(api_x(cfg, x), w, b, algorithm=algorithm, **call_kwargs(cfg))
    expected, bound, length = expected_of(cfg, x, w, b)
    assert_reduction_close(y, expected, bound, length, dtype)
    assert_unchanged(saved, (x, w, b))


# --- tile edges: sizes equal to, less than, divisible by and greater than the kernels' tiles --

def _tile_edge_cases():
    cases = []
    # filters K around SIMD widths (4/8/16 lanes) and GEMM tiles (4..32 columns, 4..8 rows)
    for k in (1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 48, 65):
        cases.append(((1, 3, 6, 7), (k, 3, 3, 3), 1, 1, 1))
    # output widths Q around the direct kernel's and the GEMM's spatial tiles
    for q in (1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47):
        cases.append(((2, 2, 3, q + 2), (5, 2, 3, 3), 1, 0, 1))
    # reduction lengths C*R*S around the GEMM's k-blocking, up to several hundred
    for c, r in ((1, 1), (3, 1), (4, 1), (5, 1), (8, 1), (9, 1), (17, 1), (2, 3), (4, 3),
                 (16, 3), (29, 3), (64, 3), (8, 5)):
        cases.append(((1, c, 8, 9), (6, c, r, r), 1, r // 2, 1))
    # strided / grouped / depthwise at tile-sized widths
    cases += [
        ((2, 16, 17, 33), (32, 16, 3, 3), 2, 1, 1),
        ((1, 32, 9, 18), (32, 1, 3, 3), 1, 1, 32),
        ((1, 24, 7, 35), (48, 3, 1, 3), (1, 3), (0, 1), 8),
        ((3, 8, 16, 16), (17, 8, 5, 5), 1, 2, 1),
    ]
    return cases


TILE_EDGE_CASES = _tile_edge_cases()


def integer_case_inputs(case, xs, ws, dtype):
    """Small-integer x, w and bias for a listed case, seeded by the case."""
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    return (rng.integers(-4, 5, xs).astype(dtype), rng.integers(-4, 5, ws).astype(dtype),
            rng.integers(-4, 5, ws[0]).astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("case", TILE_EDGE_CASES,
                         ids=[f"x{c[0]}-w{c[1]}-s{c[2]}-p{c[3]}-g{c[4]}".replace(" ", "")
                              for c in TILE_EDGE_CASES])
def test_conv2d_tile_edge_shapes_with_integer_inputs_are_exact(nan_outputs, case, algorithm,
                                                               dtype):
    xs, ws, stride, padding, groups = case
    x, w, b = integer_case_inputs(case, xs, ws, dtype)
    y = fastconv.conv2d(x, w, b, stride=stride, padding=padding, groups=groups,
                        activation="relu", algorithm=algorithm)
    s2 = (stride, stride) if isinstance(stride, int) else stride
    p2 = (padding, padding) if isinstance(padding, int) else padding
    expected = oracle.relu(oracle.conv2d(x, w, b, s2, ((p2[0], p2[0]), (p2[1], p2[1])), (1, 1),
                                         groups))
    assert_integer_exact(y, expected, dtype)


# --- against the C reference twin ---------------------------------------------------------

def reference_conv2d(cfg, x, w, b):
    return fastconv.reference.conv2d(api_x(cfg, x), w, b, **call_kwargs(cfg))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@given(cfg=conv_configs())
def test_conv2d_matches_reference_twin(nan_outputs, algorithm, dtype, cfg):
    x, w, b = make_inputs(cfg, dtype)
    y = fastconv.conv2d(api_x(cfg, x), w, b, algorithm=algorithm, **call_kwargs(cfg))
    ref = reference_conv2d(cfg, x, w, b)
    expected, bound, length = expected_of(cfg, x, w, b)
    # the twin is itself checked against the oracle ...
    assert_reduction_close(ref, expected, bound, length, dtype)
    # ... and both are within the bound of the exact result, so of each other within twice it
    assert_reduction_close(y, ref.astype(np.float64), bound, 2 * length, dtype)


@settings(max_examples=40)
@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=conv_configs())
def test_conv2d_reference_twin_integer_inputs_match_oracle_exactly(nan_outputs, dtype, cfg):
    x, w, b = make_inputs(cfg, dtype, integer=True)
    saved = copies(x, w, b)
    ref = reference_conv2d(cfg, x, w, b)
    expected, _, _ = expected_of(cfg, x, w, b)
    assert_integer_exact(ref, expected, dtype)
    assert_unchanged(saved, (x, w, b))


def test_reference_conv2d_has_no_algorithm_argument():
    x = np.ones((1, 1, 3, 3))
    with pytest.raises(TypeError):
        fastconv.reference.conv2d(x, np.ones((1, 1, 1, 1)), algorithm="direct")


# --- threads, out=, padding forms -----------------------------------------------------------

@settings(max_examples=25)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@given(cfg=conv_configs(max_batch=3, max_hw=12))
def test_conv2d_one_and_two_threads_are_bitwise_identical(restore_threads, algorithm, dtype,
                                                          cfg):
    x, w, b = make_inputs(cfg, dtype)
    fastconv.set_num_threads(1)
    y1 = fastconv.conv2d(api_x(cfg, x), w, b, algorithm=algorithm, **call_kwargs(cfg))
    fastconv.set_num_threads(2)
    y2 = fastconv.conv2d(api_x(cfg, x), w, b, algorithm=algorithm, **call_kwargs(cfg))
    assert_exact(y2, y1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_conv2d_threads_bitwise_identical_on_a_layer_big_enough_to_split(restore_threads,
                                                                         algorithm, dtype):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((4, 16, 20, 20)).astype(dtype)
    w = rng.standard_normal((24, 16, 3, 3)).astype(dtype)
    b = rng.standard_normal(24).astype(dtype)
    results = []
    for n in (1, 2, 3, 1):
        fastconv.set_num_threads(n)
        results.append(fastconv.conv2d(x, w, b, padding=1, algorithm=algorithm))
    for r in results[1:]:
        assert_exact(r, results[0])
    expected = oracle.conv2d(x, w, b, padding=((1, 1), (1, 1)))
    bound = oracle.conv2d_abs_bound(x, w, b, padding=((1, 1), (1, 1)))
    assert_reduction_close(results[0], expected, bound, 16 * 9 + 1, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("unbatched", [False, True])
def test_conv2d_out_argument_is_filled_and_returned(algorithm, dtype, unbatched):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 7, 6)).astype(dtype)
    w = rng.standard_normal((5, 4, 3, 2)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    xa = x[:1][0] if unbatched else x
    # P = (7 + 1 + 1 - 3) // 2 + 1 = 4, Q = (6 - 2 * (2 - 1) - 1) // 1 + 1 = 4
    shape = (5, 4, 4) if unbatched else (2, 5, 4, 4)
    out = np.full(shape, np.nan, dtype=dtype)
    y = fastconv.conv2d(xa, w, b, stride=(2, 1), padding=(1, 0), dilation=(1, 2),
                        activation="relu", algorithm=algorithm, out=out)
    assert y is out
    args = dict(stride=(2, 1), padding=((1, 1), (0, 0)), dilation=(1, 2))
    expected = oracle.relu(oracle.conv2d(x, w, b, **args))
    bound = oracle.conv2d_abs_bound(x, w, b, **args)
    if unbatched:
        expected, bound = expected[0], bound[0]
    assert_reduction_close(out, expected, bound, 4 * 6 + 1, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_padding_spellings_give_identical_results(dtype):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 6, 7)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    base = fastconv.conv2d(x, w, padding=1)
    assert_exact(fastconv.conv2d(x, w, padding=(1, 1)), base)
    assert_exact(fastconv.conv2d(x, w, padding=((1, 1), (1, 1))), base)
    assert_exact(fastconv.conv2d(x, w, padding="same"), base)
    assert_exact(fastconv.conv2d(x, w, padding="valid"), fastconv.conv2d(x, w, padding=0))
    assert_exact(fastconv.conv2d(x, w, stride=(1, 1), dilation=(1, 1)), fastconv.conv2d(x, w))


@pytest.mark.parametrize("h,w,r,stride,dil", [
    (7, 7, 3, 2, 1), (8, 5, 3, 2, 1), (9, 9, 4, 3, 1), (5, 6, 3, 2, 2), (1, 1, 5, 3, 1),
    (10, 3, 2, 4, 1),
])
def test_conv2d_same_padding_output_is_ceil_of_size_over_stride(h, w, r, stride, dil):
    rng = np.random.default_rng(h * w + r)
    x = rng.standard_normal((1, 2, h, w))
    wt = rng.standard_normal((3, 2, r, r))
    y = fastconv.conv2d(x, wt, stride=stride, dilation=dil, padding="same")
    assert y.shape == (1, 3, -(-h // stride), -(-w // stride))
    pads = (oracle.same_padding(h, r, stride, dil), oracle.same_padding(w, r, stride, dil))
    args = dict(stride=(stride, stride), padding=pads, dilation=(dil, dil))
    assert_reduction_close(y, oracle.conv2d(x, wt, **args), oracle.conv2d_abs_bound(x, wt, **args),
                           2 * r * r, np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_conv2d_fused_relu_equals_relu_of_conv(algorithm, dtype):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 8, 8)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    plain = fastconv.conv2d(x, w, b, padding=1, algorithm=algorithm)
    fused = fastconv.conv2d(x, w, b, padding=1, algorithm=algorithm, activation="relu")
    assert (plain < 0).any() and (plain > 0).any()
    assert_exact(fused, fastconv.relu(plain))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_conv2d_zero_batch_returns_empty_array_of_the_right_shape(algorithm):
    y = fastconv.conv2d(np.zeros((0, 4, 6, 6), np.float32), np.zeros((8, 2, 3, 3), np.float32),
                        np.zeros(8, np.float32), stride=2, padding=1, groups=2,
                        algorithm=algorithm)
    assert y.shape == (0, 8, 3, 3) and y.dtype == np.float32


def test_conv2d_is_exported_from_functional():
    import fastconv.functional
    assert fastconv.conv2d is fastconv.functional.conv2d


# --- against torch ------------------------------------------------------------------------

TORCH_CASES = [
    # (N, C, H, W), (K, C/g, R, S), stride, padding, dilation, groups
    ((2, 3, 9, 8), (4, 3, 3, 3), 1, 1, 1, 1),
    ((1, 4, 10, 11), (6, 2, 3, 2), (2, 1), (1, 0), (1, 2), 2),
    ((3, 6, 7, 7), (6, 1, 3, 3), 2, 1, 1, 6),
    ((2, 5, 8, 8), (3, 5, 1, 1), 1, 0, 1, 1),
    ((1, 2, 12, 9), (4, 2, 5, 3), 1, "same", (2, 1), 1),
    ((2, 8, 6, 6), (8, 2, 2, 2), 3, 2, 2, 4),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("case", TORCH_CASES, ids=[str(i) for i in range(len(TORCH_CASES))])
def test_conv2d_matches_torch(case, algorithm, dtype):
    torch = pytest.importorskip("torch")
    xs, ws, stride, padding, dilation, groups = case
    rng = np.random.default_rng(sum(xs) + sum(ws))
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    y = fastconv.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation,
                        groups=groups, algorithm=algorithm)
    t = torch.nn.functional.conv2d(torch.from_numpy(x).double(), torch.from_numpy(w).double(),
                                   torch.from_numpy(b).double(), stride=stride, padding=padding,
                                   dilation=dilation, groups=groups).numpy()
    tb = torch.nn.functional.conv2d(torch.from_numpy(np.abs(x)).double(),
                                    torch.from_numpy(np.abs(w)).double(),
                                    torch.from_numpy(np.abs(b)).double(), stride=stride,
                                    padding=padding, dilation=dilation, groups=groups).numpy()
    # torch in float64 is itself within the (much smaller) float64 bound of the exact result
    assert_reduction_close(y, t, tb, 2 * (ws[1] * ws[2] * ws[3] + 1), dtype)


# --- pointwise (1x1, stride 1, no padding) ----------------------------------------------------

@st.composite
def pointwise_configs(draw):
    groups = draw(st.integers(1, 3))
    return dict(n=draw(st.integers(1, 3)), c=groups * draw(st.integers(1, 20)),
                k=groups * draw(st.integers(1, 20)), h=draw(st.integers(1, 9)),
                w=draw(st.integers(1, 40)), groups=groups, bias=draw(st.booleans()),
                activation=draw(st.sampled_from([None, "relu"])),
                seed=draw(st.integers(0, 2**32 - 1)))


@settings(max_examples=40)
@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=pointwise_configs())
def test_conv2d_pointwise_matches_oracle_and_im2col_bitwise(nan_outputs, dtype, cfg):
    rng = np.random.default_rng(cfg["seed"])
    x = rng.standard_normal((cfg["n"], cfg["c"], cfg["h"], cfg["w"])).astype(dtype)
    w = rng.standard_normal((cfg["k"], cfg["c"] // cfg["groups"], 1, 1)).astype(dtype)
    b = rng.standard_normal(cfg["k"]).astype(dtype) if cfg["bias"] else None
    kwargs = dict(groups=cfg["groups"], activation=cfg["activation"])
    saved = copies(x, w, b)
    nan_outputs.reset()
    y = fastconv.conv2d(x, w, b, algorithm="pointwise", **kwargs)
    expected = oracle.conv2d(x, w, b, groups=cfg["groups"])
    bound = oracle.conv2d_abs_bound(x, w, b, groups=cfg["groups"])
    if cfg["activation"]:
        expected = oracle.relu(expected)
    assert_reduction_close(y, expected, bound, cfg["c"] // cfg["groups"] + 1, dtype)
    # the same packed GEMM, the same order of the sums: im2col agrees to the bit, and so does
    # auto where it picks pointwise (4+ channels and 4+ filters per group)
    assert_exact(y, fastconv.conv2d(x, w, b, algorithm="im2col", **kwargs))
    if min(cfg["c"], cfg["k"]) // cfg["groups"] >= 4:
        assert_exact(y, fastconv.conv2d(x, w, b, algorithm="auto", **kwargs))
    assert_unchanged(saved, (x, w, b))


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_pointwise_threads_bitwise_identical(restore_threads, dtype):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((1, 40, 23, 31)).astype(dtype)
    w = rng.standard_normal((19, 40, 1, 1)).astype(dtype)
    results = []
    for n in (1, 2, 3):
        fastconv.set_num_threads(n)
        results.append(fastconv.conv2d(x, w, algorithm="pointwise", activation="relu"))
    for r in results[1:]:
        assert_exact(r, results[0])


# Blocks of 4+ filter panels copy each sub-panel of B from x before their tiles (ops/
# conv2d_im2col.tmpl.h, FC_GEMM_GRID_PACK_PANELS), fewer read it in place: both ways, the last
# partial tile of a block and of the map, in groups, against the oracle and bitwise across
# thread counts.  40 filters: 5 panels of AVX-512's 8, 7 of AVX2's 6, 10 of scalar's 4.
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ws,groups", [((40, 12, 1, 1), 1), ((80, 6, 1, 1), 2),
                                       ((40, 12, 3, 3), 1), ((9, 12, 1, 1), 1)])
def test_conv2d_on_x_in_place_many_filters_matches_oracle(restore_threads, dtype, ws, groups):
    rng = np.random.default_rng(21)
    x = rng.standard_normal((2, ws[1] * groups, 13, 37)).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    saved = copies(x, w, b)
    expected = oracle.relu(oracle.conv2d(x, w, b, groups=groups))
    bound = oracle.conv2d_abs_bound(x, w, b, groups=groups)
    results = []
    for n in (1, 2, 3):
        fastconv.set_num_threads(n)
        results.append(fastconv.conv2d(x, w, b, groups=groups, activation="relu",
                                       algorithm="im2col"))
    assert_reduction_close(results[0], expected, bound, ws[1] * ws[2] * ws[3] + 1, dtype)
    for r in results[1:]:
        assert_exact(r, results[0])
    assert_unchanged(saved, (x, w, b))


@pytest.mark.parametrize("ws,stride,padding", [
    ((4, 3, 3, 3), 1, 1), ((4, 3, 1, 1), 2, 0), ((4, 3, 1, 1), 1, 1),
    ((4, 3, 1, 1), (1, 2), 0), ((4, 3, 1, 1), 1, ((0, 1), (0, 0))), ((4, 3, 1, 3), 1, 0)])
def test_conv2d_pointwise_refuses_shapes_it_cannot_run(ws, stride, padding):
    x = np.ones((1, 3, 6, 6), np.float32)
    with pytest.raises(ValueError, match=r"conv2d: algorithm='pointwise' needs 1x1"):
        fastconv.conv2d(x, np.ones(ws, np.float32), stride=stride, padding=padding,
                        algorithm="pointwise")


def test_conv2d_pointwise_ignores_dilation():
    rng = np.random.default_rng(13)
    x = rng.integers(-4, 5, (2, 6, 5, 7)).astype(np.float32)
    w = rng.integers(-4, 5, (9, 6, 1, 1)).astype(np.float32)
    y = fastconv.conv2d(x, w, dilation=3, algorithm="pointwise")
    assert_integer_exact(y, oracle.conv2d(x, w, None), np.float32)


# --- max_workspace_bytes -----------------------------------------------------------------------

def _minimum_workspace(x, w, **kwargs):
    """The minimum conv2d reports for a limit of 1 byte."""
    with pytest.raises(ValueError, match=r"conv2d: max_workspace_bytes=1 is below the (\d+) "
                                         r"bytes per thread") as info:
        fastconv.conv2d(x, w, max_workspace_bytes=1, **kwargs)
    return int(re.search(r"below the (\d+) bytes", str(info.value)).group(1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm,ws,padding", [("im2col", (37, 11, 3, 3), 1),
                                                  ("pointwise", (37, 300, 1, 1), 0),
                                                  ("auto", (37, 300, 1, 1), 0)])
def test_conv2d_small_workspace_limits_give_the_same_bits(restore_threads, algorithm, ws,
                                                          padding, dtype):
    """From the minimum (one weight panel held at a time, 1-deep B panels) up to the default,
    every limit gives the same bits, on 1 and 2 threads, and the exact result."""
    rng = np.random.default_rng(14)
    x = rng.integers(-3, 4, (2, ws[1], 9, 13)).astype(dtype)
    w = rng.integers(-3, 4, ws).astype(dtype)
    b = rng.integers(-3, 4, ws[0]).astype(dtype)
    kwargs = dict(padding=padding, algorithm=algorithm, activation="relu")
    expected = oracle.relu(oracle.conv2d(x, w, b, padding=((padding,) * 2,) * 2))
    default = fastconv.conv2d(x, w, b, **kwargs)
    assert_integer_exact(default, expected, dtype)
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        least = _minimum_workspace(x, w, padding=padding, algorithm=algorithm)
        for limit in (least, least + 1, 2 * least, 5 * least, 40 * least):
            y = fastconv.conv2d(x, w, b, max_workspace_bytes=limit, **kwargs)
            assert_exact(y, default)
        with pytest.raises(ValueError, match=f"below the {least} bytes"):
            fastconv.conv2d(x, w, b, max_workspace_bytes=least - 1, **kwargs)


@pytest.mark.parametrize("value,error", [(0, ValueError), (-5, ValueError), (2**63, ValueError),
                                         (1.5, TypeError), ("1024", TypeError),
                                         (True, TypeError), (np.float32(64), TypeError)])
def test_conv2d_max_workspace_bytes_must_be_a_positive_int(value, error):
    x = np.ones((1, 2, 5, 5), np.float32)
    with pytest.raises(error, match=r"conv2d: max_workspace_bytes must be a positive int"):
        fastconv.conv2d(x, np.ones((3, 2, 3, 3), np.float32), max_workspace_bytes=value)


def test_conv2d_max_workspace_bytes_accepts_numpy_integers_and_none():
    x = np.ones((1, 2, 5, 5), np.float32)
    w = np.ones((3, 2, 3, 3), np.float32)
    expected = fastconv.conv2d(x, w)
    assert_exact(fastconv.conv2d(x, w, max_workspace_bytes=np.int64(1 << 20)), expected)
    assert_exact(fastconv.conv2d(x, w, max_workspace_bytes=None), expected)


# --- the stride-1 virtual grid of im2col -------------------------------------------------------
# im2col runs stride 1 on a grid as wide as the padded input (junk columns computed, never
# stored), reading B in place from per-item padded strips; a limit too small for the strips
# runs the packed im2col panels instead.  Both sum in the same order, so they agree bitwise.
# Padded widths 31..33 and 63..65 straddle the NR of every ISA (4, 16, 32).

GRID_CASES = [
    # (x shape, w shape, padding ((top, bottom), (left, right)), dilation, groups)
    ((2, 5, 9, 29), (11, 5, 3, 3), ((1, 1), (1, 1)), (1, 1), 1),
    ((1, 6, 7, 30), (9, 6, 3, 3), ((1, 1), (1, 1)), (1, 1), 1),
    ((1, 3, 8, 31), (8, 3, 3, 3), ((0, 2), (1, 1)), (1, 1), 1),
    ((3, 4, 6, 63), (17, 4, 2, 3), ((2, 0), (0, 2)), (1, 1), 1),
    ((1, 4, 5, 60), (6, 4, 3, 5), ((1, 1), (2, 2)), (1, 2), 1),
    ((2, 8, 11, 12), (16, 8, 5, 5), ((0, 0), (0, 0)), (1, 1), 1),
    ((1, 6, 9, 33), (12, 3, 3, 3), ((1, 1), (1, 1)), (2, 1), 2),
    ((2, 4, 10, 17), (7, 4, 3, 1), ((1, 1), (0, 0)), (1, 1), 1),
    ((1, 2, 3, 3), (5, 2, 3, 3), ((3, 3), (3, 3)), (2, 2), 1),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", GRID_CASES, ids=[f"x{c[0]}-w{c[1]}-p{c[2]}-d{c[3]}-g{c[4]}"
                                                  .replace(" ", "") for c in GRID_CASES])
def test_conv2d_im2col_stride1_grid_is_exact_and_matches_packed_panels(restore_threads, case,
                                                                       dtype):
    xs, ws, pads, dil, groups = case
    x, w, b = integer_case_inputs(case, xs, ws, dtype)
    kwargs = dict(padding=pads, dilation=dil, groups=groups, algorithm="im2col")
    expected = oracle.relu(oracle.conv2d(x, w, b, (1, 1), pads, dil, groups))
    results = []
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        y = fastconv.conv2d(x, w, b, activation="relu", **kwargs)
        assert_integer_exact(y, expected, dtype)
        results.append(y)
        least = _minimum_workspace(x, w, **kwargs)
        results.append(fastconv.conv2d(x, w, b, activation="relu", max_workspace_bytes=least,
                                       **kwargs))
        results.append(fastconv.conv2d(x, w, None, **kwargs))
        assert_integer_exact(results[-1], oracle.conv2d(x, w, None, (1, 1), pads, dil, groups),
                             dtype)
    for y in results[1::3] + results[3:4]:
        assert_exact(y, results[0])
    assert_exact(results[5], results[2])


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_im2col_stride1_grid_real_inputs_match_packed_panels_bitwise(restore_threads,
                                                                           dtype):
    rng = np.random.default_rng(21)
    x = rng.standard_normal((2, 40, 13, 45)).astype(dtype)  # red = 360: two kc blocks
    w = rng.standard_normal((20, 40, 3, 3)).astype(dtype)
    b = rng.standard_normal(20).astype(dtype)
    kwargs = dict(padding=1, algorithm="im2col")
    y = fastconv.conv2d(x, w, b, **kwargs)
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        least = _minimum_workspace(x, w, **kwargs)
        assert_exact(fastconv.conv2d(x, w, b, **kwargs), y)
        assert_exact(fastconv.conv2d(x, w, b, max_workspace_bytes=least, **kwargs), y)
    pads = ((1, 1), (1, 1))
    assert_reduction_close(y, oracle.conv2d(x, w, b, padding=pads),
                           oracle.conv2d_abs_bound(x, w, b, padding=pads), 40 * 9 + 1, dtype)


# --- the polyphase grid of strided im2col ------------------------------------------------------
# At stride (sh, sw) im2col's grid is the sh x sw phase planes of the padded input, each tap a
# flat offset into one of them, read in place (fc_gemm_grid in csrc/ops/conv2d_im2col.tmpl.h);
# the packed panels (the least workspace) sum in the same (c, r, s) order, so every limit,
# thread count and ISA agrees bitwise, and integer inputs match the oracle exactly.  Phase
# widths straddle the NR of every ISA; dilations leave phases unread; layers with fewer than
# two taps per phase read (1x1 at stride 2, 3x3 at stride 3 or 4) run the packed panels.

STRIDED_GRID_CASES = [
    # (x shape, w shape, stride, padding ((top, bottom), (left, right)), dilation, groups)
    ((1, 3, 30, 64), (9, 3, 7, 7), (2, 2), ((3, 3), (3, 3)), (1, 1), 1),
    ((2, 3, 23, 67), (10, 3, 11, 11), (4, 4), ((0, 0), (0, 0)), (1, 1), 1),
    ((1, 5, 13, 65), (8, 5, 3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1), 1),
    ((2, 4, 17, 40), (7, 4, 3, 3), (3, 3), ((1, 2), (0, 1)), (1, 1), 1),
    ((1, 6, 15, 33), (12, 3, 3, 5), (2, 3), ((2, 2), (1, 1)), (2, 3), 2),
    ((1, 8, 9, 31), (16, 8, 1, 1), (2, 2), ((0, 0), (0, 0)), (1, 1), 1),
    ((2, 2, 11, 12), (5, 2, 4, 4), (3, 2), ((1, 1), (2, 2)), (2, 1), 1),
    ((1, 4, 5, 5), (3, 4, 3, 3), (4, 4), ((2, 2), (2, 2)), (1, 1), 1),
    # every column phase read, each input row split into them in one pass: padding that puts
    # columns before the first whole group of the stride, and after the last; none whole
    ((1, 2, 21, 45), (6, 2, 11, 11), (4, 4), ((2, 1), (3, 1)), (1, 1), 1),
    ((2, 3, 19, 38), (5, 3, 7, 7), (3, 3), ((1, 2), (2, 0)), (1, 1), 1),
    ((1, 2, 9, 6), (4, 2, 9, 9), (4, 4), ((4, 4), (5, 4)), (1, 1), 1),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", STRIDED_GRID_CASES,
                         ids=[f"x{c[0]}-w{c[1]}-s{c[2]}-p{c[3]}-d{c[4]}-g{c[5]}".replace(" ", "")
                              for c in STRIDED_GRID_CASES])
def test_conv2d_im2col_strided_grid_is_exact_on_every_isa_limit_and_thread_count(
        restore_threads, case, dtype):
    xs, ws, stride, pads, dil, groups = case
    x, w, b = integer_case_inputs(case, xs, ws, dtype)
    kwargs = dict(stride=stride, padding=pads, dilation=dil, groups=groups, algorithm="im2col")
    expected = oracle.relu(oracle.conv2d(x, w, b, stride, pads, dil, groups))
    _exact_on_every_isa_limit_and_thread_count(x, w, b, expected, dtype, kwargs, (1,))


def _exact_on_every_isa_limit_and_thread_count(x, w, b, expected, dtype, kwargs, factors):
    """conv2d(x, w, b, activation="relu", **kwargs) on every ISA path up to the session's, on
    1, 2 and 3 threads, and at max_workspace_bytes = each factor x the least: the integer
    result `expected` exactly, and every run of a path the same bits."""
    from fastconv.ops import _ext
    session = _ext.active_isa()
    isas = list(_ext.ISA_NAMES)
    try:
        for isa in isas[:isas.index(session) + 1]:
            _ext.select_isa(isa)
            first = None
            for threads in (1, 2, 3):
                fastconv.set_num_threads(threads)
                y = fastconv.conv2d(x, w, b, activation="relu", **kwargs)
                assert_integer_exact(y, expected, dtype)
                first = y if first is None else first
                assert_exact(y, first)
                least = _minimum_workspace(x, w, **kwargs)
                for factor in factors:
                    assert_exact(fastconv.conv2d(x, w, b, activation="relu",
                                                 max_workspace_bytes=factor * least, **kwargs),
                                 first)
    finally:
        _ext.select_isa(session)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_im2col_strided_grid_real_inputs_match_packed_panels_bitwise(restore_threads,
                                                                            dtype):
    rng = np.random.default_rng(22)
    x = rng.standard_normal((2, 40, 27, 45)).astype(dtype)  # red = 360: two kc blocks
    w = rng.standard_normal((20, 40, 3, 3)).astype(dtype)
    b = rng.standard_normal(20).astype(dtype)
    kwargs = dict(stride=2, padding=1, algorithm="im2col")
    y = fastconv.conv2d(x, w, b, **kwargs)
    for threads in (1, 2, 3):
        fastconv.set_num_threads(threads)
        least = _minimum_workspace(x, w, **kwargs)
        assert_exact(fastconv.conv2d(x, w, b, **kwargs), y)
        assert_exact(fastconv.conv2d(x, w, b, max_workspace_bytes=least, **kwargs), y)
    pads = ((1, 1), (1, 1))
    assert_reduction_close(y, oracle.conv2d(x, w, b, stride=(2, 2), padding=pads),
                           oracle.conv2d_abs_bound(x, w, b, stride=(2, 2), padding=pads), 40 * 9 + 1,
                           dtype)


# --- deep layers on small maps: filter ranges, weight rows read in place by the items ---------
# Where a group's packed weights outgrow a slice of L2 (1 MiB) and there are few images, im2col
# cuts the filters into ranges, a multiple of the team (csrc/ops/conv2d_im2col.tmpl.h,
# gemm_m_ranges), and where each panel then meets one item only (batch 1, one block of pixels)
# the items' microkernel reads the weight rows in place (a last partial panel packed: 81 and
# 101 filters are not multiples of any MR).  Each tile still sums its whole
# reduction in order, so every thread count (2, 3 ranges...), limit (the weights packed in
# chunks, a range cut by a chunk's end) and ISA agrees bitwise, and integer inputs are exact.
# The weights exceed 1 MiB for every ISA's MR (4, 6, 8) in float32, reductions past kc.

DEEP_CASES = [
    # (x shape, w shape, stride, padding)
    ((1, 370, 9, 9), (81, 370, 3, 3), 1, 1),      # batch 1: weights read in place
    ((3, 370, 9, 9), (81, 370, 3, 3), 1, 1),      # 3 images on 2 threads: shared panels
    ((1, 300, 11, 11), (101, 300, 3, 3), 2, 1),   # the strided grid
    ((1, 4200, 8, 8), (70, 4200, 1, 1), 2, 0),    # packed im2col panels (1x1 at stride 2)
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [DEEP_CASES[0], DEEP_CASES[2]], ids=["s1", "s2"])
def test_conv2d_im2col_weights_read_in_place_match_packed_panels_bitwise(restore_threads, case,
                                                                         dtype):
    # real inputs: the weight rows read in place (batch 1, the default limit; at 2 threads
    # with one strip of the input rows for the team) and the shared packed panels (a limit
    # that packs them in chunks, a strip per thread) make the same sums, on every ISA path
    from fastconv.ops import _ext
    xs, ws, stride, padding = case
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in (xs, ws, ws[:1]))
    kwargs = dict(stride=stride, padding=padding, algorithm="im2col")
    least = _minimum_workspace(x, w, **kwargs)
    session = _ext.active_isa()
    isas = list(_ext.ISA_NAMES)
    try:
        for isa in isas[:isas.index(session) + 1]:
            _ext.select_isa(isa)
            for threads in (1, 2):
                fastconv.set_num_threads(threads)
                assert_exact(fastconv.conv2d(x, w, b, **kwargs),
                             fastconv.conv2d(x, w, b, max_workspace_bytes=2 * least, **kwargs))
    finally:
        _ext.select_isa(session)


# --- batch 1: one strip of all the input rows, shared by the team -----------------------------
# At batch 1 (one group) the team copies every padded row of the input once, into one strip
# that all the items read (fc_gemm_grid.whole_strip), where each item copied its block's rows;
# a smaller limit gives each thread its own strip per block, the least the packed panels.
# These maps are several blocks of pixels on every ISA (nc / NR tiles per block).

WHOLE_STRIP_CASES = [
    # (x shape, w shape, stride, padding)
    ((1, 7, 40, 37), (13, 7, 3, 3), 1, 1),    # the stride-1 grid, 4+ blocks
    ((1, 5, 61, 58), (11, 5, 3, 3), 2, 1),    # the polyphase grid of stride 2
    ((1, 3, 47, 45), (9, 3, 7, 7), 2, 3),     # ResNet's stem, on a smaller image
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", WHOLE_STRIP_CASES, ids=["s1", "s2", "7x7s2"])
def test_conv2d_im2col_batch1_shared_strip_is_exact_at_every_limit(restore_threads, case, dtype):
    xs, ws, stride, padding = case
    x, w, b = integer_case_inputs(case, xs, ws, dtype)
    kwargs = dict(stride=stride, padding=padding, algorithm="im2col", activation="relu")
    expected = oracle.relu(oracle.conv2d(x, w, b, (stride, stride), ((padding, padding),) * 2,
                                         (1, 1), 1))
    first = None
    for threads in (1, 2, 3):
        fastconv.set_num_threads(threads)
        least = _minimum_workspace(x, w, **kwargs)  # per thread: it depends on the team
        # the default limit (one shared strip), then limits from the least up by halves,
        # which pass every switch (the packed panels, a strip per thread, the shared strip)
        limits = [None] + [int(least * 1.5 ** i) for i in range(14)]
        for limit in limits:
            y = fastconv.conv2d(x, w, b, max_workspace_bytes=limit, **kwargs)
            assert_integer_exact(y, expected, dtype)
            if first is None:
                first = y
            assert_exact(y, first)


# --- few items: the filters split further so that a late thread costs its own share ---------
# With one work item per thread (batch 1 on a small map) im2col cuts each group's filters into
# more ranges, a multiple of the team, until every thread has several items
# (csrc/ops/conv2d_im2col.tmpl.h, gemm_split_ranges).  Each tile still sums its whole reduction
# in order: every thread count (1 item on 1 thread, 8 ranges on 2, 12 on 3), limit and ISA
# agrees bitwise, integer inputs exactly, and real inputs keep the 1-thread bits.

FEW_ITEM_CASES = [
    # (x shape, w shape, stride, padding): one or two blocks of pixels at batch 1
    ((1, 40, 9, 11), (37, 40, 1, 7), 1, (0, 3)),   # inception's 1x7: the stride-1 grid
    ((1, 24, 14, 13), (45, 24, 3, 3), 2, (1, 1)),  # 3x3 at stride 2: the polyphase grid
    ((1, 9, 12, 12), (70, 9, 3, 3), 1, (0, 0)),    # no padding: the grid is the input
    ((2, 16, 10, 10), (21, 16, 3, 3), 1, (1, 1)),  # 2 images (3 threads: not a multiple)
    # 1x1 at stride 2 (a ResNet downsample): off the grid, B packed with strided runs; the
    # team gets more blocks of pixels, not more ranges (each would pack B again)
    ((1, 24, 14, 14), (45, 24, 1, 1), 2, (0, 0)),
]


def _range_case_pads(padding):
    p2 = (padding, padding) if isinstance(padding, int) else padding
    return ((p2[0], p2[0]), (p2[1], p2[1]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", DEEP_CASES + FEW_ITEM_CASES,
                         ids=[f"x{c[0]}-w{c[1]}-s{c[2]}".replace(" ", "")
                              for c in DEEP_CASES + FEW_ITEM_CASES])
def test_conv2d_im2col_filter_ranges_are_exact_on_every_isa_limit_and_thread_count(
        restore_threads, case, dtype):
    xs, ws, stride, padding = case
    x, w, b = integer_case_inputs(case, xs, ws, dtype)
    kwargs = dict(stride=stride, padding=padding, algorithm="im2col")
    expected = oracle.relu(oracle.conv2d(x, w, b, (stride, stride), _range_case_pads(padding)))
    _exact_on_every_isa_limit_and_thread_count(x, w, b, expected, dtype, kwargs, (1, 7, 60))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", FEW_ITEM_CASES,
                         ids=[f"x{c[0]}-w{c[1]}-s{c[2]}".replace(" ", "") for c in FEW_ITEM_CASES])
def test_conv2d_im2col_few_items_real_inputs_keep_one_thread_bits(restore_threads, case, dtype):
    xs, ws, stride, padding = case
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in (xs, ws, ws[:1]))
    results = []
    for threads in (1, 2, 3, 4):
        fastconv.set_num_threads(threads)
        results.append(fastconv.conv2d(x, w, b, stride=stride, padding=padding,
                                       algorithm="im2col"))
    for y in results[1:]:
        assert_exact(y, results[0])
    pads = _range_case_pads(padding)
    bound = oracle.conv2d(np.abs(x), np.abs(w), np.abs(b), (stride, stride), pads)
    assert_reduction_close(results[0], oracle.conv2d(x, w, b, (stride, stride), pads), bound,
                           ws[1] * ws[2] * ws[3] + 1, dtype)


# --- images folded into one GEMM -------------------------------------------------------------
# On small maps with 256+ filters per group (64+ where the kernel member packs the runs of the
# rows with vectors, at stride_w 1; or off the grid, any) im2col packs panels whose
# columns are the pixels of all the images (gemm_fold in csrc/ops/conv2d_im2col.tmpl.h): NR-wide
# tiles span image boundaries, C goes through a scratch block to each image.  The least
# workspace runs per image (no room for that scratch); every way sums in the same order.
# Batches 1, 2, 3, 5; pixels per image not multiples of any NR (4, 16, 32); filters not multiples
# of MR (4, 6, 8).

FOLD_CASES = [
    # (x shape, w shape, stride, padding, groups)
    ((2, 5, 7, 7), (257, 5, 3, 3), 1, 1, 1),    # ResNet's last stage, few channels
    ((3, 4, 6, 5), (260, 4, 3, 3), 1, 0, 1),    # 12 pixels per image, no padding
    ((5, 3, 9, 9), (256, 3, 5, 5), 1, 2, 1),    # 5x5 on small maps
    ((3, 6, 8, 9), (270, 6, 3, 3), 2, 1, 1),    # the strided grid
    ((3, 4, 5, 6), (516, 2, 3, 3), 1, 1, 2),    # two groups
    ((3, 8, 9, 9), (20, 8, 1, 1), 2, 0, 1),     # packed panels (1x1 at stride 2): any filters
    ((3, 5, 9, 9), (64, 5, 5, 5), 1, 2, 1),     # 64 filters: folded by the vector runs
    ((2, 6, 3, 17), (72, 6, 3, 3), 1, 1, 1),    # rows wider than a vector of 16
    ((1, 5, 9, 9), (64, 5, 5, 5), 1, 2, 1),     # batch 1: one image's packed panels, no grid
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", FOLD_CASES,
                         ids=[f"x{c[0]}-w{c[1]}-s{c[2]}-p{c[3]}-g{c[4]}".replace(" ", "")
                              for c in FOLD_CASES])
def test_conv2d_im2col_folded_images_are_exact_on_every_isa_limit_and_thread_count(
        restore_threads, case, dtype):
    xs, ws, stride, padding, groups = case
    x, w, b = integer_case_inputs(case, xs, ws, dtype)
    kwargs = dict(stride=stride, padding=padding, groups=groups, algorithm="im2col")
    expected = oracle.relu(oracle.conv2d(x, w, b, (stride, stride), ((padding, padding),) * 2,
                                         groups=groups))
    _exact_on_every_isa_limit_and_thread_count(x, w, b, expected, dtype, kwargs, (1, 60))


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_im2col_folded_images_with_a_residual_match_the_oracle(restore_threads, dtype):
    """The epilogue after the scratch (residual, then leaky ReLU) lands on each image's own
    elements; real inputs, two kc blocks, bitwise the same on 1 to 3 threads."""
    rng = np.random.default_rng(23)
    x = rng.standard_normal((3, 40, 7, 7)).astype(dtype)  # red = 360
    w = rng.standard_normal((260, 40, 3, 3)).astype(dtype)
    b = rng.standard_normal(260).astype(dtype)
    res = rng.standard_normal((3, 260, 7, 7)).astype(dtype)
    kwargs = dict(padding=1, algorithm="im2col", activation="leaky_relu", negative_slope=0.1,
                  residual=res)
    results = []
    for threads in (1, 2, 3):
        fastconv.set_num_threads(threads)
        results.append(fastconv.conv2d(x, w, b, **kwargs))
        assert_exact(results[-1], results[0])
    pads = ((1, 1), (1, 1))
    pre = oracle.conv2d(x, w, b, padding=pads) + res
    bound = oracle.conv2d_abs_bound(x, w, b, padding=pads) + np.abs(res.astype(np.float64))
    assert_reduction_close(results[0], oracle.activation(pre, "leaky_relu", 0.1), bound,
                           40 * 9 + 2, dtype)


# --- the grid's C on a scratch block -----------------------------------------------------------
# Where the grid has junk columns (padding, or a stride's phase planes) and the reduction spans
# several kc blocks (every ISA's kc is 256), each item computes its block of C on a scratch
# block and stores the valid columns to y once, then runs the unfused epilogue there
# (fc_gemm_grid.c_scratch in csrc/ops/conv2d_im2col.tmpl.h); the least workspace runs packed
# panels straight into y.  Both sum in the same order: integer inputs exact with a residual
# on every ISA path, thread count and limit, every output written (NaN-filled outputs).

SCRATCH_C_CASES = [
    # (x shape, w shape, stride, padding): reductions of 297-360
    ((1, 40, 7, 7), (70, 40, 3, 3), 1, 1),     # ResNet's last stage in small: junk in every tile
    ((2, 30, 9, 13), (13, 30, 3, 3), 1, 1),    # 2 images, 13 filters (no multiple of any MR)
    ((1, 33, 11, 10), (21, 33, 3, 3), 2, 1),   # the polyphase grid at stride 2
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", SCRATCH_C_CASES,
                         ids=[f"x{c[0]}-w{c[1]}-s{c[2]}".replace(" ", "") for c in SCRATCH_C_CASES])
def test_conv2d_im2col_grid_scratch_c_with_a_residual_is_exact(nan_outputs, restore_threads,
                                                              case, dtype):
    xs, ws, stride, padding = case
    x, w, b = integer_case_inputs(case, xs, ws, dtype)
    pads = _range_case_pads(padding)
    expected_shape = oracle.conv2d(x, w, b, (stride, stride), pads).shape
    res = np.random.default_rng(24).integers(-40, 41, expected_shape).astype(dtype)
    kwargs = dict(stride=stride, padding=padding, algorithm="im2col", residual=res)
    expected = oracle.relu(oracle.conv2d(x, w, b, (stride, stride), pads) + res)
    _exact_on_every_isa_limit_and_thread_count(x, w, b, expected, dtype, kwargs, (1, 60))
    assert nan_outputs.calls

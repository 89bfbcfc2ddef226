"""The epilogue of conv2d and linear, y = act((bias + sum) + residual): every activation of the
C library's table (relu, relu6, leaky_relu) with and without a residual, on every conv2d
algorithm and its internal paths (GEMM tiles, edges, the grid's scatter, several reduction
blocks; direct; depthwise) and on linear's orientations, against the float64 oracle, the C
reference twins, torch (when installed), with NaN, -0 and infinities, and the argument errors.
The suite runs once per ISA path (FASTCONV_ISA=scalar / avx2 / default)."""
import numpy as np
import pytest

import fastconv
import fastconv.reference
import oracle
from fastconv import _ext
from tolerances import assert_bitwise_equal, assert_exact, assert_integer_exact, \
    assert_reduction_close

ACTIVATIONS = [None, "relu", "relu6", "leaky_relu"]
DTYPES = [np.float32, np.float64]
SLOPE = 0.25  # a power of two: integer-valued sums stay exact after the slope

# (x shape, weight shape, normalised arguments, algorithm): each crosses a path of its driver
CONV = {
    "im2col_pad1": ((2, 5, 9, 13), (11, 5, 3, 3), dict(padding=((1, 1), (1, 1))), "im2col"),
    "im2col_stride2": ((1, 4, 17, 19), (7, 4, 3, 3),
                       dict(stride=(2, 2), padding=((1, 0), (2, 1))), "im2col"),
    "im2col_deep": ((1, 70, 9, 11), (10, 70, 3, 3), dict(padding=((1, 1), (1, 1))), "im2col"),
    "im2col_groups": ((2, 6, 8, 9), (9, 2, 3, 3), dict(groups=3), "im2col"),
    "pointwise": ((2, 7, 5, 31), (13, 7, 1, 1), {}, "pointwise"),
    "direct": ((1, 3, 10, 37), (9, 3, 3, 3), dict(padding=((1, 1), (1, 1))), "direct"),
    "direct_groups": ((2, 4, 7, 12), (6, 2, 3, 2), dict(groups=2), "direct"),
    "depthwise": ((2, 6, 11, 29), (12, 1, 3, 3), dict(padding=((1, 1), (1, 1)), groups=6),
                  "depthwise"),
    "depthwise_5x5_stride2": ((1, 4, 13, 17), (4, 1, 5, 5),
                              dict(stride=(2, 2), padding=((2, 2), (2, 2)), groups=4),
                              "depthwise"),
}
# (x shape, out_features): one tile, several blocks and tiles (C stored transposed), leading dims
LINEAR = {"small": ((5, 37), 13), "blocks": ((57, 300), 37), "leading": ((3, 4, 20), 7),
          "one_sample": ((20,), 9)}


def _slope(act):
    return SLOPE if act == "leaky_relu" else None


def _conv_out_shape(xs, ws, kw):
    stride = kw.get("stride", (1, 1))
    (pt, pb), (pl, pr) = kw.get("padding", ((0, 0), (0, 0)))
    return (xs[0], ws[0], oracle.conv_output_size(xs[2], pt, pb, ws[2], stride[0], 1),
            oracle.conv_output_size(xs[3], pl, pr, ws[3], stride[1], 1))


def _conv_inputs(case, dtype, rng, integer=False):
    xs, ws, kw, algorithm = CONV[case]
    draw = (lambda s: rng.integers(-3, 4, s)) if integer else rng.standard_normal
    x, w = draw(xs).astype(dtype), draw(ws).astype(dtype)
    b = draw(ws[:1]).astype(dtype)
    res = draw(_conv_out_shape(xs, ws, kw)).astype(dtype)
    return x, w, b, res, kw, algorithm


def test_every_activation_of_the_table_is_tested_here():
    """The accepted names come from the C table (common/epilogue.h); a row added there without
    its tests fails here."""
    assert set(_ext.ACTIVATIONS) == set(ACTIVATIONS)


# ---- against the float64 oracle ---------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("case", list(CONV))
@pytest.mark.parametrize("with_residual", [False, True])
def test_conv2d_against_the_oracle(case, act, dtype, with_residual):
    rng = np.random.default_rng(abs(hash((case, act, with_residual))) % 2**32)
    x, w, b, res, kw, algorithm = _conv_inputs(case, dtype, rng)
    res = res if with_residual else None
    y = fastconv.conv2d(x, w, b, activation=act, negative_slope=_slope(act), residual=res,
                        algorithm=algorithm, **kw)
    pre = oracle.conv2d(x, w, b, **kw)
    bound = oracle.conv2d_abs_bound(x, w, b, **kw)
    if res is not None:
        pre, bound = pre + res, bound + np.abs(res.astype(np.float64))
    length = w.shape[1] * w.shape[2] * w.shape[3] + 2  # the products, the bias, the residual
    assert_reduction_close(y, oracle.activation(pre, act, SLOPE), bound, length, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("case", list(LINEAR))
@pytest.mark.parametrize("with_residual", [False, True])
def test_linear_against_the_oracle(case, act, dtype, with_residual):
    xs, out = LINEAR[case]
    rng = np.random.default_rng(abs(hash((case, act, with_residual))) % 2**32)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal((out, xs[-1])).astype(dtype)
    b = rng.standard_normal(out).astype(dtype)
    res = rng.standard_normal(xs[:-1] + (out,)).astype(dtype) if with_residual else None
    y = fastconv.linear(x, w, b, activation=act, negative_slope=_slope(act), residual=res)
    pre, bound = oracle.linear(x, w, b), oracle.linear_abs_bound(x, w, b)
    if res is not None:
        pre, bound = pre + res, bound + np.abs(res.astype(np.float64))
    assert_reduction_close(y, oracle.activation(pre, act, SLOPE), bound, xs[-1] + 2, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_linear_without_inputs_is_the_epilogue_of_the_bias(act, dtype):
    """in_features = 0: y = act(bias + residual), no microkernel runs (linear's fill path)."""
    b = np.array([-2, -0.0, 3, 7, np.nan], dtype)
    res = np.array([[1, -0.0, 4, -1, 0], [-5, 0, 0, 0, 2]], dtype)
    y = fastconv.linear(np.zeros((2, 0), dtype), np.zeros((5, 0), dtype), b, activation=act,
                        negative_slope=_slope(act), residual=res)
    assert_exact(y, oracle.activation(b + res, act, SLOPE))


# ---- integer-valued: exact, and bitwise the reference twin ----------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("case", list(CONV))
def test_conv2d_integer_exact_and_the_reference_twin(case, act, dtype):
    rng = np.random.default_rng(7)
    x, w, b, res, kw, algorithm = _conv_inputs(case, dtype, rng, integer=True)
    for r in (None, res):
        args = dict(activation=act, negative_slope=_slope(act), residual=r, **kw)
        y = fastconv.conv2d(x, w, b, algorithm=algorithm, **args)
        assert_exact(y, fastconv.reference.conv2d(x, w, b, **args))
        pre = oracle.conv2d(x, w, b, **kw) + (0 if r is None else r)
        assert_integer_exact(y, oracle.activation(pre, act, SLOPE), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_linear_integer_exact_and_the_reference_twin(act, dtype):
    rng = np.random.default_rng(8)
    x = rng.integers(-3, 4, (57, 300)).astype(dtype)
    w = rng.integers(-3, 4, (37, 300)).astype(dtype)
    b = rng.integers(-3, 4, 37).astype(dtype)
    res = rng.integers(-30, 31, (57, 37)).astype(dtype)
    for r in (None, res):
        args = dict(activation=act, negative_slope=_slope(act), residual=r)
        y = fastconv.linear(x, w, b, **args)
        assert_exact(y, fastconv.reference.linear(x, w, b, **args))
        pre = oracle.linear(x, w, b) + (0 if r is None else r)
        assert_integer_exact(y, oracle.activation(pre, act, SLOPE), dtype)


# ---- NaN, -0, infinities: the activations' rules --------------------------------------------

SPECIALS = [np.nan, -0.0, 0.0, -3.0, 3.0, 6.0, 7.0, np.inf, -np.inf, 5.5, -0.5, 1e-30, -1e-30]


def _specials(shape, dtype):
    return np.resize(np.array(SPECIALS, dtype), shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("case", [c for c in CONV if "padding" not in CONV[c][2]])
def test_conv2d_special_values(case, act, dtype):
    """x = -1, weight = +0, bias = -0: every sum is exactly -0 (its terms are all -0), so y is
    act(-0) without a residual and act(residual) with one (-0 + r = r, also for r = -0, +0,
    NaN): ReLU and ReLU6 send -0 to +0, leaky_relu keeps -0 (as torch); NaN passes through;
    relu6(inf) = 6."""
    xs, ws, kw, algorithm = CONV[case]
    x, w, b = -np.ones(xs, dtype), np.zeros(ws, dtype), np.full(ws[0], -0.0, dtype)
    shape = _conv_out_shape(xs, ws, kw)
    res = _specials(shape, dtype)
    for r, pre in ((None, np.full(shape, -0.0, dtype)), (res, res)):
        y = fastconv.conv2d(x, w, b, activation=act, negative_slope=_slope(act), residual=r,
                            algorithm=algorithm, **kw)
        assert_exact(y, oracle.activation(pre, act, SLOPE))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("case", list(LINEAR))
def test_linear_special_values(case, act, dtype):
    xs, out = LINEAR[case]
    x, w, b = -np.ones(xs, dtype), np.zeros((out, xs[-1]), dtype), np.full(out, -0.0, dtype)
    shape = xs[:-1] + (out,)
    res = _specials(shape, dtype)
    for r, pre in ((None, np.full(shape, -0.0, dtype)), (res, res)):
        y = fastconv.linear(x, w, b, activation=act, negative_slope=_slope(act), residual=r)
        assert_exact(y, oracle.activation(pre, act, SLOPE))


def test_the_rules_by_hand():
    """The formulas themselves, independent of the oracle: NaN passes, relu6 clamps at 6,
    -0 -> +0 for relu and relu6, leaky_relu multiplies negatives by the slope."""
    r = np.array([[np.nan, -0.0, -2.0, 2.0, 6.5, np.inf, -np.inf]])
    # the sums are -0 (x = -1, weight = +0, bias = -0), so each activation sees r
    x, w, b = -np.ones((1, 1)), np.zeros((7, 1)), np.full(7, -0.0)
    got = {act: fastconv.linear(x, w, b, activation=act, negative_slope=_slope(act),
                                residual=r)[0]
           for act in ACTIVATIONS}
    bits = lambda a: np.asarray(a, np.float64).view(np.uint64).tolist()  # noqa: E731
    assert np.isnan(got["relu6"][0]) and np.isnan(got["leaky_relu"][0])
    assert bits(got["relu"][1:]) == bits([0.0, 0.0, 2.0, 6.5, np.inf, 0.0])
    assert bits(got["relu6"][1:]) == bits([0.0, 0.0, 2.0, 6.0, 6.0, 0.0])
    assert bits(got["leaky_relu"][1:]) == bits([-0.0, -0.5, 2.0, 6.5, np.inf, -np.inf])
    # the default slope is torch's 0.01
    assert fastconv.linear(-2 * np.ones((1, 1)), np.ones((1, 1)),
                           activation="leaky_relu")[0, 0] == -0.02


# ---- against torch ------------------------------------------------------------------------------

def _torch_act(F, t, act):
    if act is None:
        return t
    if act == "leaky_relu":
        return F.leaky_relu(t, negative_slope=SLOPE)
    return getattr(F, act)(t)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("case", ["im2col_pad1", "pointwise", "direct", "depthwise"])
def test_conv2d_and_linear_against_torch(case, act, dtype):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(11)
    x, w, b, res, kw, algorithm = _conv_inputs(case, dtype, rng)
    (pt, pb), (pl, pr) = kw.get("padding", ((0, 0), (0, 0)))
    assert (pt, pl) == (pb, pr)
    y = fastconv.conv2d(x, w, b, activation=act, negative_slope=_slope(act), residual=res,
                        algorithm=algorithm, **kw)
    t = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b),
                 stride=kw.get("stride", (1, 1)), padding=(pt, pl), groups=kw.get("groups", 1))
    want = _torch_act(F, t + torch.from_numpy(res), act).numpy()
    tol = dict(rtol=1e-5, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y, want, **tol)

    xl, wl = rng.standard_normal((6, 40)).astype(dtype), rng.standard_normal((9, 40)).astype(dtype)
    bl, rl = rng.standard_normal(9).astype(dtype), rng.standard_normal((6, 9)).astype(dtype)
    y = fastconv.linear(xl, wl, bl, activation=act, negative_slope=_slope(act), residual=rl)
    t = F.linear(torch.from_numpy(xl), torch.from_numpy(wl), torch.from_numpy(bl))
    np.testing.assert_allclose(y, _torch_act(F, t + torch.from_numpy(rl), act).numpy(), **tol)


# ---- determinism, layouts, inputs untouched ---------------------------------------------------

@pytest.mark.parametrize("case", ["im2col_deep", "im2col_stride2", "direct", "depthwise"])
def test_conv2d_epilogue_bitwise_across_thread_counts(case):
    rng = np.random.default_rng(3)
    x, w, b, res, kw, algorithm = _conv_inputs(case, np.float32, rng)
    before = fastconv.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            fastconv.set_num_threads(threads)
            results.append(fastconv.conv2d(x, w, b, activation="leaky_relu", residual=res,
                                           algorithm=algorithm, **kw))
    finally:
        fastconv.set_num_threads(before)
    for r in results[1:]:
        assert_bitwise_equal(r, results[0], f"conv2d {case} with 1 and more threads")


def test_residual_in_any_layout_is_read_not_written():
    """A strided, byte-swapped or list residual gives the result of a contiguous one, and no
    residual is modified."""
    rng = np.random.default_rng(4)
    x, w, b, res, kw, algorithm = _conv_inputs("im2col_pad1", np.float64, rng)
    want = fastconv.conv2d(x, w, b, activation="relu6", residual=res, **kw)
    wide = np.zeros(res.shape[:-1] + (2 * res.shape[-1],))
    wide[..., ::2] = res
    for r in (wide[..., ::2], res.astype(res.dtype.newbyteorder()), res.tolist()):
        kept = np.array(r, copy=True)
        assert_exact(fastconv.conv2d(x, w, b, activation="relu6", residual=r, **kw), want)
        assert_exact(np.asarray(r), kept)
    # unbatched x: the residual has the unbatched output's shape
    assert_exact(fastconv.conv2d(x[0], w, b, activation="relu6", residual=res[0], **kw),
                 want[0])
    xl, wl = rng.standard_normal((4, 6)), rng.standard_normal((5, 6))
    rl = rng.standard_normal((4, 5))
    kept = rl.copy()
    y = fastconv.linear(xl, wl, residual=rl)
    assert_exact(rl, kept)
    np.testing.assert_allclose(y, xl @ wl.T + rl, rtol=1e-12)


# ---- errors ---------------------------------------------------------------------------------

def test_residual_errors():
    x, w = np.zeros((1, 2, 5, 5)), np.zeros((3, 2, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d: residual must have the output's shape "
                                         r"\(1, 3, 3, 3\), got \(1, 3, 5, 5\)"):
        fastconv.conv2d(x, w, residual=np.zeros((1, 3, 5, 5)))
    with pytest.raises(TypeError, match="conv2d: residual has dtype float32 but x has float64"):
        fastconv.conv2d(x, w, residual=np.zeros((1, 3, 3, 3), np.float32))
    with pytest.raises(TypeError, match="conv2d: residual must be float32 or float64"):
        fastconv.conv2d(x, w, residual=np.zeros((1, 3, 3, 3), np.int64))
    with pytest.raises(ValueError, match=r"linear: residual must have the output's shape "
                                         r"\(4, 2\), got \(2, 4\)"):
        fastconv.linear(np.zeros((4, 3)), np.zeros((2, 3)), residual=np.zeros((2, 4)))
    out = np.zeros((4, 2))
    with pytest.raises(ValueError, match="linear: out overlaps input residual"):
        fastconv.linear(np.zeros((4, 3)), np.zeros((2, 3)), residual=out, out=out)
    y = np.zeros((1, 3, 3, 3))
    with pytest.raises(ValueError, match="conv2d: out overlaps input residual"):
        fastconv.conv2d(x, w, residual=y[:, ::-1], out=y)


def test_the_c_library_refuses_a_residual_overlapping_y():
    """The C API is safe on its own: y's partial sums would overwrite the residual."""
    x, w, y = np.zeros((4, 3)), np.zeros((2, 3)), np.zeros((4, 2))
    with pytest.raises(ValueError, match="linear: invalid argument"):
        _ext.linear("linear", x, w, None, y, None, False, y, 0.0)


def test_activation_errors():
    x, w = np.zeros((1, 2, 5, 5)), np.zeros((3, 2, 3, 3))
    names = "'relu', 'relu6', 'leaky_relu'"
    for bad in ("sigmoid", "ReLU6", "none", ["relu6"]):
        with pytest.raises(ValueError, match=f"conv2d: activation must be None or one of "
                                             f"{names}, got"):
            fastconv.conv2d(x, w, activation=bad)
    with pytest.raises(ValueError, match="linear: negative_slope=0.2 applies to "
                                         "activation='leaky_relu' only, got activation='relu'"):
        fastconv.linear(np.zeros((4, 3)), np.zeros((2, 3)), activation="relu",
                        negative_slope=0.2)
    for bad in ("0.1", True, np.array([0.1, 0.2])):
        with pytest.raises(TypeError, match="conv2d: negative_slope must be a real number"):
            fastconv.conv2d(x, w, activation="leaky_relu", negative_slope=bad)
    # numpy scalars and ints are real numbers
    y = fastconv.linear(-np.ones((1, 1)), np.ones((1, 1)), activation="leaky_relu",
                        negative_slope=np.float32(0.5))
    assert y[0, 0] == -0.5
    assert fastconv.linear(-np.ones((1, 1)), np.ones((1, 1)), activation="leaky_relu",
                           negative_slope=2)[0, 0] == -2

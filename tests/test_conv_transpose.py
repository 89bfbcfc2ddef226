"""conv_transpose2d and its backward (issue 14, item 2): torch's transposed convolution against
the float64 scatter-add oracle (tests/oracle.py), the reference twin, torch (forward and
autograd), central differences, every ISA path, and thread counts."""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import fastconv
import fastconv.nn
import fastconv.reference
import oracle
from tolerances import assert_bitwise_equal, assert_exact, assert_integer_exact, \
    assert_reduction_close

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]
IMPLEMENTATIONS = [pytest.param(fastconv, id="fast"),
                   pytest.param(fastconv.reference, id="reference")]

# (x shape, C_out / groups, kernel, stride, padding, output_padding, groups, dilation)
GEOMETRIES = [
    ((2, 4, 5, 6), 3, (3, 3), 1, 0, 0, 1, 1),
    ((1, 4, 5, 6), 3, (2, 2), 2, 0, 0, 1, 1),          # U-Net's up-conv
    ((2, 6, 7, 5), 2, (4, 4), 2, 1, 0, 1, 1),          # 4x4 stride 2 padding 1
    ((2, 6, 4, 5), 5, (3, 3), 2, 1, 1, 1, 1),
    ((1, 6, 4, 3), 2, (3, 2), 3, (1, 0), (2, 1), 2, 1),
    ((3, 6, 5, 5), 1, (3, 3), (3, 2), 2, (1, 0), 3, 1),
    ((2, 4, 5, 4), 3, (3, 3), 1, 0, 1, 1, 2),          # output_padding >= stride, < dilation
    ((1, 4, 6, 5), 3, (3, 3), 2, 0, (2, 1), 2, 3),     # ... with 2 groups, stride 2
    ((2, 3, 4, 4), 4, (2, 3), 1, (2, 1), 0, 1, (2, 1)),
    ((1, 8, 3, 3), 1, (3, 3), 2, 1, 1, 8, 1),          # depthwise
    ((0, 4, 5, 5), 2, (3, 3), 2, 1, 0, 1, 1),          # empty batch
    ((4, 5, 5), 2, (3, 3), 2, 1, 1, 1, 1),             # unbatched
]


def _pair(v):
    return tuple(v) if isinstance(v, tuple) else (v, v)


def _args(case):
    _, _, _, stride, padding, output_padding, groups, dilation = case
    return stride, padding, output_padding, groups, dilation


def _oracle_args(case):
    stride, padding, output_padding, groups, dilation = _args(case)
    return _pair(stride), _pair(padding), _pair(output_padding), groups, _pair(dilation)


def _arrays(case, dtype, rng, integer=False):
    xs, og, kernel, *_ = case
    groups = case[6]
    c_in = xs[-3]
    draw = ((lambda shape: rng.integers(-4, 5, shape).astype(dtype)) if integer else
            (lambda shape: rng.standard_normal(shape).astype(dtype)))
    return draw(xs), draw((c_in, og) + kernel), draw((og * groups,))


def _batched(a):
    return a if a.ndim == 4 else a[None]


def _lengths(case, x, w, g):
    """The terms of one element of y, grad_input, grad_weight, grad_bias."""
    groups = case[6]
    taps = w.shape[2] * w.shape[3]
    pixels_x, pixels_g = x.shape[0] * x.shape[2] * x.shape[3], g.shape[0] * g.shape[2] * g.shape[3]
    return (x.shape[1] // groups * taps + 1, w.shape[1] * taps, max(pixels_x, 1),
            max(pixels_g, 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("module", IMPLEMENTATIONS)
@pytest.mark.parametrize("case", GEOMETRIES, ids=str)
def test_matches_the_scatter_add_oracle(nan_outputs, module, dtype, case):
    rng = np.random.default_rng(1)
    x, w, b = _arrays(case, dtype, rng)
    saved = [a.copy() for a in (x, w, b)]
    y = module.conv_transpose2d(x, w, b, *_args(case))
    x4 = _batched(x)
    expected = oracle.conv_transpose2d(x4, w, b, *_oracle_args(case))
    assert _batched(y).shape == expected.shape and y.dtype == dtype and y.ndim == x.ndim
    g = rng.standard_normal(y.shape).astype(dtype)
    lengths = _lengths(case, x4, w, _batched(g))
    assert_reduction_close(_batched(y), expected,
                           oracle.conv_transpose2d_abs_bound(x4, w, b, *_oracle_args(case)),
                           lengths[0], dtype)
    nan_outputs.reset()
    grads = module.conv_transpose2d_backward(g, x, w, *_args(case))
    assert len(nan_outputs.calls) == 3
    g4 = _batched(g)
    expected = oracle.conv_transpose2d_backward(g4, x4, w, *_oracle_args(case))
    bounds = oracle.conv_transpose2d_backward_abs_bound(g4, x4, w, *_oracle_args(case))
    assert grads[0].shape == x.shape
    for got, want, bound, length in zip((_batched(grads[0]),) + grads[1:], expected, bounds,
                                        lengths[1:]):
        assert_reduction_close(got, want, bound, length, dtype)
    for a, s in zip((x, w, b), saved):
        assert_exact(a, s)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", [None, "relu", "relu6", "leaky_relu"])
def test_activations_and_out(dtype, activation):
    case = GEOMETRIES[3]
    x, w, b = _arrays(case, dtype, np.random.default_rng(2))
    y = fastconv.conv_transpose2d(x, w, b, *_args(case), activation=activation)
    plain = oracle.conv_transpose2d(x, w, b, *_oracle_args(case))
    expected = plain if activation is None else oracle.activation(plain, activation)
    bound = oracle.conv_transpose2d_abs_bound(x, w, b, *_oracle_args(case))
    assert_reduction_close(y, expected, bound, _lengths(case, x, w, y)[0], dtype)
    assert_reduction_close(fastconv.reference.conv_transpose2d(
        x, w, b, *_args(case), activation=activation), expected, bound,
        _lengths(case, x, w, y)[0], dtype)
    out = np.full_like(y, np.nan)
    assert fastconv.conv_transpose2d(x, w, b, *_args(case), activation=activation,
                                     out=out) is out
    assert_bitwise_equal(out, y)
    if activation == "leaky_relu":
        steep = fastconv.conv_transpose2d(x, w, b, *_args(case), activation=activation,
                                          negative_slope=0.5)
        assert_reduction_close(steep, oracle.activation(plain, "leaky_relu", 0.5), bound,
                               _lengths(case, x, w, y)[0], dtype)


@st.composite
def transpose_cases(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    c_in = groups * draw(st.integers(1, 3))
    og = draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    xs = (draw(st.integers(0, 3)), c_in, draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    for i, (s, p, d, k, o) in enumerate(zip(stride, padding, dilation, kernel, output_padding)):
        assume((xs[2 + i] - 1) * s - 2 * p + d * (k - 1) + o + 1 > 0)
    return (xs, og, kernel, stride, padding, output_padding, groups, dilation)


@settings(max_examples=60, deadline=None)
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=transpose_cases(), seed=st.integers(0, 2**31))
def test_drawn_shapes_match_the_oracle_exactly_on_integers(dtype, case, seed):
    """Integer-valued inputs: every sum is exact, so the op, its twin and the oracle agree."""
    x, w, b = _arrays(case, dtype, np.random.default_rng(seed), integer=True)
    y = fastconv.conv_transpose2d(x, w, b, *_args(case))
    expected = oracle.conv_transpose2d(x, w, b, *_oracle_args(case))
    assert_integer_exact(y, expected, dtype)
    assert_integer_exact(fastconv.reference.conv_transpose2d(x, w, b, *_args(case)), expected,
                         dtype)
    g = np.random.default_rng(seed + 1).integers(-4, 5, y.shape).astype(dtype)
    got = fastconv.conv_transpose2d_backward(g, x, w, *_args(case))
    for a, e in zip(got, oracle.conv_transpose2d_backward(g, x, w, *_oracle_args(case))):
        assert_integer_exact(a, e, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [GEOMETRIES[2], GEOMETRIES[5], GEOMETRIES[7]], ids=str)
def test_bitwise_the_same_on_any_thread_count(restore_threads, dtype, case):
    rng = np.random.default_rng(3)
    xs = (8,) + case[0][1:]
    x, w, b = _arrays((xs,) + case[1:], dtype, rng)
    results = []
    for threads in (1, 2, 3, 4):
        fastconv.set_num_threads(threads)
        y = fastconv.conv_transpose2d(x, w, b, *_args(case), activation="relu")
        g = np.random.default_rng(4).standard_normal(y.shape).astype(dtype)
        results.append([y, *fastconv.conv_transpose2d_backward(g, x, w, *_args(case))])
    for other in results[1:]:
        for a, e in zip(other, results[0]):
            assert_bitwise_equal(a, e)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [c for c in GEOMETRIES if c[0][0] != 0], ids=str)
def test_matches_torch_forward_and_autograd(dtype, case):
    torch = pytest.importorskip("torch", reason="torch is an optional oracle")
    rng = np.random.default_rng(5)
    x, w, b = _arrays(case, dtype, rng)
    tx, tw, tb = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    ty = torch.nn.functional.conv_transpose2d(tx, tw, tb, *_args(case))
    g = rng.standard_normal(tuple(ty.shape)).astype(dtype)
    ty.backward(torch.from_numpy(g))
    tol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(fastconv.conv_transpose2d(x, w, b, *_args(case)),
                               ty.detach().numpy(), rtol=tol, atol=tol)
    for got, want in zip(fastconv.conv_transpose2d_backward(g, x, w, *_args(case)),
                         (tx.grad, tw.grad, tb.grad)):
        np.testing.assert_allclose(got, want.numpy(), rtol=tol, atol=tol)


def test_backward_matches_central_differences():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, 2, 3, 4))
    w = rng.standard_normal((2, 2, 3, 2))
    b = rng.standard_normal(2)
    args = (2, 1, 1, 1, 1)
    g = rng.standard_normal(fastconv.conv_transpose2d(x, w, b, *args).shape)
    gx, gw, gb = fastconv.conv_transpose2d_backward(g, x, w, *args)
    eps = 1e-6
    for analytic, arr in ((gx, x), (gw, w), (gb, b)):
        numeric = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            saved = arr[i]
            arr[i] = saved + eps
            plus = np.sum(fastconv.conv_transpose2d(x, w, b, *args) * g)
            arr[i] = saved - eps
            minus = np.sum(fastconv.conv_transpose2d(x, w, b, *args) * g)
            arr[i] = saved
            numeric[i] = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


# Shapes of the phase GEMMs (csrc/ops/conv_transpose2d_phases.tmpl.h): dilation 1, kernel >=
# stride, 8+ output channels per group (every ISA's tile rows) and fewer than 4 (image, group)
# pairs, kernel == stride merged into one GEMM on x (any batch; cropped by padding, or not
# merged when output_padding leaves pixels uncovered).
PHASE_GEOMETRIES = [
    ((5, 5, 6, 7), 16, (2, 2), 2, 0, 0, 1, 1),         # U-Net 2x2 s2: merged
    ((2, 6, 5, 4), 9, (3, 2), (3, 2), (1, 0), 0, 2, 1),  # merged, cropped, 2 groups
    ((1, 4, 5, 6), 8, (2, 2), 2, 0, 1, 1, 1),          # kernel == stride with an uncovered row
    ((1, 7, 6, 5), 12, (4, 4), 2, 1, 0, 1, 1),         # DCGAN 4x4 s2 p1
    ((1, 6, 5, 7), 10, (5, 3), (2, 3), (2, 0), (1, 2), 2, 1),
    ((1, 5, 4, 4), 9, (6, 6), 3, 4, 2, 1, 1),          # padding past the taps of some phases
    ((1, 6, 7, 6), 11, (3, 3), 1, 1, 0, 1, 1),         # stride 1: one phase
    # the phases read B in place from one padded copy of x (ct_grid): batch 3, rows of the
    # grid not multiples of any NR, a reduction of two kc blocks, uneven borders
    ((3, 16, 9, 11), 16, (4, 4), 2, 1, 0, 1, 1),
    ((1, 140, 6, 7), 10, (4, 4), 2, 1, 0, 1, 1),
    ((2, 8, 5, 9), 12, (5, 4), (3, 2), (2, 1), (1, 1), 1, 1),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", [None, "relu", "relu6", "leaky_relu"])
@pytest.mark.parametrize("case", PHASE_GEOMETRIES, ids=str)
def test_phase_gemms_match_the_oracle_exactly_on_integers(restore_threads, dtype, activation,
                                                          case):
    """Every element stored once, the bias and the activation in the store: exact on integers,
    bitwise the same on 1 to 3 threads."""
    x, w, b = _arrays(case, dtype, np.random.default_rng(5), integer=True)
    plain = oracle.conv_transpose2d(x, w, b, *_oracle_args(case))
    slope = 0.5 if activation == "leaky_relu" else None  # (0.01 x an integer is not exact)
    expected = plain if activation is None else oracle.activation(plain, activation,
                                                                  *([slope] if slope else []))
    results = []
    for threads in (1, 2, 3):
        fastconv.set_num_threads(threads)
        results.append(fastconv.conv_transpose2d(x, w, b, *_args(case), activation=activation,
                                                 negative_slope=slope))
        assert_integer_exact(results[-1], expected, dtype)
    for other in results[1:]:
        assert_bitwise_equal(other, results[0])


@pytest.mark.parametrize("case", [PHASE_GEOMETRIES[0], PHASE_GEOMETRIES[3]], ids=str)
def test_phase_gemms_keep_the_scatters_infinities(case):
    """An inf weight meets the zeros of a phase's im2col (0 * inf = NaN) where the scatter
    never multiplies it: such weights take the backward-data path, as the reference."""
    x, w, b = _arrays(case, np.float32, np.random.default_rng(6), integer=True)
    w[0, 1, 1, 1] = np.inf
    w[1, 0, 0, 1] = -np.inf
    np.testing.assert_array_equal(fastconv.conv_transpose2d(x, w, b, *_args(case)),
                                  fastconv.reference.conv_transpose2d(x, w, b, *_args(case)))


def test_by_hand():
    x = np.float64([[[[1, 2], [3, 4]]]])
    # each pixel stamps the 2x2 kernel at stride 2
    y = fastconv.conv_transpose2d(x, np.float64([[[[1, 10], [100, 1000]]]]), stride=2)
    np.testing.assert_array_equal(y[0, 0, :2], [[1, 10, 2, 20], [100, 1000, 200, 2000]])
    # stride 1: overlapping stamps add; padding crops a border; output_padding adds a row
    y = fastconv.conv_transpose2d(x, np.ones((1, 1, 2, 2)), bias=np.float64([0.5]))
    np.testing.assert_array_equal(y[0, 0], [[1.5, 3.5, 2.5], [4.5, 10.5, 6.5], [3.5, 7.5, 4.5]])
    y = fastconv.conv_transpose2d(x, np.ones((1, 1, 2, 2)), padding=1)
    np.testing.assert_array_equal(y[0, 0], [[10.0]])
    y = fastconv.conv_transpose2d(x, np.ones((1, 1, 1, 1)), stride=2, output_padding=(1, 0))
    assert y.shape == (1, 1, 4, 3) and y[0, 0, 3].tolist() == [0, 0, 0]
    # one-element tuples stand for both axes, as torch
    assert_exact(fastconv.conv_transpose2d(x, np.ones((1, 1, 2, 2)), stride=(2,), padding=[1]),
                 fastconv.conv_transpose2d(x, np.ones((1, 1, 2, 2)), stride=2, padding=1))


@pytest.mark.parametrize("isa", fastconv.ops._ext.ISA_NAMES)
def test_every_isa_path_matches_the_oracle(isa):
    from test_api import ISAS, run_python
    if ISAS.index(isa) > ISAS.index(fastconv.ops._ext.cpu_isa()):
        pytest.skip(f"the CPU has no {isa}")
    res = run_python(ISA_BATTERY.replace("ISA", repr(isa)), FASTCONV_ISA=isa)
    assert res.stdout.strip() == "ok", res.stdout


ISA_BATTERY = r"""
import numpy as np
import fastconv, oracle
from tolerances import assert_integer_exact
assert fastconv.ops._ext.active_isa() == ISA
rng = np.random.default_rng(0)
for dtype in (np.float32, np.float64):
    for xs, ws, st, pd, op, gr, dl in [
            ((2, 16, 9, 8), (16, 12, 2, 2), 2, 0, 0, 1, 1),
            ((1, 12, 13, 11), (12, 7, 4, 4), 2, 1, 0, 1, 1),
            ((2, 6, 7, 9), (6, 5, 3, 3), 3, 1, 2, 2, 1),
            ((2, 4, 6, 5), (4, 9, 3, 3), 1, 1, 1, 1, 2),
            ((3, 8, 10, 10), (8, 17, 3, 3), 1, 1, 0, 1, 1)]:
        x = rng.integers(-4, 5, xs).astype(dtype)
        w = rng.integers(-4, 5, ws).astype(dtype)
        b = rng.integers(-4, 5, ws[1] * gr).astype(dtype)
        pairs = (st, st), (pd, pd), (op, op), gr, (dl, dl)
        y = fastconv.conv_transpose2d(x, w, b, st, pd, op, gr, dl)
        assert_integer_exact(y, oracle.conv_transpose2d(x, w, b, *pairs), dtype)
        g = rng.integers(-4, 5, y.shape).astype(dtype)
        got = fastconv.conv_transpose2d_backward(g, x, w, st, pd, op, gr, dl)
        for a, e in zip(got, oracle.conv_transpose2d_backward(g, x, w, *pairs)):
            assert_integer_exact(a, e, dtype)
print("ok")
"""


def _f(*shape):
    return np.zeros(shape, np.float32)


@pytest.mark.parametrize("call, error, match", [
    (lambda: fastconv.conv_transpose2d(_f(1, 3, 5, 5), _f(2, 4, 3, 3)), ValueError,
     r"^conv_transpose2d: x has 3 channels but weight expects 2 .*\(C_in, C_out/groups, kH, kW\)"
     r".*x shape \(1, 3, 5, 5\), weight shape \(2, 4, 3, 3\)"),
    (lambda: fastconv.conv_transpose2d(_f(1, 3, 5, 5), _f(3, 4, 3)), ValueError,
     r"^conv_transpose2d: weight must be 4-D \(C_in, C_out/groups, kH, kW\), got shape "
     r"\(3, 4, 3\)"),
    (lambda: fastconv.conv_transpose2d(_f(1, 3, 5, 5), _f(3, 4, 3, 3), groups=2), ValueError,
     r"^conv_transpose2d: groups=2 must divide the channels of x"),
    (lambda: fastconv.conv_transpose2d(_f(1, 3, 5, 5), _f(3, 4, 3, 3), stride=2,
                                       output_padding=2), ValueError,
     r"^conv_transpose2d: output_padding must be smaller than either stride or dilation, got "
     r"output_padding=\(2, 2\), stride=\(2, 2\), dilation=\(1, 1\)"),
    (lambda: fastconv.conv_transpose2d(_f(1, 3, 5, 5), _f(3, 4, 3, 3), output_padding=1),
     ValueError, r"^conv_transpose2d: output_padding must be smaller"),
    (lambda: fastconv.conv_transpose2d(_f(1, 3, 2, 2), _f(3, 4, 1, 1), padding=1), ValueError,
     r"^conv_transpose2d: output size \(0, 0\) is not positive \(input size \(2, 2\), weight "
     r"shape \(3, 4, 1, 1\), stride \(1, 1\), padding \(1, 1\)"),
    (lambda: fastconv.conv_transpose2d(_f(1, 3, 5, 5), _f(3, 4, 3, 3), padding=-1), ValueError,
     r"^conv_transpose2d: padding and output_padding must be non-negative"),
    (lambda: fastconv.conv_transpose2d(_f(1, 3, 5, 5), _f(3, 4, 3, 3), _f(3)), ValueError,
     r"^conv_transpose2d: bias must have shape \(4,\) .* got \(3,\)"),
    (lambda: fastconv.conv_transpose2d(_f(1, 3, 5, 5), _f(3, 4, 3, 3), padding="same"),
     TypeError, r"^conv_transpose2d: padding must be an int"),
    (lambda: fastconv.conv_transpose2d(_f(1, 3, 5, 5), np.zeros((3, 4, 3, 3))), TypeError,
     r"^conv_transpose2d: weight has dtype float64 but x has float32"),
    (lambda: fastconv.conv_transpose2d(_f(1, 3, 5, 5), _f(3, 4, 3, 3), activation="tanh"),
     ValueError, r"^conv_transpose2d: activation must be None or one of"),
    (lambda: fastconv.conv_transpose2d_backward(_f(1, 4, 6, 6), _f(1, 3, 5, 5), _f(3, 4, 3, 3)),
     ValueError, r"^conv_transpose2d_backward: grad_output must have the forward's output shape "
     r"\(1, 4, 7, 7\)"),
    (lambda: fastconv.conv_transpose2d_backward(_f(1, 4, 7, 7), _f(1, 3, 5, 5), _f(3, 4, 3, 3),
                                                output_padding=1), ValueError,
     r"^conv_transpose2d_backward: output_padding must be smaller"),
])
def test_errors_name_the_op_the_argument_and_the_shapes(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_fortran_ordered_x_in_the_zero_extended_geometry():
    """output_padding >= stride (under a larger dilation) extends x by zero rows, which must
    be C-ordered whatever x's layout (found by tests/test_fuzz.py)."""
    x = np.asfortranarray(np.random.default_rng(7).standard_normal((2, 3, 4, 5)))
    w = np.random.default_rng(8).standard_normal((3, 2, 2, 2))
    args = (1, 0, 1, 1, 2)
    y = fastconv.conv_transpose2d(x, w, None, *args)
    assert_reduction_close(y, oracle.conv_transpose2d(x, w, None, (1, 1), (0, 0), (1, 1), 1,
                                                      (2, 2)),
                           oracle.conv_transpose2d_abs_bound(x, w, None, (1, 1), (0, 0), (1, 1),
                                                             1, (2, 2)), 13, np.float64)
    g = np.ones_like(y)
    assert_exact(fastconv.conv_transpose2d_backward(g, x, w, *args)[0],
                 fastconv.conv_transpose2d_backward(g, np.ascontiguousarray(x), w, *args)[0])


# ---- fastconv.nn.ConvTranspose2d and from_torch -----------------------------------------------

def test_nn_layer_runs_the_ops_and_rebuilds_from_its_description():
    layer = fastconv.nn.ConvTranspose2d(6, 4, 3, stride=2, padding=1, output_padding=1,
                                        groups=2, rng=0)
    assert layer.weight.data.shape == (6, 2, 3, 3) and layer.bias.data.shape == (4,)
    # torch's init: uniform within 1 / sqrt(fan_in), fan_in = out_channels / groups * kH * kW
    assert np.abs(layer.weight.data).max() <= 1 / np.sqrt(2 * 9)
    x = np.random.default_rng(9).standard_normal((2, 6, 5, 4)).astype(np.float32)
    y = layer(x)
    assert_exact(y, fastconv.conv_transpose2d(x, layer.weight.data, layer.bias.data, 2, 1, 1, 2))
    g = np.ones_like(y)
    gx = layer.backward(g)
    expected = fastconv.conv_transpose2d_backward(g, x, layer.weight.data, 2, 1, 1, 2)
    for got, want in zip((gx, layer.weight.grad, layer.bias.grad), expected):
        assert_exact(got, want)
    rebuilt = fastconv.nn.build(fastconv.nn.describe(layer))
    rebuilt.load_state_dict(layer.state_dict())
    assert_exact(rebuilt(x), y)


def test_from_torch_converts_an_encoder_decoder_and_matches_torch():
    torch = pytest.importorskip("torch", reason="torch is an optional oracle")
    t = torch.nn
    torch.manual_seed(0)
    # U-Net's shapes without its skip concatenation (a module with its own forward)
    model = t.Sequential(t.Conv2d(3, 16, 3, padding=1), t.ReLU(), t.MaxPool2d(2),
                         t.Conv2d(16, 32, 3, padding=1), t.ReLU(),
                         t.ConvTranspose2d(32, 16, 2, stride=2), t.ReLU(),
                         t.ConvTranspose2d(16, 8, 4, stride=2, padding=1, groups=2,
                                           bias=False),
                         t.Conv2d(8, 2, 1)).eval().double()
    net = fastconv.nn.from_torch(model, dtype=np.float64)
    assert isinstance(net[5], fastconv.nn.ConvTranspose2d) and net[7].bias is None
    x = np.random.default_rng(10).standard_normal((2, 3, 16, 12))
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    y = net(x)
    assert y.shape == expected.shape == (2, 2, 32, 24)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
    # and its training step's gradients are torch's
    tx = torch.from_numpy(x).requires_grad_()
    model(tx).sum().backward()
    net.train()
    net.zero_grad()
    assert_exact(net(x), y)
    gx = net.backward(np.ones_like(y))
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(net[5].weight.grad, model[5].weight.grad.numpy(), rtol=1e-10,
                               atol=1e-12)


def test_from_torch_refuses_other_padding_modes():
    torch = pytest.importorskip("torch", reason="torch is an optional oracle")
    layer = torch.nn.ConvTranspose2d(2, 2, 3)
    layer.padding_mode = "reflect"   # torch's constructor refuses it; a loaded module may not
    with pytest.raises(NotImplementedError, match=r"0 \(ConvTranspose2d\).*'zeros'"):
        fastconv.nn.from_torch(torch.nn.Sequential(layer).eval())

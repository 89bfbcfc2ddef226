"""linear and linear_backward: against the float64 oracle, the C reference twin and torch, on
the active ISA path (CI reruns the suite with FASTCONV_ISA=scalar / avx2 / avx512), over shapes
around the GEMM's register tile, with NaN-prefilled outputs, out=, fused ReLU, every layout,
thread counts and schedules, and every error case."""

import platform
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastconv
import fastconv.reference
import oracle
from fastconv import nn
from fastconv.ops import _ext
from test_errors import msg
from tolerances import (assert_bitwise_equal, assert_exact, assert_integer_exact,
                        assert_reduction_close)

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]
IMPLEMENTATIONS = [pytest.param(fastconv, id="fast"),
                   pytest.param(fastconv.reference, id="reference")]


def tile(dtype):
    """(MR, NR) of the GEMM microkernel the active ISA runs for dtype ("f32-gemm 8x32 ...")."""
    name = _ext.kernel_name("conv2d_im2col", np.dtype(dtype).name)
    mr, nr = re.search(r"(\d+)x(\d+)", name).groups()
    return int(mr), int(nr)


def around(t):
    return sorted({max(1, t - 1), t, t + 1})


def tile_shapes(dtype):
    """(batch, in_features, out_features) around the register tile in both orientations (the
    driver puts whichever of batch and out_features wastes less of a tile down the rows):
    1, MR-1, MR, MR+1, NR-1, NR, NR+1 and large batches; in_features 1 to past one kc block;
    out_features 1 to 70."""
    mr, nr = tile(dtype)
    batches = sorted(set(around(mr) + around(nr) + [1, 2 * nr + 3, 130]))
    outs = sorted(set(around(mr) + around(nr) + [1, 10, 70]))
    shapes = [(n, k, o) for n in batches for o in outs for k in (1, 37)]
    shapes += [(n, 300, o) for n in (1, mr + 1, 64) for o in (1, nr + 1, 70)]
    shapes += [(2 * mr, 5, 2 * nr), (mr, 600, nr), (150, 260, 130)]  # whole tiles, kc blocks
    return shapes


def problem(shape, dtype, integer=False, seed=0, bias=True):
    n, k, o = shape
    rng = np.random.default_rng([seed, n, k, o])
    draw = (lambda s: rng.integers(-4, 5, s)) if integer else rng.standard_normal
    x, w, g = (draw(s).astype(dtype) for s in ((n, k), (o, k), (n, o)))
    b = draw(o).astype(dtype) if bias else None
    return x, w, b, g


def expected(x, w, b, activation=None):
    y, bound = oracle.linear(x, w, b), oracle.linear_abs_bound(x, w, b)
    if activation == "relu":
        y = oracle.relu(y)  # 1-Lipschitz: the bound still holds
    return y, bound, max(1, w.shape[1] + (b is not None))


def copies(*arrays):
    return [None if a is None else a.copy() for a in arrays]


def assert_unchanged(originals, arrays):
    for o, a in zip(originals, arrays):
        if a is not None:
            assert_exact(a, o)


# --- strategies ---------------------------------------------------------------------------

@st.composite
def linear_configs(draw):
    """Leading dims (none, one or two), in and out features around the tiles, bias, ReLU."""
    lead = draw(st.sampled_from([(), (1,), (3,), (8,), (9,), (33,), (0,), (2, 3), (5, 7)]))
    k = draw(st.sampled_from([0, 1, 2, 3, 5, 8, 16, 17, 31, 33, 64, 100, 257, 300]))
    o = draw(st.integers(1, 70))
    return dict(lead=lead, k=k, o=o, bias=draw(st.booleans()),
                activation=draw(st.sampled_from([None, "relu"])),
                seed=draw(st.integers(0, 2**32 - 1)))


def config_arrays(cfg, dtype, integer=False):
    rng = np.random.default_rng(cfg["seed"])
    draw = (lambda s: rng.integers(-4, 5, s)) if integer else rng.standard_normal
    x = draw(cfg["lead"] + (cfg["k"],)).astype(dtype)
    w = draw((cfg["o"], cfg["k"])).astype(dtype)
    b = draw(cfg["o"]).astype(dtype) if cfg["bias"] else None
    g = draw(cfg["lead"] + (cfg["o"],)).astype(dtype)
    return x, w, b, g


# --- forward against the oracle ------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=linear_configs())
def test_linear_matches_oracle_within_reduction_bound(nan_outputs, dtype, cfg):
    x, w, b, _ = config_arrays(cfg, dtype)
    saved = copies(x, w, b)
    nan_outputs.reset()
    y = fastconv.linear(x, w, b, activation=cfg["activation"])
    assert nan_outputs.calls, "linear did not allocate its output through _empty"
    assert y.shape == cfg["lead"] + (cfg["o"],)
    assert_reduction_close(y, *expected(x, w, b, cfg["activation"]), dtype)
    assert_unchanged(saved, (x, w, b))


@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=linear_configs())
def test_linear_integer_valued_inputs_match_oracle_exactly(nan_outputs, dtype, cfg):
    x, w, b, _ = config_arrays(cfg, dtype, integer=True)
    y = fastconv.linear(x, w, b, activation=cfg["activation"])
    assert_integer_exact(y, expected(x, w, b, cfg["activation"])[0], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_around_the_register_tile_matches_oracle(nan_outputs, dtype):
    for shape in tile_shapes(dtype):
        for integer in (False, True):
            x, w, b, _ = problem(shape, dtype, integer)
            for activation in (None, "relu"):
                y = fastconv.linear(x, w, b, activation=activation)
                want, bound, length = expected(x, w, b, activation)
                if integer:
                    assert_integer_exact(y, want, dtype)
                else:
                    assert_reduction_close(y, want, bound, length, dtype)
            y = fastconv.linear(x, w)  # no bias: the sums start from 0
            assert_reduction_close(y, *expected(x, w, None), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_linear_one_sample_and_leading_dims_flatten_as_torch(dtype, impl):
    x, w, b, _ = problem((24, 7, 5), dtype)
    batched = impl.linear(x, w, b)
    assert_exact(impl.linear(x[3], w, b), batched[3])  # (in,) -> (out,)
    assert_exact(impl.linear(x.reshape(2, 3, 4, 7), w, b), batched.reshape(2, 3, 4, 5))
    assert impl.linear(x[:0].reshape(0, 3, 7), w, b).shape == (0, 3, 5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_linear_empty_sizes(nan_outputs, dtype, impl):
    rng = np.random.default_rng(3)
    b = rng.standard_normal(4).astype(dtype)
    # no input features: y = bias (or 0), with the ReLU applied
    y = impl.linear(np.zeros((3, 0), dtype), np.zeros((4, 0), dtype), b, activation="relu")
    assert_exact(y, np.broadcast_to(oracle.relu(b), (3, 4)))
    assert_exact(impl.linear(np.zeros((3, 0), dtype), np.zeros((4, 0), dtype)),
                 np.zeros((3, 4), dtype))
    assert impl.linear(np.zeros((0, 5), dtype), np.ones((4, 5), dtype), b).shape == (0, 4)
    assert impl.linear(np.ones((3, 5), dtype), np.ones((0, 5), dtype)).shape == (3, 0)
    gx, gw, gb = impl.linear_backward(np.zeros((0, 4), dtype), np.zeros((0, 5), dtype),
                                      np.ones((4, 5), dtype))
    assert gx.shape == (0, 5)
    assert_exact(gw, np.zeros((4, 5), dtype))
    assert_exact(gb, np.zeros(4, dtype))
    gx, gw, gb = impl.linear_backward(np.zeros((3, 0), dtype), np.ones((3, 5), dtype),
                                      np.zeros((0, 5), dtype))
    assert_exact(gx, np.zeros((3, 5), dtype))
    assert gw.shape == (0, 5) and gb.shape == (0,)


# --- ReLU fusion ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_linear_relu_keeps_nan_and_gives_plus_zero(dtype, impl):
    # row 0: -0 + -0 * 1 + -1 * 0 = -0 (the sum starts from bias -0), which ReLU makes +0;
    # row 1: NaN stays NaN; row 2: negative -> +0; row 3: positive stays
    x = np.array([[-0.0, -1.0], [np.nan, 1.0], [-3.0, 1.0], [2.0, 1.0]], dtype)
    w = np.array([[1.0, 0.0]] * 40, dtype)  # 40 outputs: several column/row panels
    b = np.full(40, -0.0, dtype)
    plain = impl.linear(x, w, b)
    assert np.signbit(plain[0]).all() and (plain[0] == 0).all()
    y = impl.linear(x, w, b, activation="relu")
    assert_exact(y, oracle.relu(plain))
    assert not np.signbit(y[0]).any() and (y[0] == 0).all()
    assert np.isnan(y[1]).all()
    assert not np.signbit(y[2]).any() and (y[2] == 0).all()
    assert (y[3] == 2.0).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_relu_applies_once_after_every_kc_block(dtype):
    # a reduction much longer than kc (256): the partial sums may be negative, only the final
    # one is clamped
    rng = np.random.default_rng(4)
    x = np.abs(rng.standard_normal((20, 700))).astype(dtype)
    w = np.ones((13, 700), dtype)
    w[:, :350] = -1  # the first blocks push every sum below zero, the last ones back up
    w[:, 350:] = 1.5
    y = fastconv.linear(x, w, activation="relu")
    assert_reduction_close(y, *expected(x, w, None, "relu"), dtype)


# --- backward ----------------------------------------------------------------------------

def check_backward(grads, g, x, w, dtype, mask=(True, True, True), integer=False):
    want = oracle.linear_backward(g, x, w)
    bound = oracle.linear_backward_abs_bound(g, x, w)
    rows = int(np.prod(x.shape[:-1]))
    lengths = (max(1, w.shape[0]), max(1, rows), max(1, rows))
    for i, (got, exp, bnd, length) in enumerate(zip(grads, want, bound, lengths)):
        if not mask[i]:
            assert got is None
        elif integer:
            assert_integer_exact(got, exp, dtype)
        else:
            assert_reduction_close(got, exp, bnd, length, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@given(cfg=linear_configs(), integer=st.booleans())
def test_linear_backward_matches_oracle(nan_outputs, dtype, cfg, integer):
    x, w, _, g = config_arrays(cfg, dtype, integer)
    saved = copies(g, x, w)
    nan_outputs.reset()
    grads = fastconv.linear_backward(g, x, w)
    assert len(nan_outputs.calls) == 3, "linear_backward did not allocate through _empty"
    assert [a.shape for a in grads] == [x.shape, w.shape, (cfg["o"],)]
    check_backward(grads, g, x, w, dtype, integer=integer)
    assert_unchanged(saved, (g, x, w))


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_backward_around_the_register_tile_matches_oracle(nan_outputs, dtype):
    for shape in tile_shapes(dtype):
        for integer in (False, True):
            x, w, _, g = problem(shape, dtype, integer)
            check_backward(fastconv.linear_backward(g, x, w), g, x, w, dtype, integer=integer)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask", [(True, False, False), (False, True, False),
                                  (False, False, True), (False, True, True), (True, True, False),
                                  (False, False, False), [1, 0, 1]], ids=str)
def test_linear_backward_output_mask(nan_outputs, dtype, mask):
    x, w, _, g = problem((37, 45, 19), dtype)
    grads = fastconv.linear_backward(g, x, w, output_mask=mask)
    check_backward(grads, g, x, w, dtype, tuple(bool(m) for m in mask))
    full = fastconv.linear_backward(g, x, w)
    for got, whole in zip(grads, full):
        if got is not None:
            assert_exact(got, whole)  # a gradient never depends on which others are asked


# --- the reference twin, torch -------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_matches_the_reference_twin(dtype):
    """Within the reduction bound on every path; bitwise on the scalar path of x86-64, whose
    microkernel adds the same products in the same order without fused multiply-adds, as the
    reference does.  grad_bias is plain additions in the same order: bitwise everywhere."""
    exact = _ext.active_isa() == "scalar" and platform.machine() in ("x86_64", "AMD64")
    for shape in tile_shapes(dtype)[::3]:
        x, w, b, g = problem(shape, dtype, seed=1)
        fast = [fastconv.linear(x, w, b, activation="relu"), *fastconv.linear_backward(g, x, w)]
        ref = [fastconv.reference.linear(x, w, b, activation="relu"),
               *fastconv.reference.linear_backward(g, x, w)]
        assert_exact(fast[3], ref[3])
        bounds = [oracle.linear_abs_bound(x, w, b), *oracle.linear_backward_abs_bound(g, x, w)]
        lengths = [x.shape[1] + 1, w.shape[0], x.shape[0], x.shape[0]]
        for a, r, bound, length in zip(fast, ref, bounds, lengths):
            if exact:
                assert_exact(a, r)
            else:  # both within the bound of the exact sum: within twice the bound of each other
                assert_reduction_close(a, r.astype(np.float64), bound, 2 * max(length, 1), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(64, 400, 120), (64, 120, 84), (64, 84, 10), (1, 9, 70),
                                   (130, 37, 33)], ids=str)
def test_linear_and_backward_match_torch(dtype, shape):
    torch = pytest.importorskip("torch", reason="torch is an optional oracle")
    x, w, b, g = problem(shape, dtype, seed=2)
    tx, tw, tb = (torch.from_numpy(a.astype(np.float64)).requires_grad_() for a in (x, w, b))
    ty = torch.nn.functional.linear(tx, tw, tb)
    ty.backward(torch.from_numpy(g.astype(np.float64)))
    y = fastconv.linear(x, w, b)
    assert_reduction_close(y, ty.detach().numpy(), oracle.linear_abs_bound(x, w, b),
                           shape[1] + 1, dtype)
    bounds = oracle.linear_backward_abs_bound(g, x, w)
    for got, t, bound, length in zip(fastconv.linear_backward(g, x, w),
                                     (tx.grad, tw.grad, tb.grad), bounds,
                                     (shape[2], shape[0], shape[0])):
        assert_reduction_close(got, t.numpy(), bound, length, dtype)


def test_nn_linear_trains_like_torch_linear():
    torch = pytest.importorskip("torch", reason="torch is an optional oracle")
    rng = np.random.default_rng(5)
    layer = nn.Linear(30, 12, rng=rng, dtype=np.float64)
    ref = torch.nn.Linear(30, 12, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(layer.weight.data))
        ref.bias.copy_(torch.from_numpy(layer.bias.data))
    x = rng.standard_normal((4, 5, 30))  # leading dims, as torch allows
    g = rng.standard_normal((4, 5, 12))
    tx = torch.from_numpy(x).requires_grad_()
    ty = ref(tx)
    ty.backward(torch.from_numpy(g))
    y = layer(x)
    layer.zero_grad()
    gx = layer.backward(g)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.weight.grad, ref.weight.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, ref.bias.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_nn_layers_use_no_blas():
    """The training module's arithmetic is fastconv's (one thread pool): no matrix product of
    numpy's anywhere in fastconv.nn, models or train."""
    import ast
    import inspect

    from fastconv import models, train
    from fastconv.nn import layers, loss, module
    blas = {"dot", "matmul", "einsum", "tensordot", "inner", "vdot"}
    for mod in (layers, loss, module, models, train):
        tree = ast.parse(inspect.getsource(mod))
        for node in ast.walk(tree):
            where = f"{mod.__name__}, line {getattr(node, 'lineno', '?')}"
            assert not (isinstance(node, (ast.BinOp, ast.AugAssign)) and
                        isinstance(node.op, ast.MatMult)), f"a @ product in {where}"
            assert not (isinstance(node, ast.Attribute) and node.attr in blas), \
                f".{getattr(node, 'attr', '')} in {where}"


# --- layouts, out= -------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_any_input_layout_gives_the_same_bits(dtype):
    x, w, b, g = problem((9, 13, 11), dtype, seed=6)
    want = [fastconv.linear(x, w, b), *fastconv.linear_backward(g, x, w)]

    def layouts(a):
        yield np.asfortranarray(a)
        yield a.astype(a.dtype.newbyteorder(">"))
        if a.dtype == np.float64:  # (a list of Python floats is float64)
            yield a.tolist()
        flipped = np.ascontiguousarray(a[::-1])[::-1]
        yield flipped
        wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
        wide[..., ::2] = a
        yield wide[..., ::2]
        ro = a.copy()
        ro.flags.writeable = False
        yield ro

    for which in range(4):
        for variant in layouts((x, w, b, g)[which]):
            args = [x, w, b, g]
            args[which] = variant
            got = [fastconv.linear(*args[:3]), *fastconv.linear_backward(args[3], *args[:2])]
            for a, e in zip(got, want):
                assert_exact(a, e)


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_out_is_written_and_returned(dtype):
    x, w, b, _ = problem((6, 40, 9), dtype, seed=7)
    x3 = x.reshape(2, 3, 40)
    out = np.full((2, 3, 9), np.nan, dtype)
    result = fastconv.linear(x3, w, b, activation="relu", out=out)
    assert result is out
    assert_exact(out, fastconv.linear(x3, w, b, activation="relu"))
    ref = np.full((2, 3, 9), np.nan, dtype)
    assert fastconv.reference.linear(x3, w, b, activation="relu", out=ref) is ref


# --- threads and schedules -----------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_bitwise_identical_for_1_to_4_threads_and_any_schedule(restore_threads, dtype):
    """Each element is one sum in a fixed order, whoever computes its tile and whenever: the
    same bits for 1-4 threads, tasks run shuffled, late threads and random pauses."""
    shapes = [(64, 400, 120), (300, 600, 150), (3, 1000, 517), (700, 45, 6), (9, 300, 70)]
    for shape in shapes:
        x, w, b, g = problem(shape, dtype, seed=8)
        fastconv.set_num_threads(1)
        want = [fastconv.linear(x, w, b, activation="relu"), *fastconv.linear_backward(g, x, w)]
        if _ext.has_openmp():
            fastconv.set_num_threads(4)
            assert _ext.probe_team_size(int(np.prod(shape))) == 4, shape
        for threads in (1, 2, 3, 4):
            fastconv.set_num_threads(threads)
            for mode in (0, _ext.SCHEDULE_SHUFFLE, _ext.SCHEDULE_DELAY,
                         _ext.SCHEDULE_SHUFFLE | _ext.SCHEDULE_DELAY):
                _ext.set_schedule_test(mode, threads * 31 + mode)
                try:
                    got = [fastconv.linear(x, w, b, activation="relu"),
                           *fastconv.linear_backward(g, x, w)]
                finally:
                    _ext.set_schedule_test(0)
                for i, (a, e) in enumerate(zip(got, want)):
                    assert_bitwise_equal(a, e, f"{shape}, {threads} threads, schedule {mode}, "
                                               f"result {i}")


# --- errors: a clear exception naming the op, the argument and the shapes ------------------

def f64(*shape):
    return np.zeros(shape)


def f32(*shape):
    return np.zeros(shape, np.float32)


X, W, B, G = f64(4, 3), f64(2, 3), f64(2), f64(4, 2)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("xshape,wshape", [((), (2, 3)), ((3,), (3,)), ((3,), (2, 3, 1)),
                                           ((4, 3), ())], ids=str)
def test_linear_wrong_dims_is_a_value_error_with_the_shape(impl, xshape, wshape):
    name = "x" if len(xshape) == 0 else "weight"
    shape = xshape if name == "x" else wshape
    with pytest.raises(ValueError, match=msg("linear", [name], [str(shape)])):
        impl.linear(f64(*xshape), f64(*wshape))
    with pytest.raises(ValueError, match=msg("linear_backward", [name], [str(shape)])):
        impl.linear_backward(f64(2), f64(*xshape), f64(*wshape))


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("xshape,wshape", [((4, 3), (2, 4)), ((3,), (2, 2)), ((2, 5, 1), (2, 3)),
                                           ((4, 0), (2, 3)), ((4, 3), (2, 0))], ids=str)
def test_linear_mismatched_in_features_names_x_weight_and_both_shapes(impl, xshape, wshape):
    with pytest.raises(ValueError, match=msg("linear", ["x", "weight", "in_features"],
                                             [str(xshape), str(wshape)])):
        impl.linear(f64(*xshape), f64(*wshape))
    with pytest.raises(ValueError, match=msg("linear_backward", ["x", "weight"],
                                             [str(xshape), str(wshape)])):
        impl.linear_backward(f64(*xshape[:-1], wshape[0]), f64(*xshape), f64(*wshape))


@pytest.mark.parametrize("bshape", [(3,), (1,), (1, 2), (), (2, 1)], ids=str)
def test_linear_bias_of_wrong_shape_is_a_value_error_with_its_shape(bshape):
    with pytest.raises(ValueError, match=msg("linear", ["bias"], [str(bshape), str(W.shape)])):
        fastconv.linear(X, W, f64(*bshape))


@pytest.mark.parametrize("gshape", [(4, 3), (2,), (4, 2, 1), (3, 2), ()], ids=str)
def test_linear_backward_grad_output_of_wrong_shape_names_both_shapes(gshape):
    with pytest.raises(ValueError, match=msg("linear_backward", ["grad_output"],
                                             [str(gshape), "(4, 2)", str(X.shape)])):
        fastconv.linear_backward(f64(*gshape), X, W)


BAD_DTYPES = [np.int32, np.int64, np.bool_, np.complex64, object, np.float16]


@pytest.mark.parametrize("dtype", BAD_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("role", ["x", "weight", "bias", "grad_output"])
def test_linear_non_float_dtype_is_a_type_error_naming_it(role, dtype):
    args = {"x": X, "weight": W, "bias": B, "grad_output": G}
    args[role] = np.zeros(args[role].shape, dtype)
    name = np.dtype(dtype).name
    if role != "grad_output":
        with pytest.raises(TypeError, match=msg("linear", [role], [name])):
            fastconv.linear(args["x"], args["weight"], args["bias"])
    if role != "bias":
        with pytest.raises(TypeError, match=msg("linear_backward", [role], [name])):
            fastconv.linear_backward(args["grad_output"], args["x"], args["weight"])


@pytest.mark.parametrize("role", ["weight", "bias", "grad_output"])
@pytest.mark.parametrize("base", [np.float32, np.float64])
def test_linear_mixed_dtypes_are_a_type_error_naming_both(role, base):
    other = np.float64 if base == np.float32 else np.float32
    args = {name: a.astype(base) for name, a in
            {"x": X, "weight": W, "bias": B, "grad_output": G}.items()}
    args[role] = args[role].astype(other)
    if role != "grad_output":
        with pytest.raises(TypeError, match=msg("linear", [role], ["float32", "float64"])):
            fastconv.linear(args["x"], args["weight"], args["bias"])
    if role != "bias":
        with pytest.raises(TypeError, match=msg("linear_backward", [role],
                                                ["float32", "float64"])):
            fastconv.linear_backward(args["grad_output"], args["x"], args["weight"])


@pytest.mark.parametrize("role", ["x", "weight"])
def test_linear_none_or_ragged_in_place_of_an_array_is_a_type_error(role):
    for bad in (None, [[1.0, 2.0], [3.0]]):
        args = {"x": X, "weight": W}
        args[role] = bad
        with pytest.raises((TypeError, ValueError), match=msg("linear", [role])):
            fastconv.linear(args["x"], args["weight"])
        with pytest.raises((TypeError, ValueError), match=msg("linear_backward", [role])):
            fastconv.linear_backward(G, args["x"], args["weight"])


@pytest.mark.parametrize("value", ["sigmoid", "RELU", "none", "", ["relu"], {}, 1,
                                   np.array("relu")], ids=repr)
def test_linear_bad_activation_is_a_value_error_with_its_repr(value):
    with pytest.raises(ValueError, match=msg("linear", ["activation"])):
        fastconv.linear(X, W, activation=value)
    if isinstance(value, str):
        with pytest.raises(ValueError, match=msg("linear", ["activation"], [repr(value)])):
            fastconv.linear(X, W, activation=value)


@pytest.mark.parametrize("mask,exc", [((True, True), ValueError), ((True,) * 4, ValueError),
                                      (None, TypeError), (3, TypeError),
                                      ((True, np.array([True, False]), True), TypeError)],
                         ids=["short", "long", "None", "int", "ambiguous"])
def test_linear_backward_bad_output_mask_names_it(mask, exc):
    with pytest.raises(exc, match=msg("linear_backward", ["output_mask"])):
        fastconv.linear_backward(G, X, W, output_mask=mask)


def _unaligned(shape):
    buf = np.zeros(int(np.prod(shape)) * 8 + 1, np.uint8)
    return buf[1:].view(np.float64).reshape(shape)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_linear_bad_out_arguments(impl):
    shape = (4, 2)
    ro = f64(*shape)
    ro.flags.writeable = False
    for out, exc, texts in [
            (f64(4, 3), ValueError, ["(4, 3)", "(4, 2)"]), (f64(2, 4), ValueError, ["(2, 4)"]),
            (f64(1, 4, 2), ValueError, ["(1, 4, 2)"]), (f32(*shape), TypeError, ["float64"]),
            (np.zeros(shape, ">f8"), TypeError, []), (np.zeros(shape).tolist(), TypeError, []),
            (np.zeros(shape, order="F"), ValueError, ["C-contiguous"]),
            (f64(4, 4)[:, ::2], ValueError, ["C-contiguous"]),
            (_unaligned(shape), ValueError, ["aligned"]), (ro, ValueError, [])]:
        with pytest.raises(exc, match=msg("linear", ["out"], texts)):
            impl.linear(X, W, B, out=out)


@pytest.mark.parametrize("role", ["x", "weight", "bias"])
def test_linear_out_overlapping_an_input_is_a_value_error(role):
    shapes = {"x": (4, 2), "weight": (2, 2), "bias": (2,)}
    n_in = int(np.prod(shapes[role]))
    buf = np.random.default_rng(1).standard_normal(n_in + 8 + 1)
    args = {k: np.ones(s) for k, s in shapes.items()}
    args[role] = buf[:n_in].reshape(shapes[role])
    out = buf[1:1 + 8].reshape(4, 2)
    saved = buf.copy()
    with pytest.raises(ValueError, match=msg("linear", ["out", role], ["overlaps"])):
        fastconv.linear(args["x"], args["weight"], args["bias"], out=out)
    np.testing.assert_array_equal(buf, saved)


def test_linear_error_leaves_out_untouched():
    out = np.full((4, 2), 7.0)
    for kwargs in (dict(activation="tanh"), dict(bias=f64(3))):
        with pytest.raises(ValueError, match=msg("linear")):
            fastconv.linear(X, W, out=out, **kwargs)
    np.testing.assert_array_equal(out, np.full((4, 2), 7.0))


def test_linear_output_beyond_memory_is_refused_before_allocating():
    # x (2**31, 0) and weight (2**31, 0) own no memory; the output would be 2**62 floats
    x = np.broadcast_to(np.zeros(()), (2**31, 0))
    w = np.broadcast_to(np.zeros(()), (2**31, 0))
    with pytest.raises((MemoryError, ValueError), match=msg("linear")):
        fastconv.linear(x, w)


@pytest.mark.parametrize("call,exc", [
    (lambda m: m.linear(f64(4, 3), f64(2, 4)), ValueError),
    (lambda m: m.linear(f32(4, 3), f64(2, 3)), TypeError),
    (lambda m: m.linear(X, W, f64(3)), ValueError),
    (lambda m: m.linear(X, W, activation="tanh"), ValueError),
    (lambda m: m.linear_backward(f64(4, 3), X, W), ValueError),
    (lambda m: m.linear_backward(G, X, W, output_mask=(True,)), ValueError),
], ids=["in_features", "dtypes", "bias", "activation", "grad_output", "mask"])
def test_linear_reference_twin_raises_the_same_errors(call, exc):
    with pytest.raises(exc) as fast:
        call(fastconv)
    with pytest.raises(exc) as ref:
        call(fastconv.reference)
    assert str(ref.value) == str(fast.value)


def test_linear_bridge_rechecks_its_arrays():
    """_ext.linear is safe on its own: a wrong shape, dtype or read-only output raises."""
    y = f64(4, 2)
    with pytest.raises(ValueError, match=msg("linear", ["y"])):
        _ext.linear("linear", X, W, None, f64(4, 3), None, False)
    with pytest.raises(TypeError, match=msg("linear", ["bias"])):
        _ext.linear("linear", X, W, f32(2), y, None, False)
    y.flags.writeable = False
    with pytest.raises(ValueError, match=msg("linear", ["y"], ["read-only"])):
        _ext.linear("linear", X, W, None, y, None, False)
    with pytest.raises(ValueError, match=msg("linear_backward", ["grad_output"])):
        _ext.linear_backward("linear_backward", f64(4, 3), X, W, None, f64(2, 3), None, False)
    with pytest.raises(ValueError, match=msg("linear_backward", ["x"])):
        _ext.linear_backward("linear_backward", G, f64(3), W, None, None, None, False)

"""batch_norm, batch_norm_backward and add (issue 14, "drop-in for real CNNs"): against the
float64 oracle, the reference twins, torch (forward, running statistics, autograd) and central
differences; every ISA path; 1 vs 2 threads bitwise; errors; nn.BatchNorm2d and nn.Residual on
them; Module.fuse's BatchNorm folding."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastconv
import fastconv.reference
import oracle
from fastconv import nn
from fastconv.ops import _ext
from test_determinism import ISAS, SESSION_ISA, isa  # noqa: F401  (the every-ISA fixture)
from tolerances import assert_bitwise_equal, assert_exact, assert_reduction_close

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]
IMPLEMENTATIONS = [pytest.param(fastconv, id="fast"),
                   pytest.param(fastconv.reference, id="reference")]


@st.composite
def bn_cases(draw):
    spatial = tuple(draw(st.lists(st.integers(1, 11), max_size=2)))
    shape = (draw(st.integers(1, 5)), draw(st.integers(1, 5))) + spatial
    return dict(shape=shape, training=draw(st.booleans()), affine=draw(st.booleans()),
                stats=draw(st.booleans()), momentum=draw(st.sampled_from([0.1, 0.0, 1.0, 0.3])),
                eps=draw(st.sampled_from([1e-5, 1e-3, 0.5])), seed=draw(st.integers(0, 2**31)),
                offset=draw(st.sampled_from([0.0, 3.0, -100.0])))


def _bn_inputs(c, dtype, rng):
    shape = c["shape"]
    x = (rng.standard_normal(shape) * 2 + c["offset"]).astype(dtype)
    w = rng.standard_normal(shape[1]).astype(dtype) if c["affine"] else None
    b = rng.standard_normal(shape[1]).astype(dtype) if c["affine"] else None
    stats = c["stats"] or not c["training"]
    rm = rng.standard_normal(shape[1]).astype(dtype) if stats else None
    rv = rng.uniform(0.2, 3, shape[1]).astype(dtype) if stats else None
    return x, w, b, rm, rv


@settings(max_examples=60)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("module", IMPLEMENTATIONS)
@given(c=bn_cases())
def test_matches_the_oracle_forward_backward_and_running_statistics(module, dtype, c):
    rng = np.random.default_rng(c["seed"])
    x, w, b, rm, rv = _bn_inputs(c, dtype, rng)
    count = x.size // x.shape[1]
    if c["training"] and count < 2:
        with pytest.raises(ValueError, match="^batch_norm: training needs more than 1 value"):
            module.batch_norm(x, rm, rv, w, b, training=True)
        return
    saved = [None if a is None else a.copy() for a in (x, w, b, rm, rv)]
    y, mean, invstd = module.batch_norm(x, rm, rv, w, b, training=c["training"],
                                        momentum=c["momentum"], eps=c["eps"], return_stats=True)
    e_y, e_mean, e_invstd, e_rm, e_rv, bound = oracle.batch_norm(
        x, saved[3], saved[4], w, b, c["training"], c["momentum"], c["eps"])
    assert_reduction_close(y, e_y, bound, count + 4, dtype)
    assert_reduction_close(mean, e_mean, np.abs(x).max(axis=tuple(
        i for i in range(x.ndim) if i != 1)), count + 4, dtype)
    np.testing.assert_allclose(invstd, e_invstd, rtol=8 * count * np.finfo(dtype).eps)
    if c["training"] and rm is not None:     # updated in place, as torch
        tol = 8 * count * np.finfo(dtype).eps
        np.testing.assert_allclose(rm, e_rm, rtol=tol, atol=tol * (1 + abs(c["offset"])))
        np.testing.assert_allclose(rv, e_rv, rtol=tol, atol=tol * (1 + c["offset"] ** 2))
    else:
        for a, s in zip((rm, rv), saved[3:]):
            if a is not None:
                assert_exact(a, s)
    for a, s in zip((x, w, b), saved):
        if a is not None:
            assert_exact(a, s)
    g = rng.standard_normal(x.shape).astype(dtype)
    grads = module.batch_norm_backward(g, x, w, mean, invstd, training=c["training"])
    expected, bounds = oracle.batch_norm_backward(g, x, w, mean, invstd, c["training"])
    for actual, e, bnd in zip(grads, expected, bounds):
        assert_reduction_close(actual, e, bnd, count + 4, dtype)


@settings(max_examples=25)
@pytest.mark.parametrize("dtype", DTYPES)
@given(c=bn_cases())
def test_threads_and_isa_paths_give_the_same_bits(restore_threads, dtype, c):
    """The channels are split among the threads and each channel's sums run in a fixed order
    in plain C shared by every ISA path: 1 and 2 threads, every path, the same bits."""
    rng = np.random.default_rng(c["seed"])
    c = dict(c, shape=(c["shape"][0] * 9, c["shape"][1] * 7) + c["shape"][2:], training=True)
    x, w, b, rm, rv = _bn_inputs(c, dtype, rng)
    g = rng.standard_normal(x.shape).astype(dtype)

    def run():
        stats = (None, None) if rm is None else (rm.copy(), rv.copy())
        out = fastconv.batch_norm(x, *stats, w, b, training=True, return_stats=True)
        return [*out, *[s for s in stats if s is not None],
                *fastconv.batch_norm_backward(g, x, w, out[1], out[2]),
                fastconv.add(x, g, activation="leaky_relu")]
    fastconv.set_num_threads(1)
    first = run()
    for threads in (2, 1, 3):
        fastconv.set_num_threads(threads)
        for isa in ISAS[:ISAS.index(SESSION_ISA) + 1]:
            _ext.select_isa(isa)
            try:
                for i, (a, e) in enumerate(zip(run(), first)):
                    assert_bitwise_equal(a, e, f"result {i}, {threads} threads, {isa}")
            finally:
                _ext.select_isa(SESSION_ISA)


def test_by_hand_as_the_docstring_says():
    x = np.array([0, 1, 4, 5], np.float32).reshape(2, 1, 1, 2)
    rm, rv = np.zeros(1, np.float32), np.ones(1, np.float32)
    y = fastconv.batch_norm(x, rm, rv, training=True, momentum=0.5, eps=0.0)
    np.testing.assert_allclose(y.ravel(), np.array([-2.5, -1.5, 1.5, 2.5]) / np.sqrt(4.25),
                               rtol=1e-6)
    np.testing.assert_allclose(rm, [1.25])                 # 0.5 * 0 + 0.5 * 2.5
    np.testing.assert_allclose(rv, [0.5 + 0.5 * 17 / 3])   # the unbiased variance 17/3
    y_eval = fastconv.batch_norm(x, np.array([1.0], np.float32), np.array([4.0], np.float32),
                                 np.array([2.0], np.float32), np.array([1.0], np.float32),
                                 eps=0.0)
    np.testing.assert_array_equal(y_eval.ravel(), [0.0, 1.0, 4.0, 5.0])   # (x - 1) / 2 * 2 + 1


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 7), (3, 5, 4, 6), (2, 2, 3, 3, 2)])
@pytest.mark.parametrize("training", [True, False])
def test_matches_torch_forward_running_statistics_and_autograd(dtype, shape, training):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    w, b = rng.standard_normal(shape[1]).astype(dtype), rng.standard_normal(shape[1]).astype(dtype)
    rm, rv = rng.standard_normal(shape[1]).astype(dtype), rng.uniform(0.5, 2, shape[1]).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    ty = torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, training=training, momentum=0.2,
                                        eps=1e-4)
    ty.backward(torch.tensor(g))
    y, mean, invstd = fastconv.batch_norm(x, rm, rv, w, b, training=training, momentum=0.2,
                                          eps=1e-4, return_stats=True)
    grads = fastconv.batch_norm_backward(g, x, w, mean, invstd, training=training)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    for ours, theirs in [(y, ty), (rm, trm), (rv, trv), (grads[0], tx.grad),
                         (grads[1], tw.grad), (grads[2], tb.grad)]:
        theirs = theirs.detach().numpy()
        np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol * np.abs(theirs).max())


@pytest.mark.parametrize("training", [True, False])
def test_backward_matches_central_differences(training):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((3, 2, 2, 3))
    w, b = rng.standard_normal(2), rng.standard_normal(2)
    rm, rv = rng.standard_normal(2), rng.uniform(0.5, 2, 2)
    g = rng.standard_normal(x.shape)

    def loss(x_, w_, b_):
        return np.sum(fastconv.batch_norm(x_, rm.copy(), rv.copy(), w_, b_, training=training)
                      * g)
    _, mean, invstd = fastconv.batch_norm(x, rm.copy(), rv.copy(), w, b, training=training,
                                          return_stats=True)
    analytic = fastconv.batch_norm_backward(g, x, w, mean, invstd, training=training)
    h = 1e-6
    for k, arr in enumerate((x, w, b)):
        numeric = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            plus, minus = [a.copy() for a in (x, w, b)], [a.copy() for a in (x, w, b)]
            plus[k][i] += h
            minus[k][i] -= h
            numeric[i] = (loss(*plus) - loss(*minus)) / (2 * h)
        np.testing.assert_allclose(analytic[k], numeric, rtol=1e-6, atol=1e-8)


def test_output_mask_and_an_empty_batch():
    x, g = np.ones((0, 3, 2, 2)), np.ones((0, 3, 2, 2))
    y = fastconv.batch_norm(x, np.zeros(3), np.ones(3))
    assert y.shape == x.shape
    gx, gw, gb = fastconv.batch_norm_backward(g, x, None, np.zeros(3), np.ones(3))
    assert gx.shape == x.shape and (gw == 0).all() and (gb == 0).all()
    x = np.random.default_rng(1).standard_normal((2, 3, 4))
    none = fastconv.batch_norm_backward(x, x, None, np.zeros(3), np.ones(3),
                                        output_mask=(False, True, False))
    assert none[0] is None and none[2] is None and none[1].shape == (3,)


@pytest.mark.parametrize("module", IMPLEMENTATIONS)
def test_an_empty_batch_in_training_normalises_nothing_as_torch(module):
    # torch returns the empty output and leaves the running statistics as they were; it has
    # no batch statistics to return (native_batch_norm refuses the empty input)
    x, rm, rv = np.ones((0, 3, 2, 2), np.float32), np.arange(3, dtype=np.float32), \
        np.full(3, 2.0, np.float32)
    y = module.batch_norm(x, rm, rv, training=True, momentum=0.5)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert_exact(rm, np.arange(3, dtype=np.float32))
    assert_exact(rv, np.full(3, 2.0, np.float32))
    with pytest.raises(ValueError, match="^batch_norm: training has no batch statistics"):
        module.batch_norm(x, rm, rv, training=True, return_stats=True)
    layer = fastconv.nn.BatchNorm2d(3)
    layer.train()
    y = layer(x)
    assert y.shape == x.shape and int(layer.num_batches_tracked) == 1
    assert_exact(layer.running_mean, np.zeros(3, np.float32))
    assert layer.backward(y).shape == x.shape
    assert (layer.weight.grad == 0).all() and (layer.bias.grad == 0).all()


E = "^batch_norm: "


@pytest.mark.parametrize("call, error, match", [
    (lambda: fastconv.batch_norm(np.ones((2, 3, 4)), None, None), ValueError,
     E + "eval .* running_mean"),
    (lambda: fastconv.batch_norm(np.ones((2, 3, 4)), np.zeros(3), None), ValueError,
     E + "running_mean and running_var go together"),
    (lambda: fastconv.batch_norm(np.ones(3), None, None, training=True), ValueError,
     E + r"x must be \(N, C, ...\)"),
    (lambda: fastconv.batch_norm(np.ones((1, 3, 1)), None, None, training=True), ValueError,
     E + "training needs more than 1 value per channel"),
    (lambda: fastconv.batch_norm(np.ones((2, 3)), np.zeros(3), np.ones(3), np.ones(2)),
     ValueError, E + r"weight must have shape \(3,\)"),
    (lambda: fastconv.batch_norm(np.ones((2, 3)), np.zeros(3, np.float32), np.ones(3)),
     TypeError, E + "running_mean has dtype float32 but x has float64"),
    (lambda: fastconv.batch_norm(np.ones((2, 3)), [0.0] * 3, np.ones(3), training=True),
     TypeError, E + "running_mean must be a numpy array"),
    (lambda: fastconv.batch_norm(np.ones((2, 3)), np.zeros(6)[::2], np.ones(3), training=True),
     ValueError, E + "running_mean is updated in place"),
    (lambda: fastconv.batch_norm(np.ones((2, 3)), None, None, training=True, eps=-1), ValueError,
     E + "eps must be a non-negative finite number"),
    (lambda: fastconv.batch_norm(np.ones((2, 3)), None, None, training=True, momentum="a"),
     TypeError, E + "momentum must be a finite real number"),
    (lambda: fastconv.batch_norm(np.ones((2, 3), np.int32), None, None, training=True),
     TypeError, E + "x must be float32 or float64"),
    (lambda: fastconv.batch_norm_backward(np.ones((2, 3)), np.ones((2, 4)), None, np.ones(4),
                                          np.ones(4)), ValueError,
     "^batch_norm_backward: grad_output must have x's shape"),
    (lambda: fastconv.batch_norm_backward(np.ones((2, 3)), np.ones((2, 3)), None, None,
                                          np.ones(3)), TypeError,
     "^batch_norm_backward: save_mean and save_invstd must be arrays"),
    (lambda: fastconv.add(np.ones((2, 3)), np.ones(3)), ValueError,
     r"^add: a and b must have the same shape \(no broadcasting\), got \(2, 3\) and \(3,\)"),
    (lambda: fastconv.add(np.ones(3), np.ones(3, np.float32)), TypeError,
     "^add: b has dtype float32 but a has float64"),
    (lambda: fastconv.add(np.ones(3), np.ones(3), activation="relu", negative_slope=0.1),
     ValueError, "^add: negative_slope=0.1 applies to activation='leaky_relu' only"),
    (lambda: (lambda a: fastconv.add(a[:3], a[1:], out=a[:3]))(np.ones(4)), ValueError,
     "^add: out overlaps input b"),
])
def test_errors_name_the_op_and_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---- add ---------------------------------------------------------------------------------------

ACTIVATIONS = [None, "relu", "relu6", "leaky_relu"]


@settings(max_examples=40)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("module", IMPLEMENTATIONS)
@given(n=st.integers(0, 5000), seed=st.integers(0, 2**31),
       activation=st.sampled_from(ACTIVATIONS), where=st.sampled_from(["new", "a", "b", "ab"]))
def test_add_matches_the_oracle_new_and_in_place(module, dtype, n, seed, activation, where):
    """Bitwise (a + b is one rounding), including specials, out=a, out=b and a is b is out
    (the driver copies a block of b aside then: the row may not alias its input)."""
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal(n) * 5).astype(dtype)
    special = rng.random(n) < 0.1
    a[special] = np.array([np.nan, np.inf, -np.inf, -0.0, 6.0], dtype)[
        rng.integers(0, 5, special.sum())]
    b = a if where == "ab" else (rng.standard_normal(n) * 5).astype(dtype)
    expected = oracle.add(a, b, activation, 0.2)
    kw = dict(negative_slope=0.2) if activation == "leaky_relu" else {}
    saved = a.copy(), b.copy()
    out = {"new": None, "a": a, "b": b, "ab": a}[where]
    y = module.add(a, b, activation=activation, out=out, **kw)
    assert out is None or y is out
    nan = np.isnan(expected)
    assert (np.isnan(y) == nan).all()
    assert_exact(np.where(nan, 0, y), np.where(nan, 0, expected))
    if where == "new":
        assert_exact(a, saved[0])
        assert_exact(b, saved[1])


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_add_matches_torch(activation):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((3, 4, 5)).astype(np.float32) * 4, \
        rng.standard_normal((3, 4, 5)).astype(np.float32) * 4
    t = torch.tensor(a) + torch.tensor(b)
    t = {None: lambda v: v, "relu": torch.relu, "relu6": torch.nn.functional.relu6,
         "leaky_relu": lambda v: torch.nn.functional.leaky_relu(v, 0.01)}[activation](t)
    np.testing.assert_array_equal(fastconv.add(a, b, activation=activation), t.numpy())


def test_add_on_every_isa_path_matches_the_reference(isa):
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal(70001).astype(np.float32), rng.standard_normal(70001).astype(
        np.float32)
    for activation in ACTIVATIONS:
        assert_exact(fastconv.add(a, b, activation=activation),
                     fastconv.reference.add(a, b, activation=activation))


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_on_every_isa_path_matches_the_reference(isa, dtype):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((5, 6, 7, 9)).astype(dtype)
    w, b = rng.standard_normal(6).astype(dtype), rng.standard_normal(6).astype(dtype)
    y, m, s = fastconv.batch_norm(x, None, None, w, b, training=True, return_stats=True)
    r = fastconv.reference.batch_norm(x, None, None, w, b, training=True, return_stats=True)
    count = x.size // 6
    bound = oracle.batch_norm(x, None, None, w, b, True, 0.1, 1e-5)[5]
    assert_reduction_close(y, r[0].astype(np.float64), bound, count, dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    ours = fastconv.batch_norm_backward(g, x, w, m, s)
    theirs, bounds = oracle.batch_norm_backward(g, x, w, m, s, True)
    for a, e, bnd in zip(ours, theirs, bounds):
        assert_reduction_close(a, e, bnd, count + 4, dtype)


# ---- the layers ------------------------------------------------------------------------------

def test_batchnorm2d_layer_runs_the_ops():
    rng = np.random.default_rng(6)
    layer = nn.BatchNorm2d(3)
    layer.weight.data[:] = rng.standard_normal(3)
    x = rng.standard_normal((4, 3, 5, 5)).astype(np.float32)
    rm, rv = layer.running_mean.copy(), layer.running_var.copy()
    y, mean, invstd = fastconv.batch_norm(x, rm, rv, layer.weight.data, layer.bias.data,
                                          training=True, return_stats=True)
    assert_exact(layer(x), y)
    assert_exact(layer.running_mean, rm)
    g = rng.standard_normal(x.shape).astype(np.float32)
    gx, gw, gb = fastconv.batch_norm_backward(g, x, layer.weight.data, mean, invstd)
    assert_exact(layer.backward(g), gx)
    assert_exact(layer.weight.grad, gw)
    assert_exact(layer.bias.grad, gb)


def test_residual_joins_with_add_in_one_pass():
    rng = np.random.default_rng(7)
    conv = nn.Conv2d(3, 3, 3, padding=1, rng=0)
    block = nn.Residual(conv, activation="relu")
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    assert_exact(block(x), fastconv.add(conv(x), x, activation="relu"))


# ---- Module.fuse ------------------------------------------------------------------------------

def _small_net(dtype):
    rng = np.random.default_rng(8)
    net = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, rng=rng, dtype=dtype), nn.BatchNorm2d(4, dtype=dtype),
        nn.ReLU(),
        nn.Residual({"conv1": nn.Conv2d(4, 4, 3, padding=1, bias=False, rng=rng, dtype=dtype),
                     "bn1": nn.BatchNorm2d(4, dtype=dtype), "relu": nn.ReLU(),
                     "conv2": nn.Conv2d(4, 6, 3, stride=2, padding=1, rng=rng, dtype=dtype),
                     "bn2": nn.BatchNorm2d(6, affine=False, dtype=dtype)},
                    shortcut=nn.Sequential(nn.Conv2d(4, 6, 1, stride=2, rng=rng, dtype=dtype),
                                           nn.BatchNorm2d(6, dtype=dtype)),
                    activation="relu"),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3, rng=rng, dtype=dtype))
    for _, m in net.named_modules():          # statistics and affine parameters of a trained net
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean[:] = rng.standard_normal(m.num_features)
            m.running_var[:] = rng.uniform(0.3, 3, m.num_features)
            if m.affine:
                m.weight.data[:] = rng.standard_normal(m.num_features)
                m.bias.data[:] = rng.standard_normal(m.num_features)
    return net.eval()


@pytest.mark.parametrize("dtype", DTYPES)
def test_fuse_folds_every_batchnorm_and_keeps_the_outputs(dtype):
    net = _small_net(dtype)
    before = net.state_dict()
    fused = net.fuse()
    assert not any(isinstance(m, nn.BatchNorm2d) for _, m in fused.named_modules())
    assert sum(isinstance(m, nn.Conv2d) and m.activation == "relu"
               for _, m in fused.named_modules()) == 2       # the stem and conv1: ReLU fused
    x = np.random.default_rng(9).standard_normal((3, 2, 8, 8)).astype(dtype)
    expected, actual = net(x), fused(x)
    rel = np.abs(actual - expected).max() / np.abs(expected).max()
    assert rel <= (1e-5 if dtype == np.float32 else 1e-13), rel
    for name, value in net.state_dict().items():              # the original is untouched
        assert_exact(value, before[name])


def test_fused_residual_adds_in_the_last_convolutions_epilogue_in_eval(monkeypatch):
    """In eval mode a fused block's last conv (conv2, its BatchNorm an Identity) takes the
    skip connection and the ReLU in its epilogue: no F.add, and the same bits as the
    convolution followed by add; in training mode, and with a BatchNorm after the conv, the
    add.  A backward after the eval forward still runs."""
    from fastconv.ops import functional
    dtype = np.float32
    block = next(m for _, m in _small_net(dtype).fuse().named_modules()
                 if isinstance(m, nn.Residual))
    x = np.random.default_rng(10).standard_normal((3, 4, 8, 8)).astype(dtype)
    layers = block._layers()
    h = layers[2](layers[1](layers[0](x)))     # conv1 (+bn1 folded, relu fused)
    expected = fastconv.add(layers[3](h), block.downsample(x), activation="relu")
    adds = []
    real_add = functional.add
    monkeypatch.setattr(functional, "add", lambda *a, **k: adds.append(1) or real_add(*a, **k))
    assert_exact(block(x), expected)
    assert adds == []
    grad = block.backward(np.ones_like(expected))
    assert grad.shape == x.shape
    block.train()
    assert_exact(block(x), expected)
    assert adds == [1]
    unfused = next(m for _, m in _small_net(dtype).named_modules()   # conv2, then bn2: add
                   if isinstance(m, nn.Residual))
    unfused(x)
    assert adds == [1, 1]


def test_fuse_refuses_a_model_in_training_mode():
    with pytest.raises(ValueError, match="^fuse: the model is in training mode"):
        _small_net(np.float32).train().fuse()


def test_fuse_resnet18_matches_torch():
    """The README's figure: max |fused - torch| / max |torch| of ResNet-18's logits."""
    torch = pytest.importorskip("torch")
    import torchvision_models as tv
    torch.manual_seed(0)
    resnet = tv.randomise_batch_norms(tv.resnet18()).eval()
    fused = nn.from_torch(resnet).eval().fuse()
    assert not any(isinstance(m, nn.BatchNorm2d) for _, m in fused.named_modules())
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = resnet(x).numpy()
    logits = fused(x.numpy())
    assert np.abs(logits - expected).max() / np.abs(expected).max() <= 1e-5

"""fastconv.nn: every layer's backward against central finite differences (float64), the
Module bookkeeping (names, state dicts, modes), the loss, and LeNet-5 against PyTorch."""
import numpy as np
import pytest

from fastconv import models, nn
from test_backward import central_differences


def _rng(seed=0):
    return np.random.default_rng(seed)


def check_layer_gradients(layer, x, rng, rtol=1e-6, atol=1e-8):
    """backward(r) against central differences of sum(layer(x) * r), for x and each parameter.

    Returns the number of elements checked (so a caller sees the check did run)."""
    y = layer(x)
    r = rng.standard_normal(y.shape)
    layer.zero_grad()
    grad_x = layer.backward(r)
    params = dict(layer.named_parameters())
    grads = {name: p.grad.copy() for name, p in params.items()}

    def loss():
        return float((layer(x) * r).sum())

    checked = 0
    targets = [("x", x, grad_x)] + [(name, p.data, grads[name]) for name, p in params.items()]
    for name, array, analytic in targets:
        assert analytic.shape == array.shape, name
        np.testing.assert_allclose(analytic, central_differences(loss, array), rtol=rtol,
                                   atol=atol, err_msg=name)
        checked += array.size
    return checked


@pytest.mark.parametrize("kwargs", [
    dict(in_channels=3, out_channels=4, kernel_size=3),
    dict(in_channels=2, out_channels=5, kernel_size=(3, 2), stride=2, padding=1),
    dict(in_channels=4, out_channels=4, kernel_size=3, padding=2, dilation=2, groups=2),
    dict(in_channels=3, out_channels=2, kernel_size=1, bias=False),
    dict(in_channels=2, out_channels=3, kernel_size=3, padding=1, activation="relu"),
])
def test_conv2d_gradients_match_finite_differences(kwargs):
    rng = _rng(1)
    layer = nn.Conv2d(**kwargs, rng=rng, dtype=np.float64)
    x = rng.standard_normal((2, kwargs["in_channels"], 7, 6))
    expected = x.size + layer.weight.data.size + (layer.bias.data.size if layer.bias else 0)
    assert check_layer_gradients(layer, x, rng) == expected


def test_linear_gradients_match_finite_differences():
    rng = _rng(2)
    layer = nn.Linear(7, 5, rng=rng, dtype=np.float64)
    assert check_layer_gradients(layer, rng.standard_normal((4, 7)), rng) == 28 + 35 + 5


@pytest.mark.parametrize("layer", [
    nn.MaxPool2d(2), nn.MaxPool2d(3, stride=2, padding=1), nn.MaxPool2d(2, ceil_mode=True),
    nn.AvgPool2d(2), nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
    nn.ReLU(), nn.Flatten()], ids=repr)
def test_parameterless_layer_gradients_match_finite_differences(layer):
    rng = _rng(3)
    x = rng.standard_normal((2, 3, 7, 7))
    assert check_layer_gradients(layer, x, rng) == x.size


def test_dropout_trains_with_a_seeded_mask_and_is_the_identity_in_eval():
    rng = _rng(4)
    x = rng.standard_normal((64, 32))
    a, b = nn.Dropout(0.25, rng=7), nn.Dropout(0.25, rng=7)
    ya, yb = a(x), b(x)
    np.testing.assert_array_equal(ya, yb)
    kept = ya != 0
    assert 0.65 < kept.mean() < 0.85
    np.testing.assert_allclose(ya[kept], x[kept] / 0.75, rtol=1e-15)
    # the mask is a constant of the forward pass, so its gradient is the mask itself
    assert check_layer_gradients(_FixedMask(a, x), x, rng) == x.size
    a.eval()
    assert a(x) is x and a.backward(x) is x


class _FixedMask(nn.Module):
    """Dropout with the mask of its first forward replayed (for finite differences)."""

    def __init__(self, dropout, x):
        super().__init__()
        dropout(x)
        self.mask = dropout._cache
        self.dropout = dropout

    def forward(self, x):
        self.dropout._cache = self.mask
        return x * self.mask

    def backward(self, grad, input_grad=True):
        return self.dropout.backward(grad, input_grad)


def test_cross_entropy_gradient_and_value():
    rng = _rng(5)
    logits = rng.standard_normal((6, 4)) * 3
    target = rng.integers(0, 4, 6)
    criterion = nn.CrossEntropyLoss()
    loss = criterion(logits, target)
    expected = -np.mean([np.log(np.exp(row[t]) / np.exp(row).sum())
                         for row, t in zip(logits, target)])
    assert loss == pytest.approx(expected, rel=1e-13)
    grad = criterion.backward()
    numeric = central_differences(lambda: nn.CrossEntropyLoss()(logits, target), logits)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)
    with pytest.raises(RuntimeError, match="without a forward"):
        criterion.backward()


def test_cross_entropy_and_softmax_are_stable_for_extreme_logits():
    logits = np.array([[1e4, 0.0, -1e4], [-1e30, -1e30, 0.0]], np.float32)
    criterion = nn.CrossEntropyLoss()
    loss = criterion(logits, np.array([0, 2]))
    assert loss == 0.0
    grad = criterion.backward()
    assert np.isfinite(grad).all() and grad.dtype == np.float32
    p = nn.softmax(logits)
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(nn.log_softmax(np.array([0.0, np.log(3.0)])),
                               np.log([0.25, 0.75]), rtol=1e-14)


def test_cross_entropy_rejects_bad_targets():
    criterion = nn.CrossEntropyLoss()
    with pytest.raises(ValueError, match=r"target values must be in \[0, 3\)"):
        criterion(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(TypeError, match="integer class indices"):
        criterion(np.zeros((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="logits must be"):
        criterion(np.zeros(3), np.array([0]))


def test_a_network_backward_matches_finite_differences_end_to_end():
    rng = _rng(6)
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, rng=rng, dtype=np.float64), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Conv2d(3, 4, 2, rng=rng, dtype=np.float64),
                        nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                        nn.Linear(4, 3, rng=rng, dtype=np.float64))
    x = rng.standard_normal((3, 2, 8, 8))
    assert check_layer_gradients(net, x, rng) == x.size + sum(p.data.size
                                                               for p in net.parameters())


def test_backward_accumulates_into_grad_until_zero_grad():
    rng = _rng(7)
    layer = nn.Linear(3, 2, rng=rng, dtype=np.float64)
    x, g = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    layer(x)
    layer.backward(g)
    once = layer.weight.grad.copy()
    layer(x)
    layer.backward(g)
    np.testing.assert_allclose(layer.weight.grad, 2 * once, rtol=1e-15)
    layer.zero_grad()
    assert layer.weight.grad is None and layer.bias.grad is None


def test_max_pool_in_eval_mode_gives_the_same_values_without_indices():
    x = _rng(14).standard_normal((2, 3, 6, 6)).astype(np.float32)
    pool = nn.MaxPool2d(2)
    trained = pool(x)
    np.testing.assert_array_equal(pool.eval()(x), trained)
    with pytest.raises(RuntimeError, match="without a training-mode forward"):
        pool.backward(np.ones_like(trained))


def test_backward_without_forward_raises_and_input_grad_false_skips_it():
    layer = nn.Conv2d(1, 2, 3, rng=0)
    with pytest.raises(RuntimeError, match="without a training-mode forward"):
        layer.backward(np.zeros((1, 2, 2, 2), np.float32))
    y = layer(np.ones((1, 1, 4, 4), np.float32))
    assert layer.backward(np.ones_like(y), input_grad=False) is None
    assert layer.weight.grad.shape == (2, 1, 3, 3)


def test_default_init_follows_pytorch_bounds():
    rng = _rng(8)
    conv = nn.Conv2d(6, 16, 5, rng=rng)
    bound = 1 / np.sqrt(6 * 25)
    for p in (conv.weight.data, conv.bias.data):
        assert p.dtype == np.float32 and np.abs(p).max() <= bound
    # uniform on [-b, b]: standard deviation b / sqrt(3)
    assert conv.weight.data.std() == pytest.approx(bound / np.sqrt(3), rel=0.1)
    linear = nn.Linear(400, 120, rng=rng)
    assert np.abs(linear.weight.data).max() <= 1 / 20


def test_names_modes_and_state_dict_checks():
    net = models.lenet5(seed=0)
    names = [name for name, _ in net.named_parameters()]
    assert names == ["0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias",
                     "9.weight", "9.bias", "11.weight", "11.bias"]
    assert sum(p.data.size for p in net.parameters()) == 61706
    assert all(m.training for _, m in net.named_modules())
    net.eval()
    assert not any(m.training for _, m in net.named_modules())
    state = net.state_dict()
    state["0.weight"] += 1          # a copy: the model is unchanged
    assert not np.array_equal(state["0.weight"], net[0].weight.data)
    other = models.lenet5(seed=1).load_state_dict(state)
    np.testing.assert_array_equal(other[0].weight.data, state["0.weight"])
    with pytest.raises(KeyError, match=r"missing keys \['11.bias'\]"):
        other.load_state_dict({k: v for k, v in state.items() if k != "11.bias"})
    with pytest.raises(KeyError, match=r"unexpected keys \['extra'\]"):
        other.load_state_dict(dict(state, extra=np.zeros(1)))
    before = other[0].weight.data.copy()
    bad = dict(state)
    bad["0.weight"] = state["0.weight"] + 5
    bad["3.weight"] = np.zeros((16, 6, 3, 3))
    with pytest.raises(ValueError, match=r"3.weight has shape \(16, 6, 3, 3\)"):
        other.load_state_dict(bad)
    np.testing.assert_array_equal(other[0].weight.data, before)   # nothing written
    partial = {"0.weight": np.zeros((6, 1, 5, 5))}
    other.load_state_dict(partial, strict=False)
    assert not other[0].weight.data.any()


def test_save_load_round_trip_is_exact(tmp_path):
    net = models.lenet5(seed=3)
    path = tmp_path / "net.npz"
    models.save(net, path)
    again = models.load(models.lenet5(seed=4), path)
    for (name, a), (_, b) in zip(net.state_dict().items(), again.state_dict().items()):
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    x = _rng(9).standard_normal((5, 1, 28, 28)).astype(np.float32)
    np.testing.assert_array_equal(net(x), again(x))
    with pytest.raises(ValueError, match=".npz"):
        models.save(net, tmp_path / "net.bin")


def test_pool_first_lenet_gives_bitwise_the_same_numbers():
    rng = _rng(10)
    x = rng.standard_normal((4, 1, 28, 28)).astype(np.float32)
    x[0, 0, :8, :8] = -1.0          # windows that are all negative, or tied at zero after ReLU
    x[1, 0, :8, :8] = 0.0
    plain, swapped = models.lenet5(seed=5, pool_first=False), models.lenet5(seed=5)
    assert list(plain.state_dict()) == list(swapped.state_dict())
    assert isinstance(plain[1], nn.ReLU) and isinstance(plain[2], nn.MaxPool2d)
    assert isinstance(swapped[1], nn.MaxPool2d) and isinstance(swapped[2], nn.ReLU)
    np.testing.assert_array_equal(plain(x), swapped(x))
    g = rng.standard_normal((4, 10)).astype(np.float32)
    np.testing.assert_array_equal(plain.backward(g), swapped.backward(g))
    for (name, a), b in zip(plain.named_parameters(), swapped.parameters()):
        np.testing.assert_array_equal(a.grad, b.grad, err_msg=name)


def test_lenet5_loads_a_pytorch_state_dict_and_exports_back():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    reference = models.torch_lenet5().double()
    net = models.load_torch_state_dict(models.lenet5(dtype=np.float64),
                                       reference.state_dict())
    x = _rng(12).standard_normal((8, 1, 28, 28))
    expected = reference(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(net(x), expected, rtol=1e-10, atol=1e-12)
    # one training step's gradients agree too
    target = np.arange(8) % 10
    criterion = nn.CrossEntropyLoss()
    criterion(net(x), target)
    net.backward(criterion.backward())
    torch.nn.functional.cross_entropy(reference(torch.from_numpy(x)),
                                      torch.from_numpy(target)).backward()
    for (name, p), tp in zip(net.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=name)
    # and back: ours (trained a little, so different from torch's) into a fresh torch module
    for p in net.parameters():
        p.data -= 0.1 * p.grad
    back = models.torch_lenet5().double()
    back.load_state_dict({k: torch.from_numpy(v) for k, v in
                          models.to_torch_state_dict(net).items()})
    np.testing.assert_allclose(back(torch.from_numpy(x)).detach().numpy(), net(x), rtol=1e-10,
                               atol=1e-12)


def test_lenet5_float32_logits_match_pytorch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    reference = models.torch_lenet5()
    net = models.load_torch_state_dict(models.lenet5(), reference.state_dict())
    x = _rng(13).standard_normal((16, 1, 28, 28)).astype(np.float32)
    logits = net(x)
    assert logits.dtype == np.float32
    np.testing.assert_allclose(logits, reference(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


def test_docstring_examples_of_the_training_modules_run():
    import doctest
    import importlib
    attempted = 0
    for name in ("fastconv.nn", "fastconv.nn.module", "fastconv.nn.layers", "fastconv.nn.loss",
                 "fastconv.nn.extra", "fastconv.nn.torch_convert", "fastconv.nn.architecture",
                 "fastconv.optim", "fastconv.models", "fastconv.data.loader",
                 "fastconv.data.mnist"):
        result = doctest.testmod(importlib.import_module(name),
                                 optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0, name
        attempted += result.attempted
    assert attempted >= 60

"""fastconv.nn.from_torch and the layers torchvision's CNNs need (BatchNorm2d,
AdaptiveAvgPool2d, ReLU6, LeakyReLU, Residual): ResNet-18 logits against torch in float32 and
float64, a zoo of small modules, the error on an unsupported layer, and each new layer's
backward against central differences and torch's autograd."""
import numpy as np
import pytest

from fastconv import nn
from test_nn import check_layer_gradients

torch = pytest.importorskip("torch")
import torchvision_models as tv  # noqa: E402  (needs torch)

tnn = torch.nn


def max_relative_error(actual, expected):
    """max |actual - expected| over max |expected|: the figure the issue's targets use."""
    return float(np.abs(actual - expected).max() / np.abs(expected).max())


@pytest.fixture(scope="module")
def resnet18():
    torch.manual_seed(0)
    return tv.randomise_batch_norms(tv.resnet18()).eval()


def test_resnet18_logits_match_torch_in_float32(resnet18):
    net = nn.from_torch(resnet18)
    assert list(net.state_dict()) == list(resnet18.state_dict())   # torch's names, in order
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = resnet18(x).numpy()
    logits = net(x.numpy())
    assert logits.dtype == np.float32 and logits.shape == (2, 1000)
    assert max_relative_error(logits, expected) <= 1e-4


def test_resnet18_logits_match_torch_double_in_float64(resnet18):
    double = tv.randomise_batch_norms(tv.resnet18()).eval().double()
    double.load_state_dict(resnet18.state_dict())
    net = nn.from_torch(double, dtype=np.float64)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(2),
                    dtype=torch.float64)
    with torch.no_grad():
        expected = double(x).numpy()
    logits = net(x.numpy())
    assert logits.dtype == np.float64
    assert max_relative_error(logits, expected) <= 1e-10


def test_converted_weights_are_copies(resnet18):
    net = nn.from_torch(resnet18)
    before = net.state_dict()["conv1.weight"].copy()
    with torch.no_grad():
        resnet18.conv1.weight.add_(1.0)
    try:
        np.testing.assert_array_equal(net.state_dict()["conv1.weight"], before)
    finally:
        with torch.no_grad():
            resnet18.conv1.weight.sub_(1.0)


def _small_resnet_bottleneck():
    return tv.ResNet(tv.Bottleneck, [1, 1, 1, 1], num_classes=7, width=8)


class Chained(tnn.Sequential):
    """A Sequential subclass that keeps Sequential's forward: converts as a Sequential."""


ZOO = {
    "lenet-like sequential": lambda: tnn.Sequential(
        tnn.Conv2d(1, 4, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Conv2d(4, 8, 3),
        tnn.ReLU(), tnn.AvgPool2d(2, ceil_mode=True), tnn.Flatten(), tnn.Dropout(0.3),
        tnn.Linear(8 * 3 * 3, 10)),
    "batchnorm, relu6, leaky relu, adaptive pool": lambda: tnn.Sequential(
        tnn.Conv2d(1, 6, 3, stride=2, padding=1, bias=False), tnn.BatchNorm2d(6), tnn.ReLU6(),
        tnn.Conv2d(6, 6, 3, groups=3, dilation=2), tnn.BatchNorm2d(6, momentum=None),
        tnn.LeakyReLU(0.2), tnn.AdaptiveAvgPool2d((3, 2)), tnn.Flatten(), tnn.Linear(36, 5)),
    "named sequential subclass, identity, padding='same'": lambda: Chained(
        __import__("collections").OrderedDict(
            conv1=tnn.Conv2d(1, 3, 3, padding="same"), act=tnn.Identity(),
            pool=tnn.AdaptiveAvgPool2d(1), flat=tnn.Flatten(), fc1=tnn.Linear(3, 2))),
    "resnet with bottlenecks": _small_resnet_bottleneck,
    "mobilenetv2": lambda: tv.MobileNetV2(num_classes=6),
}


@pytest.mark.parametrize("name", list(ZOO))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zoo_of_small_modules_matches_torch(name, dtype):
    torch.manual_seed(3)
    module = tv.randomise_batch_norms(ZOO[name]()).eval()
    channels = 3 if name in ("resnet with bottlenecks", "mobilenetv2") else 1
    size = 32 if channels == 3 else 17 if "adaptive" in name else 16
    x = torch.randn(2, channels, size, size, generator=torch.Generator().manual_seed(4))
    if dtype == np.float64:
        module, x = module.double(), x.double()
    with torch.no_grad():
        expected = module(x).numpy()
    net = nn.from_torch(module, dtype=dtype)
    assert list(net.state_dict()) == list(module.state_dict())
    assert not net.training
    error = max_relative_error(net(x.numpy()), expected)
    assert error <= (1e-5 if dtype == np.float32 else 1e-12), error


def test_training_mode_is_kept_and_batchnorm_trains_as_torch():
    torch.manual_seed(5)
    module = tnn.Sequential(tnn.Conv2d(2, 3, 3), tnn.BatchNorm2d(3), tnn.ReLU()).double()
    net = nn.from_torch(module, dtype=np.float64)
    assert net.training and net[1].training
    x = torch.randn(4, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    y = module(x)
    r = torch.randn_like(y)
    (y * r).sum().backward()
    got = net(x.detach().numpy())
    np.testing.assert_allclose(got, y.detach().numpy(), rtol=1e-12, atol=1e-12)
    grad_x = net.backward(r.numpy())
    np.testing.assert_allclose(grad_x, x.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(net[1].weight.grad, module[1].weight.grad.numpy(), rtol=1e-10)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_allclose(net.state_dict()[f"1.{name}"],
                                   module.state_dict()[f"1.{name}"].numpy(), rtol=1e-12)


class SqueezeExcite(tnn.Module):
    def __init__(self):
        super().__init__()
        self.fc = tnn.Linear(4, 4)

    def forward(self, x):
        return x * torch.sigmoid(self.fc(x.mean((2, 3))))[:, :, None, None]


@pytest.mark.parametrize("module, culprit", [
    (tnn.Sequential(tnn.Conv2d(1, 4, 3), tnn.ReLU(), tnn.Sequential(tnn.Linear(2, 2),
                                                                    tnn.GELU())), "2.1 (GELU)"),
    (tnn.Sequential(tnn.Conv2d(1, 4, 3), SqueezeExcite(), tnn.Hardswish()),
     "1 (SqueezeExcite)"),
    (tnn.Sequential(tnn.Conv2d(1, 4, 3, padding=1, padding_mode="reflect")), "0 (Conv2d)"),
])
def test_an_unsupported_layer_is_named_with_what_is_supported(module, culprit):
    with pytest.raises(NotImplementedError) as info:
        nn.from_torch(module)
    message = str(info.value)
    assert message.startswith(f"from_torch: {culprit}")
    if "Conv2d" not in culprit:
        assert "Supported: " in message and "BatchNorm2d" in message and "ResNet" in message


def test_from_torch_refuses_what_is_not_a_module_or_an_unsupported_dtype():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        nn.from_torch(np.zeros(3))
    with pytest.raises(TypeError, match="float32 or float64"):
        nn.from_torch(tnn.ReLU(), dtype=np.float16)


def test_from_torch_keeps_the_modules_own_precision_by_default():
    model = tnn.Sequential(tnn.Conv2d(2, 3, 3), tnn.BatchNorm2d(3), tnn.ReLU(), tnn.Flatten(),
                           tnn.Linear(12, 4)).eval()
    x = torch.randn(2, 2, 4, 4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model.double()(x.double()).numpy()
    # (.float(), .double() and .half() convert the module in place)
    for convert, dtype, tolerance in ((tnn.Module.float, np.float32, 1e-5),
                                      (tnn.Module.double, np.float64, 1e-12),
                                      (tnn.Module.half, np.float32, 1e-2)):
        net = nn.from_torch(convert(model))
        assert all(p.data.dtype == dtype for p in net.parameters())
        got = net(x.numpy().astype(dtype))
        assert got.dtype == dtype
        np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)


# ---- the new layers: backward against central differences and torch ------------------------

@pytest.mark.parametrize("make, shape", [
    (lambda: nn.BatchNorm2d(3), (4, 3, 3, 2)),
    (lambda: nn.BatchNorm2d(3, affine=False), (2, 3, 2, 3)),
    (lambda: nn.BatchNorm2d(3).eval(), (2, 3, 2, 2)),
    (lambda: nn.AdaptiveAvgPool2d((2, 3)), (2, 2, 5, 7)),
    (lambda: nn.AdaptiveAvgPool2d(1), (2, 3, 4, 4)),
    (lambda: nn.AdaptiveAvgPool2d((None, 2)), (1, 2, 3, 4)),
    (lambda: nn.ReLU6(), (2, 3, 4, 4)),
    (lambda: nn.LeakyReLU(0.3), (2, 3, 4, 4)),
    (lambda: nn.Residual(nn.Conv2d(3, 3, 3, padding=1, rng=0, dtype=np.float64),
                         nn.BatchNorm2d(3, dtype=np.float64), activation="relu"), (2, 3, 4, 4)),
    (lambda: nn.Residual(nn.Conv2d(3, 4, 1, rng=0, dtype=np.float64),
                         shortcut=nn.Conv2d(3, 4, 1, bias=False, rng=1, dtype=np.float64)),
     (2, 3, 3, 3)),
], ids=["bn-train", "bn-no-affine", "bn-eval", "adaptive-2x3", "adaptive-global",
        "adaptive-none", "relu6", "leaky-relu", "residual-relu", "residual-shortcut"])
def test_new_layer_backward_matches_central_differences(make, shape):
    layer = make()
    for _, p in layer.named_parameters():
        p.data = p.data.astype(np.float64)
    rng = np.random.default_rng(6)
    x = rng.uniform(-3, 8, shape)       # ReLU6's corners: values on both sides of 0 and 6
    assert check_layer_gradients(layer, x, rng, rtol=1e-5, atol=1e-7) >= x.size


@pytest.mark.parametrize("ours, theirs, shape", [
    (lambda: nn.AdaptiveAvgPool2d((3, 4)), lambda: tnn.AdaptiveAvgPool2d((3, 4)), (2, 2, 7, 9)),
    (lambda: nn.ReLU6(), lambda: tnn.ReLU6(), (3, 8)),
    (lambda: nn.LeakyReLU(), lambda: tnn.LeakyReLU(), (3, 8)),
])
def test_new_layer_forward_and_backward_match_torch(ours, theirs, shape):
    x = np.random.default_rng(7).uniform(-2, 8, shape)
    x.reshape(-1)[:3] = [0.0, 6.0, -0.0]             # the points where the rules differ
    tx = torch.from_numpy(x.copy()).requires_grad_()
    ty = theirs()(tx)
    r = np.random.default_rng(8).standard_normal(ty.shape)
    (ty * torch.from_numpy(r)).sum().backward()
    layer = ours()
    np.testing.assert_allclose(layer(x), ty.detach().numpy(), rtol=1e-12, atol=0)
    np.testing.assert_allclose(layer.backward(r), tx.grad.numpy(), rtol=1e-12, atol=0)


def test_batchnorm_momentum_none_is_a_cumulative_average_and_errors_are_clear():
    bn = nn.BatchNorm2d(1, momentum=None, dtype=np.float64)
    for value in (1.0, 3.0):
        bn(np.full((2, 1, 1, 1), value) + np.array([-1.0, 1.0])[:, None, None, None])
    np.testing.assert_allclose(bn.running_mean, [2.0])
    assert int(bn.num_batches_tracked) == 2
    with pytest.raises(ValueError, match=r"BatchNorm2d: x must be \(N, 1, H, W\)"):
        bn(np.zeros((2, 3, 1, 1)))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(np.zeros((1, 1, 1, 1)))


def test_named_sequential_and_buffers_keep_torch_names_and_round_trip():
    from collections import OrderedDict
    net = nn.Sequential(OrderedDict(conv1=nn.Conv2d(1, 2, 3, rng=0), bn1=nn.BatchNorm2d(2)))
    assert list(net.state_dict()) == ["conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias",
                                      "bn1.running_mean", "bn1.running_var",
                                      "bn1.num_batches_tracked"]
    state = net.state_dict()
    state["bn1.running_mean"] = np.array([1.5, -2.0], np.float32)
    state["bn1.num_batches_tracked"] = np.array(9)
    net.load_state_dict(state)
    assert net.bn1.running_mean.tolist() == [1.5, -2.0] and int(net.bn1.num_batches_tracked) == 9
    state["bn1.running_var"] = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="bn1.running_var has shape"):
        net.load_state_dict(state)
    for bad in ("training", "forward", "a.b", ""):
        with pytest.raises(ValueError, match="cannot name a layer"):
            nn.Sequential(OrderedDict([(bad, nn.ReLU())]))
    with pytest.raises(ValueError, match="activation must be None or 'relu'"):
        nn.Residual(nn.ReLU(), activation="gelu")
    with pytest.raises(TypeError, match="shortcut must be a Module"):
        nn.Residual(nn.ReLU(), shortcut=np.zeros(2))


def test_resnet18_inference_benchmark_runs_and_checks_its_logits():
    """bench/resnet18_inference.py (the issue's ResNet-18 img/s figure), on small images."""
    import os
    import subprocess
    import sys
    from subprocess_env import TESTS_DIR, subprocess_env
    script = os.path.join(TESTS_DIR, "..", "bench", "resnet18_inference.py")
    res = subprocess.run([sys.executable, script, "--size", "32", "--batches", "1", "2",
                          "--repeats", "1", "--threads", "1"], env=subprocess_env(),
                         cwd=TESTS_DIR, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    rows = [line.split() for line in res.stdout.splitlines() if line.split()[:1] in (["1"],
                                                                                     ["2"])]
    assert [row[0] for row in rows] == ["1", "2"]
    assert all(float(row[-1]) <= 1e-4 for row in rows)   # logits vs torch


def test_resnet18_layers_benchmark_times_every_layer_against_its_twin():
    """bench/resnet18_layers.py (ResNet-18 layer by layer beside torch), on small images: a
    row per distinct layer call, each within float32 rounding of its torch twin (so the twin
    is the same layer), and the two totals."""
    import os
    import subprocess
    import sys
    from subprocess_env import TESTS_DIR, subprocess_env
    script = os.path.join(TESTS_DIR, "..", "bench", "resnet18_layers.py")
    res = subprocess.run([sys.executable, script, "--size", "32", "--repeats", "1",
                          "--threads", "1", "--cpu"], env=subprocess_env(),
                         cwd=TESTS_DIR, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    rows = [line for line in lines if line.startswith(("conv", "max_pool2d", "linear",
                                                       "adaptive_avg_pool2d"))]
    # the stem, maxpool, 3 distinct 3x3 calls per stage after the first's 2, 3 downsamples,
    # 3 strided 3x3, avgpool, linear
    assert len(rows) == 18, res.stdout
    assert sum(int(row[34:37]) for row in rows) == 23      # 20 convs, pool, avgpool, linear
    assert all(float(row.split()[-3 if row.startswith("conv") else -1]) <= 1e-5
               for row in rows), res.stdout
    assert any(line.startswith("sum of layers") for line in lines)
    assert any(line.startswith("whole model") for line in lines)

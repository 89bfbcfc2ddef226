"""Torch models in: .pt/.pth files read without torch and without running their code
(fastconv.models.read_torch_file, load_torch_state_dict with paths, key_map and order
matching), and models saved with their architecture and input normalisation."""
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from fastconv import models, nn

torch = pytest.importorskip("torch")
tnn = torch.nn


class NamedLeNet(tnn.Module):
    """LeNet-5 as torch users write it: named layers and a forward of their own."""

    def __init__(self):
        super().__init__()
        self.conv1 = tnn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = tnn.Conv2d(6, 16, 5)
        self.fc1 = tnn.Linear(400, 120)
        self.fc2 = tnn.Linear(120, 84)
        self.fc3 = tnn.Linear(84, 10)

    def forward(self, x):
        f = tnn.functional
        x = f.max_pool2d(f.relu(self.conv1(x)), 2)
        x = f.max_pool2d(f.relu(self.conv2(x)), 2).flatten(1)
        return self.fc3(f.relu(self.fc2(f.relu(self.fc1(x)))))


def _bn_net():
    torch.manual_seed(0)
    net = tnn.Sequential(tnn.Conv2d(1, 3, 3), tnn.BatchNorm2d(3), tnn.ReLU(), tnn.Flatten(),
                         tnn.Linear(3 * 6 * 6, 4))
    net(torch.randn(4, 1, 8, 8))                 # training: running stats move off 0 and 1
    return net.eval()


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_a_pt_file_reads_back_exactly_in_a_process_where_torch_cannot_import(tmp_path,
                                                                               zip_format):
    module = _bn_net()
    state = module.state_dict()
    state["strided"] = torch.arange(12, dtype=torch.float64).reshape(3, 4).t()  # a view
    state["half"] = torch.linspace(-2, 2, 5).half()
    state["bf16"] = torch.linspace(-2, 2, 5).bfloat16()
    path = tmp_path / "model.pt"
    torch.save({"state_dict": state, "epoch": 3}, path,
               _use_new_zipfile_serialization=zip_format)
    expected = {name: (t.float() if t.dtype == torch.bfloat16 else t).numpy()
                for name, t in state.items()}
    np.savez(tmp_path / "expected.npz", **expected)
    script = f"""
import sys
sys.modules["torch"] = None                       # import torch now raises ImportError
import numpy as np
from fastconv import models
try:
    import torch
except ImportError:
    pass
else:
    raise SystemExit("torch imported")
read = models.read_torch_file({str(path)!r})
assert read["epoch"] == 3, read["epoch"]
with np.load({str(tmp_path / "expected.npz")!r}) as expected:
    assert sorted(read["state_dict"]) == sorted(expected.files)
    for name in expected.files:
        got, want = read["state_dict"][name], expected[name]
        assert got.dtype == want.dtype and got.shape == want.shape, name
        assert np.array_equal(got, want), name
assert "torch" not in [m for m in sys.modules if sys.modules[m] is not None]
print("ok", len(read["state_dict"]))
"""
    from subprocess_env import subprocess_env
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=subprocess_env(), cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok", str(len(state))]


class Malicious:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_pt_file_with_a_malicious_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"weight": torch.zeros(2), "payload": Malicious(marker)}, path)
    with zipfile.ZipFile(path) as archive:                  # the file does hold the call
        pickled = archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl")))
    assert b"system" in pickled
    with pytest.raises(Exception, match=r"refused to load (posix|os)\.system"):
        models.read_torch_file(path)
    with pytest.raises(ValueError, match=r"refused to load (posix|os)\.system"):
        models.load_torch_state_dict(models.lenet5(), path)
    assert not marker.exists()
    torch.save(tnn.ReLU(), tmp_path / "whole.pt")           # a whole model: code, not weights
    with pytest.raises(Exception, match="refused to load torch.nn.*state_dict"):
        models.read_torch_file(tmp_path / "whole.pt")


def test_a_forged_tensor_cannot_read_outside_its_storage(tmp_path):
    path = tmp_path / "forged.pt"
    torch.save({"w": torch.zeros(4)}, path)
    with zipfile.ZipFile(path) as archive:
        entries = {n: archive.read(n) for n in archive.namelist()}
    name = next(n for n in entries if n.endswith("data.pkl"))
    assert entries[name].count(b"K\x04\x85") == 1           # the size (4,), pickled
    entries[name] = entries[name].replace(b"K\x04\x85", b"M\x00\x10\x85")    # -> (4096,)
    with zipfile.ZipFile(path, "w") as archive:
        for n, raw in entries.items():
            archive.writestr(n, raw)
    with pytest.raises(Exception, match="reaches beyond its storage"):
        models.read_torch_file(path)


def test_not_a_torch_file_is_a_clear_error(tmp_path):
    (tmp_path / "x.pt").write_bytes(b"hello, not a pickle")
    with pytest.raises(ValueError, match="not a file torch.save wrote"):
        models.read_torch_file(tmp_path / "x.pt")
    np.save(tmp_path / "y.npy", np.zeros(2))
    with pytest.raises(ValueError, match="not a file torch.save wrote"):
        models.read_torch_file(tmp_path / "y.npy")


def test_load_torch_state_dict_reads_paths_and_maps_named_layers_by_order(tmp_path):
    torch.manual_seed(1)
    named = NamedLeNet().eval()
    torch.save(named.state_dict(), tmp_path / "lenet.pth")
    net = models.load_torch_state_dict(models.lenet5(), tmp_path / "lenet.pth")
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        expected = named(x).numpy()
    np.testing.assert_allclose(net(x.numpy()), expected, rtol=1e-5, atol=1e-6)
    # a str path and the dict itself load the same
    again = models.load_torch_state_dict(models.lenet5(), str(tmp_path / "lenet.pth"))
    assert all(np.array_equal(a, b) for a, b in zip(net.state_dict().values(),
                                                    again.state_dict().values()))


def test_key_map_renames_prefixes_and_a_mismatch_says_to_use_it():
    torch.manual_seed(2)
    named = NamedLeNet()
    state = named.state_dict()
    del state["fc3.bias"]                          # order matching cannot apply now
    with pytest.raises(KeyError, match="key_map"):
        models.load_torch_state_dict(models.lenet5(), state)
    key_map = {"conv1": "0", "conv2": "3", "fc1": "7", "fc2": "9", "fc3": "11"}
    net = models.load_torch_state_dict(models.lenet5(), state, key_map=key_map, strict=False)
    np.testing.assert_array_equal(net.state_dict()["7.weight"], state["fc1.weight"].numpy())
    renamed = models.load_torch_state_dict(
        models.lenet5(), named.state_dict(),
        key_map=lambda k: k.replace("conv1", "0").replace("conv2", "3").replace(
            "fc1", "7").replace("fc2", "9").replace("fc3", "11"))
    np.testing.assert_array_equal(renamed.state_dict()["11.bias"],
                                  named.state_dict()["fc3.bias"].numpy())
    with pytest.raises(TypeError, match="state dict or the path"):
        models.load_torch_state_dict(models.lenet5(), 42)


def test_a_converted_resnet_loads_a_pt_file_with_batchnorm_buffers(tmp_path):
    import torchvision_models as tv
    torch.manual_seed(3)
    source = tv.randomise_batch_norms(tv.ResNet(tv.BasicBlock, [1, 1, 1, 1], 5, width=8))
    torch.save(source.state_dict(), tmp_path / "r.pt")
    net = nn.from_torch(tv.ResNet(tv.BasicBlock, [1, 1, 1, 1], 5, width=8)).eval()
    models.load_torch_state_dict(net, tmp_path / "r.pt")
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = source.eval()(x).numpy()
    np.testing.assert_allclose(net(x.numpy()), expected, rtol=1e-4, atol=1e-5)


# ---- models.save / load: the architecture and the input description travel with the weights

def test_a_saved_model_loads_without_code_and_keeps_its_input_description(tmp_path):
    import torchvision_models as tv
    torch.manual_seed(4)
    module = tv.randomise_batch_norms(tv.MobileNetV2(num_classes=3)).eval()
    net = nn.from_torch(module)
    path = tmp_path / "m.npz"
    models.save(net, path, mean=[0.5, 0.4, 0.3], std=[0.2, 0.2, 0.2], input_shape=(3, 32, 32),
                classes=["cat", "dog", "fox"])
    loaded = models.load(path).eval()
    assert loaded.meta == {"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.2, 0.2],
                           "input_shape": [3, 32, 32], "classes": ["cat", "dog", "fox"]}
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    np.testing.assert_array_equal(loaded(x), net(x))
    models.save(loaded, tmp_path / "again.npz")            # meta is kept on a second save
    assert models.read_model_info(tmp_path / "again.npz")["meta"] == loaded.meta
    info = models.read_model_info(path)
    assert info["architecture"]["layers"][0][0] == "features"


def test_old_weights_only_files_still_load_into_a_given_model(tmp_path):
    net = models.lenet5(seed=0)
    np.savez(tmp_path / "old.npz", **net.state_dict())     # what save wrote before
    again = models.load(models.lenet5(seed=1), tmp_path / "old.npz")
    assert all(np.array_equal(a, b) for a, b in zip(net.state_dict().values(),
                                                    again.state_dict().values()))
    assert again.meta == {}
    with pytest.raises(ValueError, match="weights only.*load\\(model, path\\)"):
        models.load(tmp_path / "old.npz")


def test_save_checks_the_input_description(tmp_path):
    net = models.lenet5(seed=0)
    for kwargs, match in [(dict(std=0.0), "std must be"), (dict(input_shape=(28, 28)),
                                                          "input_shape must be"),
                          (dict(mean=[0.1, 0.2], input_shape=(1, 28, 28)), "2 values for 1"),
                          (dict(classes=[1, 2]), "classes must be")]:
        with pytest.raises(ValueError, match=match):
            models.save(net, tmp_path / "x.npz", **kwargs)
    assert not (tmp_path / "x.npz").exists()

    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2, rng=0)

        def forward(self, x):
            return self.fc(x)
    models.save(Custom(), tmp_path / "c.npz")             # weights only: still saves
    assert json.loads(json.dumps(models.read_model_info(tmp_path / "c.npz")))[
        "architecture"] is None
    with pytest.raises(ValueError, match="layers outside fastconv.nn"):
        models.load(tmp_path / "c.npz")


def _payloads(marker):
    command = f"touch {marker}".encode()
    text = b"__import__('os').system('" + command + b"')"
    return {
        "builtins.eval": b"\x80\x02cbuiltins\neval\nX" + len(text).to_bytes(4, "little")
                         + text + b"\x85R.",
        "os.system by STACK_GLOBAL": b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c"
                                     + bytes([len(command)]) + command + b"\x85R.",
        "a dotted attribute of an allowed class": b"\x80\x04\x8c\x0bcollections\x8c\x14"
                                                  b"OrderedDict.fromkeys\x93]\x85R.",
    }


@pytest.mark.parametrize("kind", list(_payloads("m")))
def test_hand_made_malicious_pickles_are_refused(tmp_path, kind):
    marker = tmp_path / "pwned"
    payload = _payloads(marker)[kind]
    assert pickle_runs(payload, kind, marker)              # the payload is live: plain pickle
    marker.unlink(missing_ok=True)
    with zipfile.ZipFile(tmp_path / "evil.pt", "w") as archive:
        archive.writestr("archive/data.pkl", payload)
    with pytest.raises(Exception, match="refused to load"):
        models.read_torch_file(tmp_path / "evil.pt")
    assert not marker.exists()


def pickle_runs(payload, kind, marker):
    """Whether the standard unpickler accepts the payload (and, for the commands, runs it)."""
    import pickle
    pickle.loads(payload)
    return marker.exists() or kind.startswith("a dotted")

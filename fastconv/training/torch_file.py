"""Read the tensors of a ``torch.save`` file without torch, and without running its code.

A ``.pt``/``.pth`` file written by ``torch.save`` (torch >= 1.6, the default format) is a zip
archive: ``<name>/data.pkl`` pickles the object, with each tensor as a call of
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`` and each storage as a
persistent id ``("storage", torch.FloatStorage, key, location, numel)`` whose bytes are the
entry ``<name>/data/<key>``, in the byte order ``<name>/byteorder`` states (little when
absent).  The legacy format (``_use_new_zipfile_serialization=False``) is a sequence of
pickles followed by the raw storages; it is read too.

A pickle can call any importable function, so unpickling an untrusted file can run code.  As
torch's ``weights_only=True`` does, the unpickler here resolves only the names needed to
rebuild tensors and containers (``ALLOWED``); anything else (``os.system``, a model class)
is refused before it is called.  Storages are checked against the sizes and strides of the
tensors viewing them, so a forged file cannot read outside its own bytes.
"""
import io
import os
import pickle
import struct
import zipfile
from collections import OrderedDict

import numpy as np

__all__ = ["read_torch_file", "STORAGE_DTYPES"]

# torch storage class -> numpy dtype ("bfloat16" has none: its values widen to float32).
STORAGE_DTYPES = {
    "FloatStorage": "f4", "DoubleStorage": "f8", "HalfStorage": "f2", "BFloat16Storage": "bf16",
    "LongStorage": "i8", "IntStorage": "i4", "ShortStorage": "i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "?", "ComplexFloatStorage": "c8",
    "ComplexDoubleStorage": "c16", "UntypedStorage": "u1",
}

_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c


class _StorageType:
    """What ``torch.FloatStorage`` & co. unpickle to here: just the element type."""

    def __init__(self, name):
        self.name = name
        self.code = STORAGE_DTYPES[name]
        self.itemsize = 2 if self.code == "bf16" else np.dtype(self.code).itemsize

    def array(self, raw, byteorder):
        """The storage's bytes as a 1-D array (bfloat16 widened to float32 exactly)."""
        order = "<" if byteorder == "little" else ">"
        if len(raw) % self.itemsize:
            raise ValueError(f"torch file: a {self.name} of {len(raw)} bytes is not a whole "
                             f"number of {self.itemsize}-byte elements")
        if self.code == "bf16":      # bfloat16 is the top half of a float32
            return (np.frombuffer(raw, order + "u2").astype(np.uint32) << 16).view(np.float32)
        return np.frombuffer(raw, np.dtype(self.code).newbyteorder(order))


def _rebuild_tensor(storage, offset, size, stride, *unused):
    """torch._utils._rebuild_tensor_v2: a tensor as a (strided) view of a storage; here a
    native-order, C-contiguous copy, after checking the view stays inside the storage."""
    if not isinstance(storage, np.ndarray) or not isinstance(offset, int) or \
            not all(isinstance(v, int) and v >= 0 for v in (*size, *stride)) or \
            len(size) != len(stride) or offset < 0:
        raise pickle.UnpicklingError("torch file: malformed tensor record")
    if 0 in size:
        return np.zeros(size, storage.dtype.newbyteorder("="))
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= storage.size:
        raise pickle.UnpicklingError(f"torch file: a tensor of size {tuple(size)} and stride "
                                     f"{tuple(stride)} at offset {offset} reaches beyond its "
                                     f"storage of {storage.size} elements")
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                           strides=[s * storage.itemsize for s in stride],
                                           writeable=False)
    return np.array(view, dtype=storage.dtype.newbyteorder("="), order="C")  # 0-d stays 0-d


def _rebuild_parameter(data, requires_grad, backward_hooks, *unused):
    return data


# (module, name) -> what it unpickles to (a storage type: a new _StorageType each time, so
# a pickle's BUILD opcode cannot change one that later files use).  Nothing else resolves.
ALLOWED = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType for name in STORAGE_DTYPES},
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only ``ALLOWED`` names; storages come from ``load_storage(type, key, numel)``
    (None: the pickle may hold none) and tensors from ``rebuild``."""

    def __init__(self, file, load_storage=None, rebuild=_rebuild_tensor):
        super().__init__(file)
        self._load_storage, self._rebuild = load_storage, rebuild

    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return self._rebuild
        found = ALLOWED.get((module, name))
        if found is _StorageType:
            return _StorageType(name)
        if found is None:
            raise pickle.UnpicklingError(
                f"torch file: refused to load {module}.{name}: only tensors, dicts and lists "
                f"are read (like torch.load(weights_only=True)); a file that needs "
                f"{module}.{name} holds code, not just weights.  If it is a whole model "
                f"saved by torch.save(model), save model.state_dict() instead")
        return found

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and
                isinstance(pid[1], _StorageType) and isinstance(pid[2], str) and
                self._load_storage is not None):
            raise pickle.UnpicklingError(f"torch file: unknown persistent id {pid!r:.80}")
        return self._load_storage(pid[1], pid[2], pid[4])


def _read_zip(archive, path):
    names = archive.namelist()
    pickles = [name for name in names if name.endswith("/data.pkl") and name.count("/") == 1]
    if len(pickles) != 1:
        raise ValueError(f"{path}: a zip file but not torch.save's format (no single "
                         f"<name>/data.pkl entry)")
    prefix = pickles[0][:-len("data.pkl")]
    byteorder = "little"
    if prefix + "byteorder" in names:
        byteorder = archive.read(prefix + "byteorder").decode("ascii").strip()
        if byteorder not in ("little", "big"):
            raise ValueError(f"{path}: unknown byte order {byteorder!r}")
    storages = {}

    def load_storage(kind, key, numel):
        if key not in storages:
            entry = prefix + "data/" + key
            if entry not in names:
                raise pickle.UnpicklingError(f"torch file: storage {key!r} is missing")
            storages[key] = kind.array(archive.read(entry), byteorder)
        return storages[key]

    return _RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])), load_storage).load()


class _LazyTensor:
    """A tensor of a legacy file, whose storage bytes come after the pickle that names it."""

    def __init__(self, storage, args):
        self.storage, self.args = storage, args


def _read_legacy(f, path):
    """torch's pre-1.6 format: pickles of the magic number, the protocol version and the
    system info; the object, storages as persistent ids; the list of storage keys; then per
    key an int64 element count and the elements, little-endian."""
    def load():
        return _RestrictedUnpickler(f).load()

    try:
        magic = load()
    except Exception:
        magic = None
    if magic != _LEGACY_MAGIC:
        raise ValueError(f"{path}: not a file torch.save wrote (neither a zip archive nor the "
                         f"legacy format)")
    load(), load()                                       # protocol version, system info
    pending = {}

    def defer(kind, key, numel):
        pending.setdefault(key, (kind, []))
        return pending[key]

    def rebuild_later(storage, *args):
        if not (isinstance(storage, tuple) and len(storage) == 2):
            raise pickle.UnpicklingError("torch file: malformed tensor record")
        lazy = _LazyTensor(storage, args)
        storage[1].append(lazy)
        return lazy

    result = _RestrictedUnpickler(f, defer, rebuild_later).load()
    keys = load()
    if not isinstance(keys, list) or set(keys) != set(pending):
        raise ValueError(f"{path}: the storage list does not match the tensors")
    for key in keys:
        kind, tensors = pending[key]
        (numel,) = struct.unpack("<q", f.read(8))
        raw = f.read(numel * kind.itemsize)
        if numel < 0 or len(raw) != numel * kind.itemsize:
            raise ValueError(f"{path}: truncated (storage {key!r})")
        storage = kind.array(raw, "little")
        for lazy in tensors:
            lazy.value = _rebuild_tensor(storage, *lazy.args)

    def resolve(obj):
        if isinstance(obj, _LazyTensor):
            return obj.value
        if isinstance(obj, dict):
            for k in obj:
                obj[k] = resolve(obj[k])
        elif isinstance(obj, list):
            obj[:] = [resolve(v) for v in obj]
        elif isinstance(obj, tuple):
            return tuple(resolve(v) for v in obj)
        return obj
    return resolve(result)


def read_torch_file(path):
    """The object a ``torch.save`` file holds, with tensors as numpy arrays; no torch needed.

    Only tensors, dicts, lists, tuples, numbers and strings are rebuilt; any other object in
    the file (a class, a function such as ``os.system``) raises ``pickle.UnpicklingError``
    before it is called.  bfloat16 tensors become float32 (exactly).

    Example
    -------
    >>> import tempfile, os, torch                                     # doctest: +SKIP
    >>> path = os.path.join(tempfile.mkdtemp(), "w.pt")                # doctest: +SKIP
    >>> torch.save({"w": torch.arange(3.0)}, path)                     # doctest: +SKIP
    >>> read_torch_file(path)                                          # doctest: +SKIP
    {'w': array([0., 1., 2.], dtype=float32)}
    """
    path = os.fspath(path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return _read_zip(archive, path)
    with open(path, "rb") as f:
        return _read_legacy(f, path)

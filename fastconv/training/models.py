"""Ready-made networks, saving and loading them (.npz with their architecture and input
normalisation), and PyTorch state-dict interop (dicts and .pt/.pth files, torch optional).

Parameter names are those of the same ``torch.nn.Sequential`` ("0.weight", "0.bias",
"3.weight", ...), so a PyTorch state dict maps one to one onto ours and back.
"""
import json
import os
import pickle

import numpy as np

from . import nn
from .torch_file import read_torch_file

__all__ = ["lenet5", "resnet8", "torch_lenet5", "save", "load", "load_torch_state_dict",
           "to_torch_state_dict", "read_torch_file", "read_model_info", "MODEL_KEY"]

# The .npz entry holding the JSON description (architecture, input normalisation); a name no
# parameter can have, since parameter names never start with "_".
MODEL_KEY = "__fastconv_model__"


def lenet5(num_classes=10, *, seed=None, pool_first=True, dtype=np.float32):
    """LeNet-5 for 1x28x28 images (MNIST), with ReLU and max pooling:

    conv 1->6 5x5 pad 2, ReLU, max pool 2; conv 6->16 5x5, ReLU, max pool 2; flatten;
    linear 400->120, ReLU; 120->84, ReLU; 84->num_classes.

    The layer order, hence the parameter names, is that of the same torch.nn.Sequential.
    ``seed`` seeds the initialisation (PyTorch's default init).

    ``pool_first`` (the default) swaps each ReLU with the max pool after it.  ReLU is
    monotone, so max(relu(window)) == relu(max(window)): the outputs are bitwise the same, and
    so are the gradients (where the two orders pick different window elements, the ReLU makes
    the gradient zero in both).  ReLU and its backward then run on a quarter of the values
    (~10% of a training step).  ``pool_first=False`` gives the textbook order.  The parameter
    names do not change (only parameterless layers move).

    Example
    -------
    >>> import numpy as np
    >>> from fastconv import models
    >>> net = models.lenet5(seed=0)
    >>> net(np.zeros((2, 1, 28, 28), np.float32)).shape
    (2, 10)
    >>> list(net.state_dict())[:4]
    ['0.weight', '0.bias', '3.weight', '3.bias']
    """
    rng = np.random.default_rng(seed)

    def relu_pool():
        return (nn.MaxPool2d(2), nn.ReLU()) if pool_first else (nn.ReLU(), nn.MaxPool2d(2))
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2, rng=rng, dtype=dtype), *relu_pool(),
        nn.Conv2d(6, 16, 5, rng=rng, dtype=dtype), *relu_pool(),
        nn.Flatten(),
        nn.Linear(400, 120, rng=rng, dtype=dtype), nn.ReLU(),
        nn.Linear(120, 84, rng=rng, dtype=dtype), nn.ReLU(),
        nn.Linear(84, num_classes, rng=rng, dtype=dtype))


def _basic_block(cin, cout, stride, rng, dtype):
    """torchvision's BasicBlock: conv3x3 (stride) BN ReLU conv3x3 BN, plus the input (through
    a strided 1x1 conv and BN where the shape changes), then ReLU."""
    def conv(a, b, k, s):
        return nn.Conv2d(a, b, k, stride=s, padding=k // 2, bias=False, rng=rng, dtype=dtype)
    shortcut = None
    if stride != 1 or cin != cout:
        shortcut = nn.Sequential(conv(cin, cout, 1, stride), nn.BatchNorm2d(cout, dtype=dtype))
    return nn.Residual({"conv1": conv(cin, cout, 3, stride),
                        "bn1": nn.BatchNorm2d(cout, dtype=dtype), "relu": nn.ReLU(),
                        "conv2": conv(cout, cout, 3, 1),
                        "bn2": nn.BatchNorm2d(cout, dtype=dtype)},
                       shortcut=shortcut, activation="relu")


def resnet8(num_classes=10, *, in_channels=1, width=16, pool=True, seed=None, dtype=np.float32):
    """A small ResNet with batch normalisation for 28x28 images (Fashion-MNIST):

    conv3x3 in_channels->width, BN, ReLU, and (``pool``) a 2x2 max pool; three stages of one
    BasicBlock each, of width, 2 width and 4 width channels at strides 1, 2, 2 (14x14, 7x7,
    4x4 after the pool); global average pooling; linear 4 width->num_classes.  Eight weight
    layers on the main path, hence the name.  The defaults (~2.6 M multiply-adds an image)
    are what ``fastconv train --model resnet8`` trains (README: its measured accuracy and
    time).  The pool puts the stages at a quarter of the pixels, so width 16 costs about
    what width 8 at full resolution does (the same images/s, measured on the loaded test
    machine).

    Example
    -------
    >>> import numpy as np
    >>> from fastconv import models
    >>> net = models.resnet8(seed=0)
    >>> net(np.zeros((2, 1, 28, 28), np.float32)).shape
    (2, 10)
    """
    rng = np.random.default_rng(seed)
    return nn.Sequential(
        nn.Conv2d(in_channels, width, 3, padding=1, bias=False, rng=rng, dtype=dtype),
        nn.BatchNorm2d(width, dtype=dtype), nn.ReLU(), *([nn.MaxPool2d(2)] if pool else []),
        _basic_block(width, width, 1, rng, dtype),
        _basic_block(width, 2 * width, 2, rng, dtype),
        _basic_block(2 * width, 4 * width, 2, rng, dtype),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(4 * width, num_classes, rng=rng, dtype=dtype))


def torch_lenet5():
    """The same LeNet-5 as a torch.nn.Sequential (needs torch; for comparisons and interop).

    Example
    -------
    >>> from fastconv import models
    >>> net = models.torch_lenet5()                    # doctest: +SKIP
    >>> list(net.state_dict()) == list(models.lenet5().state_dict())   # doctest: +SKIP
    True
    """
    import torch
    t = torch.nn
    return t.Sequential(t.Conv2d(1, 6, 5, padding=2), t.ReLU(), t.MaxPool2d(2),
                        t.Conv2d(6, 16, 5), t.ReLU(), t.MaxPool2d(2), t.Flatten(),
                        t.Linear(400, 120), t.ReLU(), t.Linear(120, 84), t.ReLU(),
                        t.Linear(84, 10))


def _check_meta(meta):
    """The input description ``save`` stores, checked so that ``predict`` can trust it."""
    out = {}
    for key in ("mean", "std"):
        value = meta.get(key)
        if value is not None:
            values = np.atleast_1d(np.asarray(value, np.float64))
            if values.ndim != 1 or not np.isfinite(values).all() or \
                    (key == "std" and (values <= 0).any()):
                raise ValueError(f"save: {key} must be a finite number or one per channel"
                                 f"{' (positive)' if key == 'std' else ''}, got {value!r}")
            out[key] = values.tolist()
    shape = meta.get("input_shape")
    if shape is not None:
        if len(shape) != 3 or not all(isinstance(v, (int, np.integer)) and v > 0
                                      for v in shape):
            raise ValueError(f"save: input_shape must be (channels, height, width), got "
                             f"{shape!r}")
        out["input_shape"] = [int(v) for v in shape]
        for key in ("mean", "std"):
            if key in out and len(out[key]) not in (1, shape[0]):
                raise ValueError(f"save: {key} has {len(out[key])} values for "
                                 f"{shape[0]} channels")
    classes = meta.get("classes")
    if classes is not None:
        if not all(isinstance(c, str) for c in classes):
            raise ValueError("save: classes must be a list of names (str)")
        out["classes"] = list(classes)
    return out


def save(model, path, *, mean=None, std=None, input_shape=None, classes=None):
    """Write the model to ``path`` (.npz, uncompressed): its parameters and buffers keyed by
    name, and under ``MODEL_KEY`` a JSON text with its architecture (``nn.describe``; null
    for a model with layers of its own, which then loads only into a model built by code)
    and how its input is prepared.

    ``mean`` and ``std`` (one number, or one per channel) normalise pixels scaled to [0, 1]:
    ``(x / 255 - mean) / std`` for 8-bit images; ``input_shape`` is (channels, height,
    width); ``classes`` names the outputs.  Each defaults to the model's ``meta`` (what
    ``load`` read), so a loaded model saves again unchanged.

    Example
    -------
    >>> import os, tempfile, numpy as np
    >>> from fastconv import models
    >>> net = models.lenet5(seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "lenet5.npz")
    >>> models.save(net, path, mean=0.1307, std=0.3081, input_shape=(1, 28, 28))
    >>> again = models.load(path)                        # no code: the file has the layers
    >>> again.meta["input_shape"], len(again.state_dict())
    ([1, 28, 28], 10)
    >>> all(np.array_equal(a, b) for a, b in zip(net.state_dict().values(),
    ...                                          again.state_dict().values()))
    True
    """
    path = os.fspath(path)
    if not path.endswith(".npz"):
        raise ValueError(f"save: path must end with .npz, got {path!r}")
    meta = dict(getattr(model, "meta", None) or {})
    meta.update({k: v for k, v in dict(mean=mean, std=std, input_shape=input_shape,
                                       classes=classes).items() if v is not None})
    meta = _check_meta(meta)
    try:
        architecture = nn.describe(model)
    except TypeError:
        architecture = None
    text = json.dumps({"format": "fastconv-model", "version": 1,
                       "architecture": architecture, "meta": meta})
    tmp = path[:-4] + ".tmp.npz"
    np.savez(tmp, **model.state_dict(), **{MODEL_KEY: np.array(text)})
    os.replace(tmp, path)          # a Ctrl-C mid-write never leaves a truncated model


def _open_npz(path, what):
    archive = np.load(path, allow_pickle=False)
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{what}: {path} is a single array, not a .npz model file")
    return archive


def read_model_info(path):
    """The JSON description ``save`` stored in ``path`` (a dict with "architecture" and
    "meta"), or None for a file of weights only (as older versions of fastconv saved)."""
    with _open_npz(os.fspath(path), "read_model_info") as archive:
        if MODEL_KEY not in archive.files:
            return None
        return json.loads(str(archive[MODEL_KEY][()]))


def load(model, path=None, strict=True):
    """Load a model saved by ``save``: ``load(path)`` rebuilds it from the architecture the
    file holds; ``load(model, path)`` loads the weights into ``model`` (strict key and shape
    checks; also files of weights only, as older versions wrote).  The model's ``meta`` is
    the input description saved with it ({} when none).  Returns the model, in training
    mode as a new one is (call ``.eval()`` to predict).
    """
    if path is None:
        model, path = None, model
    path = os.fspath(path)
    with _open_npz(path, "load") as archive:
        state = {name: archive[name] for name in archive.files if name != MODEL_KEY}
        info = json.loads(str(archive[MODEL_KEY][()])) if MODEL_KEY in archive.files else None
    if model is None:
        if info is None or info.get("architecture") is None:
            why = ("saved by an older fastconv" if info is None
                   else "its model has layers outside fastconv.nn")
            raise ValueError(f"load: {path} holds weights only ({why}): build the model in "
                             f"code and call load(model, path)")
        model = nn.build(info["architecture"])
    model.load_state_dict(state, strict=strict)
    model.meta = dict(info.get("meta", {})) if info else {}
    return model


def _apply_key_map(arrays, key_map):
    """Rename torch's keys: ``key_map`` is a callable (name -> new name, or None to drop) or
    a dict of whole keys or module prefixes ({"conv1": "0"} renames conv1.weight to 0.weight;
    the longest prefix wins; a None value drops)."""
    out = {}
    for name, value in arrays.items():
        if callable(key_map):
            new = key_map(name)
        elif name in key_map:
            new = key_map[name]
        else:
            new = name
            prefixes = [p for p in key_map if name.startswith(p + ".")]
            if prefixes:
                prefix = max(prefixes, key=len)
                new = None if key_map[prefix] is None else key_map[prefix] + name[len(prefix):]
        if new is not None:
            if new in out:
                raise KeyError(f"load_torch_state_dict: key_map sends two keys to {new!r}")
            out[new] = value
    return out


def _state_of(obj, where):
    """The state dict inside what a .pt file holds: the dict itself, or a checkpoint's
    "state_dict" / "model_state_dict" / "model" entry."""
    if isinstance(obj, dict) and obj and all(isinstance(v, np.ndarray) for v in obj.values()):
        return obj
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(obj.get(key), dict):
                return _state_of(obj[key], where)
    raise ValueError(f"load_torch_state_dict: {where} holds no state dict (a dict of "
                     f"tensors, or a checkpoint with 'state_dict' / 'model_state_dict' / "
                     f"'model'); found {type(obj).__name__}"
                     + (f" with keys {list(obj)[:8]}" if isinstance(obj, dict) else ""))


def load_torch_state_dict(model, path_or_dict, key_map=None, strict=True):
    """Load a PyTorch state dict of the same architecture into ``model``; returns the model.

    ``path_or_dict`` is ``torch_module.state_dict()`` (tensors are converted with
    ``.detach().cpu().numpy()``; arrays are taken as they are) or the path of a ``.pt`` /
    ``.pth`` file written by ``torch.save`` -- read by :func:`read_torch_file`, without torch
    and without running code from the file.  A checkpoint dict's "state_dict" (or
    "model_state_dict", "model") entry is used.

    Names: ``key_map`` renames torch's keys first (see ``_apply_key_map``: a dict of keys or
    module prefixes such as ``{"conv1": "0", "fc1": "7"}``, or a function).  Then, if the
    names still differ from the model's but there are as many entries and their shapes agree
    one by one in order, they are matched by order: a torch model with named layers
    (``conv1``, ``fc1``) whose layers were defined in the order they run loads into the same
    Sequential.  ``strict``: every model entry must be loaded and no extra key may remain.
    """
    if isinstance(path_or_dict, (str, os.PathLike)):
        where = os.fspath(path_or_dict)
        try:
            state = _state_of(read_torch_file(where), where)
        except pickle.UnpicklingError as exc:
            raise ValueError(f"load_torch_state_dict: {where}: {exc}") from None
    elif isinstance(path_or_dict, dict):
        state = path_or_dict
    else:
        raise TypeError(f"load_torch_state_dict: expected a state dict or the path of a .pt "
                        f"file, got {type(path_or_dict).__name__}")
    arrays = {}
    for name, value in state.items():
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        arrays[name] = np.asarray(value)
    if key_map is not None:
        arrays = _apply_key_map(arrays, key_map)
    ours = model.state_dict()
    if set(arrays) != set(ours) and len(arrays) == len(ours) and all(
            np.shape(a) == b.shape for a, b in zip(arrays.values(), ours.values())):
        arrays = dict(zip(ours, arrays.values()))
    try:
        return model.load_state_dict(arrays, strict=strict)
    except KeyError as exc:
        raise KeyError(f"{exc.args[0]}; the names differ and matching by order failed (not "
                       f"as many entries, or shapes differ): rename with key_map, e.g. "
                       f"{{'conv1': '0'}}") from None


def to_torch_state_dict(model):
    """The model's parameters as a dict of C-contiguous numpy arrays under PyTorch's names:
    ``torch_module.load_state_dict({k: torch.from_numpy(v) for k, v in d.items()})``."""
    return {name: np.ascontiguousarray(value) for name, value in model.state_dict().items()}

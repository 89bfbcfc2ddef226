"""Ready-made networks, saving and loading them (.npz), and PyTorch state-dict interop.

Parameter names are those of the same ``torch.nn.Sequential`` ("0.weight", "0.bias",
"3.weight", ...), so a PyTorch state dict maps one to one onto ours and back.
"""
import os

import numpy as np

from . import nn

__all__ = ["lenet5", "torch_lenet5", "save", "load", "load_torch_state_dict",
           "to_torch_state_dict"]


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


def save(model, path):
    """Write the model's parameters to ``path`` (.npz, uncompressed), keyed by name.

    Example
    -------
    >>> import os, tempfile, numpy as np
    >>> from fastconv import models
    >>> net = models.lenet5(seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "lenet5.npz")
    >>> models.save(net, path)
    >>> again = models.load(models.lenet5(seed=1), path)
    >>> all(np.array_equal(a, b) for a, b in zip(net.state_dict().values(),
    ...                                          again.state_dict().values()))
    True
    """
    path = os.fspath(path)
    if not path.endswith(".npz"):
        raise ValueError(f"save: path must end with .npz, got {path!r}")
    tmp = path[:-4] + ".tmp.npz"
    np.savez(tmp, **model.state_dict())
    os.replace(tmp, path)          # a Ctrl-C mid-write never leaves a truncated model


def load(model, path, strict=True):
    """Load parameters saved by ``save`` into ``model`` (strict key and shape checks);
    returns the model."""
    with np.load(os.fspath(path), allow_pickle=False) as archive:
        return model.load_state_dict({name: archive[name] for name in archive.files},
                                     strict=strict)


def load_torch_state_dict(model, state_dict, strict=True):
    """Load a PyTorch state dict (tensors or arrays) of the same architecture into ``model``.

    Accepts ``torch_module.state_dict()`` directly: tensors are converted with ``.numpy()``
    (after ``.detach().cpu()``), so torch is not needed here when the values are already
    arrays.  Buffers PyTorch keeps but we have none of (e.g. BatchNorm's counters) are
    reported as unexpected keys under ``strict``.
    """
    arrays = {}
    for name, value in state_dict.items():
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        arrays[name] = np.asarray(value)
    return model.load_state_dict(arrays, strict=strict)


def to_torch_state_dict(model):
    """The model's parameters as a dict of C-contiguous numpy arrays under PyTorch's names:
    ``torch_module.load_state_dict({k: torch.from_numpy(v) for k, v in d.items()})``."""
    return {name: np.ascontiguousarray(value) for name, value in model.state_dict().items()}

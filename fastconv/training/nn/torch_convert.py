"""``from_torch``: a torch module tree -> the same network of fastconv.nn layers, weights copied.

Torch is never imported here: the module tree is read by its classes' names and attributes,
so this also runs on modules of a torch this code has not seen, and torchvision need not be
installed.  Two tables drive it:

- ``CONVERTERS``: torch layer class name -> function(module, convert) -> fastconv layer.  A
  subclass that does not override ``forward`` converts as its base (torchvision's
  ``Conv2dNormActivation`` is a Sequential).  A new layer is one row.
- ``STRUCTURES``: modules with their own ``forward`` recognised by their attribute names, as
  torchvision names them (BasicBlock, Bottleneck, ResNet, MobileNetV2's InvertedResidual, the
  features/avgpool/classifier networks).  Recognition trusts the names: a module that has
  torchvision's attributes is assumed to compute what torchvision's forward computes.

Anything else raises ``NotImplementedError`` naming the first layer that is not supported
(its qualified name and class) and what is.
"""
from collections import OrderedDict

import numpy as np

from . import extra, layers
from .module import Sequential

__all__ = ["from_torch", "CONVERTERS", "STRUCTURES"]


def _array(tensor, dtype):
    """A copy of a torch tensor (or array) as a C-contiguous numpy array of ``dtype``."""
    if hasattr(tensor, "detach"):
        tensor = tensor.detach().cpu()
        if str(tensor.dtype) == "torch.bfloat16":
            tensor = tensor.float()
        tensor = tensor.numpy()
    return np.array(tensor, dtype=dtype, copy=True, order="C")


def _copy_params(layer, module, dtype, names=("weight", "bias")):
    for name in names:
        value = getattr(module, name, None)
        if value is not None:
            getattr(layer, name).data = _array(value, dtype)
    return layer


class _Unsupported(NotImplementedError):
    pass


def _refuse(name, module, why):
    raise _Unsupported(f"from_torch: {name or '(the root module)'} "
                       f"({type(module).__name__}) {why}")


def _conv2d(m, name, dtype, convert):
    if getattr(m, "padding_mode", "zeros") != "zeros":
        _refuse(name, m, f"has padding_mode={m.padding_mode!r}; only 'zeros' is supported")
    layer = layers.Conv2d(m.in_channels, m.out_channels, tuple(m.kernel_size),
                          tuple(m.stride), m.padding if isinstance(m.padding, str)
                          else tuple(m.padding), tuple(m.dilation), m.groups,
                          bias=m.bias is not None, rng=0, dtype=dtype)
    return _copy_params(layer, m, dtype)


def _conv_transpose2d(m, name, dtype, convert):
    if getattr(m, "padding_mode", "zeros") != "zeros":
        _refuse(name, m, f"has padding_mode={m.padding_mode!r}; only 'zeros' is supported")
    layer = layers.ConvTranspose2d(m.in_channels, m.out_channels, tuple(m.kernel_size),
                                   tuple(m.stride), tuple(m.padding), tuple(m.output_padding),
                                   m.groups, m.bias is not None, tuple(m.dilation), rng=0,
                                   dtype=dtype)
    return _copy_params(layer, m, dtype)


def _linear(m, name, dtype, convert):
    layer = layers.Linear(m.in_features, m.out_features, bias=m.bias is not None, rng=0,
                          dtype=dtype)
    return _copy_params(layer, m, dtype)


def _batch_norm2d(m, name, dtype, convert):
    layer = extra.BatchNorm2d(m.num_features, m.eps, m.momentum, m.affine,
                              m.track_running_stats, dtype=dtype)
    _copy_params(layer, m, dtype)
    if m.track_running_stats and m.running_mean is not None:
        layer.running_mean[...] = _array(m.running_mean, dtype)
        layer.running_var[...] = _array(m.running_var, dtype)
        layer.num_batches_tracked[...] = int(m.num_batches_tracked)
    return layer


def _max_pool2d(m, name, dtype, convert):
    if m.return_indices:
        _refuse(name, m, "has return_indices=True; a layer in a network returns one array")
    return layers.MaxPool2d(m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode)


def _avg_pool2d(m, name, dtype, convert):
    return layers.AvgPool2d(m.kernel_size, m.stride, m.padding, m.ceil_mode,
                            m.count_include_pad, m.divisor_override)


def _flatten(m, name, dtype, convert):
    if (m.start_dim, m.end_dim) != (1, -1):
        _refuse(name, m, f"flattens dims {m.start_dim}..{m.end_dim}; only 1..-1 is supported")
    return layers.Flatten()


def _sequential(m, name, dtype, convert):
    return Sequential(OrderedDict(
        (child, convert(sub, f"{name}.{child}" if name else child))
        for child, sub in m.named_children()))


# torch class name -> converter(module, qualified name, dtype, convert(child, name)).
CONVERTERS = {
    "Conv2d": _conv2d,
    "ConvTranspose2d": _conv_transpose2d,
    "Linear": _linear,
    "BatchNorm2d": _batch_norm2d,
    "ReLU": lambda m, name, dtype, convert: layers.ReLU(),
    "ReLU6": lambda m, name, dtype, convert: extra.ReLU6(),
    "LeakyReLU": lambda m, name, dtype, convert: extra.LeakyReLU(m.negative_slope),
    "MaxPool2d": _max_pool2d,
    "AvgPool2d": _avg_pool2d,
    "AdaptiveAvgPool2d": lambda m, name, dtype, convert: extra.AdaptiveAvgPool2d(
        m.output_size),
    "Flatten": _flatten,
    "Dropout": lambda m, name, dtype, convert: layers.Dropout(m.p),
    "Identity": lambda m, name, dtype, convert: extra.Identity(),
    "Sequential": _sequential,
}


def _children(m):
    return dict(m.named_children())


def _has(m, *names):
    children = _children(m)
    return all(n in children for n in names)


def _block(m, name, convert, order, activation):
    """A torchvision residual block: ``order`` lists the children in the order forward runs
    them (a reused ReLU appears under fresh names), then + downsample(x), then activation."""
    def sub(child):
        return f"{name}.{child}" if name else child
    body = OrderedDict()
    for child in order:
        body[child] = convert(getattr(m, child.rstrip("_")), sub(child.rstrip("_")))
    downsample = getattr(m, "downsample", None)
    return extra.Residual(body, activation=activation,
                          shortcut=None if downsample is None else convert(downsample,
                                                                           sub("downsample")))


def _basic_block(m, name, dtype, convert):
    return _block(m, name, convert, ["conv1", "bn1", "relu", "conv2", "bn2"], "relu")


def _bottleneck(m, name, dtype, convert):
    # torchvision registers conv1 bn1 conv2 bn2 conv3 bn3 relu but runs the ReLU after bn1
    # and bn2: "relu_" names the second use (the state dict is unchanged, a ReLU has none).
    return _block(m, name, convert,
                  ["conv1", "bn1", "relu", "conv2", "bn2", "relu_", "conv3", "bn3"], "relu")


def _named_chain(m, name, convert, order):
    """A top-level network as a Sequential of its children in forward's order (torch's names,
    hence torch's state dict), with layers its forward calls as functions inserted."""
    chain = OrderedDict()
    for child in order:
        if isinstance(child, tuple):          # (name, layer) that forward applies as a function
            chain[child[0]] = child[1]
        else:
            chain[child] = convert(getattr(m, child), f"{name}.{child}" if name else child)
    return Sequential(chain)


def _resnet(m, name, dtype, convert):
    return _named_chain(m, name, convert,
                        ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3",
                         "layer4", "avgpool", ("flatten", layers.Flatten()), "fc"])


def _features_classifier(m, name, dtype, convert):
    # VGG / AlexNet / MobileNetV3 keep their pooling as `avgpool`; MobileNetV2's forward calls
    # adaptive_avg_pool2d(x, 1) as a function.
    pool = "avgpool" if _has(m, "avgpool") else ("avgpool", extra.AdaptiveAvgPool2d(1))
    return _named_chain(m, name, convert,
                        ["features", pool, ("flatten", layers.Flatten()), "classifier"])


def _inverted_residual(m, name, dtype, convert):
    body = "conv" if _has(m, "conv") else "block"
    inner = convert(getattr(m, body), f"{name}.{body}" if name else body)
    if m.use_res_connect:
        return extra.Residual(OrderedDict([(body, inner)]))
    return Sequential(OrderedDict([(body, inner)]))


# (what it is, test on the module, converter): tried in order on modules whose class is not
# in CONVERTERS.
STRUCTURES = [
    ("torchvision Bottleneck", lambda m: _has(m, "conv1", "bn1", "conv2", "bn2", "conv3", "bn3",
                                              "relu"), _bottleneck),
    ("torchvision BasicBlock", lambda m: _has(m, "conv1", "bn1", "relu", "conv2", "bn2")
     and len(set(_children(m)) - {"conv1", "bn1", "relu", "conv2", "bn2", "downsample"}) == 0,
     _basic_block),
    ("torchvision ResNet", lambda m: _has(m, "conv1", "bn1", "relu", "maxpool", "layer1",
                                          "layer2", "layer3", "layer4", "avgpool", "fc"),
     _resnet),
    ("torchvision InvertedResidual (MobileNet)",
     lambda m: hasattr(m, "use_res_connect") and (_has(m, "conv") or _has(m, "block")),
     _inverted_residual),
    ("features/avgpool/classifier network (MobileNet, VGG)",
     lambda m: _has(m, "features", "classifier"), _features_classifier),
]


def _converter(module):
    """The CONVERTERS row of the module's class, or of the nearest base class whose forward
    it keeps; else None."""
    cls = type(module)
    for base in cls.__mro__:
        row = CONVERTERS.get(base.__name__)
        if row is not None and base.__module__.startswith("torch") and \
                getattr(cls, "forward", None) is getattr(base, "forward", None):
            return row
    return None


def _supported():
    return (", ".join(sorted(CONVERTERS)) + "; by structure: "
            + ", ".join(what for what, _, _ in STRUCTURES))


def _module_dtype(module):
    """float64 for a torch module whose floating parameters and buffers are double, else
    float32 (also for half precision, which numpy's kernels here do not run)."""
    tensors = list(module.parameters()) + list(module.buffers())
    floating = [t for t in tensors if t.is_floating_point()]
    return np.float64 if floating and all(str(t.dtype) == "torch.float64" for t in floating) \
        else np.float32


def from_torch(module, *, dtype=None):
    """Convert a torch module tree into the same network of fastconv.nn layers.

    Weights and BatchNorm statistics are copied as ``dtype``: by default the module's own
    (float64 for a double model, ``module.double()``; float32 otherwise, half precision
    included); the result is in eval mode if ``module`` is, and its
    ``state_dict`` has torch's names.  Supported: the layers in ``CONVERTERS`` (Conv2d,
    ConvTranspose2d, Linear, BatchNorm2d, ReLU, ReLU6, LeakyReLU, MaxPool2d, AvgPool2d,
    AdaptiveAvgPool2d, Flatten, Dropout, Identity, Sequential and subclasses of these that keep
    their forward)
    and torchvision's structures in ``STRUCTURES`` (BasicBlock, Bottleneck, ResNet,
    MobileNetV2's InvertedResidual, features/classifier networks), recognised by their
    attribute names.

    Raises
    ------
    NotImplementedError
        naming the first layer that is neither (its qualified name and class) and listing
        what is supported.

    Example
    -------
    >>> import numpy as np, torch                               # doctest: +SKIP
    >>> from fastconv import nn
    >>> t = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU()).eval()  # doctest: +SKIP
    >>> net = nn.from_torch(t)                                  # doctest: +SKIP
    >>> net(np.zeros((1, 3, 8, 8), np.float32)).shape           # doctest: +SKIP
    (1, 8, 6, 6)
    """
    if not hasattr(module, "named_children"):
        raise TypeError(f"from_torch: expected a torch.nn.Module, got {type(module).__name__}")
    dtype = np.dtype(_module_dtype(module) if dtype is None else dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"from_torch: dtype must be float32 or float64, got {dtype}")

    def convert(m, name):
        row = _converter(m)
        if row is not None:
            layer = row(m, name, dtype, convert)
        else:
            for _, test, structure in STRUCTURES:
                if test(m):
                    layer = structure(m, name, dtype, convert)
                    break
            else:
                _refuse(name, m, f"is not supported. Supported: {_supported()}.  A module "
                        f"with its own forward converts only when recognised by structure; "
                        f"else rebuild it from fastconv.nn layers and load its weights with "
                        f"models.load_torch_state_dict(model, module.state_dict())")
        layer.train(bool(getattr(m, "training", False)))
        return layer

    try:
        return convert(module, "")
    except _Unsupported as exc:                # one clean error, not a chain per level
        raise NotImplementedError(str(exc)) from None

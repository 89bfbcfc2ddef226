"""A network's architecture as JSON-ready data, and the network rebuilt from it.

``describe(net)`` gives ``{"type": "Conv2d", "args": {...}}`` for a layer (its constructor's
arguments) and adds ``"layers": [[name, node], ...]`` (and a Residual's ``"shortcut"``) for
containers; ``build(node)`` calls the constructors again.  ``models.save`` stores the
description beside the weights, so ``models.load(path)`` needs no code.  One row of
``LAYERS`` per layer class: a layer added later is one row.
"""
from collections import OrderedDict

import numpy as np

from . import extra, layers
from .module import Sequential

__all__ = ["describe", "build", "LAYERS"]


def _dtype(param):
    return str(param.data.dtype)


# class -> function(layer) -> the keyword arguments that construct it again.
LAYERS = {
    layers.Conv2d: lambda m: dict(
        in_channels=m.in_channels, out_channels=m.out_channels, kernel_size=m.kernel_size,
        stride=m.stride, padding=m.padding, dilation=m.dilation, groups=m.groups,
        bias=m.bias is not None, activation=m.activation, dtype=_dtype(m.weight)),
    layers.ConvTranspose2d: lambda m: dict(
        in_channels=m.in_channels, out_channels=m.out_channels, kernel_size=m.kernel_size,
        stride=m.stride, padding=m.padding, output_padding=m.output_padding, groups=m.groups,
        bias=m.bias is not None, dilation=m.dilation, dtype=_dtype(m.weight)),
    layers.Linear: lambda m: dict(in_features=m.in_features, out_features=m.out_features,
                                  bias=m.bias is not None, dtype=_dtype(m.weight)),
    layers.MaxPool2d: lambda m: dict(kernel_size=m.kernel_size, stride=m.stride,
                                     padding=m.padding, dilation=m.dilation,
                                     ceil_mode=m.ceil_mode),
    layers.AvgPool2d: lambda m: dict(kernel_size=m.kernel_size, stride=m.stride,
                                     padding=m.padding, ceil_mode=m.ceil_mode,
                                     count_include_pad=m.count_include_pad,
                                     divisor_override=m.divisor_override),
    layers.ReLU: lambda m: {},
    layers.Flatten: lambda m: {},
    layers.Dropout: lambda m: dict(p=m.p),
    extra.BatchNorm2d: lambda m: dict(
        num_features=m.num_features, eps=m.eps, momentum=m.momentum, affine=m.affine,
        track_running_stats=m.track_running_stats,
        dtype=_dtype(m.weight) if m.affine else str(getattr(m, "running_mean",
                                                            np.zeros(0, np.float32)).dtype)),
    extra.AdaptiveAvgPool2d: lambda m: dict(output_size=m.output_size),
    extra.ReLU6: lambda m: {},
    extra.LeakyReLU: lambda m: dict(negative_slope=m.negative_slope),
    extra.Identity: lambda m: {},
    Sequential: lambda m: {},
    extra.Residual: lambda m: dict(activation=m.activation),
}

_BY_NAME = {cls.__name__: cls for cls in LAYERS}


def _json(value):
    """Tuples as lists, numpy scalars as Python numbers: what json.dumps takes."""
    if isinstance(value, (tuple, list)):
        return [_json(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _tuples(value):
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def describe(module):
    """The architecture of a network of fastconv.nn layers as nested dicts and lists.

    Raises ``TypeError`` naming the first layer whose class is not in ``LAYERS`` (a Module
    subclass with its own forward cannot be rebuilt from data).

    Example
    -------
    >>> from fastconv import nn
    >>> nn.describe(nn.Sequential(nn.ReLU(), nn.Dropout(0.25)))
    {'type': 'Sequential', 'layers': [['0', {'type': 'ReLU'}],
                                      ['1', {'type': 'Dropout', 'args': {'p': 0.25}}]]}
    """
    def node(m, where):
        row = LAYERS.get(type(m))
        if row is None:
            raise TypeError(f"describe: {where or '(the root module)'} is a "
                            f"{type(m).__name__}, not a fastconv.nn layer whose architecture "
                            f"can be saved ({', '.join(sorted(_BY_NAME))})")
        out = {"type": type(m).__name__}
        args = {k: _json(v) for k, v in row(m).items()}
        if args:
            out["args"] = args
        if isinstance(m, Sequential):
            out["layers"] = [[name, node(layer, f"{where}.{name}" if where else name)]
                             for name, layer in m._named_layers()]
        if isinstance(m, extra.Residual) and m.downsample is not None:
            out["shortcut"] = node(m.downsample, f"{where}.downsample" if where else
                                   "downsample")
        return out
    return node(module, "")


def build(description):
    """The network ``describe`` described, freshly initialised (load its weights next)."""
    def make(node, where):
        if not isinstance(node, dict) or node.get("type") not in _BY_NAME:
            raise ValueError(f"build: {where or 'the root'} is not a layer description "
                             f"(type must be one of {', '.join(sorted(_BY_NAME))}), got "
                             f"{node!r:.80}")
        cls = _BY_NAME[node["type"]]
        args = {k: _tuples(v) for k, v in node.get("args", {}).items()}
        if "dtype" in args:
            args["dtype"] = np.dtype(args["dtype"])
        if issubclass(cls, Sequential):
            children = OrderedDict(
                (name, make(child, f"{where}.{name}" if where else name))
                for name, child in node.get("layers", []))
            if cls is extra.Residual:
                shortcut = node.get("shortcut")
                args["shortcut"] = None if shortcut is None else make(shortcut, "downsample")
            return cls(children, **args)
        return cls(**args)
    return make(description, "")

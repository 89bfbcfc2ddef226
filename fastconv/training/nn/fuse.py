"""Module.fuse: a copy of a network for inference with each eval-mode BatchNorm2d folded into
the Conv2d before it, and a ReLU after that Conv2d fused into it.

A BatchNorm2d in eval mode is an affine map per channel, y = x * s + t with
s = gamma / sqrt(running_var + eps) and t = beta - running_mean * s, so after a convolution
it folds into the convolution's weight and bias: w' = w * s (per output channel) and
b' = (b - running_mean) * s + beta.  The arithmetic is done in float64 and rounded once to
the layer's dtype; the outputs then differ from the unfused network's by rounding only
(README: the measured difference on ResNet-18).

``eval()`` does not fuse by itself: it must keep the module tree as it is (state_dict names,
load_state_dict, ``train()`` back, a backward through BatchNorm for fine-tuning), while fusing
replaces layers and changes the parameters; so fusing is an explicit call that returns a new
network and leaves the original untouched, as torch.ao.quantization.fuse_modules does by
default.
"""
import copy

import numpy as np

from .extra import BatchNorm2d, Identity
from .layers import Conv2d, ReLU
from .module import Parameter, Sequential

__all__ = ["fuse"]


def _fold(conv, bn):
    """conv with bn folded in (conv is a copy the caller owns)."""
    w = conv.weight.data.astype(np.float64)
    mean = np.asarray(bn.running_mean, np.float64)
    scale = 1.0 / np.sqrt(np.asarray(bn.running_var, np.float64) + bn.eps)
    if bn.affine:
        scale = scale * bn.weight.data.astype(np.float64)
    b = np.zeros(w.shape[0]) if conv.bias is None else conv.bias.data.astype(np.float64)
    b = (b - mean) * scale + (bn.bias.data.astype(np.float64) if bn.affine else 0.0)
    dtype = conv.weight.data.dtype
    conv.weight = Parameter((w * scale[:, None, None, None]).astype(dtype))
    conv.bias = Parameter(b.astype(dtype))


def _foldable(conv, bn):
    return (isinstance(conv, Conv2d) and conv.activation is None and
            isinstance(bn, BatchNorm2d) and bn.track_running_stats and
            bn.num_features == conv.out_channels)


def fuse(model):
    """A copy of ``model`` (in eval mode) in which every Conv2d -> BatchNorm2d pair of a
    Sequential (Residual blocks and shortcuts included) is one Conv2d, and a ReLU right after
    it is fused into the Conv2d (``activation="relu"``); the folded layers become Identity, so
    the layer names and positions stay.  Raises ValueError for a model in training mode,
    whose BatchNorm2d normalise by the batch's statistics, which no weight can fold."""
    if any(m.training for _, m in model.named_modules()):
        raise ValueError("fuse: the model is in training mode; BatchNorm2d folds only with its "
                         "running statistics: call model.eval() first")
    fused = copy.deepcopy(model)
    for _, module in fused.named_modules():
        if not isinstance(module, Sequential):
            continue
        named = module._named_layers()
        for (_, conv), (bn_name, bn) in zip(named, named[1:]):
            if _foldable(conv, bn):
                _fold(conv, bn)
                setattr(module, bn_name, Identity().eval())
        named = module._named_layers()
        for i, (_, conv) in enumerate(named[:-1]):
            if not isinstance(conv, Conv2d) or conv.activation is not None:
                continue
            rest = named[i + 1:]
            # past the Identity the folding left, to the next real layer
            j = next((k for k, (_, m) in enumerate(rest) if not isinstance(m, Identity)), None)
            if j is not None and isinstance(rest[j][1], ReLU):
                conv.activation = "relu"
                setattr(module, rest[j][0], Identity().eval())
    return fused

"""The layers torchvision's CNNs need beyond the core ones: BatchNorm2d, AdaptiveAvgPool2d,
ReLU6, LeakyReLU, Identity and the Residual block.

Each runs fastconv's C ops (batch_norm, relu6, leaky_relu, adaptive_avg_pool2d and their
backward; Residual joins its branches with add, the activation fused), so that ResNet and
MobileNet can be expressed, loaded from torch (``from_torch``), trained, and folded for
inference (``Module.fuse``); the constructors are torch's.
"""
from collections import OrderedDict

import numpy as np

from ...ops import functional as F
from .layers import Conv2d, _Cached
from .module import Module, Parameter, Sequential

__all__ = ["BatchNorm2d", "AdaptiveAvgPool2d", "ReLU6", "LeakyReLU", "Identity", "Residual"]


class BatchNorm2d(_Cached):
    """Batch normalisation over (N, H, W) per channel, with ``torch.nn.BatchNorm2d``'s
    arguments, buffers (``running_mean``, ``running_var``, ``num_batches_tracked``) and rules:
    training normalises by the batch's biased variance and updates the running averages with
    the unbiased one (``momentum=None``: a cumulative average); eval uses the running averages
    (or the batch's statistics when ``track_running_stats=False``).

    Example
    -------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> bn = nn.BatchNorm2d(2)
    >>> x = np.arange(8, dtype=np.float32).reshape(2, 2, 1, 2)
    >>> y = bn(x)
    >>> y[:, 0].ravel().round(3), bn.running_mean.round(3)    # channel 0 is 0 1 4 5
    (array([-1.213, -0.728,  0.728,  1.213], dtype=float32), array([0.25, 0.45], dtype=float32))
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, *, dtype=np.float32):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(np.ones(num_features, dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype))
            self.register_buffer("num_batches_tracked", np.zeros((), np.int64))

    def forward(self, x):
        x = np.asarray(x)
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm2d: x must be (N, {self.num_features}, H, W), got "
                             f"shape {x.shape}")
        batch_stats = self.training or not self.track_running_stats
        momentum = self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1
            if momentum is None:             # torch's cumulative average
                momentum = 1.0 / float(self.num_batches_tracked)
        stats = (self.running_mean, self.running_var) if self.track_running_stats else \
            (None, None)
        # buffers of another float dtype than x (a float32 layer run in float64) take part
        # as copies of x's dtype, written back
        cast = stats[0] is not None and stats[0].dtype != x.dtype and x.dtype.kind == "f"
        if cast:
            stats = tuple(s.astype(x.dtype) for s in stats)
        if x.size == 0 and batch_stats:
            # an empty batch, as torch: nothing to normalise, the running statistics unchanged
            y = F.batch_norm(x, *stats, training=True)
            self._cache = (x, None, None, batch_stats)
            return y
        y, mean, invstd = F.batch_norm(
            x, *stats, None if self.weight is None else self.weight.data,
            None if self.bias is None else self.bias.data, training=batch_stats,
            momentum=0.0 if momentum is None else momentum, eps=self.eps, return_stats=True)
        if cast:
            self.running_mean[...], self.running_var[...] = stats
        self._cache = (x, mean, invstd, batch_stats)
        return y

    def backward(self, grad, input_grad=True):
        x, mean, invstd, batch_stats = self._saved()
        if mean is None:  # the empty batch of forward: no gradient reaches anything
            if self.affine:
                self.weight.accumulate(np.zeros_like(self.weight.data))
                self.bias.accumulate(np.zeros_like(self.bias.data))
            return np.zeros_like(x) if input_grad else None
        grad_x, grad_w, grad_b = F.batch_norm_backward(
            grad, x, None if self.weight is None else self.weight.data, mean, invstd,
            training=batch_stats, output_mask=(input_grad, self.affine, self.affine))
        if self.affine:
            self.weight.accumulate(grad_w)
            self.bias.accumulate(grad_b)
        return grad_x

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class AdaptiveAvgPool2d(_Cached):
    """Average pooling to a fixed output size (``None`` keeps that input size), with torch's
    windows; ``AdaptiveAvgPool2d(1)`` is global average pooling.

    Example
    -------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> pool = nn.AdaptiveAvgPool2d(1)
    >>> pool(np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2)).ravel()
    array([1.5, 5.5], dtype=float32)
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        x = np.asarray(x)
        self._cache = x.shape
        return F.adaptive_avg_pool2d(x, self.output_size)

    def backward(self, grad, input_grad=True):
        shape = self._saved()
        return F.adaptive_avg_pool2d_backward(grad, shape) if input_grad else None

    def extra_repr(self):
        return f"output_size={self.output_size}"


class ReLU6(_Cached):
    """min(max(x, 0), 6); backward passes the gradient where 0 < x < 6, as torch's.

    Example
    -------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> nn.ReLU6()(np.array([-1.0, 3.0, 9.0]))
    array([0., 3., 6.])
    """

    def forward(self, x):
        self._cache = x
        return F.relu6(x)

    def backward(self, grad, input_grad=True):
        x = self._saved()
        return F.relu6_backward(grad, x) if input_grad else None


class LeakyReLU(_Cached):
    """x where x > 0, else negative_slope * x; backward likewise, as torch's.

    Example
    -------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> nn.LeakyReLU(0.1)(np.array([-2.0, 3.0]))
    array([-0.2,  3. ])
    """

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        self._cache = x
        return F.leaky_relu(x, self.negative_slope)

    def backward(self, grad, input_grad=True):
        x = self._saved()
        return F.leaky_relu_backward(grad, x, self.negative_slope) if input_grad else None

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Identity(Module):
    """Returns its input (torch.nn.Identity: a placeholder layer)."""

    def forward(self, x):
        return x

    def backward(self, grad, input_grad=True):
        return grad if input_grad else None


class Residual(Sequential):
    """A residual block: ``activation(layers(x) + shortcut(x))``, the shortcut being the
    identity when None.

    It is a Sequential of the block's layers (named as in torch when given a dict) with the
    shortcut kept beside them under torchvision's name ``downsample``, so torchvision's
    BasicBlock (``conv1 bn1 relu conv2 bn2`` + ``downsample``, then ReLU) has torch's state
    dict names.  ``activation`` is None or "relu".

    Example
    -------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> block = nn.Residual(nn.Conv2d(2, 2, 3, padding=1, rng=0), nn.BatchNorm2d(2),
    ...                     activation="relu")
    >>> y = block(np.ones((1, 2, 4, 4), np.float32))
    >>> block.backward(np.ones_like(y)).shape, list(block.state_dict())[:3]
    ((1, 2, 4, 4), ['0.weight', '0.bias', '1.weight'])
    """

    def __init__(self, *layers, shortcut=None, activation=None):
        super().__init__(*layers)
        if activation not in (None, "relu"):
            raise ValueError(f"Residual: activation must be None or 'relu', got "
                             f"{activation!r}")
        if shortcut is not None and not isinstance(shortcut, Module):
            raise TypeError(f"Residual: shortcut must be a Module or None, got "
                            f"{type(shortcut).__name__}")
        self.activation = activation
        self.downsample = shortcut
        self._cache = None

    @property
    def shortcut(self):
        return self.downsample

    def _named_layers(self):
        return [(name, module) for name, module in self._modules.items()
                if name != "downsample"]

    def _last_conv(self):
        """In eval mode, the position of the body's last real layer when it is a Conv2d
        without an activation and only Identity follows it (a fused block's conv2): the sum
        and activation can run in its epilogue.  Else None."""
        layers = self._layers()
        last = len(layers) - 1
        while last >= 0 and isinstance(layers[last], Identity):
            last -= 1
        if self.training or last < 0 or type(layers[last]) is not Conv2d or \
                layers[last].activation is not None:
            return None
        return last

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        last = self._last_conv()
        if last is None:
            # one pass: the sum and its activation (a new array: a layer may return x itself)
            y = F.add(super().forward(x), identity, activation=self.activation)
        else:   # the same sums, bit for bit, in the convolution's epilogue
            layers = self._layers()
            for layer in layers[:last]:
                x = layer(x)
            y = layers[last](x, residual=identity, activation=self.activation)
        if self.activation == "relu":
            self._cache = y
        return y

    def backward(self, grad, input_grad=True):
        if self.activation == "relu":
            y, self._cache = self._cache, None
            if y is None:
                raise RuntimeError("Residual.backward called without a forward before it "
                                   "(or twice for one forward)")
            grad = F.relu_backward(grad, y)
        grad_x = super().backward(grad, input_grad)
        grad_identity = grad if self.downsample is None else \
            self.downsample.backward(grad, input_grad)
        return grad_x + grad_identity if input_grad else None

    def extra_repr(self):
        return f"activation={self.activation!r}"

    def __repr__(self):
        text = super().__repr__()
        return text if self.activation is None else text[:-1] + \
            f"  (activation): {self.activation!r}\n)"

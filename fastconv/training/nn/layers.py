"""Layers, each with its forward and its backward side by side.

Every layer keeps, in forward, only what its backward needs; a backward without a forward
before it raises.  The arithmetic is fastconv's functional ops (conv, pooling, ReLU, linear and
their backward passes): one thread pool, fastconv's, and no BLAS.
"""
import math

import numpy as np

from ...ops import functional as F
from .module import Module, Parameter

__all__ = ["Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "ReLU", "Linear", "Flatten", "Dropout"]


def _kaiming_uniform(rng, shape, fan_in, dtype):
    """PyTorch's default init of Conv2d and Linear: kaiming_uniform_(a=sqrt(5)), which is
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the bias uses the same bound."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def _rng(rng):
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


class _Cached(Module):
    """A layer whose backward needs the state its last forward kept."""

    def __init__(self):
        super().__init__()
        self._cache = None

    def _saved(self):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called without a training-mode "
                               f"forward before it (or twice for one forward)")
        saved, self._cache = self._cache, None
        return saved


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _accumulated(layer, grad_x, grad_w, grad_b):
    """Adds a weighted layer's gradients to its parameters; returns grad_x (the backward's
    result)."""
    layer.weight.accumulate(grad_w)
    if layer.bias is not None:
        layer.bias.accumulate(grad_b)
    return grad_x


def _init_parameters(layer, rng, weight_shape, fan_in, out_channels, bias, dtype):
    """A conv layer's weight and bias (or None), drawn as torch's default init; no cache."""
    layer.weight = Parameter(_kaiming_uniform(rng, weight_shape, fan_in, dtype))
    layer.bias = Parameter(_kaiming_uniform(rng, (out_channels,), fan_in, dtype)) \
        if bias else None
    layer._cache = None


class Conv2d(_Cached):
    """2-D convolution layer, with ``torch.nn.Conv2d``'s arguments and default init.

    ``weight`` is (out_channels, in_channels / groups, kH, kW); ``rng`` (a numpy Generator or
    a seed) draws the init.  ``activation="relu"`` fuses a ReLU into the convolution (forward
    and backward), the same as Conv2d followed by ReLU.  ``layout="NHWC"`` takes and returns
    channels-last arrays, forward and backward (fastconv.conv2d's and conv2d_backward's
    layout; the weight keeps its layout).

    Example
    -------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> conv = nn.Conv2d(1, 6, 5, padding=2, rng=0)
    >>> y = conv(np.zeros((2, 1, 28, 28), np.float32))
    >>> y.shape, conv.backward(np.ones_like(y)).shape, conv.weight.grad.shape
    ((2, 6, 28, 28), (2, 1, 28, 28), (6, 1, 5, 5))
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, *, activation=None, rng=None, dtype=np.float32,
                 layout="NCHW"):
        super().__init__()
        self.layout = F._layout("Conv2d", layout)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: groups={groups} must divide in_channels={in_channels} "
                             f"and out_channels={out_channels}")
        if activation not in (None, "relu"):
            raise ValueError(f"Conv2d: activation must be None or 'relu', got {activation!r}")
        kh, kw = _pair(kernel_size)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = (kh, kw), stride, padding
        self.dilation, self.groups, self.activation = dilation, groups, activation
        _init_parameters(self, _rng(rng), (out_channels, in_channels // groups, kh, kw),
                         in_channels // groups * kh * kw, out_channels, bias, dtype)

    def forward(self, x, residual=None, activation=None):
        """``activation(conv(x) + residual)`` when given a residual (nn.Residual's last
        convolution in eval mode: the sum and its activation in the epilogue, no pass over y
        after it), for a layer without an activation of its own."""
        y = F.conv2d(x, self.weight.data, None if self.bias is None else self.bias.data,
                     self.stride, self.padding, self.dilation, self.groups,
                     activation=self.activation if residual is None else activation,
                     residual=residual, layout=self.layout)
        self._cache = (x, y if self.activation else None)
        return y

    def backward(self, grad, input_grad=True):
        x, y = self._saved()
        if self.activation == "relu":
            grad = F.relu_backward(grad, y)
        grad_x, grad_w, grad_b = F.conv2d_backward(
            grad, x, self.weight.data, self.stride, self.padding, self.dilation, self.groups,
            output_mask=(input_grad, True, self.bias is not None), layout=self.layout)
        return _accumulated(self, grad_x, grad_w, grad_b)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}"
                + (f", activation={self.activation!r}" if self.activation else ""))


class ConvTranspose2d(_Cached):
    """2-D transposed convolution layer, with ``torch.nn.ConvTranspose2d``'s arguments (in
    its order) and default init.

    ``weight`` is (in_channels, out_channels / groups, kH, kW), torch's layout; its init
    counts out_channels / groups * kH * kW as the fan-in, as torch does.  The output is
    (H - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1 high.

    Example
    -------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> up = nn.ConvTranspose2d(8, 4, 2, stride=2, rng=0)
    >>> y = up(np.zeros((2, 8, 16, 16), np.float32))
    >>> y.shape, up.backward(np.ones_like(y)).shape, up.weight.grad.shape
    ((2, 4, 32, 32), (2, 8, 16, 16), (8, 4, 2, 2))
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, *, rng=None,
                 dtype=np.float32):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"ConvTranspose2d: groups={groups} must divide "
                             f"in_channels={in_channels} and out_channels={out_channels}")
        kh, kw = _pair(kernel_size)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = (kh, kw), stride, padding
        self.output_padding, self.groups, self.dilation = output_padding, groups, dilation
        # (torch counts weight's second axis as the fan-in: out_channels / groups)
        _init_parameters(self, _rng(rng), (in_channels, out_channels // groups, kh, kw),
                         out_channels // groups * kh * kw, out_channels, bias, dtype)

    def _geometry(self):
        return self.stride, self.padding, self.output_padding, self.groups, self.dilation

    def forward(self, x):
        self._cache = (x,)
        return F.conv_transpose2d(x, self.weight.data,
                                  None if self.bias is None else self.bias.data,
                                  *self._geometry())

    def backward(self, grad, input_grad=True):
        (x,) = self._saved()
        grad_x, grad_w, grad_b = F.conv_transpose2d_backward(
            grad, x, self.weight.data, *self._geometry(),
            output_mask=(input_grad, True, self.bias is not None))
        return _accumulated(self, grad_x, grad_w, grad_b)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, "
                f"output_padding={self.output_padding}")


class MaxPool2d(_Cached):
    """Max pooling; backward sends each gradient to the input its window's max came from.

    Example
    -------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> pool = nn.MaxPool2d(2)
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> pool(x)[0, 0]
    array([[ 5.,  7.],
           [13., 15.]], dtype=float32)
    >>> pool.backward(np.ones((1, 1, 2, 2), np.float32))[0, 0]
    array([[0., 0., 0., 0.],
           [0., 1., 0., 1.],
           [0., 0., 0., 0.],
           [0., 1., 0., 1.]], dtype=float32)
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
                 layout="NCHW"):
        super().__init__()
        self.layout = F._layout("MaxPool2d", layout)  # "NHWC": channels-last arrays
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.ceil_mode = dilation, ceil_mode
        self._cache = None

    def forward(self, x):
        if not self.training:            # inference: no backward will come, skip the indices
            self._cache = None
            return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                                self.ceil_mode, layout=self.layout)
        y, indices = F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                                  self.ceil_mode, return_indices=True, layout=self.layout)
        self._cache = (indices, np.shape(x))
        return y

    def backward(self, grad, input_grad=True):
        indices, shape = self._saved()
        return F.max_pool2d_backward(grad, indices, shape, layout=self.layout) \
            if input_grad else None

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class AvgPool2d(_Cached):
    """Average pooling; backward spreads each gradient evenly over its window.

    Example
    -------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> pool = nn.AvgPool2d(2)
    >>> y = pool(np.ones((1, 1, 2, 2), np.float32))
    >>> pool.backward(np.ones_like(y))[0, 0]
    array([[0.25, 0.25],
           [0.25, 0.25]], dtype=float32)
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None, *, layout="NCHW"):
        super().__init__()
        self.layout = F._layout("AvgPool2d", layout)  # "NHWC": channels-last arrays
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override
        self._cache = None

    def forward(self, x):
        self._cache = np.shape(x)
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override, layout=self.layout)

    def backward(self, grad, input_grad=True):
        shape = self._saved()
        if not input_grad:
            return None
        return F.avg_pool2d_backward(grad, shape, self.kernel_size, self.stride, self.padding,
                                     self.ceil_mode, self.count_include_pad,
                                     self.divisor_override, layout=self.layout)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class ReLU(_Cached):
    """max(x, 0); backward passes the gradient where the output is positive.

    Example
    -------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> relu = nn.ReLU()
    >>> relu(np.array([-1.0, 2.0]))
    array([0., 2.])
    >>> relu.backward(np.array([5.0, 5.0]))
    array([0., 5.])
    """

    def forward(self, x):
        y = F.relu(x)
        self._cache = y
        return y

    def backward(self, grad, input_grad=True):
        y = self._saved()
        return F.relu_backward(grad, y) if input_grad else None

    def __init__(self, *, layout="NCHW"):
        super().__init__()
        self.layout = F._layout("ReLU", layout)  # checked; elementwise, so moot
        self._cache = None


class Linear(_Cached):
    """y = x @ weight.T + bias, with ``torch.nn.Linear``'s weight layout and default init.

    Forward and backward run on fastconv.linear / linear_backward (fastconv's GEMM and
    threads, not numpy's BLAS); x may have any leading dimensions, as in torch.

    Example
    -------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> fc = nn.Linear(3, 2, rng=0)
    >>> x = np.ones((4, 3), np.float32)
    >>> y = fc(x)
    >>> fc.backward(np.ones_like(y)).shape, fc.weight.grad.shape, fc.bias.grad
    ((4, 3), (2, 3), array([4., 4.], dtype=float32))
    """

    def __init__(self, in_features, out_features, bias=True, *, rng=None, dtype=np.float32):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        rng = _rng(rng)
        self.weight = Parameter(_kaiming_uniform(rng, (out_features, in_features), in_features,
                                                 dtype))
        self.bias = Parameter(_kaiming_uniform(rng, (out_features,), in_features, dtype)) \
            if bias else None
        self._cache = None

    def forward(self, x):
        if np.shape(x)[-1:] != (self.in_features,):
            raise ValueError(f"Linear: x must have {self.in_features} features in its last "
                             f"axis, got shape {np.shape(x)}")
        self._cache = x
        return F.linear(x, self.weight.data, None if self.bias is None else self.bias.data)

    def backward(self, grad, input_grad=True):
        x = self._saved()
        grad_x, grad_w, grad_b = F.linear_backward(
            grad, x, self.weight.data, output_mask=(input_grad, True, self.bias is not None))
        return _accumulated(self, grad_x, grad_w, grad_b)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}"


class Flatten(_Cached):
    """(N, ...) -> (N, prod(...)); backward restores the shape.

    Example
    -------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> nn.Flatten()(np.zeros((2, 16, 5, 5))).shape
    (2, 400)
    """

    def __init__(self):
        super().__init__()
        self._cache = None

    def forward(self, x):
        self._cache = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad, input_grad=True):
        shape = self._saved()
        return grad.reshape(shape) if input_grad else None


class Dropout(_Cached):
    """Zeroes each element with probability p in training and scales the rest by 1/(1-p);
    the identity in eval mode.  ``rng`` (a numpy Generator or a seed) draws the masks, so a
    seeded network trains reproducibly.

    Example
    -------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> drop = nn.Dropout(0.5, rng=0)
    >>> y = drop(np.ones(8, np.float32))
    >>> sorted(set(y.tolist()))
    [0.0, 2.0]
    >>> drop.eval()(np.ones(3, np.float32))
    array([1., 1., 1.], dtype=float32)
    """

    def __init__(self, p=0.5, *, rng=None):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p!r}")
        self.p = p
        self.rng = _rng(rng)
        self._cache = None

    def forward(self, x):
        if not self.training or self.p == 0.0:
            self._cache = False
            return x
        scale = np.asarray(1.0 / (1.0 - self.p), x.dtype)
        mask = (self.rng.random(x.shape, dtype=np.float32) >= self.p) * scale
        self._cache = mask
        return x * mask

    def backward(self, grad, input_grad=True):
        mask = self._saved()
        if not input_grad:
            return None
        return grad if mask is False else grad * mask

    def extra_repr(self):
        return f"p={self.p}"

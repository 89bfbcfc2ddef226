"""Parameter, Module and Sequential: the bookkeeping every layer shares.

A layer's ``forward`` keeps what its ``backward`` needs; ``backward(grad)`` adds the gradient of
the loss to each parameter's ``.grad`` and returns the gradient with respect to the layer's
input.  No autograd tape: a network is a Sequential, and its backward runs the layers in
reverse.
"""
from collections import OrderedDict

import numpy as np

__all__ = ["Parameter", "Module", "Sequential"]


class Parameter:
    """A trainable array and the gradient accumulated for it.

    ``grad`` is None until a backward pass writes it (and after ``zero_grad``), which spares a
    pass of zeros per step; backward passes add to it, as in PyTorch.

    Example
    -------
    >>> import numpy as np
    >>> from fastconv.nn import Parameter
    >>> p = Parameter(np.zeros(3, np.float32))
    >>> p.accumulate(np.ones(3, np.float32)); p.accumulate(np.ones(3, np.float32))
    >>> p.grad
    array([2., 2., 2.], dtype=float32)
    """

    def __init__(self, data):
        self.data = np.ascontiguousarray(data)
        self.grad = None

    @property
    def shape(self):
        return self.data.shape

    def accumulate(self, grad):
        """Add ``grad`` to ``.grad`` (takes ownership of ``grad`` when ``.grad`` is None)."""
        if self.grad is None:
            self.grad = grad
        else:
            self.grad += grad

    def __repr__(self):
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class of layers and networks, after ``torch.nn.Module``.

    Parameters and sub-modules assigned as attributes are registered in assignment order, so
    ``named_parameters()`` and ``state_dict()`` use the names PyTorch would ("0.weight", ...).

    Example
    -------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> net = nn.Sequential(nn.Linear(3, 2, rng=np.random.default_rng(0)), nn.ReLU())
    >>> [name for name, _ in net.named_parameters()]
    ['0.weight', '0.bias']
    >>> net(np.ones((4, 3), np.float32)).shape
    (4, 2)
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call "
                                 f"super().__init__() before assigning {name!r}")
        if name in self._buffers:          # a buffer stays a buffer, as in torch
            self._buffers[name] = value
            object.__setattr__(self, name, value)
            return
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name, array):
        """Keep ``array`` (state that is not trained, e.g. BatchNorm's running mean) under
        ``name``: an attribute, and a ``state_dict`` entry after the parameters of its module,
        as in torch."""
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers[name] = array
        object.__setattr__(self, name, array)

    # ---- running ------------------------------------------------------------------------------

    def __call__(self, *args, **kwargs):
        if not args and "input" in kwargs:
            # torch's layers name their input `input` (layer(input=x)); ours name it x
            args = (kwargs.pop("input"),)
        return self.forward(*args, **kwargs)

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} defines no forward")

    def backward(self, grad, input_grad=True):
        """Accumulate parameter gradients from ``grad`` (dLoss/dOutput of the last forward)
        and return dLoss/dInput, or None when ``input_grad`` is False (the first layer of a
        network needs no gradient for the images)."""
        raise NotImplementedError(f"{type(self).__name__} defines no backward")

    # ---- parameters ---------------------------------------------------------------------------

    def named_modules(self, prefix=""):
        yield prefix, self
        for name, module in self._modules.items():
            yield from module.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self):
        for prefix, module in self.named_modules():
            for name, param in module._parameters.items():
                yield (f"{prefix}.{name}" if prefix else name), param

    def named_buffers(self):
        for prefix, module in self.named_modules():
            for name, array in module._buffers.items():
                if array is not None:
                    yield (f"{prefix}.{name}" if prefix else name), array

    def parameters(self):
        return [param for _, param in self.named_parameters()]

    def zero_grad(self):
        for param in self.parameters():
            param.grad = None

    def train(self, mode=True):
        for _, module in self.named_modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def fuse(self):
        """A copy of this eval-mode network for inference: each BatchNorm2d folded into the
        Conv2d before it, a ReLU after that into the Conv2d too (``nn.fuse``, which says why
        ``eval()`` does not do it by itself).  The original is left as it is."""
        from .fuse import fuse
        return fuse(self)

    # ---- state --------------------------------------------------------------------------------

    def _named_state(self):
        """(name, array) of every parameter and buffer, in torch's state_dict order: each
        module's parameters, then its buffers, then its children's."""
        for prefix, module in self.named_modules():
            dot = prefix + "." if prefix else ""
            for name, param in module._parameters.items():
                yield dot + name, param.data
            for name, array in module._buffers.items():
                if array is not None:
                    yield dot + name, array

    def state_dict(self):
        """An OrderedDict name -> copy of each parameter's and buffer's array."""
        return OrderedDict((name, np.array(value, copy=True))
                           for name, value in self._named_state())

    def load_state_dict(self, state, strict=True):
        """Copy arrays into the parameters and buffers, checking names, shapes and values.

        With ``strict`` every parameter must be present and no extra key may be; shapes must
        match in any case.  Arrays are cast to each parameter's dtype (so a float64 or a
        PyTorch-exported dict loads into a float32 model).  Nothing is written unless every
        check passes.
        """
        params = OrderedDict(self._named_state())
        missing = [name for name in params if name not in state]
        unexpected = [name for name in state if name not in params]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict: missing keys {missing}, unexpected keys "
                           f"{unexpected} (the model has {list(params)})")
        arrays = {}
        for name, param in params.items():
            if name not in state:
                continue
            value = np.asarray(state[name])
            if value.shape != param.shape:
                raise ValueError(f"load_state_dict: {name} has shape {value.shape} in the "
                                 f"state dict but {param.shape} in the model")
            if value.dtype.kind not in "fiu":
                raise TypeError(f"load_state_dict: {name} must be numeric, got dtype "
                                f"{value.dtype}")
            arrays[name] = value
        for name, value in arrays.items():
            params[name][...] = value
        return self

    def extra_repr(self):
        return ""

    def __repr__(self):
        if not self._modules:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({name}): " + repr(module).replace("\n", "\n  ")
                 for name, module in self._modules.items()]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


class Sequential(Module):
    """Layers run in order; backward runs them in reverse.

    The layers are named "0", "1", ... or, given one dict (``Sequential(OrderedDict(conv1=...,
    relu=...))``) as in torch, by its keys: the names of the state dict.

    Example
    -------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2, rng=np.random.default_rng(0)))
    >>> y = net(np.ones((1, 1, 2, 2), np.float32))
    >>> net.backward(np.ones_like(y)).shape
    (1, 1, 2, 2)
    """

    def __init__(self, *layers):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], dict):
            named = list(layers[0].items())     # torch's Sequential(OrderedDict(name=layer))
        else:
            named = [(str(index), layer) for index, layer in enumerate(layers)]
        for name, layer in named:
            if not isinstance(layer, Module):
                raise TypeError(f"{type(self).__name__}: layer {name} is a "
                                f"{type(layer).__name__}, not a Module")
            if not isinstance(name, str) or not name or "." in name or hasattr(self, name):
                raise ValueError(f"{type(self).__name__}: {name!r} cannot name a layer (a "
                                 f"non-empty string without '.' that is no attribute of "
                                 f"{type(self).__name__}, nor a name used twice)")
            setattr(self, name, layer)

    def _named_layers(self):
        """(name, layer) of the layers forward runs, in order (a subclass may keep other
        modules beside them)."""
        return list(self._modules.items())

    def _layers(self):
        return [layer for _, layer in self._named_layers()]

    def __len__(self):
        return len(self._layers())

    def __getitem__(self, index):
        return self._layers()[index]

    def __iter__(self):
        return iter(self._layers())

    def forward(self, x):
        for layer in self._layers():
            x = layer(x)
        return x

    def backward(self, grad, input_grad=True):
        layers = self._layers()
        for position in range(len(layers) - 1, -1, -1):
            grad = layers[position].backward(grad, input_grad=input_grad or position > 0)
        return grad

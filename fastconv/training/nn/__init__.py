"""fastconv.nn: layers, a loss and a Sequential container for training CNNs with numpy.

Small enough to read in one sitting (micrograd / tinygrad style): each layer's forward and
backward are side by side in ``layers.py`` (the arithmetic is fastconv's functional ops) and
``extra.py`` (BatchNorm2d, AdaptiveAvgPool2d, ReLU6, LeakyReLU, Identity, Residual);
``fuse`` (``Module.fuse()``) folds eval-mode BatchNorm2d into the Conv2d before it.  Names and arguments follow ``torch.nn``.  ``from_torch`` converts a torch module
tree (``torch_convert.py``); ``describe``/``build`` turn a network into JSON-ready data and
back (``architecture.py``, used by ``models.save``/``load``).

Example
-------
>>> import numpy as np
>>> from fastconv import nn
>>> net = nn.Sequential(nn.Conv2d(1, 4, 3, rng=0), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
...                     nn.Linear(4 * 3 * 3, 10, rng=0))
>>> criterion = nn.CrossEntropyLoss()
>>> loss = criterion(net(np.zeros((8, 1, 8, 8), np.float32)), np.zeros(8, np.int64))
>>> net.zero_grad(); _ = net.backward(criterion.backward(), input_grad=False)
>>> net[0].weight.grad.shape
(4, 1, 3, 3)
"""
from .layers import AvgPool2d, Conv2d, ConvTranspose2d, Dropout, Flatten, Linear, MaxPool2d, ReLU
from .architecture import build, describe
from .extra import AdaptiveAvgPool2d, BatchNorm2d, Identity, LeakyReLU, ReLU6, Residual
from .torch_convert import from_torch
from .fuse import fuse
from .loss import CrossEntropyLoss, log_softmax, softmax
from .module import Module, Parameter, Sequential

__all__ = ["Parameter", "Module", "Sequential", "Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "ReLU",
           "Linear", "Flatten", "Dropout", "BatchNorm2d", "AdaptiveAvgPool2d", "ReLU6",
           "LeakyReLU", "Identity", "Residual", "CrossEntropyLoss", "softmax", "log_softmax",
           "from_torch", "describe", "build", "fuse"]

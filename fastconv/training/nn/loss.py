"""softmax, log_softmax and the cross-entropy loss (log-softmax fused, numerically stable)."""
import numpy as np

from .module import Module

__all__ = ["softmax", "log_softmax", "CrossEntropyLoss"]


def log_softmax(x, axis=-1):
    """log(softmax(x)) computed as x - max - log(sum(exp(x - max))): no overflow for large
    logits, no log(0) for very negative ones.

    Example
    -------
    >>> import numpy as np
    >>> from fastconv.nn import log_softmax
    >>> np.exp(log_softmax(np.array([1000.0, 1000.0])))
    array([0.5, 0.5])
    """
    x = np.asarray(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``, shifted by the max for stability.

    Example
    -------
    >>> import numpy as np
    >>> from fastconv.nn import softmax
    >>> softmax(np.array([0.0, np.log(3.0)]))
    array([0.25, 0.75])
    """
    x = np.asarray(x)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


class CrossEntropyLoss(Module):
    """Mean over the batch of -log softmax(logits)[target], as ``torch.nn.CrossEntropyLoss``.

    ``loss = criterion(logits, target)`` returns a Python float; ``criterion.backward()``
    then returns dLoss/dLogits = (softmax(logits) - onehot(target)) / N.

    Example
    -------
    >>> import numpy as np
    >>> from fastconv.nn import CrossEntropyLoss
    >>> criterion = CrossEntropyLoss()
    >>> round(criterion(np.zeros((2, 4), np.float32), np.array([0, 3])), 6)  # log(4)
    1.386294
    >>> criterion.backward()
    array([[-0.375,  0.125,  0.125,  0.125],
           [ 0.125,  0.125,  0.125, -0.375]], dtype=float32)
    """

    def __init__(self):
        super().__init__()
        self._cache = None

    def forward(self, logits, target):
        logits = np.asarray(logits)
        target = np.asarray(target)
        if logits.ndim != 2 or target.shape != logits.shape[:1]:
            raise ValueError(f"CrossEntropyLoss: logits must be (N, classes) and target (N,), "
                             f"got shapes {logits.shape} and {target.shape}")
        if target.dtype.kind not in "iu":
            raise TypeError(f"CrossEntropyLoss: target must hold integer class indices, got "
                            f"dtype {target.dtype}")
        if target.size and (target.min() < 0 or target.max() >= logits.shape[1]):
            raise ValueError(f"CrossEntropyLoss: target values must be in [0, "
                             f"{logits.shape[1]}), got [{target.min()}, {target.max()}]")
        logp = log_softmax(logits, axis=1)
        rows = np.arange(len(target))
        self._cache = (logp, target)
        return float(-logp[rows, target].mean())

    def backward(self, grad=1.0, input_grad=True):
        """dLoss/dLogits, scaled by ``grad`` (dOuter/dLoss, 1 for the loss itself)."""
        if self._cache is None:
            raise RuntimeError("CrossEntropyLoss.backward called without a forward before it")
        logp, target = self._cache
        self._cache = None
        grad_logits = np.exp(logp)
        grad_logits[np.arange(len(target)), target] -= 1.0
        grad_logits *= np.asarray(grad / len(target), logp.dtype)
        return grad_logits

"""Optimisers (SGD, Adam) and learning-rate schedules, with torch.optim's update rules.

An optimiser holds a list of ``fastconv.nn.Parameter`` and updates each ``.data`` in place
from its ``.grad`` (parameters whose ``.grad`` is None are skipped, as in PyTorch).
Each parameter's update is written out as in torch.optim's documentation, so the two agree
step by step (tests/test_optim.py checks it against torch and against hand-computed steps).
"""
import math

import numpy as np

from .nn.module import Module, Parameter

__all__ = ["Optimizer", "SGD", "Adam", "StepLR", "CosineAnnealingLR", "OneCycleLR"]


class Optimizer:
    """Base class: ``params``, the hyper-parameters in ``defaults`` (``lr`` among them, which
    schedulers change), per-parameter ``state``, ``zero_grad()`` and ``step()``."""

    def __init__(self, params, defaults):
        self.params = _parameter_list(params, type(self).__name__)
        if defaults["lr"] < 0:
            raise ValueError(f"{type(self).__name__}: lr must be >= 0, got {defaults['lr']}")
        self.defaults = dict(defaults)
        self.lr = defaults["lr"]
        self.state = [dict() for _ in self.params]

    def zero_grad(self):
        for param in self.params:
            param.grad = None

    def step(self):
        for param, state in zip(self.params, self.state):
            if param.grad is not None:
                self._update(param.data, param.grad, state)

    def _update(self, data, grad, state):
        raise NotImplementedError


def _parameter_list(params, optimizer):
    """``params`` as a list of Parameters, or the error torch.optim would raise, saying what to
    pass instead.  A Module is iterable (Sequential yields its layers), so without this check
    ``Adam(model)`` built an optimiser over layers that have no ``.grad`` and never stepped."""
    fix = "pass model.parameters()"
    if isinstance(params, Module):
        raise TypeError(f"{optimizer}: params must be an iterable of Parameters such as "
                        f"model.parameters(), got a Module ({type(params).__name__}); {fix}")
    if isinstance(params, (Parameter, np.ndarray)):
        raise TypeError(f"{optimizer}: params must be an iterable of Parameters, got a single "
                        f"{type(params).__name__}; pass [param] or model.parameters()")
    try:
        params = list(params)
    except TypeError:
        raise TypeError(f"{optimizer}: params must be an iterable of Parameters, got "
                        f"{type(params).__name__}; {fix}") from None
    if not params:
        raise ValueError(f"{optimizer}: optimizer got an empty parameter list; {fix} of a "
                         f"model that has parameters")
    for i, param in enumerate(params):
        if not isinstance(param, Parameter):
            what = (f"a Module ({type(param).__name__})" if isinstance(param, Module) else
                    "a dict (parameter groups are not supported)" if isinstance(param, dict)
                    else f"of type {type(param).__name__}")
            raise TypeError(f"{optimizer}: params[{i}] is {what}, not a Parameter; {fix} "
                            f"(or wrap arrays as fastconv.nn.Parameter)")
    return params


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov and weight decay:

        g = grad + weight_decay * p
        b = g on the first step, else momentum * b + (1 - dampening) * g
        g = g + momentum * b if nesterov else b          (when momentum != 0)
        p = p - lr * g

    Example
    -------
    >>> import numpy as np
    >>> from fastconv.nn import Parameter
    >>> from fastconv.optim import SGD
    >>> p = Parameter(np.array([1.0, 2.0]))
    >>> opt = SGD([p], lr=0.1, momentum=0.9)
    >>> p.grad = np.array([1.0, -1.0]); opt.step(); p.data
    array([0.9, 2.1])
    >>> p.grad = np.array([1.0, -1.0]); opt.step(); p.data   # buffer 1.9
    array([0.71, 2.29])
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening == 0")
        if momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: momentum and weight_decay must be >= 0, got {momentum} "
                             f"and {weight_decay}")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _update(self, data, grad, state):
        d = self.defaults
        dtype = data.dtype.type
        if d["weight_decay"]:
            grad = grad + dtype(d["weight_decay"]) * data
        momentum = d["momentum"]
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(grad, dtype=data.dtype, copy=True)
            else:
                buf *= dtype(momentum)
                buf += dtype(1.0 - d["dampening"]) * grad
            grad = grad + dtype(momentum) * buf if d["nesterov"] else buf
        data -= dtype(self.lr) * grad


class Adam(Optimizer):
    """Adam (Kingma and Ba), with PyTorch's bias correction and L2 weight decay:

        g = grad + weight_decay * p
        m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g * g
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    Example
    -------
    >>> import numpy as np
    >>> from fastconv.nn import Parameter
    >>> from fastconv.optim import Adam
    >>> p = Parameter(np.array([1.0, 1.0]))
    >>> opt = Adam([p], lr=0.1)
    >>> p.grad = np.array([0.5, -2.0]); opt.step(); p.data   # the first step moves by ~lr
    array([0.9, 1.1])
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"Adam: betas must be in [0, 1), got {betas}")
        if eps < 0 or weight_decay < 0:
            raise ValueError(f"Adam: eps and weight_decay must be >= 0, got {eps} and "
                             f"{weight_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay))

    def _update(self, data, grad, state):
        d = self.defaults
        dtype = data.dtype.type
        beta1, beta2 = d["betas"]
        if d["weight_decay"]:
            grad = grad + dtype(d["weight_decay"]) * data
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(data)
            state["exp_avg_sq"] = np.zeros_like(data)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += dtype(1.0 - beta1) * (grad - m)            # torch's lerp form of the same update
        v *= dtype(beta2)
        v += dtype(1.0 - beta2) * grad * grad
        step_size = self.lr / (1.0 - beta1 ** t)
        denom = np.sqrt(v)
        denom /= dtype(math.sqrt(1.0 - beta2 ** t))
        denom += dtype(d["eps"])
        data -= dtype(step_size) * (m / denom)


# ---- learning-rate schedules ------------------------------------------------------------------

class _Scheduler:
    """Sets ``optimizer.lr`` from a function of the number of ``step()`` calls so far; the
    first value is set on construction, as in torch.optim.lr_scheduler."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.base_lr = optimizer.defaults["lr"]
        self.last_step = 0
        optimizer.lr = self.lr_at(0)

    def lr_at(self, step):
        raise NotImplementedError

    def step(self):
        self.last_step += 1
        self.optimizer.lr = self.lr_at(self.last_step)

    def get_last_lr(self):
        return self.optimizer.lr


class StepLR(_Scheduler):
    """lr = base_lr * gamma ** (step // step_size).

    Example
    -------
    >>> import numpy as np
    >>> from fastconv.nn import Parameter
    >>> from fastconv.optim import SGD, StepLR
    >>> opt = SGD([Parameter(np.zeros(1))], lr=1.0)
    >>> sched = StepLR(opt, step_size=2, gamma=0.5)
    >>> [(sched.step(), opt.lr)[1] for _ in range(4)]
    [1.0, 0.5, 0.5, 0.25]
    """

    def __init__(self, optimizer, step_size, gamma=0.1):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def lr_at(self, step):
        return self.base_lr * self.gamma ** (step // self.step_size)


class CosineAnnealingLR(_Scheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * step / T_max)) / 2 (no restarts).

    Example
    -------
    >>> import numpy as np
    >>> from fastconv.nn import Parameter
    >>> from fastconv.optim import SGD, CosineAnnealingLR
    >>> opt = SGD([Parameter(np.zeros(1))], lr=1.0)
    >>> sched = CosineAnnealingLR(opt, T_max=2)
    >>> [round((sched.step(), opt.lr)[1], 6) for _ in range(2)]
    [0.5, 0.0]
    """

    def __init__(self, optimizer, T_max, eta_min=0.0):
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def lr_at(self, step):
        step = min(step, self.T_max)
        return self.eta_min + (self.base_lr - self.eta_min) * \
            (1 + math.cos(math.pi * step / self.T_max)) / 2


class OneCycleLR(_Scheduler):
    """The one-cycle policy (Smith), as torch's OneCycleLR with cosine annealing and
    three_phase=False: from max_lr / div_factor up to max_lr over the first pct_start of
    total_steps, then down to max_lr / (div_factor * final_div_factor).  (Momentum is not
    cycled.)

    Example
    -------
    >>> import numpy as np
    >>> from fastconv.nn import Parameter
    >>> from fastconv.optim import Adam, OneCycleLR
    >>> opt = Adam([Parameter(np.zeros(1))], lr=1.0)
    >>> sched = OneCycleLR(opt, max_lr=1.0, total_steps=5, pct_start=0.25)
    >>> [round(opt.lr, 4)] + [round((sched.step(), opt.lr)[1], 4) for _ in range(4)]
    [0.04, 0.9045, 0.5523, 0.1654, 0.0]
    """

    def __init__(self, optimizer, max_lr, total_steps, pct_start=0.3, div_factor=25.0,
                 final_div_factor=1e4):
        if total_steps < 2:
            raise ValueError(f"OneCycleLR: total_steps must be >= 2, got {total_steps}")
        self.max_lr, self.total_steps = max_lr, total_steps
        self.initial_lr = max_lr / div_factor
        self.min_lr = self.initial_lr / final_div_factor
        self.peak_step = float(pct_start * total_steps) - 1
        super().__init__(optimizer)

    @staticmethod
    def _cos(start, end, fraction):
        return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1)

    def lr_at(self, step):
        step = min(step, self.total_steps - 1)
        if step <= self.peak_step:
            return self._cos(self.initial_lr, self.max_lr, step / self.peak_step)
        return self._cos(self.max_lr, self.min_lr, (step - self.peak_step)
                         / (self.total_steps - 1 - self.peak_step))

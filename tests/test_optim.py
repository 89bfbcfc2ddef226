"""fastconv.optim: hand-computed updates, and the same steps as torch.optim (when installed)."""
import math

import numpy as np
import pytest

from fastconv import optim
from fastconv.nn import Parameter


def _sgd_by_hand(p, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    """torch.optim.SGD's documented algorithm, one scalar at a time in Python floats."""
    buf = None
    for g in grads:
        g = g + weight_decay * p
        if momentum:
            buf = g if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p


def _adam_by_hand(p, grads, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    m = v = 0.0
    for t, g in enumerate(grads, 1):
        g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        p = p - lr / (1 - beta1 ** t) * m / (math.sqrt(v) / math.sqrt(1 - beta2 ** t) + eps)
    return p


SGD_CASES = [dict(lr=0.1), dict(lr=0.05, momentum=0.9),
             dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
             dict(lr=0.2, momentum=0.5, dampening=0.3, weight_decay=0.1)]
ADAM_CASES = [dict(lr=1e-3), dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05)]


@pytest.mark.parametrize("kwargs", SGD_CASES)
def test_sgd_matches_the_algorithm_by_hand(kwargs):
    grads = [0.5, -1.5, 2.0, 0.25]
    p = Parameter(np.array([1.0, -2.0]))
    opt = optim.SGD([p], **kwargs)
    for g in grads:
        p.grad = np.array([g, -g])
        opt.step()
    expected = [_sgd_by_hand(1.0, grads, **kwargs), _sgd_by_hand(-2.0, [-g for g in grads],
                                                                  **kwargs)]
    np.testing.assert_allclose(p.data, expected, rtol=1e-14)


@pytest.mark.parametrize("kwargs", ADAM_CASES)
def test_adam_matches_the_algorithm_by_hand(kwargs):
    grads = [0.5, -1.5, 2.0, 0.25]
    p = Parameter(np.array([1.0]))
    opt = optim.Adam([p], **kwargs)
    for g in grads:
        p.grad = np.array([g])
        opt.step()
    hand = dict(kwargs)
    beta1, beta2 = hand.pop("betas", (0.9, 0.999))
    np.testing.assert_allclose(p.data, [_adam_by_hand(1.0, grads, beta1=beta1, beta2=beta2,
                                                      **hand)], rtol=1e-13)


def test_parameters_without_grad_are_skipped_and_zero_grad_clears():
    a, b = Parameter(np.ones(2)), Parameter(np.ones(2))
    opt = optim.SGD([a, b], lr=1.0, momentum=0.9)
    a.grad = np.ones(2)
    opt.step()
    np.testing.assert_array_equal(a.data, [0.0, 0.0])
    np.testing.assert_array_equal(b.data, [1.0, 1.0])
    opt.zero_grad()
    assert a.grad is None


def test_float32_parameters_stay_float32():
    p = Parameter(np.ones(3, np.float32))
    for opt in (optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1), optim.Adam([p])):
        p.grad = np.full(3, 0.5, np.float32)
        opt.step()
        opt.step()
        assert p.data.dtype == np.float32


def test_bad_hyper_parameters_raise():
    p = [Parameter(np.ones(1))]
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="lr"):
        optim.Adam(p, lr=-1.0)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam(p, betas=(1.0, 0.9))


@pytest.mark.parametrize("make", [optim.SGD, optim.Adam])
def test_params_must_be_an_iterable_of_parameters(make):
    """A Module (iterable: Sequential yields its layers) used to give an optimiser that
    silently did nothing; a bare Parameter or array, an empty list and the wrong elements
    are refused as torch.optim refuses them, and every message says what to pass."""
    from fastconv import models
    name = make.__name__
    model = models.lenet5(seed=0)
    with pytest.raises(TypeError, match=rf"^{name}: params must be an iterable of Parameters "
                                        r"such as model.parameters\(\), got a Module "
                                        r"\(Sequential\); pass model.parameters\(\)$"):
        make(model)
    for single in (Parameter(np.ones(2)), np.ones(2)):
        with pytest.raises(TypeError, match=rf"{name}: .* got a single "
                                            rf"{type(single).__name__}; pass \[param\]"):
            make(single)
    with pytest.raises(TypeError, match=rf"{name}: .* got int; pass model.parameters"):
        make(3)
    with pytest.raises(ValueError, match=rf"{name}: optimizer got an empty parameter list"):
        make([])
    with pytest.raises(ValueError, match="empty parameter list"):
        make(iter([]))
    for wrong, what in (([model], r"a Module \(Sequential\)"), ([np.ones(2)], "of type ndarray"),
                        ([{"params": []}], "a dict"),
                        ([Parameter(np.ones(1)), 1.0], "of type float")):
        with pytest.raises(TypeError, match=rf"{name}: params\[\d\] is {what}"):
            make(wrong)
    # what works: a list, or any iterable of Parameters, once
    assert len(make(model.parameters()).params) == 10
    assert len(make(p for p in model.parameters()).params) == 10


def _run_both(torch, make_ours, make_torch, steps=6, scheduler=None):
    rng = np.random.default_rng(0)
    init = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    ours = [Parameter(a.copy()) for a in init]
    theirs = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in init]
    o, t = make_ours(ours), make_torch(theirs)
    for _ in range(steps):
        for p, q in zip(ours, theirs):
            g = rng.standard_normal(p.data.shape)
            p.grad = g
            q.grad = torch.from_numpy(g.copy())
        o.step()
        t.step()
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kwargs", SGD_CASES)
def test_sgd_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    _run_both(torch, lambda ps: optim.SGD(ps, **kwargs),
              lambda ps: torch.optim.SGD(ps, **kwargs))


@pytest.mark.parametrize("kwargs", ADAM_CASES)
def test_adam_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    _run_both(torch, lambda ps: optim.Adam(ps, **kwargs),
              lambda ps: torch.optim.Adam(ps, **kwargs))


@pytest.mark.parametrize("name", ["step", "cosine", "onecycle"])
def test_schedules_match_torch(name):
    torch = pytest.importorskip("torch")
    steps = 37
    make = {
        "step": (lambda o: optim.StepLR(o, 5, 0.5),
                 lambda o: torch.optim.lr_scheduler.StepLR(o, 5, 0.5)),
        "cosine": (lambda o: optim.CosineAnnealingLR(o, steps, eta_min=0.01),
                   lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, steps, 0.01)),
        "onecycle": (lambda o: optim.OneCycleLR(o, 0.3, steps),
                     lambda o: torch.optim.lr_scheduler.OneCycleLR(
                         o, 0.3, total_steps=steps, cycle_momentum=False)),
    }[name]
    ours = optim.SGD([Parameter(np.zeros(1))], lr=0.3)
    theirs = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.3)
    s, t = make[0](ours), make[1](theirs)
    got, expected = [ours.lr], [theirs.param_groups[0]["lr"]]
    for _ in range(steps - 1):
        theirs.step()
        s.step()
        t.step()
        got.append(ours.lr)
        expected.append(theirs.param_groups[0]["lr"])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_one_cycle_by_hand():
    opt = optim.SGD([Parameter(np.zeros(1))], lr=1.0)
    sched = optim.OneCycleLR(opt, max_lr=1.0, total_steps=101, pct_start=0.3)
    lrs = [opt.lr]
    for _ in range(100):
        sched.step()
        lrs.append(opt.lr)
    assert lrs[0] == pytest.approx(1 / 25)
    assert max(lrs) == pytest.approx(1.0, rel=1e-3)
    assert int(np.argmax(lrs)) in (29, 30)
    assert lrs[-1] == pytest.approx(1 / 25 / 1e4)

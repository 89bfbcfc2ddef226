"""PyTorch's own OpInfo and ModuleInfo samples run through fastconv: every sample input of the
torch ops that fastconv mirrors (float32 and float64) against torch's result, every error input
against a clear rejection, and every sample of the torch modules that nn.from_torch converts,
converted and run beside torch.

    python tests/torch_opinfo.py        # the table, and each sample that is not "ok"

Needs torch and expecttest (torch's testing database imports it); tests/test_torch_opinfo.py
asserts the outcome.  Each sample's tensors become numpy arrays, its positional and keyword
arguments are passed as they are (fastconv follows torch.nn.functional's names and order), and
`inplace=True` becomes `out=` the input.  Outcomes:

* ok: fastconv's result has torch's shape and dtype and matches it (integer outputs such as
  max_pool2d's indices exactly; floating ones to 1e-4 (float32) or 1e-10 (float64) of the
  largest output), and batch_norm's running statistics are updated as torch's;
* mismatch: any other result;
* rejected: fastconv raised TypeError or ValueError where torch computed a result; allowed only
  for the cases in BY_DESIGN, each with its reason;
* crash: any other exception.

Error inputs (the samples torch rejects): ok when fastconv raises TypeError, ValueError or
NotImplementedError too, mismatch when it returns a result, crash on any other exception.
"""
import collections
import sys

import numpy as np

# torch.nn.functional name -> fastconv's function of the same signature
OPS = {
    "nn.functional.conv2d": "conv2d",
    "nn.functional.conv_transpose2d": "conv_transpose2d",
    "nn.functional.max_pool2d": "max_pool2d",
    "nn.functional.avg_pool2d": "avg_pool2d",
    "nn.functional.adaptive_avg_pool2d": "adaptive_avg_pool2d",
    "nn.functional.relu": "relu",
    "nn.functional.relu6": "relu6",
    "nn.functional.leaky_relu": "leaky_relu",
    "nn.functional.batch_norm": "batch_norm",
    "nn.functional.linear": "linear",
}

# Samples fastconv rejects on purpose: (op, predicate on the sample's input shape, reason)
BY_DESIGN = [
    ("nn.functional.batch_norm", lambda shape: len(shape) < 2,
     "a 1-D input has no channel axis; fastconv's batch_norm takes (N, C, ...) as torch "
     "documents, and says so"),
]

REJECTIONS = (TypeError, ValueError, NotImplementedError)
DTYPE_TOLERANCES = (("float32", 1e-4), ("float64", 1e-10))  # torch dtype name, tolerance


class _Tally:
    """Outcomes per (name, kind) and a note for every sample that was not ok."""

    def __init__(self):
        self.counts = collections.defaultdict(collections.Counter)
        self.notes = []

    def add(self, name, kind, outcome, text, label=None):
        self.counts[name, kind][outcome] += 1
        if outcome != "ok":
            self.notes.append((name, kind, label or outcome, text))

    def call(self, name, kind, text, run, by_design):
        """(True, run()) when fastconv returned; else (False, None), with a rejection recorded
        as "by design" when by_design() names a reason, "rejected" otherwise, and any other
        exception as a crash."""
        try:
            return True, run()
        except REJECTIONS as exc:
            outcome = "by design" if by_design() else "rejected"
            self.add(name, kind, outcome, f"{text}: {type(exc).__name__}: {exc}")
        except Exception as exc:
            self.add(name, kind, "crash", f"{text}: {exc!r}")
        return False, None

    def result(self):
        return dict(self.counts), self.notes


def _numpy(value):
    import torch
    if isinstance(value, torch.Tensor):
        return value.detach().clone().numpy()
    if isinstance(value, (list, tuple)):
        return type(value)(_numpy(v) for v in value)
    return value


def _torch_copy(value):
    import torch
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    return value


def _matches(expected, got, tolerance):
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = got if isinstance(got, tuple) else (got,)
    if len(expected) != len(got):
        return False
    for e, g in zip(expected, got):
        e, g = e.detach().numpy(), np.asarray(g)
        if e.shape != g.shape or e.dtype != g.dtype:
            return False
        if e.dtype.kind in "iub":
            if not np.array_equal(e, g):
                return False
            continue
        scale = max(1.0, float(np.abs(e[np.isfinite(e)]).max(initial=0.0)))
        if not np.allclose(g, e, rtol=0.0, atol=tolerance * scale, equal_nan=True):
            return False
    return True


def _describe(sample):
    text = f"input {tuple(sample.input.shape)}, args {sample.args!r}, kwargs {sample.kwargs!r}"
    return text if len(text) < 400 else text[:400] + "..."


def run():
    """{(op, kind): Counter of outcomes} and the list of (op, kind, outcome, description) for
    every sample that was not ok.  kind: the dtype's name, or "errors"."""
    import torch
    from torch.testing._internal.common_methods_invocations import op_db
    import fastconv

    tally = _Tally()
    for info in op_db:
        if info.name not in OPS:
            continue
        fn = getattr(fastconv, OPS[info.name])
        name = info.name + (f".{info.variant_test_name}" if info.variant_test_name else "")
        for kind, tolerance in DTYPE_TOLERANCES:
            for sample in info.sample_inputs("cpu", getattr(torch, kind)):
                t_args = [_torch_copy(a) for a in sample.args]
                t_kwargs = {k: _torch_copy(v) for k, v in sample.kwargs.items()}
                try:
                    expected = info.op(_torch_copy(sample.input), *t_args, **t_kwargs)
                except Exception:  # torch rejects it itself: not a sample of the op
                    continue
                x = _numpy(sample.input)
                args = [_numpy(a) for a in sample.args]
                kwargs = {k: _numpy(v) for k, v in sample.kwargs.items()}
                if kwargs.pop("inplace", False):
                    kwargs["out"] = x
                returned, got = tally.call(
                    name, kind, _describe(sample), lambda: fn(x, *args, **kwargs),
                    lambda: any(op == info.name and applies(tuple(sample.input.shape))
                                for op, applies, _ in BY_DESIGN))
                if not returned:
                    continue
                ok = _matches(expected, got, tolerance)
                if info.name == "nn.functional.batch_norm":  # running stats, updated in place
                    for i in (0, 1):
                        if i < len(t_args) and isinstance(t_args[i], torch.Tensor):
                            ok = ok and np.allclose(args[i], t_args[i].numpy(),
                                                    rtol=tolerance, atol=tolerance)
                tally.add(name, kind, "ok" if ok else "mismatch", _describe(sample))
        try:
            errors = list(info.error_inputs("cpu"))
        except Exception:  # this torch has no error inputs for the op
            errors = []
        for error in errors:
            sample = error.sample_input
            kwargs = {k: _numpy(v) for k, v in sample.kwargs.items() if k != "inplace"}
            try:
                fn(_numpy(sample.input), *[_numpy(a) for a in sample.args], **kwargs)
            except REJECTIONS:
                tally.add(name, "errors", "ok", _describe(sample))
            except Exception as exc:
                tally.add(name, "errors", "crash", f"{_describe(sample)}: {exc!r}")
            else:
                tally.add(name, "errors", "mismatch", f"{_describe(sample)} (torch: "
                          f"{error.error_type.__name__} {error.error_regex!r})", label="accepted")
    return tally.result()


# torch.nn module classes that nn.from_torch converts, for ModuleInfo's samples
MODULES = ("Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "ReLU",
           "ReLU6", "LeakyReLU", "BatchNorm2d", "Linear", "Flatten", "Dropout")

# Modules from_torch refuses on purpose: (class, predicate on the torch module, reason)
MODULES_BY_DESIGN = [
    ("MaxPool2d", lambda m: m.return_indices,
     "a layer of a fastconv.nn network returns one array; F.max_pool2d(return_indices=True) "
     "gives the indices"),
]


def run_modules():
    """PyTorch's ModuleInfo samples: each torch module built from the sample's constructor
    arguments (float32 and float64, training and eval), converted by fastconv.nn.from_torch,
    and run on the sample's input beside torch.  Returns what run() does, kinds being
    "<dtype> train" / "<dtype> eval"; dropout in training is random and not compared."""
    import torch
    from torch.testing._internal.common_modules import module_db
    from fastconv import nn

    tally = _Tally()
    for info in module_db:
        name = info.module_cls.__name__
        if name not in MODULES:
            continue
        for dtype_name, tolerance in DTYPE_TOLERANCES:
            dtype = getattr(torch, dtype_name)
            for training in (False, True):
                if training and name == "Dropout":
                    continue
                kind = dtype_name + (" train" if training else " eval")
                samples = info.module_inputs_func(info, device="cpu", dtype=dtype,
                                                  requires_grad=False, training=training)
                for sample in samples:
                    if sample.forward_input is None:
                        continue
                    made = sample.constructor_input
                    try:
                        module = info.module_cls(*made.args, **made.kwargs).to(dtype)
                    except Exception:  # torch refuses its own constructor arguments
                        continue
                    module.train(training)
                    forward = sample.forward_input
                    text = (f"{name}(*{made.args!r}, **{made.kwargs!r}) on "
                            f"{[tuple(a.shape) for a in forward.args if hasattr(a, 'shape')]}")
                    with torch.no_grad():
                        expected = module(*[_torch_copy(a) for a in forward.args],
                                          **{k: _torch_copy(v) for k, v in forward.kwargs.items()})
                    def converted_forward():
                        net = nn.from_torch(module)
                        net.train(training)
                        return net(*[_numpy(a) for a in forward.args],
                                   **{k: _numpy(v) for k, v in forward.kwargs.items()})
                    returned, got = tally.call(
                        name, kind, text, converted_forward,
                        lambda: any(cls == name and applies(module)
                                    for cls, applies, _ in MODULES_BY_DESIGN))
                    if returned:
                        ok = _matches(expected, got, tolerance)
                        tally.add(name, kind, "ok" if ok else "mismatch", text)
    return tally.result()


def _table(title, counts, notes):
    outcomes = ("ok", "mismatch", "rejected", "by design", "crash")
    print(f"{title:42s} {'samples':12s}" + "".join(f"{o:>10s}" for o in outcomes))
    total = collections.Counter()
    for (name, kind), counter in sorted(counts.items()):
        print(f"{name:42s} {kind:12s}" + "".join(f"{counter[o]:10d}" for o in outcomes))
        total.update(counter)
    print(f"{'all':42s} {'':12s}" + "".join(f"{total[o]:10d}" for o in outcomes))
    for name, kind, outcome, text in notes:
        print(f"{outcome}: {name} {kind}: {text}")
    return total


def main():
    ops = _table("torch op (OpInfo)", *run())
    print()
    modules = _table("torch module (ModuleInfo, via from_torch)", *run_modules())
    return 0 if all(t["mismatch"] == t["rejected"] == t["crash"] == 0
                    for t in (ops, modules)) else 1


if __name__ == "__main__":
    sys.exit(main())

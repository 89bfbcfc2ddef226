"""ResNet-18 inference layer by layer: each distinct layer call of the converted model timed in
fastconv beside the same layer in torch, interleaved, and the sum against the whole model.

    PYTHONPATH=. python bench/resnet18_layers.py [--threads 1] [--batch 1] [--repeats 41]
                                                 [--cpu]

The model is bench/resnet18_inference.py's (random weights, BatchNorm folded, eval).  One
forward of the fastconv model records every functional call its layers make (conv2d with its
fused residual and ReLU, max_pool2d, adaptive_avg_pool2d, linear, ...) with their arrays; each
distinct call is then timed against its torch twin, one call of each per repeat, medians;
``err`` is the largest difference from the twin's result relative to its largest value (it
checks that the twin is the same layer).  ``--cpu`` times process CPU time instead of wall
time (meaningful at 1 thread on a shared machine).  The last column is the conv2d algorithm
``auto`` runs (``fastconv.explain``: a measured plan, or the shape rule).  The sum of the rows
(each times its count) beside the whole model's time shows what the model adds around them.
"""
import argparse
import sys
import time

import numpy as np

import fastconv
from fastconv.ops import functional as F
from resnet18_inference import resnet18_pair  # (this script's folder is on sys.path)

RECORDED = ("conv2d", "max_pool2d", "adaptive_avg_pool2d", "avg_pool2d", "linear", "add",
            "relu", "flatten")


def record_calls(net, x):
    calls = []
    saved = {}
    for name in RECORDED:
        fn = getattr(F, name, None)
        if fn is None:
            continue
        saved[name] = fn

        def wrapper(*args, _fn=fn, _name=name, **kwargs):
            out = _fn(*args, **kwargs)
            calls.append((_name, args, kwargs, out))
            return out
        setattr(F, name, wrapper)
    try:
        net(x)
    finally:
        for name, fn in saved.items():
            setattr(F, name, fn)
    return calls


def describe(name, args, kwargs):
    x = args[0]
    if name == "conv2d":
        w = args[1]
        stride = args[3] if len(args) > 3 else kwargs.get("stride", 1)
        extra = "+res" if kwargs.get("residual") is not None else ""
        extra += "+relu" if kwargs.get("activation") else ""
        return (f"conv {w.shape[2]}x{w.shape[3]} s{stride if isinstance(stride, int) else stride[0]}"
                f" {x.shape[1]}->{w.shape[0]} @{x.shape[2]}{extra}")
    return f"{name} {tuple(x.shape)}"


def key_of(name, args, kwargs):
    shapes = tuple(a.shape if isinstance(a, np.ndarray) else a for a in args)
    kw = tuple(sorted((k, v.shape if isinstance(v, np.ndarray) else v)
                      for k, v in kwargs.items()))
    return (name, shapes, kw)


def torch_twin(torch, name, args, kwargs):
    tf = torch.nn.functional
    t = [torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args]
    tk = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    if name == "conv2d":
        x, w = t[0], t[1]
        b = t[2] if len(t) > 2 else tk.get("bias")
        stride = t[3] if len(t) > 3 else tk.get("stride", 1)
        padding = t[4] if len(t) > 4 else tk.get("padding", 0)
        res, act = tk.get("residual"), tk.get("activation")

        def run():
            y = tf.conv2d(x, w, b, stride, padding)
            if res is not None:
                y = y.add_(res)
            if act == "relu":
                y = y.relu_()
            return y
        return run
    if name == "max_pool2d":
        x = t[0]
        ks = t[1] if len(t) > 1 else tk["kernel_size"]
        stride = t[2] if len(t) > 2 else tk.get("stride")
        padding = t[3] if len(t) > 3 else tk.get("padding", 0)
        return lambda: tf.max_pool2d(x, ks, stride, padding)
    if name == "adaptive_avg_pool2d":
        x = t[0]
        out = t[1] if len(t) > 1 else tk["output_size"]
        return lambda: tf.adaptive_avg_pool2d(x, out)
    if name == "linear":
        x, w = t[0], t[1]
        b = t[2] if len(t) > 2 else tk.get("bias")
        return lambda: tf.linear(x, w, b)
    if name == "add":
        a, b = t[0], t[1]
        return lambda: torch.relu(a + b) if tk.get("activation") else a + b
    if name == "relu":
        return lambda: torch.relu(t[0])
    if name == "flatten":
        return lambda: torch.flatten(t[0], 1)
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=41)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--cpu", action="store_true", help="process CPU time, not wall time")
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args(argv)
    torch, model, net = resnet18_pair(args.threads)
    clock = time.process_time if args.cpu else time.perf_counter
    x = np.random.default_rng(1).standard_normal(
        (args.batch, 3, args.size, args.size)).astype(np.float32)
    net(x)
    calls = record_calls(net, x)
    distinct = {}
    for name, a, kw, _ in calls:
        distinct.setdefault(key_of(name, a, kw), [name, a, kw, 0])[3] += 1
    rows = []
    for name, a, kw, count in distinct.values():
        fc = getattr(F, name)
        run_fc = (lambda fc=fc, a=a, kw=kw: fc(*a, **kw))
        run_t = None if args.no_torch else torch_twin(torch, name, a, kw)
        auto = ""
        if name == "conv2d":
            stride = a[3] if len(a) > 3 else kw.get("stride", 1)
            padding = a[4] if len(a) > 4 else kw.get("padding", 0)
            info = fastconv.explain(a[0].shape, a[1].shape, stride, padding, print_=False)
            auto = f"{info['algorithm']} ({info['source'].split()[0]})"
        with torch.no_grad():
            got = run_fc()
            err = float("nan")
            if run_t:
                want = run_t().numpy()
                err = float(np.max(np.abs(got - want)) / max(float(np.max(np.abs(want))), 1e-30))
            mine, theirs = [], []
            for _ in range(args.repeats):
                s = clock(); run_fc(); mine.append(clock() - s)
                if run_t:
                    s = clock(); run_t(); theirs.append(clock() - s)
        m = float(np.median(mine)) * 1e3
        t = float(np.median(theirs)) * 1e3 if theirs else float("nan")
        rows.append((describe(name, a, kw), count, m, t, err, auto))
    whole_fc, whole_t = [], []
    with torch.no_grad():
        xt = torch.from_numpy(x)
        for _ in range(max(5, args.repeats // 4)):
            s = clock(); net(x); whole_fc.append(clock() - s)
            s = clock(); model(xt); whole_t.append(clock() - s)
    print(f"ResNet-18 layers, batch {args.batch}, {args.threads} threads, "
          f"{'CPU' if args.cpu else 'wall'} ms, medians of {args.repeats}")
    print(f"{'layer':<34} {'n':>2} {'fastconv':>9} {'torch':>8} {'t/fc':>6} {'n*fc':>7} "
          f"{'n*torch':>8} {'err':>8}  auto")
    sum_fc = sum_t = 0.0
    for desc, count, m, t, err, auto in rows:
        sum_fc += count * m
        sum_t += count * t
        print(f"{desc:<34} {count:>2} {m:>9.3f} {t:>8.3f} {t / m:>5.2f}x {count * m:>7.2f} "
              f"{count * t:>8.2f} {err:>8.1e}  {auto}")
    mf, mt = float(np.median(whole_fc)) * 1e3, float(np.median(whole_t)) * 1e3
    print(f"{'sum of layers':<34} {'':>2} {'':>9} {'':>8} {sum_t / sum_fc:>5.2f}x "
          f"{sum_fc:>7.2f} {sum_t:>8.2f}")
    print(f"{'whole model':<34} {'':>2} {'':>9} {'':>8} {mt / mf:>5.2f}x {mf:>7.2f} {mt:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

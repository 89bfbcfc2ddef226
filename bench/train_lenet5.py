"""LeNet-5 training and inference: fastconv beside PyTorch, same batch, same threads.

    PYTHONPATH=. python bench/train_lenet5.py [--threads 1] [--batch-size 64] [--repeats 31]
                                              [--profile]

Prints, for the whole training step (forward, loss, backward, Adam update) and for inference
on 10,000 images (batch 1000, eval mode), the images/s of each and the ratio fastconv/PyTorch.
fastconv runs LeNet-5 as `fastconv train` does (max pool before ReLU: the same numbers, see
models.lenet5) and, on a second line, in the textbook order PyTorch's model has.
The two run interleaved in one process (one timed block of each per repeat) and the ratio is
the median of the per-repeat ratios, so the machine's load affects both alike.  Data are
random MNIST-shaped images: the time of a step does not depend on the pixel values.
``--profile`` adds where the time of a fastconv step goes, layer by layer.
PyTorch is optional: without it the script says so and prints fastconv's figures alone.
"""
import argparse
import sys
import time
from collections import defaultdict

import numpy as np

import fastconv
from fastconv import models, nn, optim, train

try:   # a private helper of the trainer's, which may go: without it, numpy's BLAS as it is
    from fastconv.nn._blas import single_threaded_blas
except ImportError:
    from contextlib import nullcontext as single_threaded_blas

TARGET_TRAIN, TARGET_INFER = 1.2, 1.5


def make_fastconv(batches, test_x, pool_first=True):
    model = models.lenet5(seed=0, pool_first=pool_first)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.CrossEntropyLoss()

    def steps():
        for x, y in batches:
            train.train_step(model, criterion, opt, x, y)

    def infer():
        return train.predict(model, test_x, 1000)
    return steps, infer, model


def make_torch(torch, batches, test_x):
    model = models.torch_lenet5()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    tb = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
    tx = torch.from_numpy(test_x)

    def steps():
        model.train()
        for x, y in tb:
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()

    def infer():
        model.eval()
        with torch.no_grad():
            return torch.cat([model(tx[i:i + 1000]) for i in range(0, len(tx), 1000)])
    return steps, infer


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(name, ours, theirs, images, repeats, target):
    ours()                                            # warm up both (allocations, caches)
    if theirs:
        theirs()
    t_ours, t_theirs, ratios = [], [], []
    for repeat in range(repeats):
        # alternate which goes first, so a load change mid-pair favours neither
        if theirs and repeat % 2:
            b, a = timed(theirs), timed(ours)
        else:
            a = timed(ours)
            b = timed(theirs) if theirs else None
        t_ours.append(a)
        if theirs:
            t_theirs.append(b)
            ratios.append(b / a)
    line = f"{name:<28} fastconv {images / np.median(t_ours):8.0f} img/s"
    if theirs:
        ratio = float(np.median(ratios))
        line += (f"   pytorch {images / np.median(t_theirs):8.0f} img/s   ratio "
                 f"{ratio:.2f}x (target {target}x: {'met' if ratio >= target else 'NOT met'}; "
                 f"quartiles {np.percentile(ratios, 25):.2f}-{np.percentile(ratios, 75):.2f})")
    print(line, flush=True)


def profile_step(batches, repeats):
    """Seconds per step spent in each layer's forward and backward, the loss and the update."""
    model = models.lenet5(seed=0, pool_first=True)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.CrossEntropyLoss()
    spent = defaultdict(float)
    names = {id(layer): f"{index}:{type(layer).__name__}" for index, layer in enumerate(model)}

    def clock(key, fn, *args, **kwargs):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        spent[key] += time.perf_counter() - start
        return result

    count = 0
    total_start = time.perf_counter()
    for _ in range(repeats):
        for x, y in batches:
            out = x
            for layer in model:
                out = clock((names[id(layer)], "forward"), layer.forward, out)
            loss = clock(("loss", "forward"), criterion.forward, out, y)
            grad = clock(("loss", "backward"), criterion.backward)
            opt.zero_grad()
            layers = list(model)
            for index in range(len(layers) - 1, -1, -1):
                grad = clock((names[id(layers[index])], "backward"), layers[index].backward,
                             grad, input_grad=index > 0)
            clock(("adam", "update"), opt.step)
            count += 1
            del loss
    total = time.perf_counter() - total_start
    accounted = sum(spent.values())
    print(f"\nwhere a fastconv step goes ({count} steps, {1e3 * total / count:.2f} ms/step):")
    by_kind = defaultdict(float)
    for (name, phase), seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        kind = name.split(":")[-1]
        by_kind[f"{kind} {phase}"] += seconds
        print(f"  {name:<14} {phase:<8} {1e3 * seconds / count:7.3f} ms  "
              f"{100 * seconds / total:5.1f}%")
    print(f"  {'python glue':<23} {1e3 * (total - accounted) / count:7.3f} ms  "
          f"{100 * (total - accounted) / total:5.1f}%")
    print("by kind: " + ", ".join(f"{k} {100 * v / total:.1f}%" for k, v in
                                  sorted(by_kind.items(), key=lambda kv: -kv[1])))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=fastconv.get_num_threads())
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10, help="training steps per timed block")
    parser.add_argument("--repeats", type=int, default=31)
    parser.add_argument("--images", type=int, default=10000, help="images for inference")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)

    fastconv.set_num_threads(args.threads)
    try:
        import torch
        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
        print("PyTorch is not installed: fastconv's figures only (pip install torch to "
              "compare)")
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((args.batch_size, 1, 28, 28)).astype(np.float32),
                rng.integers(0, 10, args.batch_size)) for _ in range(args.steps)]
    test_x = rng.standard_normal((args.images, 1, 28, 28)).astype(np.float32)
    print(f"LeNet-5, batch {args.batch_size}, {args.threads} threads, fastconv "
          f"{fastconv.__version__} ({fastconv.show_config(print_=False).get('isa', '?')})"
          + (f", torch {torch.__version__}" if torch else ""), flush=True)

    with single_threaded_blas():
        steps, infer, _ = make_fastconv(batches, test_x)
        t_steps, t_infer = make_torch(torch, batches, test_x) if torch else (None, None)
        compare("training step", steps, t_steps, args.steps * args.batch_size, args.repeats,
                TARGET_TRAIN)
        # the layer order of the textbook (and of the PyTorch model): ReLU before the pool
        textbook, _, _ = make_fastconv(batches, test_x, pool_first=False)
        compare("training step, ReLU first", textbook, t_steps, args.steps * args.batch_size,
                args.repeats, TARGET_TRAIN)
        compare(f"inference, {len(test_x):,} images", infer, t_infer, len(test_x),
                max(3, args.repeats // 3), TARGET_INFER)
        if args.profile:
            profile_step(batches, max(1, args.repeats // 3))
    return 0


if __name__ == "__main__":
    sys.exit(main())

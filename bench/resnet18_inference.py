"""ResNet-18 inference: fastconv (converted with fastconv.nn.from_torch) beside torch eager.

    PYTHONPATH=. python bench/resnet18_inference.py [--threads 2] [--batches 1 16]
                                                    [--repeats 9] [--size 224]
                                                    [--precision highest|high]

torchvision's ResNet-18 architecture (defined in tests/torchvision_models.py, since
torchvision may be absent), random weights and BatchNorm statistics, eval mode, float32.  For
each batch size it prints the images/s of both, the ratio fastconv / torch (the median of the
per-repeat ratios: the two run interleaved, one timed call of each per repeat, so load on the
machine falls on both) and the largest logit error relative to the largest logit.  The target
of the issue "Drop-in for real CNNs" is 1.3x at batch 1 and 16 on 2 threads.  Needs torch.
"""
import argparse
import os
import sys
import time

import numpy as np

import fastconv
from fastconv import nn

TARGET = 1.3
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))


def resnet18_pair(threads):
    """(torch, model, net): torchvision's ResNet-18 in torch (random weights and BatchNorm
    statistics, eval mode) and its fastconv conversion with every BatchNorm folded
    (Module.fuse), both libraries set to `threads`.  Raises ImportError without torch."""
    import torch
    import torchvision_models as tv
    torch.set_num_threads(threads)
    fastconv.set_num_threads(threads)
    torch.manual_seed(0)
    model = tv.randomise_batch_norms(tv.resnet18()).eval()
    net = nn.from_torch(model)
    net.eval()
    return torch, model, net.fuse() or net


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--size", type=int, default=224, help="input height and width")
    parser.add_argument("--precision", choices=("highest", "high"), default="highest")
    args = parser.parse_args(argv)
    try:
        torch, model, net = resnet18_pair(args.threads)
    except ImportError as exc:
        print(f"resnet18_inference: needs torch ({exc})")
        return 0
    fastconv.set_precision(args.precision)
    print(f"ResNet-18, {args.size}x{args.size}, float32, {args.threads} threads, precision "
          f"{args.precision!r}, torch {torch.__version__}, fastconv {fastconv.__version__}, "
          "BatchNorm folded")
    print(f"{'batch':>5} {'fastconv img/s':>15} {'torch img/s':>12} {'ratio':>7} "
          f"{'target':>7} {'max rel err':>12}")
    rng = np.random.default_rng(1)
    worst = float("inf")
    for batch in args.batches:
        x = rng.standard_normal((batch, 3, args.size, args.size)).astype(np.float32)
        xt = torch.from_numpy(x)
        with torch.no_grad():
            expected = model(xt).numpy()
            got = net(x)                       # warm-up of both, plans measured here
            model(xt)
        error = float(np.max(np.abs(got - expected)) / np.max(np.abs(expected)))
        ratios, ours, theirs = [], [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            net(x)
            mine = time.perf_counter() - start
            with torch.no_grad():
                start = time.perf_counter()
                model(xt)
                peer = time.perf_counter() - start
            ours.append(mine)
            theirs.append(peer)
            ratios.append(peer / mine)
        ratio = float(np.median(ratios))
        worst = min(worst, ratio)
        print(f"{batch:>5} {batch / np.median(ours):>15.1f} {batch / np.median(theirs):>12.1f} "
              f"{ratio:>6.2f}x {'pass' if ratio >= TARGET else 'FAIL':>7} {error:>12.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

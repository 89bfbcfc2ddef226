"""Per-call overhead of fastconv's ops: microseconds per call on inputs so small that the
Python and Cython layers (argument checks, output allocation, the C call) are all the time.

Each op runs in blocks of back-to-back calls (a block lasts ~`--block-ms`); the ops take
turns block by block, so load from other processes falls on all of them alike; the figure is
the median over the blocks of the time per call.  Every call allocates its output, as a
user's would.  `fastconv bench` times two of these (overhead_relu_8x8, overhead_conv2d_8x8)
against their targets; this script covers the other ops and compares builds:

    PYTHONPATH=. python bench/call_overhead.py [--threads N] [--blocks N]
    python bench/call_overhead.py --compare /work/main .     # two source trees, built in place

--compare runs this script (in its own process, per tree) alternately with PYTHONPATH at each
tree, `--rounds` times, and prints the median of each op's figures per tree and their ratio.
It needs only fastconv's public ops and fastconv.bench.timing, so an older build runs it
unchanged.
"""
import argparse
import gc
import json
import os
import statistics
import subprocess
import sys

import numpy as np


def cases():
    """{name: a call with no arguments} of the tiny ops (float32, one image, one channel)."""
    import fastconv
    rng = np.random.default_rng(0)
    x4 = rng.standard_normal((1, 1, 4, 4)).astype(np.float32)
    x8 = rng.standard_normal((1, 1, 8, 8)).astype(np.float32)
    w1 = rng.standard_normal((1, 1, 1, 1)).astype(np.float32)
    w3 = rng.standard_normal((1, 1, 3, 3)).astype(np.float32)
    b1 = rng.standard_normal(1).astype(np.float32)
    g6 = rng.standard_normal((1, 1, 6, 6)).astype(np.float32)
    xl = rng.standard_normal((1, 8)).astype(np.float32)
    wl = rng.standard_normal((4, 8)).astype(np.float32)
    bl = rng.standard_normal(4).astype(np.float32)
    return {
        "conv2d 4x4 w1x1": lambda: fastconv.conv2d(x4, w1),
        "conv2d 8x8 w3x3 bias": lambda: fastconv.conv2d(x8, w3, b1),
        "conv2d 8x8 w3x3 pad 1 relu": lambda: fastconv.conv2d(x8, w3, b1, padding=1,
                                                               activation="relu"),
        "max_pool2d 8x8 k2": lambda: fastconv.max_pool2d(x8, 2),
        "relu 8x8": lambda: fastconv.relu(x8),
        "linear 1x8 -> 4 bias": lambda: fastconv.linear(xl, wl, bl),
        "conv2d_backward 8x8 w3x3": lambda: fastconv.conv2d_backward(g6, x8, w3),
    }


def measure(blocks, block_s):
    """{name: median us per call} over `blocks` blocks of each op, the ops taking turns."""
    from fastconv.bench.timing import _loop, calibrate
    calls = cases()
    numbers = {}
    for name, call in calls.items():
        call()                                   # warm-up: caches, the output's allocation
        numbers[name] = calibrate(call, block_s)
    samples = {name: [] for name in calls}
    gc.disable()
    try:
        for _ in range(blocks):
            for name, call in calls.items():
                samples[name].append(_loop(call, numbers[name]) / numbers[name])
    finally:
        gc.enable()
    return {name: 1e6 * statistics.median(times) for name, times in samples.items()}


def compare(trees, rounds, args):
    """Run this script once per tree per round, the trees alternating (the first one rotates);
    print the median of each op's per-call figures per tree and the ratio to the first tree."""
    figures = {tree: [] for tree in trees}
    for r in range(rounds):
        order = trees[r % len(trees):] + trees[:r % len(trees)]
        for tree in order:
            env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
            command = [sys.executable, os.path.abspath(__file__), "--json",
                       "--blocks", str(args.blocks), "--block-ms", str(args.block_ms)]
            if args.threads:
                command += ["--threads", str(args.threads)]
            done = subprocess.run(command, env=env, capture_output=True, text=True,
                                  cwd=os.path.dirname(os.path.abspath(__file__)), check=True)
            figures[tree].append(json.loads(done.stdout.strip().splitlines()[-1]))
    names = list(figures[trees[0]][0])
    width = max(map(len, names))
    print(f"us per call, median of {rounds} interleaved runs (each the median of "
          f"{args.blocks} blocks)")
    print(f"{'op':<{width}}  " + "  ".join(f"{os.path.basename(os.path.abspath(t)):>14}"
                                           for t in trees) + "   ratio")
    for name in names:
        medians = [statistics.median(run[name] for run in figures[tree]) for tree in trees]
        print(f"{name:<{width}}  " + "  ".join(f"{m:14.2f}" for m in medians)
              + "".join(f"  {m / medians[0]:6.2f}" for m in medians[1:]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=None,
                        help="fastconv.set_num_threads (default: fastconv's own)")
    parser.add_argument("--blocks", type=int, default=301, help="blocks per op (default 301)")
    parser.add_argument("--block-ms", type=float, default=0.3,
                        help="length of a block in ms (default 0.3: most blocks fit between two "
                        "preemptions on a busy machine, and the median skips the others)")
    parser.add_argument("--json", action="store_true", help="one JSON line {op: us}")
    parser.add_argument("--compare", nargs="+", metavar="TREE",
                        help="source trees (built in place) to run this script in, alternately")
    parser.add_argument("--rounds", type=int, default=7, help="runs per tree with --compare")
    args = parser.parse_args(argv)
    if args.compare:
        compare(args.compare, args.rounds, args)
        return
    import fastconv
    if args.threads:
        fastconv.set_num_threads(args.threads)
    result = measure(args.blocks, args.block_ms / 1e3)
    if args.json:
        print(json.dumps(result))
        return
    width = max(map(len, result))
    print(f"fastconv {fastconv.__file__}: us per call, median of {args.blocks} blocks")
    for name, us in result.items():
        print(f"{name:<{width}}  {us:8.2f}")


if __name__ == "__main__":
    main()

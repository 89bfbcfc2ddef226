"""float64: does conv2d's algorithm="auto" run as fast as the best algorithm for the layer?

    PYTHONPATH=. python bench/float64_auto.py [--threads 2] [--repeat 7] [--filter PATTERN]
                                              [--json FILE]

For every conv layer of `fastconv bench` (its shapes, batches above 8 cut to 8 to keep float64
runs short) in float64: auto and every algorithm that takes the layer (im2col, direct,
pointwise, depthwise; Winograd is float32 only), interleaved in each repeat (fastconv.bench's
timing: medians of --repeat timings of >= 50 ms), and the ratio best time / the time of the
algorithm auto runs (what fastconv.explain names) against the target (>= 0.95x, issue "Speed
II").  float64 has no SIMD direct or depthwise members on
x86 and aarch64, so auto's rule (csrc/ops/conv2d.c) must know when a scalar member still wins.
"""
import argparse
import json
import re
import sys

import numpy as np

import fastconv
from fastconv.bench.cases import CONV_SHAPES, conv_padding
from fastconv.bench.timing import MIN_TIME, measure, summarize

ALGORITHMS = ("im2col", "direct", "pointwise", "depthwise")
TARGET = 0.95
MAX_BATCH = 8


def layer_arrays(shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((min(shape.n, MAX_BATCH), shape.c, shape.h, shape.w))
    w = rng.standard_normal((shape.k, shape.c // shape.groups, shape.r, shape.s))
    return x, w


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="default: all cores")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--filter", default="", help="layers whose name matches this regex")
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args(argv)
    if args.threads:
        fastconv.set_num_threads(args.threads)
    print(f"fastconv {fastconv.__version__}, float64, {fastconv.get_num_threads()} threads, "
          f"ISA {fastconv.show_config(print_=False)['isa']}, medians of {args.repeat}")
    print(f"{'layer':18s} {'auto runs':10s} {'auto':>10s} {'best':>10s} {'best is':10s} "
          f"{'best/auto':>9s}  target   every algorithm (ms)")
    rows, misses = [], 0
    for shape in CONV_SHAPES:
        if args.filter and not re.search(args.filter, shape.name):
            continue
        x, w = layer_arrays(shape)
        conv = dict(stride=shape.stride, padding=conv_padding(shape), dilation=shape.dilation,
                    groups=shape.groups)
        impls = {"auto": lambda: fastconv.conv2d(x, w, **conv, algorithm="auto")}
        for name in ALGORITHMS:
            run = (lambda name: lambda: fastconv.conv2d(x, w, **conv, algorithm=name))(name)
            try:
                run()
            except ValueError:  # the algorithm does not take this layer
                continue
            impls[name] = run
        picked = fastconv.explain(x.shape, w.shape, **conv, dtype="float64",
                                  print_=False)["algorithm"]
        samples, _ = measure(impls, args.repeat, MIN_TIME)
        medians = {name: summarize(s)["median_s"] for name, s in samples.items()}
        best = min((t, name) for name, t in medians.items() if name != "auto")
        # auto runs the algorithm it names (explain's): the ratio compares that algorithm's
        # own timing with the best one's, so a layer where auto picks the best reads 1.00x,
        # not the noise between two timings of the same code (auto's time is printed too)
        ratio = best[0] / medians[picked] if picked in medians else best[0] / medians["auto"]
        verdict = "pass" if ratio >= TARGET else "FAIL"
        misses += verdict == "FAIL"
        every = ", ".join(f"{name} {t * 1e3:.3g}" for name, t in medians.items() if name != "auto")
        print(f"{shape.name:18s} {picked:10s} {medians['auto'] * 1e3:8.3g}ms "
              f"{best[0] * 1e3:8.3g}ms {best[1]:10s} {ratio:8.2f}x  {verdict:7s}  {every}")
        rows.append({"layer": shape.name, "x_shape": x.shape, "weight_shape": w.shape,
                     "auto_algorithm": picked, "median_s": medians, "best": best[1],
                     "best_over_auto": ratio, "target": TARGET, "pass": ratio >= TARGET})
    print(f"{len(rows) - misses} of {len(rows)} layers within {TARGET}x of their best algorithm "
          f"(timings on one machine; a ratio near the target can move with the load)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": fastconv.get_num_threads(), "rows": rows}, f, indent=1,
                      default=list)
    return 0


if __name__ == "__main__":
    sys.exit(main())

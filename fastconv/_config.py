"""Threads, the ISA path, and show_config()."""
import operator
import os
import warnings

from .ops import _ext

__version__ = "0.1.0"


def _select_isa_from_environment():
    """Honour FASTCONV_ISA, one of _ext.ISA_NAMES (x86-64: scalar|avx2|avx512; aarch64:
    scalar|neon; a path the CPU lacks falls back to the best it has); called once at import."""
    requested = os.environ.get("FASTCONV_ISA", "").strip().lower()
    if not requested:
        _ext.select_isa(_ext.ISA_NAMES[-1])
        return
    if requested not in _ext.ISA_NAMES:
        warnings.warn(f"fastconv: FASTCONV_ISA={requested!r} is not one of "
                      f"{', '.join(_ext.ISA_NAMES)}; using the best the CPU supports",
                      RuntimeWarning, stacklevel=3)
        _ext.select_isa(_ext.ISA_NAMES[-1])
        return
    _ext.select_isa(requested)
    if _ext.active_isa() != requested:
        warnings.warn(f"fastconv: FASTCONV_ISA={requested!r} but this CPU supports at most "
                      f"{_ext.cpu_isa()!r}; using {_ext.active_isa()!r}",
                      RuntimeWarning, stacklevel=3)


def _int_in_range(op, name, value, low, high):
    """An int (not a bool) in [low, high], else the op's TypeError / ValueError."""
    if isinstance(value, bool):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int, got {value!r}") from None
    if not low <= value <= high:
        high_text = "2**63 - 1" if high == 2**63 - 1 else str(high)
        raise ValueError(f"{op}: {name} must be between {low} and {high_text}, got {value}")
    return value


PRECISIONS = ("highest", "high")
_precision = "highest"


def set_precision(precision):
    """Set what ``conv2d(algorithm="auto")`` may trade for speed: "highest" or "high".

    "highest" (the default) runs only algorithms that sum every output's products exactly
    once, in a fixed order (direct, im2col, pointwise, depthwise): the error bound of a plain
    sum.  "high" lets ``auto`` also choose Winograd F(4x4, 3x3) for float32 3x3 stride-1
    layers where it measured faster (at least 16 channels and filters per group, 32 tiles of
    4x4 outputs): some 2x faster there, with errors some 10x larger on ordinary data
    (relative to sum |x| |w| on N(0, 1) data: ~3e-6 at most instead of ~3e-7), bounded by
    the whole 6x6 input patch rather than the output's own window, so an output small inside
    a large patch can be off by far more (docs/design.md, "Winograd").  Like
    ``torch.set_float32_matmul_precision``; ``conv2d(precision=...)`` overrides it per call,
    and ``algorithm="winograd"`` forces Winograd whatever the precision.  conv2d_backward's
    grad_input follows it too (Winograd on grad_output with the turned filters, by the same
    rule, and past 128 x 128 filters per group only with 128 tiles).

    Example
    -------
    >>> import fastconv
    >>> fastconv.set_precision("high"); fastconv.get_precision()
    'high'
    >>> fastconv.set_precision("highest")
    """
    global _precision
    _precision = _check_precision("set_precision", precision)


def get_precision():
    """The precision ``conv2d(algorithm="auto")`` runs at (see :func:`set_precision`)."""
    return _precision


def _check_precision(op, precision):
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"{op}: precision must be 'highest' or 'high', got {precision!r}")
    return precision


def set_num_threads(n):
    """Set the number of threads every op uses (n >= 1).

    OpenMP's own thread count is the source of truth: an op runs at most
    ``omp_get_max_threads()`` threads (as seen by the calling thread) and at most the last
    ``n`` given here.  ``set_num_threads(n)`` also sets OpenMP's count (``omp_set_num_threads``)
    in the calling thread, so ``OMP_NUM_THREADS`` gives the default, and a later
    ``threadpoolctl.threadpool_limits(k)`` lowers the count to ``min(n, k)`` until it exits.
    Other Python threads start from OpenMP's default, capped by ``n``.  The threads are
    fastconv's own pool (OpenMP only sets the count); results are bitwise identical whatever
    the thread count and schedule.  A forked child (``os.fork``, multiprocessing's "fork" start
    method) starts a pool of its own on its first threaded op.

    Example
    -------
    >>> import fastconv
    >>> before = fastconv.get_num_threads()
    >>> fastconv.set_num_threads(1)
    >>> fastconv.get_num_threads()
    1
    >>> fastconv.set_num_threads(before)
    """
    n = _int_in_range("set_num_threads", "n", n, 1, 4096)
    _ext.set_num_threads(n)


def get_num_threads():
    """The number of threads every op uses: the smaller of OpenMP's ``omp_get_max_threads()``
    in the calling thread (``OMP_NUM_THREADS``, ``threadpoolctl`` limits) and the count given
    to :func:`set_num_threads`, if any.  Small ops use fewer (a team costs ~5 us to wake).

    Example
    -------
    >>> import fastconv
    >>> fastconv.get_num_threads() >= 1
    True
    """
    return _ext.get_num_threads()


def empty_cache():
    """Free the memory fastconv keeps for reuse; returns how many bytes that was.

    Large workspaces and outputs (64 KiB and more) that fastconv frees are kept, up to
    :func:`set_cache_limit` bytes (256 MiB by default), and handed to the next call that needs
    that much: back-to-back calls of the same layers then reuse memory instead of faulting in
    fresh pages from the OS (up to a third of a small training step's time otherwise).

    Example
    -------
    >>> import numpy as np, fastconv
    >>> y = fastconv.relu(np.ones((256, 256), np.float32)); del y
    >>> fastconv.empty_cache() >= 256 * 256 * 4
    True
    """
    return _ext.cache_empty()


def set_cache_limit(nbytes):
    """Keep at most ``nbytes`` of freed workspaces and outputs for reuse (0: keep none, and free
    what is kept).  See :func:`empty_cache`."""
    nbytes = _int_in_range("set_cache_limit", "nbytes", nbytes, 0, 2**63 - 1)
    _ext.cache_set_limit(nbytes)


def show_config(print_=True):
    """Print and return fastconv's build and run-time configuration.

    Returns a dict: version, isa (the path in use), cpu_isa (the best this CPU supports),
    num_threads, openmp (whether the build has OpenMP, whose thread count fastconv follows),
    thread_pool (how fastconv's own threads share work and wait), memory_cache (see :func:`empty_cache`) and kernels (op -> kernel name, for float32).
    """
    # one entry per conv2d algorithm (auto is a choice among them), then the other families
    ops = tuple(f"conv2d_{name}" for name in _ext.ALGORITHMS if name != "auto") + (
        "conv2d_backward_weight", "max_pool2d", "avg_pool2d", "relu")
    config = {
        "version": __version__,
        "isa": _ext.active_isa(),
        "cpu_isa": _ext.cpu_isa(),
        "num_threads": get_num_threads(),
        "openmp": _ext.has_openmp(),
        "thread_pool": (_ext.POOL_DESCRIPTION if _ext.has_openmp() else
                        "none: this build runs every op on the calling thread"),
        "memory_cache": "{:.1f} of {:.0f} MiB held".format(
            *(b / 2**20 for b in _ext.cache_info())),
        "kernels": {op: _ext.kernel_name(op, "float32") for op in ops},
    }
    if print_:
        for key, value in config.items():
            if key == "kernels":
                for op, name in value.items():
                    print(f"  kernel {op:<23} {name}")
            else:
                print(f"{key:<12} {value}")
    return config

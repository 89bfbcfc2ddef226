"""fastconv: fast CNN building blocks for numpy on multicore CPUs.

conv2d (direct, depthwise, im2col and pointwise GEMM), max and average pooling, ReLU, linear
and their backward passes, as C kernels with AVX-512 / AVX2 / scalar members chosen at run
time and OpenMP threads, under a numpy-in / numpy-out API with torch.nn.functional's names and
arguments.  Training on top: fastconv.nn, fastconv.optim, fastconv.models, fastconv.data.
"""
try:
    from . import _ext  # noqa: F401
except ImportError as exc:  # pragma: no cover - tested in a subprocess on an unbuilt copy
    def _explain_missing_extension(exc):
        """An unbuilt source tree (a checkout, `python -m fastconv` from the repository root)
        gets one line saying what to do; a built extension that fails to load keeps its own
        error, with the advice to rebuild."""
        import importlib.machinery
        import os
        import sys

        here = os.path.dirname(os.path.abspath(__file__))
        built = [name for name in os.listdir(here) if name.startswith("_ext.") and
                 name.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))]
        if built:
            return ImportError(f"fastconv: the C extension {os.path.join(here, built[0])} "
                               f"does not load ({exc}); rebuild it with `pip install .`")
        message = (f"fastconv: the C extension is not built in {here}; run `pip install .` "
                   f"and start Python outside the source tree (or build in place: "
                   f"`python setup.py build_ext --inplace`)")
        # `python -m fastconv` imports this package while runpy still has argv[0] == "-m": the
        # command line gets the line and exit status 1, not a traceback.  Only then: an
        # ImportError is what code that imports fastconv optionally expects.
        argv = getattr(sys, "orig_argv", [])
        if sys.argv[:1] == ["-m"]:
            for i, arg in enumerate(argv[1:], 1):
                if arg.startswith("-m"):
                    target = arg[2:] or (argv[i + 1] if i + 1 < len(argv) else "")
                    if target.split(".")[0] == "fastconv":
                        raise SystemExit(message)
                    break
        return ImportError(message)

    raise _explain_missing_extension(exc) from exc

from ._config import (__version__, _select_isa_from_environment, empty_cache, get_num_threads,
                      get_precision, set_cache_limit, set_num_threads, set_precision,
                      show_config)
from .functional import (avg_pool2d, avg_pool2d_backward, conv2d, conv2d_backward, linear,
                         linear_backward, max_pool2d, max_pool2d_backward, relu, relu_backward)
from . import functional, reference  # noqa: F401

_select_isa_from_environment()

__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "relu", "conv2d_backward", "max_pool2d_backward",
           "avg_pool2d_backward", "relu_backward", "linear", "linear_backward", "set_num_threads",
           "get_num_threads", "set_precision", "get_precision", "empty_cache", "set_cache_limit", "show_config", "functional",
           "reference", "__version__"]

"""fastconv: fast CNN building blocks for numpy on multicore CPUs.

conv2d (direct, depthwise, im2col and pointwise GEMM), max and average pooling, ReLU, linear
and their backward passes, as C kernels with AVX-512 / AVX2 / scalar members chosen at run
time and OpenMP threads, under a numpy-in / numpy-out API with torch.nn.functional's names and
arguments.  Training on top: fastconv.nn, fastconv.optim, fastconv.models, fastconv.data.
"""
try:
    from . import _ext  # noqa: F401
except ImportError as exc:  # pragma: no cover - only when the extension was never built
    import os as _os

    raise ImportError(
        f"fastconv's compiled extension is missing ({exc}). If you are running from the source "
        f"tree ({_os.path.dirname(_os.path.dirname(__file__))}), run from another directory so "
        f"that the installed package is imported, or build in place with "
        f"`python setup.py build_ext --inplace`; to install: `pip install .`") from exc

from ._config import (__version__, _select_isa_from_environment, get_num_threads,
                      set_num_threads, show_config)
from .functional import (avg_pool2d, avg_pool2d_backward, conv2d, conv2d_backward, linear,
                         linear_backward, max_pool2d, max_pool2d_backward, relu, relu_backward)
from . import functional, reference  # noqa: F401

_select_isa_from_environment()

__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "relu", "conv2d_backward", "max_pool2d_backward",
           "avg_pool2d_backward", "relu_backward", "linear", "linear_backward", "set_num_threads", "get_num_threads",
           "show_config", "functional", "reference", "__version__"]

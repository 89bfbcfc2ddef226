"""fastconv: fast CNN building blocks for numpy on multicore CPUs.

conv2d (direct, depthwise, im2col and pointwise GEMM), max and average pooling, ReLU, linear
and their backward passes, as C kernels with AVX-512 / AVX2 / NEON / scalar members chosen at
run time and OpenMP threads, under a numpy-in / numpy-out API with torch.nn.functional's names
and arguments.  Training on top: fastconv.nn, fastconv.optim, fastconv.models, fastconv.data.

The package is layered, each layer calling only those below it:

- ``fastconv.ops``: the ops (``functional``: arguments, checks, outputs; ``reference``: the
  plain C twins) over ``_ext``, the Cython bridge to the C library in csrc/;
- ``fastconv.training``: ``nn``, ``optim``, ``data``, ``models``, ``train``, built on the
  public ops only;
- ``fastconv.bench``: ``fastconv bench``;
- here: the public face, the settings (``_config``) and the command line (``__main__``).

The modules keep the public names they always had: ``fastconv.functional`` *is*
``fastconv.ops.functional`` and ``fastconv.nn`` is ``fastconv.training.nn``, one module
object under two names (:func:`_alias`).  The training layer is imported on first use, as
before: ``import fastconv`` does not load it.
"""
import importlib
import sys


def _alias(public, home):
    """Make the module `home` (and the submodules it imported) importable as `public` too.

    The same objects, not copies: an attribute patched through one name is seen through the
    other, and ``import fastconv.nn.layers`` finds the module ``fastconv.nn`` already holds
    instead of executing its file a second time.  Returns the module.
    """
    module = importlib.import_module(home)
    for name in [name for name in sys.modules if name == home or name.startswith(home + ".")]:
        sys.modules[public + name[len(home):]] = sys.modules[name]
    return module


try:
    from .ops import _ext
except ImportError as exc:  # pragma: no cover - tested in a subprocess on an unbuilt copy
    def _explain_missing_extension(exc):
        """An unbuilt source tree (a checkout, `python -m fastconv` from the repository root)
        gets one line saying what to do; a built extension that fails to load keeps its own
        error, with the advice to rebuild."""
        import importlib.machinery
        import os

        here = os.path.dirname(os.path.abspath(__file__))
        ops = os.path.join(here, "ops")
        built = [name for name in os.listdir(ops) if name.startswith("_ext.") and
                 name.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))]
        if built:
            return ImportError(f"fastconv: the C extension {os.path.join(ops, built[0])} "
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
from .ops import functional, reference
from .ops.plans import explain, tune
from .ops.filtering import box_blur, filter2d, gaussian_blur, sep_filter2d, sobel
from .ops.functional import (adaptive_avg_pool2d, adaptive_avg_pool2d_backward, avg_pool2d,
                             avg_pool2d_backward, conv2d, conv2d_backward, leaky_relu,
                             leaky_relu_backward, linear, linear_backward, max_pool2d,
                             max_pool2d_backward, relu, relu6, relu6_backward, relu_backward)
from .ops.functional import (PreparedWeights, add, batch_norm, batch_norm_backward,
                             conv_transpose2d, conv_transpose2d_backward, prepare_weights)

for _module in ("_ext", "functional", "reference"):
    _alias(f"{__name__}.{_module}", f"{__name__}.ops.{_module}")
del _module

_select_isa_from_environment()

__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "relu", "conv2d_backward", "max_pool2d_backward",
           "avg_pool2d_backward", "relu_backward", "linear", "linear_backward", "relu6",
           "relu6_backward", "leaky_relu", "leaky_relu_backward", "adaptive_avg_pool2d",
           "adaptive_avg_pool2d_backward", "filter2d", "sep_filter2d", "gaussian_blur",
           "box_blur", "sobel", "batch_norm", "batch_norm_backward", "add", "conv_transpose2d",
           "conv_transpose2d_backward", "prepare_weights", "PreparedWeights",
           "set_num_threads", "get_num_threads", "set_precision", "get_precision", "empty_cache",
           "set_cache_limit", "show_config", "tune", "explain", "functional", "reference",
           "__version__"]

"""pytest-benchmark suite: `pytest bench --benchmark-only` (add --benchmark-group-by=param:shape).

Each conv shape runs through fastconv's two algorithms and the NumPy sliding-window + einsum
code users write by hand, so their ratios come from one run.
"""
import numpy as np
import pytest

import fastconv
from shapes import QUICK_CONV_SHAPES, conv_flops


def numpy_conv2d(x, w, stride, padding, groups):
    """Sliding window + einsum, per group: the hand-written NumPy baseline."""
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    k, cg, r, s = w.shape
    windows = np.lib.stride_tricks.sliding_window_view(x, (r, s), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]
    kg = k // groups
    outs = [np.einsum("nchwrs,kcrs->nkhw", windows[:, g * cg:(g + 1) * cg],
                      w[g * kg:(g + 1) * kg], optimize=True) for g in range(groups)]
    return np.concatenate(outs, axis=1)


@pytest.fixture(params=QUICK_CONV_SHAPES, ids=lambda s: s.name)
def conv_case(request):
    shape = request.param
    rng = np.random.default_rng(0)
    x = rng.standard_normal((shape.n, shape.c, shape.h, shape.w), dtype=np.float32)
    w = rng.standard_normal((shape.k, shape.c // shape.groups, shape.r, shape.s),
                            dtype=np.float32)
    return shape, x, w


@pytest.mark.parametrize("impl", ["direct", "im2col", "numpy"])
def test_conv2d(benchmark, conv_case, impl):
    shape, x, w = conv_case
    benchmark.group = shape.name
    if impl == "numpy":
        run = lambda: numpy_conv2d(x, w, shape.stride, shape.padding, shape.groups)  # noqa: E731
    else:
        run = lambda: fastconv.conv2d(x, w, stride=shape.stride, padding=shape.padding,  # noqa
                                      groups=shape.groups, algorithm=impl)
    y = benchmark(run)
    expected = numpy_conv2d(x.astype(np.float64), w.astype(np.float64), shape.stride,
                            shape.padding, shape.groups)
    np.testing.assert_allclose(y, expected, rtol=1e-3, atol=1e-3)
    benchmark.extra_info["gflops"] = conv_flops(shape) / benchmark.stats["median"] / 1e9

"""filter2d and the separable filters against the float64 oracle (tests/oracle.py: np.pad with
the border's mode), their C reference twins, OpenCV (cv2.filter2D, sepFilter2D, GaussianBlur,
blur, Sobel) and scipy.ndimage.correlate when installed, on every ISA path.

Integer images with integer kernels give exact sums in float32, so those results must equal
the oracle bitwise; uint8 outputs must equal OpenCV's rounding (round half to even, saturate).
"""
import subprocess
import sys

import numpy as np
import pytest

import fastconv
import fastconv.reference
import oracle
from fastconv.ops import _ext
from fastconv.ops.filtering import BORDERS, _rank1, deriv_kernel, gaussian_kernel
from tolerances import assert_bitwise_equal, assert_integer_exact, assert_reduction_close
from subprocess_env import TESTS_DIR, subprocess_env

try:
    import cv2
except ImportError:  # pragma: no cover - the venv has OpenCV
    cv2 = None
try:
    import scipy.ndimage as ndimage
except ImportError:  # pragma: no cover
    ndimage = None

needs_cv2 = pytest.mark.skipif(cv2 is None, reason="OpenCV (cv2) is not installed")
needs_scipy = pytest.mark.skipif(ndimage is None, reason="scipy is not installed")

DTYPES = [np.uint8, np.uint16, np.int16, np.float32, np.float64]
SHAPES = [(9, 11), (9, 11, 1), (9, 11, 3), (2, 7, 6, 3)]
CV_BORDERS = {} if cv2 is None else {
    "constant": cv2.BORDER_CONSTANT, "replicate": cv2.BORDER_REPLICATE,
    "reflect": cv2.BORDER_REFLECT, "reflect101": cv2.BORDER_REFLECT_101}
SCIPY_MODES = {"constant": "constant", "replicate": "nearest", "reflect": "reflect",
               "reflect101": "mirror", "wrap": "grid-wrap"}
RANGES = {np.uint8: (0, 256), np.uint16: (0, 65536), np.int16: (-32768, 32768)}


def _image(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    lo, hi = RANGES.get(dtype, (-100, 100))
    return rng.integers(lo, hi, shape).astype(dtype)


def _int_kernel(kh, kw, seed=1):
    return np.random.default_rng(seed).integers(-3, 4, (kh, kw)).astype(np.float64)


def _float_out(dtype):
    return np.float64 if dtype == np.float64 else np.float32


@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_integer_data_is_exact_against_the_oracle(border, dtype, shape):
    """Small integers, integer kernel, every mode / dtype / layout: sums exact, so bitwise."""
    x = _image(shape, dtype) if dtype in RANGES else _image(shape, dtype)
    if dtype == np.uint16:
        x = x // 256  # keep 9 * 3 * |x| exact in float32
    k = _int_kernel(3, 4)
    y = fastconv.filter2d(x, k, border=border, value=7)
    assert y.dtype == _float_out(dtype) and y.shape == x.shape
    expected = oracle.filter2d(x, k, border, 7.0)
    assert_integer_exact(y, expected.astype(y.dtype))
    assert_bitwise_equal(fastconv.reference.filter2d(x, k, border=border, value=7), y)


@pytest.mark.parametrize("ksize", [(2, 2), (3, 3), (5, 5), (7, 5), (5, 7), (7, 7), (9, 9),
                                   (11, 4)], ids=str)
@pytest.mark.parametrize("shape", [(37, 90), (23, 61, 3)], ids=str)
def test_kernels_without_zero_taps_exact_and_as_the_reference(ksize, shape):
    """A kernel with no zero tap runs in the microkernel's register tile of rows (each loaded
    vector feeding several output rows) instead of the list of non-zero taps: integer sums
    exact, float sums the reference's within the bound, on heights that leave partial row
    groups and widths that leave partial vectors."""
    x = _image(shape, np.float32, seed=40)
    k = _int_kernel(*ksize, seed=41)
    k[k == 0] = 2
    y = fastconv.filter2d(x, k, separable=False)
    assert_integer_exact(y, oracle.filter2d(x, k, "reflect101", 0.0).astype(np.float32))
    assert_bitwise_equal(fastconv.reference.filter2d(x, k), y)
    xf = np.random.default_rng(42).standard_normal(shape).astype(np.float32)
    kf = np.random.default_rng(43).uniform(0.5, 1.5, ksize)
    args = (xf, kf, "reflect101", 0.0, None, 0.5)
    assert_reduction_close(fastconv.filter2d(xf, kf, delta=0.5, separable=False),
                           oracle.filter2d(*args), oracle.filter2d_abs_bound(*args),
                           ksize[0] * ksize[1] + 1, np.float32)


@pytest.mark.parametrize("ksize, anchor", [((3, 3), None), ((5, 5), None), ((4, 6), (1, 3)),
                                            ((3, 7), (0, 6)), ((7, 7), None), ((1, 5), None),
                                            ((9, 2), None)], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(150, 97), (70, 40, 3), (2, 45, 33, 1), (6, 5), (3, 6000)],
                         ids=str)
def test_reading_the_image_in_place_is_the_window_bitwise(ksize, anchor, dtype, shape):
    """A float image of the sum type is read in place where every tap falls inside it, the
    frame around through the window of converted rows (in groups of up to 32 rows for the edge
    columns).  The same values in a view whose pixels are not packed (every other pixel of a
    wider array; 3 channels of 4) never read in place: the sums must be the same bits, on tall
    images (several row blocks, edge groups), 3 channels, a batch, images smaller than the
    kernel, a row wide enough for blocks of columns, a row stride wider than the row, with
    and without zero taps (the list of taps, the register tile) and rounded to uint8."""
    rng = np.random.default_rng(60)
    channels = shape[-1] if len(shape) > 2 and shape[-1] <= 3 else None
    if channels is None:  # grayscale: every other pixel of an array twice as wide
        spread = rng.standard_normal(shape[:-1] + (2 * shape[-1],)).astype(dtype)
        unpacked = spread[..., ::2]
    else:                 # the first `channels` of 4 per pixel
        spread = rng.standard_normal(shape[:-1] + (4,)).astype(dtype)
        unpacked = spread[..., :channels]
    packed = np.ascontiguousarray(unpacked)
    images = [packed]
    if len(shape) == 2:   # rows further apart than their length
        images.append(np.pad(packed, ((0, 0), (0, 5)))[:, :shape[1]])
    k = rng.standard_normal(ksize)
    k[0, 0] = 0.0
    kh, kw = ksize
    anchor = anchor if anchor is not None else (kh // 2, kw // 2)  # (row, column)
    for kernel in (k, k + (k == 0)):
        for out_dtype in (None, np.float64 if dtype == np.float32 else np.float32):
            window = fastconv.filter2d(unpacked, kernel, anchor=anchor, dtype=out_dtype,
                                       border="reflect", separable=False)
            for image in images:
                assert_bitwise_equal(fastconv.filter2d(image, kernel, anchor=anchor,
                                                       dtype=out_dtype, border="reflect",
                                                       separable=False), window)
    xi = np.rint(packed * 8)
    ki = np.rint(k * 2)
    y = fastconv.filter2d(xi, ki, anchor=anchor, border="replicate", separable=False)
    assert_integer_exact(y, oracle.filter2d(xi, ki, "replicate", 0.0, anchor).astype(dtype))


@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_data_within_the_reduction_bound(border, dtype):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((13, 17, 3)).astype(dtype)
    k = rng.standard_normal((5, 6))
    y = fastconv.filter2d(x, k, border=border, value=-0.5, delta=0.25)
    args = (x, k, border, -0.5, None, 0.25)
    assert_reduction_close(y, oracle.filter2d(*args), oracle.filter2d_abs_bound(*args), 31,
                           dtype)


@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("ksize", [(1, 1), (1, 9), (9, 1), (4, 4), (2, 5), (15, 15), (21, 3),
                                   (40, 33)], ids=str)
@pytest.mark.parametrize("image_shape", [(1, 1), (1, 5), (4, 1), (3, 2), (7, 10)], ids=str)
def test_kernels_of_every_size_also_larger_than_the_image(border, ksize, image_shape):
    """Reflections of reflections: np.pad extends the same way as borderInterpolate."""
    x = _image(image_shape, np.int16, seed=3) // 512
    k = _int_kernel(*ksize, seed=4)
    y = fastconv.filter2d(x, k, border=border, value=-2, dtype=np.float64)
    assert_integer_exact(y, oracle.filter2d(x, k, border, -2.0))


@pytest.mark.parametrize("anchor", [(0, 0), (3, 1), (2, 4), (-1, -1)], ids=str)
def test_anchor(anchor):
    x = _image((8, 9, 2), np.int16, seed=5) // 256
    k = _int_kernel(4, 5)
    y = fastconv.filter2d(x, k, anchor=anchor, border="replicate")
    full = (2, 2) if anchor == (-1, -1) else anchor
    assert_integer_exact(y, oracle.filter2d(x, k, "replicate", 0.0, full).astype(np.float32))


# ---- OpenCV and scipy ---------------------------------------------------------------------------

@needs_cv2
@pytest.mark.parametrize("border", sorted(CV_BORDERS))
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16])
@pytest.mark.parametrize("shape", [(23, 31), (23, 31, 1), (23, 31, 3), (5, 4, 3)], ids=str)
@pytest.mark.parametrize("ksize", [(3, 3), (5, 5), (4, 6), (1, 7), (11, 11)], ids=str)
def test_integer_outputs_equal_opencv(border, dtype, shape, ksize):
    """dtype=image.dtype: rounding half to even and saturation as cv2.filter2D(ddepth=-1).
    Kernels of quarters, so many sums fall on .5 and many saturate.  From 50 taps OpenCV
    filters 16-bit images by DFT, whose sums are not exact: there fastconv must equal the
    exact sum's rounding (the oracle's) and be within 1 of OpenCV."""
    x = _image(shape, dtype, seed=6)
    k = np.random.default_rng(7).integers(-4, 9, ksize) / 4.0
    y = fastconv.filter2d(x, k, border=border, dtype=dtype)
    expected = cv2.filter2D(x, -1, k.astype(np.float32), borderType=CV_BORDERS[border])
    if dtype != np.uint8 and ksize[0] * ksize[1] >= 50:
        info = np.iinfo(dtype)
        exact = np.clip(np.rint(oracle.filter2d(x, k, border)), info.min, info.max)
        np.testing.assert_array_equal(y, exact.astype(dtype))
        assert np.abs(y.astype(int) - expected.reshape(y.shape)).max() <= 1
    else:
        np.testing.assert_array_equal(y, expected.reshape(y.shape))


@needs_cv2
@pytest.mark.parametrize("ksize", [(13, 13), (15, 15)], ids=str)
def test_large_kernels_within_one_of_opencv(ksize):
    """From 130 taps cv2.filter2D filters uint8 by DFT: its sums carry DFT rounding, so an
    output may differ by 1 where the exact sum is near .5 (fastconv's sum is the direct one)."""
    x = _image((40, 50), np.uint8, seed=8)
    k = np.random.default_rng(9).random(ksize) / 50
    y = fastconv.filter2d(x, k, dtype=np.uint8)
    expected = cv2.filter2D(x, -1, k.astype(np.float32))
    assert np.abs(y.astype(int) - expected).max() <= 1
    exact = np.clip(np.round(oracle.filter2d(x, k.astype(np.float32))), 0, 255)
    assert np.abs(y - exact).max() <= 1 and np.mean(y == exact) > 0.99


@needs_cv2
def test_opencv_refuses_wrap_so_wrap_is_scipys_grid_wrap():
    with pytest.raises(cv2.error):
        cv2.filter2D(np.zeros((4, 4), np.float32), -1, np.ones((3, 3), np.float32),
                     borderType=cv2.BORDER_WRAP)


@needs_cv2
@pytest.mark.parametrize("border", sorted(CV_BORDERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_outputs_match_opencv(border, dtype):
    x = np.random.default_rng(10).standard_normal((30, 40, 3)).astype(dtype)
    k = np.random.default_rng(11).standard_normal((5, 3)).astype(dtype)
    y = fastconv.filter2d(x, k, border=border)
    expected = cv2.filter2D(x, -1, k, borderType=CV_BORDERS[border])
    np.testing.assert_allclose(y, expected, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-5 if dtype == np.float32 else 1e-12)


@needs_cv2
@pytest.mark.parametrize("ksize", [(3, 3), (5, 5), (7, 7), (4, 6)], ids=str)
def test_zero_taps_are_left_out_as_opencv_does(ksize):
    """A NaN or inf pixel under a zero tap stays out of the sum (cv2.filter2D's kernels keep
    only their nonzero taps), on the unrolled sizes and a generic one; the separable passes
    keep their zero taps, as cv2.sepFilter2D does."""
    x = _image((40, 70), np.float32, seed=30)
    x[17, 33], x[25, 12] = np.nan, np.inf
    k = _int_kernel(*ksize, seed=31).astype(np.float32)
    k[::2, 1::2] = 0
    y = fastconv.filter2d(x, k, separable=False)
    expected = cv2.filter2D(x, -1, k, borderType=cv2.BORDER_REFLECT_101)
    assert np.isfinite(y).sum() > np.isfinite(cv2.filter2D(x, -1, np.ones_like(k))).sum()
    np.testing.assert_array_equal(np.isnan(y), np.isnan(expected))
    np.testing.assert_array_equal(np.isinf(y), np.isinf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(y[finite], expected[finite], rtol=1e-5, atol=1e-3)
    assert_bitwise_equal(fastconv.reference.filter2d(x, k), y)  # integer sums: exact
    kx, ky = np.array([1, 0, 2, 0, 1], np.float32), np.array([0, 1, 1], np.float32)
    y = fastconv.sep_filter2d(x, kx, ky)
    expected = cv2.sepFilter2D(x, -1, kx, ky, borderType=cv2.BORDER_REFLECT_101)
    np.testing.assert_array_equal(np.isfinite(y), np.isfinite(expected))
    assert_bitwise_equal(fastconv.reference.sep_filter2d(x, kx, ky), y)


@needs_scipy
@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("ksize", [(3, 3), (4, 5), (2, 2), (12, 9)], ids=str)
def test_scipy_correlate_modes(border, ksize):
    """scipy's origin o is anchor = ksize // 2 + o; its center for even sizes is OpenCV's."""
    x = _image((10, 7), np.int16, seed=12) // 512
    k = _int_kernel(*ksize, seed=13)
    y = fastconv.filter2d(x, k, border=border, value=3, dtype=np.float64)
    expected = ndimage.correlate(x.astype(np.float64), k, mode=SCIPY_MODES[border], cval=3)
    np.testing.assert_array_equal(y, expected)
    shifted = ndimage.correlate(x.astype(np.float64), k, mode=SCIPY_MODES[border], cval=3,
                                origin=(-1, 0))
    anchor = (ksize[0] // 2 - 1, ksize[1] // 2)
    if anchor[0] >= 0:
        np.testing.assert_array_equal(
            fastconv.filter2d(x, k, border=border, value=3, dtype=np.float64, anchor=anchor),
            shifted)


@needs_cv2
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
@pytest.mark.parametrize("border", sorted(CV_BORDERS))
def test_sep_filter2d_matches_opencv(dtype, border):
    x = _image((25, 33, 3), dtype, seed=14)
    kx = np.array([1, 4, 6, 4, 1], np.float32) / 16
    ky = np.array([-1, 0, 1], np.float32) / 2
    y = fastconv.sep_filter2d(x, kx, ky, border=border, dtype=dtype, delta=1.5)
    expected = cv2.sepFilter2D(x, -1, kx, ky, delta=1.5, borderType=CV_BORDERS[border])
    if dtype == np.uint8:
        np.testing.assert_array_equal(y, expected)
    else:
        np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-4)
    assert_bitwise_equal(fastconv.reference.sep_filter2d(x, kx, ky, border=border, dtype=dtype,
                                                         delta=1.5), y)


@needs_cv2
@pytest.mark.parametrize("sigma", [0.8, 1, 2, 5])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_gaussian_blur_matches_opencv(sigma, dtype):
    """OpenCV blurs uint8 in fixed point: within 1 of fastconv's float32 sums there."""
    x = _image((64, 70, 3), dtype, seed=15)
    y = fastconv.gaussian_blur(x, sigma, dtype=dtype)
    expected = cv2.GaussianBlur(x, (0, 0), sigma)
    if dtype == np.uint8:
        assert np.abs(y.astype(int) - expected).max() <= 1
    else:
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-3)
    for ksize in (3, (5, 7)):
        kh, kw = (ksize, ksize) if isinstance(ksize, int) else ksize
        y = fastconv.gaussian_blur(x, sigma, ksize, sigma_y=sigma * 1.5, dtype=dtype)
        expected = cv2.GaussianBlur(x, (kw, kh), sigma, sigmaY=sigma * 1.5)
        assert np.abs(y.astype(float) - expected).max() <= (1 if dtype == np.uint8 else 1e-3)


@needs_cv2
@pytest.mark.parametrize("ksize,sigma", [(3, 0), (5, 0), (7, 0), (5, 1.3), (9, 1.7), (8, 2),
                                         (31, 5), (11, 0.5)])
def test_gaussian_kernel_is_opencvs(ksize, sigma):
    """OpenCV computes in a software double: equal to a few ulp (exp of far tails a little
    more, far below any pixel)."""
    for ktype, dtype in ((cv2.CV_32F, np.float32), (cv2.CV_64F, np.float64)):
        np.testing.assert_allclose(gaussian_kernel(ksize, sigma, dtype),
                                   cv2.getGaussianKernel(ksize, sigma, ktype=ktype).ravel(),
                                   rtol=16 * np.finfo(dtype).eps, atol=1e-20)


@needs_cv2
@pytest.mark.parametrize("ksize", [(3, 3), (5, 3), (1, 7), (4, 4)], ids=str)
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_box_blur_matches_opencv(ksize, dtype):
    x = _image((31, 29, 3), dtype, seed=16)
    y = fastconv.box_blur(x, ksize, dtype=dtype)
    expected = cv2.blur(x, ksize[::-1])  # OpenCV's sizes are (width, height)
    if dtype == np.uint8:
        # OpenCV divides uint8 sums in fixed point: for even areas (where the mean can be
        # x.5, or come near it) its rounding differs from round-half-even by up to 1
        if ksize[0] * ksize[1] % 2:
            np.testing.assert_array_equal(y, expected)
        else:
            assert np.abs(y.astype(int) - expected).max() <= 1
    else:
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-3)
    sums = fastconv.box_blur(x, ksize, normalize=False, dtype=np.float64)
    assert_integer_exact(sums, oracle.filter2d(x, np.ones(ksize)) if dtype == np.uint8
                         else sums)


@needs_cv2
@pytest.mark.parametrize("dx,dy,ksize", [(1, 0, 3), (0, 1, 3), (1, 1, 3), (2, 0, 5), (0, 2, 7),
                                         (1, 0, 1), (0, 1, 1), (1, 2, 5)])
def test_sobel_matches_opencv(dx, dy, ksize):
    x = _image((40, 37), np.uint8, seed=17)
    kx, ky = cv2.getDerivKernels(dx, dy, ksize)
    np.testing.assert_array_equal(deriv_kernel(dx, ksize), kx.ravel())
    np.testing.assert_array_equal(deriv_kernel(dy, ksize), ky.ravel())
    y = fastconv.sobel(x, dx, dy, ksize, scale=0.5, delta=3)
    expected = cv2.Sobel(x, cv2.CV_32F, dx, dy, ksize=ksize, scale=0.5, delta=3)
    np.testing.assert_array_equal(y, expected)
    y8 = fastconv.sobel(x, dx, dy, ksize, dtype=np.uint8)
    np.testing.assert_array_equal(y8, cv2.Sobel(x, -1, dx, dy, ksize=ksize))


# ---- separable rule ---------------------------------------------------------------------------

def test_rank1_kernels_run_separably_within_the_rounding_bound():
    """"auto" runs an exact outer product separably from 5x5: the sums round differently
    (documented) but stay within the reduction bound of both."""
    rng = np.random.default_rng(18)
    x = rng.standard_normal((40, 45, 3)).astype(np.float32)
    g = np.array([1, 6, 15, 20, 15, 6, 1]) / 64  # binomial: the outer product is exact
    k = np.outer(g, g * 3)
    auto = fastconv.filter2d(x, k)
    two_d = fastconv.filter2d(x, k, separable=False)
    kx, ky = _rank1(k)
    np.testing.assert_array_equal(np.outer(ky, kx), k)
    assert_bitwise_equal(auto, fastconv.sep_filter2d(x, kx, ky))
    assert not np.array_equal(auto, two_d)  # the rounding differs: the rule did run
    length = 49 + 14
    for y in (auto, two_d):
        assert_reduction_close(y, oracle.filter2d(x, k), oracle.filter2d_abs_bound(x, k), length,
                               np.float32)
    small = np.outer([1, 2, 1], [1, 0, -1])
    assert_bitwise_equal(fastconv.filter2d(x, small), fastconv.filter2d(x, small,
                                                                        separable=False))
    assert_bitwise_equal(fastconv.filter2d(x, small, separable=True),
                         fastconv.sep_filter2d(x, [1, 0, -1], [1, 2, 1]))
    with pytest.raises(ValueError, match="filter2d: separable=True needs"):
        fastconv.filter2d(x, np.eye(3), separable=True)


def test_integer_images_same_either_way():
    x = _image((30, 30), np.uint8, seed=19)
    k = np.outer([1, 4, 6, 4, 1], [1, 2, 0, -2, -1])
    a = fastconv.filter2d(x, k)
    b = fastconv.filter2d(x, k, separable=False)
    assert_bitwise_equal(a, b)
    assert_integer_exact(a, oracle.filter2d(x, k).astype(np.float32))


# ---- layouts, out=, read-only -------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_strided_and_negative_stride_images(dtype):
    base = _image((20, 30, 4), dtype, seed=20)
    k = _int_kernel(3, 5)
    for view in (base[::-1], base[:, ::-2], base[2:17:3, 1:, ::-1], base[..., 1],
                 base.transpose(1, 0, 2), np.broadcast_to(base[:1], (5, 30, 4))):
        y = fastconv.filter2d(view, k, border="reflect")
        expected = fastconv.filter2d(np.ascontiguousarray(view), k, border="reflect")
        assert_bitwise_equal(y, expected)
    swapped = base.astype(base.dtype.newbyteorder(">"))
    assert_bitwise_equal(fastconv.filter2d(swapped, k), fastconv.filter2d(base, k))


def test_read_only_inputs_unchanged_and_out():
    x = _image((12, 13, 3), np.uint8, seed=21)
    x.flags.writeable = False
    before = x.copy()
    k = np.ones((3, 3))
    y = fastconv.filter2d(x, k, dtype=np.uint8)
    np.testing.assert_array_equal(x, before)
    out = np.full(x.shape, 77, np.uint8)
    assert fastconv.filter2d(x, k, dtype=np.uint8, out=out) is out
    np.testing.assert_array_equal(out, y)
    with pytest.raises(TypeError, match="filter2d: out must have dtype uint8"):
        fastconv.filter2d(x, k, dtype=np.uint8, out=np.empty(x.shape, np.float32))
    with pytest.raises(ValueError, match=r"filter2d: out must have shape \(12, 13, 3\)"):
        fastconv.filter2d(x, k, out=np.empty((12, 13), np.float32))
    with pytest.raises(ValueError, match="filter2d: out must be C-contiguous"):
        fastconv.filter2d(x, k, out=np.empty((12, 13, 6), np.float32)[..., ::2])
    y32 = np.zeros((12, 13, 3), np.float32)
    with pytest.raises(ValueError, match="filter2d: out overlaps input image"):
        fastconv.filter2d(y32, k, out=y32)
    ro = np.empty(x.shape, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="filter2d: out must be writable"):
        fastconv.filter2d(x, k, out=ro)


def test_batches_and_empty_batch():
    x = _image((3, 9, 8, 2), np.uint16, seed=22)
    k = _int_kernel(3, 3)
    y = fastconv.filter2d(x, k)
    for n in range(3):
        assert_bitwise_equal(y[n], fastconv.filter2d(x[n], k))
    assert fastconv.filter2d(x[:0], k).shape == (0, 9, 8, 2)


# ---- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("call,raises,match", [
    (lambda: fastconv.filter2d(np.zeros((4, 4)), np.ones((3, 3)), border="wrapp"), ValueError,
     "filter2d: border must be one of 'constant', 'replicate', 'reflect', 'reflect101', 'wrap'"),
    (lambda: fastconv.filter2d(np.zeros((4, 4)), np.ones(3)), ValueError,
     r"filter2d: kernel must be 2-D \(kh, kw\), got shape \(3,\); a 1-D kernel"),
    (lambda: fastconv.filter2d(np.zeros((4, 4)), np.ones((3, 3, 1))), ValueError,
     r"kernel must be 2-D \(kh, kw\), got shape \(3, 3, 1\)"),
    (lambda: fastconv.filter2d(np.zeros((4, 4)), np.ones((0, 3))), ValueError,
     r"filter2d: kernel must not be empty, got shape \(0, 3\)"),
    (lambda: fastconv.filter2d(np.zeros((0, 4)), np.ones((3, 3))), ValueError,
     r"filter2d: image must have non-zero height, width and channels, got shape \(0, 4\)"),
    (lambda: fastconv.filter2d(np.zeros(4), np.ones((3, 3))), ValueError,
     r"filter2d: image must be \(H, W\), \(H, W, C\) or \(N, H, W, C\), got shape \(4,\)"),
    (lambda: fastconv.filter2d(np.zeros((4, 4), complex), np.ones((3, 3))), TypeError,
     "filter2d: image has dtype complex128; the dtypes that work are uint8, uint16, int16, "
     "float32 or float64"),
    (lambda: fastconv.filter2d(np.zeros((4, 4), np.float16), np.ones((3, 3))), TypeError,
     r"image has dtype float16.*astype\(np.float32\)"),
    (lambda: fastconv.filter2d(np.zeros((4, 4), bool), np.ones((3, 3))), TypeError,
     "image has dtype bool"),
    (lambda: fastconv.filter2d(np.zeros((4, 4), np.int32), np.ones((3, 3))), TypeError,
     "image has dtype int32"),
    (lambda: fastconv.filter2d(np.zeros((4, 4)), np.ones((3, 3), complex)), TypeError,
     "filter2d: kernel must hold real numbers"),
    (lambda: fastconv.filter2d(np.zeros((4, 4), np.uint8), np.ones((3, 3)), dtype=np.int16),
     TypeError, r"filter2d: dtype must be the image's \(uint8\), float32 or float64"),
    (lambda: fastconv.filter2d(np.zeros((4, 4)), np.ones((3, 3)), anchor=(3, 0)), ValueError,
     r"filter2d: anchor \(3, 0\) must lie inside the kernel of shape \(3, 3\)"),
    (lambda: fastconv.filter2d(np.zeros((4, 4)), np.ones((3, 3)), separable="yes"), ValueError,
     "filter2d: separable must be 'auto', True or False"),
    (lambda: fastconv.filter2d(None, np.ones((3, 3))), TypeError, "filter2d: image must be"),
    (lambda: fastconv.sep_filter2d(np.zeros((4, 4)), np.ones((3, 3)), [1]), ValueError,
     r"sep_filter2d: kx must be 1-D, got shape \(3, 3\)"),
    (lambda: fastconv.gaussian_blur(np.zeros((4, 4)), 0), ValueError,
     "gaussian_blur: give sigma > 0 or an odd ksize > 0"),
    (lambda: fastconv.gaussian_blur(np.zeros((4, 4)), 1, 4), ValueError,
     "gaussian_blur: ksize must be odd"),
    (lambda: fastconv.box_blur(np.zeros((4, 4)), 0), ValueError,
     "box_blur: ksize must be positive"),
    (lambda: fastconv.sobel(np.zeros((4, 4)), 0, 0), ValueError,
     "sobel: dx and dy must be >= 0, not both 0"),
    (lambda: fastconv.sobel(np.zeros((4, 4)), 1, 0, ksize=4), ValueError,
     "sobel: ksize must be 1, 3, 5 or 7"),
])
def test_errors_name_the_function_and_the_argument(call, raises, match):
    with pytest.raises(raises, match=match):
        call()


@pytest.mark.parametrize("op", ["conv2d", "max_pool2d", "avg_pool2d"])
def test_a_2d_image_to_the_network_ops_points_to_filter2d(op):
    image = np.zeros((8, 8), np.float32)
    args = (image, np.ones((1, 1, 3, 3), np.float32)) if op == "conv2d" else (image, 2)
    with pytest.raises(ValueError, match=rf"{op}: x must be 3-D \(C, H, W\) or 4-D.*got shape "
                                         r"\(8, 8\).*filter2d.*x\[None, None\]"):
        getattr(fastconv, op)(*args)


# ---- ISA paths and threads ----------------------------------------------------------------------

def test_every_isa_against_the_reference():
    """The optimised drivers on every ISA path against the C reference twins (in one
    subprocess per path: the ISA is chosen at import)."""
    code = """
import numpy as np, fastconv, fastconv.reference as ref
rng = np.random.default_rng(0)
for dtype in (np.uint8, np.float32, np.float64):
    x = (rng.random((37, 300, 3)) * 200).astype(dtype)
    for ksize in ((3, 3), (5, 4), (1, 9), (15, 15)):
        k = rng.standard_normal(ksize)
        for border in ("reflect101", "constant", "wrap"):
            a = fastconv.filter2d(x, k, border=border, value=1.0, separable=False)
            b = ref.filter2d(x, k, border=border, value=1.0)
            scale = np.abs(k).sum() * 200
            eps = 1e-15 if a.dtype == np.float64 else 4e-7
            bound = ksize[0] * ksize[1] * eps * scale
            assert np.abs(a.astype(float) - b).max() <= bound, (dtype, ksize, border)
            c = fastconv.sep_filter2d(x, k[0], k[:, 0], border=border, dtype=dtype)
            d = ref.sep_filter2d(x, k[0], k[:, 0], border=border, dtype=dtype)
            tol = 1 if dtype == np.uint8 else ksize[0] * ksize[1] * eps * scale
            assert np.abs(c.astype(float) - d).max() <= tol, (dtype, ksize, border)
print("ok")
"""
    for isa in _ext.ISA_NAMES:
        result = subprocess.run([sys.executable, "-c", code],
                                env=subprocess_env(FASTCONV_ISA=isa), cwd=TESTS_DIR,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0 and result.stdout.strip() == "ok", (isa, result.stderr)


def test_scalar_path_is_the_reference_bitwise():
    """The scalar members sum in the reference's order with the same roundings."""
    code = """
import numpy as np, fastconv, fastconv.reference as ref
rng = np.random.default_rng(1)
x = rng.standard_normal((21, 40, 3)).astype(np.float32)
k = rng.standard_normal((4, 5))
for border in ("reflect", "replicate"):
    assert np.array_equal(fastconv.filter2d(x, k, border=border), ref.filter2d(x, k, border=border))
    assert np.array_equal(fastconv.sep_filter2d(x, k[0], k[:, 0], border=border),
                          ref.sep_filter2d(x, k[0], k[:, 0], border=border))
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code],
                            env=subprocess_env(FASTCONV_ISA="scalar"), cwd=TESTS_DIR,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_results_do_not_depend_on_the_thread_count(dtype):
    x = _image((2, 300, 700, 3), dtype, seed=23)
    k = np.random.default_rng(24).standard_normal((7, 7))
    before = fastconv.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            fastconv.set_num_threads(threads)
            results.append((fastconv.filter2d(x, k, dtype=dtype),
                            fastconv.gaussian_blur(x, 2.0, dtype=dtype)))
    finally:
        fastconv.set_num_threads(before)
    for a, b in results[1:]:
        assert_bitwise_equal(a, results[0][0])
        assert_bitwise_equal(b, results[0][1])

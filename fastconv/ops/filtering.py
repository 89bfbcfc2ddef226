"""Image filtering as OpenCV and scipy.ndimage users hold images: (H, W), (H, W, C) and
(N, H, W, C) arrays of uint8, uint16, int16, float32 or float64, with OpenCV's border modes.

The arithmetic is csrc/ops/filter2d.c (the depthwise microkernels over bordered row strips,
without the GIL); this layer checks the arguments, builds the kernels (OpenCV's Gaussian and
Sobel constructions) and allocates the output.  Inputs are never modified.

Border modes, by name in fastconv, OpenCV and scipy.ndimage::

    fastconv      OpenCV                scipy.ndimage    pixels past the edge of abcd
    "constant"    BORDER_CONSTANT       "constant"       vvv|abcd|vvv  (v = value / cval)
    "replicate"   BORDER_REPLICATE      "nearest"        aaa|abcd|ddd
    "reflect"     BORDER_REFLECT        "reflect"        cba|abcd|dcb
    "reflect101"  BORDER_REFLECT_101    "mirror"         dcb|abcd|cba
    "wrap"        (refused by filter2D) "grid-wrap"      bcd|abcd|abc
"""
import math

import numpy as np

from . import _ext
from . import functional as _functional
from .functional import _int

__all__ = ["filter2d", "sep_filter2d", "gaussian_blur", "box_blur", "sobel"]

BORDERS = tuple(_ext.BORDERS)
_PIXEL_DTYPES = tuple(np.dtype(t) for t in (np.uint8, np.uint16, np.int16, np.float32,
                                            np.float64))
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_DTYPES_TEXT = "uint8, uint16, int16, float32 or float64"


# ---- arguments ------------------------------------------------------------------------------

def _image(op, image):
    """image -> (the array, its (N, H, W, C) view, output dtype default)."""
    if image is None:
        raise TypeError(f"{op}: image must be an array of {_DTYPES_TEXT}, got None")
    arr = image if isinstance(image, np.ndarray) else np.asarray(image)
    if arr.dtype.newbyteorder("=") not in _PIXEL_DTYPES:
        hint = ("image.astype(np.float32)" if arr.dtype.kind in "fbiu"
                else "a real-valued array (filter the real and imaginary parts separately)")
        raise TypeError(f"{op}: image has dtype {arr.dtype}; the dtypes that work are "
                        f"{_DTYPES_TEXT} (convert with {hint})")
    if arr.ndim == 2:
        x4 = arr[None, :, :, None]
    elif arr.ndim == 3:
        x4 = arr[None]
    elif arr.ndim == 4:
        x4 = arr
    else:
        raise ValueError(f"{op}: image must be (H, W), (H, W, C) or (N, H, W, C), got shape "
                         f"{arr.shape}")
    if 0 in x4.shape[1:]:
        raise ValueError(f"{op}: image must have non-zero height, width and channels, got shape "
                         f"{arr.shape}")
    if not x4.flags.aligned or not x4.dtype.isnative:
        x4 = np.require(x4, x4.dtype.newbyteorder("="), ["ALIGNED"])
    return arr, x4


def _out_dtype(op, arr, dtype):
    native = arr.dtype.newbyteorder("=")
    if dtype is None:
        return native if native.kind == "f" else _F32
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{op}: dtype must be a numpy dtype, got {dtype!r}") from None
    if dtype not in (native, _F32, _F64):
        raise TypeError(f"{op}: dtype must be the image's ({native}), float32 or float64, "
                        f"got {dtype}")
    return dtype


def _border(op, border):
    if not isinstance(border, str) or border not in _ext.BORDERS:
        raise ValueError(f"{op}: border must be one of {', '.join(map(repr, BORDERS))} "
                         f"(scipy.ndimage's 'constant', 'nearest', 'reflect', 'mirror', "
                         f"'grid-wrap'), got {border!r}")
    return str(border)  # a str subclass (np.str_) as the plain str the C layer takes


def _real(op, name, value):
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: {name} must be a real number, got {value!r}") from None
    return result


def _taps(op, name, value, ndim):
    """A kernel as a C-contiguous float64 array of `ndim` dimensions, none of them empty."""
    try:
        k = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{op}: {name} is not convertible to an array: {exc}") from None
    if k.dtype.kind not in "fiu":
        raise TypeError(f"{op}: {name} must hold real numbers (integer or float), got dtype "
                        f"{k.dtype}")
    if ndim == 1 and k.ndim == 2 and 1 in k.shape:
        k = k.reshape(-1)  # OpenCV's kernels are (n, 1) columns
    if k.ndim != ndim:
        want = "2-D (kh, kw)" if ndim == 2 else "1-D"
        hint = ("; a 1-D kernel k filters rows as k[None, :] and columns as k[:, None], or "
                "use sep_filter2d" if ndim == 2 and k.ndim == 1 else "")
        raise ValueError(f"{op}: {name} must be {want}, got shape {k.shape}{hint}")
    if k.size == 0:
        raise ValueError(f"{op}: {name} must not be empty, got shape {k.shape}")
    return np.ascontiguousarray(k, dtype=np.float64)


def _anchor(op, anchor, ksize):
    if anchor is None:
        return (ksize[0] // 2, ksize[1] // 2)
    if not isinstance(anchor, (tuple, list)) or len(anchor) != 2:
        raise ValueError(f"{op}: anchor must be None or a pair (row, column), got {anchor!r}")
    pair = tuple(_int(op, "anchor", a, anchor) for a in anchor)
    # OpenCV's Point(-1, -1): the kernel's center
    pair = tuple(k // 2 if a == -1 else a for a, k in zip(pair, ksize))
    if not all(0 <= a < k for a, k in zip(pair, ksize)):
        raise ValueError(f"{op}: anchor {anchor!r} must lie inside the kernel of shape "
                         f"{tuple(ksize)} (or be -1 for its center)")
    return pair


def _output(op, out, shape, dtype, image):
    """A new output (functional's, which the tests' NaN recorder replaces) or the checked out=."""
    if out is None:
        _functional._check_size(op, shape, np.dtype(dtype).itemsize)
    return _functional._output(op, out, shape, image, [("image", image)],
                               dtype=np.dtype(dtype))


def _run(op, image, kernel, kx, ky, ksize, border, value, delta, dtype, anchor, out,
         reference=False):
    arr, x4 = _image(op, image)
    dtype = _out_dtype(op, arr, dtype)
    border = _border(op, border)
    value = _real(op, "value", value)
    delta = _real(op, "delta", delta)
    anchor = _anchor(op, anchor, ksize)
    y = _output(op, out, arr.shape, dtype, arr)
    if x4.shape[0]:
        _ext.filter2d(op, x4, kernel, kx, ky, y.reshape(x4.shape), border, value, delta,
                      anchor, ksize, reference)
    return y


def _rank1(k):
    """(kx, ky) with np.outer(ky, kx) == k exactly, or None."""
    nonzero = k != 0
    count = np.count_nonzero(nonzero)
    if count == 0:
        return None
    # Quick answers for the kernels of most calls, which are not rank 1 (the tests below cost
    # 50-70 us, 4-15% of a 7x7 filter of a 512^2 - 1024^2 image): an outer product's zeros
    # fill whole rows and columns, and its rows are multiples of one another but for the
    # roundings of its products (a relative 1e-15 in a 2 x 2 minor; NaN and inf taps go on).
    # A rank-1 kernel whose products underflow may be turned away: it then runs in 2-D, as
    # correct, only slower.
    if count != np.count_nonzero(nonzero.any(axis=1)) * np.count_nonzero(nonzero.any(axis=0)):
        return None
    rows, cols = np.nonzero(k)
    first, last = k[rows[0]].tolist(), k[rows[-1]].tolist()  # Python floats: no numpy calls
    p, q = first[cols[0]], last[cols[0]]
    for x, y in zip(first, last):
        if abs(y * p - x * q) > 1e-12 * (abs(y * p) + abs(x * q)):
            return None
    # pivots: the first nonzero tap (1 in integer kernels such as binomials, whose factors
    # then divide exactly) and the largest; the pivot's scale on either factor
    for pivot in (0, int(np.argmax(np.abs(k[rows, cols])))):
        r0, s0 = rows[pivot], cols[pivot]
        for kx, ky in ((k[r0] / k[r0, s0], k[:, s0]), (k[r0], k[:, s0] / k[r0, s0])):
            if np.array_equal(np.outer(ky, kx), k):
                return np.ascontiguousarray(kx), np.ascontiguousarray(ky)
    return None


def _separable_mode(op, separable):
    if isinstance(separable, str):
        if separable != "auto":
            raise ValueError(f"{op}: separable must be 'auto', True or False, got "
                             f"{separable!r}")
        return "auto"
    if isinstance(separable, (bool, np.bool_)):
        return bool(separable)
    raise TypeError(f"{op}: separable must be 'auto', True or False, got {separable!r}")


# Both sides of a kernel at least this long before "auto" runs a rank-1 kernel separably:
# kh + kw multiply-adds per pixel (and a pass over the row sums) against kh * kw.
_SEPARABLE_MIN_SIDE = 5


# ---- filter2d ---------------------------------------------------------------------------------

def filter2d(image, kernel, *, border="reflect101", value=0.0, dtype=None, out=None,
             anchor=None, delta=0.0, separable="auto"):
    """Correlate an image with a 2-D kernel, as cv2.filter2D and scipy.ndimage.correlate.

    ``y[i, j] = delta + sum_{r, s} kernel[r, s] * image[i + r - anchor[0], j + s - anchor[1]]``
    with the pixels past the image's edges given by `border`.  This is correlation (the
    kernel is not flipped), like cv2.filter2D and fastconv.conv2d; for a true convolution pass
    ``kernel[::-1, ::-1]`` (and, for an even-sized kernel, ``anchor=(kh - 1 - kh // 2,
    kw - 1 - kw // 2)`` to keep scipy.ndimage.convolve's center).

    Parameters
    ----------
    image : array_like, (H, W), (H, W, C) or (N, H, W, C)
        uint8, uint16, int16, float32 or float64.  Every channel is filtered by the same
        kernel, as cv2.filter2D does.  Any strides (negative too); never modified.
    kernel : array_like, (kh, kw)
        Real numbers of any size, also larger than the image; even sizes are fine.
    border : {"reflect101", "constant", "replicate", "reflect", "wrap"}
        OpenCV's BORDER_REFLECT_101, BORDER_CONSTANT, BORDER_REPLICATE, BORDER_REFLECT;
        scipy.ndimage's "mirror", "constant", "nearest", "reflect", "grid-wrap" ("wrap" is
        scipy's grid-wrap: cv2.filter2D refuses BORDER_WRAP).  Reflections repeat for
        kernels larger than the image, as OpenCV's borderInterpolate.
    value : float
        The pixels past the edge for border="constant" (scipy's cval; cv2.filter2D uses 0).
    dtype : None, the image's dtype, float32 or float64
        None: float32 for integer images, the image's dtype for float ones.  The image's
        integer dtype rounds half to even and saturates, as OpenCV's ddepth=-1.
    out : ndarray, optional
        C-contiguous array of the image's shape and the output dtype, not overlapping it.
    anchor : (row, column), optional
        The kernel element over the output pixel; default ``(kh // 2, kw // 2)``, OpenCV's
        center for even sizes too.  cv2's ``anchor=(ax, ay)`` (x first) is ``anchor=(ay,
        ax)`` here; scipy's ``origin=(oy, ox)`` is ``anchor=(kh // 2 + oy, kw // 2 + ox)``.
    delta : float
        Added to every sum (before rounding), as cv2.filter2D's delta.
    separable : "auto", True or False
        A kernel that is exactly an outer product ``np.outer(ky, kx)`` (checked in float64)
        can run as sep_filter2d (kh + kw multiply-adds per pixel, not kh * kw).  "auto"
        does so when both sides are at least 5 long; True requires it; False never.  The
        separable sum rounds differently: in float32 the two results differ by a few units in
        the last place of the sum of ``|kernel| * |pixels|`` (at most (kh * kw + kh + kw)
        * 2**-24 of it); integer images with kernels of small integers or dyadic fractions
        (box, Sobel, binomial) give the same exact sums either way.  A Gaussian's outer
        product computed in floating point is rarely exact: pass its 1-D kernels to
        sep_filter2d, or use gaussian_blur.

    Returns
    -------
    ndarray, the image's shape

    Sums run in float64 when the image or output is float64, else in float32 (exact for
    uint8 / uint16 / int16 pixels; each product and partial sum is rounded to float32, as in
    OpenCV).  Taps of weight 0 are left out of the sum, as cv2.filter2D leaves them out: a
    NaN or inf pixel under a zero tap does not reach the output (a kernel run separably
    keeps them, as sep_filter2d and cv2.sepFilter2D do).  The result does not depend on the
    thread count.

    Example
    -------
    >>> import numpy as np, fastconv
    >>> image = np.arange(16, dtype=np.uint8).reshape(4, 4)
    >>> fastconv.filter2d(image, np.ones((3, 3)) / 9, dtype=np.uint8)[1]
    array([5, 5, 6, 6], dtype=uint8)
    """
    op = "filter2d"
    k, factors = _kernel_plan(op, kernel, separable)
    if factors is not None:
        return _run(op, image, None, factors[0], factors[1], k.shape, border, value, delta,
                    dtype, anchor, out)
    return _run(op, image, k, None, None, k.shape, border, value, delta, dtype, anchor, out)


def _kernel_plan(op, kernel, separable):
    """filter2d's kernel as float64 taps, and its factors (kx, ky) where it runs separably
    (else None): decided by the kernel and `separable` alone, never by the image, so that
    fastconv.dask decides it once for all the blocks of an image."""
    k = _taps(op, "kernel", kernel, 2)
    mode = _separable_mode(op, separable)
    # (the rank test costs ~20 us: only where its answer is used)
    if mode is True or (mode == "auto" and min(k.shape) >= _SEPARABLE_MIN_SIDE):
        factors = _rank1(k)
        if mode is True and factors is None:
            raise ValueError(f"{op}: separable=True needs a kernel that is an exact outer "
                             f"product of a column and a row, got shape {k.shape} of rank > 1")
        return k, factors
    return k, None


def sep_filter2d(image, kx, ky, *, border="reflect101", value=0.0, dtype=None, out=None,
                 anchor=None, delta=0.0):
    """Filter with the separable kernel ``np.outer(ky, kx)``, as cv2.sepFilter2D.

    kx (kw taps) runs along each row (x), ky (kh taps) along each column (y): first the row
    sums ``sum_s kx[s] * image[..., j + s - anchor[1]]`` of every row a pixel needs, then
    ``delta + sum_r ky[r] * rowsum[i + r - anchor[0]]``.  Arguments as filter2d's (kx, ky: 1-D
    or OpenCV's (n, 1) columns).

    Example
    -------
    >>> import numpy as np, fastconv
    >>> image = np.zeros((5, 5), np.float32); image[2, 2] = 1
    >>> fastconv.sep_filter2d(image, [1, 2, 1], [1, 0, -1])[1:4, 1:4]
    array([[-1., -2., -1.],
           [ 0.,  0.,  0.],
           [ 1.,  2.,  1.]], dtype=float32)
    """
    op = "sep_filter2d"
    kx = _taps(op, "kx", kx, 1)
    ky = _taps(op, "ky", ky, 1)
    return _run(op, image, None, kx, ky, (ky.size, kx.size), border, value, delta, dtype,
                anchor, out)


def _reference(op, image, kernel, kx, ky, border="reflect101", value=0.0, dtype=None,
               out=None, anchor=None, delta=0.0):
    """The C reference twins (csrc/ref/filter2d.c) behind the same checks."""
    if kernel is not None:
        k = _taps(op, "kernel", kernel, 2)
        return _run(op, image, k, None, None, k.shape, border, value, delta, dtype, anchor,
                    out, reference=True)
    kx = _taps(op, "kx", kx, 1)
    ky = _taps(op, "ky", ky, 1)
    return _run(op, image, None, kx, ky, (ky.size, kx.size), border, value, delta, dtype,
                anchor, out, reference=True)


# ---- OpenCV's kernels -------------------------------------------------------------------------

# cv::getGaussianKernel's fixed kernels for sigma <= 0 and odd sizes up to 7
_SMALL_GAUSSIANS = {1: [1.0], 3: [0.25, 0.5, 0.25], 5: [0.0625, 0.25, 0.375, 0.25, 0.0625],
                    7: [0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125]}


def gaussian_kernel(ksize, sigma, dtype=np.float64):
    """cv2.getGaussianKernel(ksize, sigma, ktype) as a 1-D array, built as OpenCV's
    getGaussianKernelBitExact does (in float64 here, where OpenCV uses its software double):
    sigma <= 0 means ``ksize * 0.15 + 0.35``; the center tap (both center taps of an even
    size, as OpenCV has them) is exp(0) = 1 before the normalisation; odd sizes up to 7 with
    sigma <= 0 are OpenCV's fixed binomial-like kernels."""
    if sigma <= 0 and ksize in _SMALL_GAUSSIANS:
        return np.array(_SMALL_GAUSSIANS[ksize], dtype=dtype)
    sigma = sigma if sigma > 0 else ksize * 0.15 + 0.35
    scale = -0.125 / (sigma * sigma)
    half = (ksize - 1) // 2
    x = np.arange(1 - ksize, 1 - ksize + 2 * half, 2, dtype=np.float64)
    values = [math.exp(v * v * scale) for v in x]
    total = 0.0
    for v in values:  # OpenCV's running sum
        total += v
    total = total * 2 + 1 + (1 if ksize % 2 == 0 else 0)
    mul = 1.0 / total
    side = [v * mul for v in values]
    center = [mul] * (1 if ksize % 2 else 2)
    return np.array(side + center + side[::-1], dtype=dtype)


def _gaussian_size(op, sigma, ksize, image_dtype):
    if ksize > 0:
        return ksize
    if sigma <= 0:
        raise ValueError(f"{op}: give sigma > 0 or an odd ksize > 0, got sigma {sigma}, "
                         f"ksize {ksize}")
    # cv::createGaussianKernels: 3 sigma each side for uint8 images, 4 for the others
    return int(np.rint(sigma * (3 if image_dtype == np.uint8 else 4) * 2 + 1)) | 1


def _odd_pair(op, name, value, allow_none=False):
    if value is None and allow_none:
        return (0, 0)
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{op}: {name} must be an int or a pair (rows, columns), got "
                             f"{value!r}")
        pair = tuple(_int(op, name, v, value) for v in value)
    else:
        one = _int(op, name, value, value)
        pair = (one, one)
    return pair


def gaussian_blur(image, sigma, ksize=None, *, sigma_y=None, border="reflect101", value=0.0,
                  dtype=None, out=None):
    """Gaussian blur, as cv2.GaussianBlur(image, (kw, kh), sigma, sigmaY=sigma_y).

    sigma is the standard deviation along x (columns); sigma_y along y, default sigma.
    ksize (int or (kh, kw), odd) defaults to OpenCV's ``round(sigma * 8 + 1) | 1`` (``sigma *
    6`` for uint8 images).  The kernels are cv2.getGaussianKernel's, run separably.  For
    uint8 OpenCV sums in fixed point, so its result can differ from this (float32) one by 1.

    Example
    -------
    >>> import numpy as np, fastconv
    >>> image = np.zeros((21, 21), np.float32); image[10, 10] = 1
    >>> round(float(fastconv.gaussian_blur(image, 1.0).sum()), 5)
    1.0
    """
    op = "gaussian_blur"
    arr, _ = _image(op, image)
    sx = _real(op, "sigma", sigma)
    sy = sx if sigma_y is None else _real(op, "sigma_y", sigma_y)
    kh, kw = _odd_pair(op, "ksize", ksize, allow_none=True)
    if sx < 0 or sy < 0 or kh < 0 or kw < 0 or (kh > 0 and kh % 2 == 0) \
            or (kw > 0 and kw % 2 == 0):
        raise ValueError(f"{op}: ksize must be odd and positive and sigma >= 0, got ksize "
                         f"{ksize!r}, sigma {sigma!r}, sigma_y {sigma_y!r}")
    kw = _gaussian_size(op, sx, kw, arr.dtype)
    kh = _gaussian_size(op, sy, kh, arr.dtype)
    # OpenCV's kernel type: float32 unless the image is float64
    ktype = np.float64 if arr.dtype == _F64 else np.float32
    return sep_filter2d(image, gaussian_kernel(kw, sx, ktype), gaussian_kernel(kh, sy, ktype),
                        border=border, value=value, dtype=dtype, out=out)


def box_blur(image, ksize, normalize=True, *, border="reflect101", value=0.0, dtype=None,
             out=None, anchor=None):
    """Mean (normalize=True) or sum of each ksize window, as cv2.boxFilter / cv2.blur.

    ksize: int or (kh, kw) -- rows first, so cv2.blur(image, (kw, kh)) is box_blur(image,
    (kh, kw)).  Runs separably: ones along rows, then 1 / (kh * kw) along columns.

    Example
    -------
    >>> import numpy as np, fastconv
    >>> float(fastconv.box_blur(np.arange(9, dtype=np.float32).reshape(3, 3), 3)[1, 1])
    4.0
    """
    op = "box_blur"
    kh, kw = _odd_pair(op, "ksize", ksize)
    if kh < 1 or kw < 1:
        raise ValueError(f"{op}: ksize must be positive, got {ksize!r}")
    scale = 1.0 / (kh * kw) if normalize else 1.0
    return sep_filter2d(image, np.ones(kw), np.full(kh, scale), border=border, value=value,
                        dtype=dtype, out=out, anchor=anchor)


def deriv_kernel(order, ksize):
    """One side of cv2.getDerivKernels(..., normalize=False): the Sobel kernel of derivative
    `order` and `ksize` taps (ksize 1 means 3 for a derivative), as OpenCV builds it."""
    if ksize == 1 and order > 0:
        ksize = 3
    if ksize == 1:
        return np.ones(1)
    if ksize == 3:
        return np.array([[1, 2, 1], [-1, 0, 1], [1, -2, 1]][order], dtype=np.float64)
    k = [1] + [0] * ksize
    for _ in range(ksize - order - 1):  # binomial smoothing
        k = [k[0]] + [k[j] + k[j - 1] for j in range(1, ksize)] + k[ksize:]
    for _ in range(order):  # differences
        k = [-k[0]] + [k[j - 1] - k[j] for j in range(1, ksize)] + k[ksize:]
    return np.array(k[:ksize], dtype=np.float64)


def sobel(image, dx, dy, ksize=3, scale=1.0, delta=0.0, *, border="reflect101", value=0.0,
          dtype=None, out=None):
    """Sobel derivative of order dx along x (columns) and dy along y, as cv2.Sobel.

    The kernels are cv2.getDerivKernels(dx, dy, ksize) (ksize 1, 3, 5 or 7); scale
    multiplies the smoothing side (the derivative side when both are derivatives, as OpenCV
    does), delta is added before rounding.  The output defaults to float32 for integer
    images (cv2.Sobel's ddepth=cv2.CV_32F); dtype=image.dtype saturates as OpenCV's.

    Example
    -------
    >>> import numpy as np, fastconv
    >>> ramp = np.tile(np.arange(5, dtype=np.float32) * 2, (5, 1))
    >>> fastconv.sobel(ramp, 1, 0)[2]
    array([ 0., 16., 16., 16.,  0.], dtype=float32)
    """
    op = "sobel"
    dx = _int(op, "dx", dx, dx)
    dy = _int(op, "dy", dy, dy)
    ksize = _int(op, "ksize", ksize, ksize)
    if ksize not in (1, 3, 5, 7):
        raise ValueError(f"{op}: ksize must be 1, 3, 5 or 7, got {ksize}")
    if dx < 0 or dy < 0 or dx + dy == 0 or max(dx, dy) >= max(ksize, 3):
        raise ValueError(f"{op}: dx and dy must be >= 0, not both 0, and below ksize "
                         f"(3 for ksize 1), got dx {dx}, dy {dy}, ksize {ksize}")
    kx = deriv_kernel(dx, ksize)
    ky = deriv_kernel(dy, ksize)
    scale = _real(op, "scale", scale)
    if scale != 1:
        if dx == 0:
            kx = kx * scale
        else:
            ky = ky * scale
    return sep_filter2d(image, kx, ky, border=border, value=value, dtype=dtype, out=out,
                        delta=delta)

"""The one tolerance table of the test suite.

* ``assert_exact``: data movement (ReLU, max pooling values and indices, layouts, thread
  counts, reference twins).  Bitwise, including the sign of zero; any NaN equals any NaN.
* ``assert_reduction_close``: sums (convolution, average pooling).  The rigorous forward
  error bound of recursive summation in any order, |fl(sum) - sum| <= gamma_n * sum|terms|
  with gamma_n ~ n * eps / 2, doubled for safety (and for the final rounding of the result,
  the bias add, a division or an FMA-free product):

      |actual - expected| <= C * length * eps(dtype) * abs_bound + TINY * length

  where ``abs_bound`` is the oracle evaluated on |inputs| and ``length`` the number of terms
  of one output element.
* ``assert_integer_exact``: integer-valued inputs whose sums are exactly representable: the
  result must equal the oracle exactly.  Values are compared with ``==``, so +0.0 == -0.0:
  the sign of an exact zero sum depends on the summation order (IEEE: a + (-a) = +0,
  -0 + -0 = -0), which no implementation is bound to.
* ``assert_bitwise_equal``: one result against another of the same code (repeats, thread
  counts, schedules, threads calling at once).  Stricter than ``assert_exact``: NaN payloads
  must match too, since the same arithmetic on the same inputs gives the same NaN.  ``bits``
  is the bit pattern it compares.
"""

import numpy as np

REDUCTION_C = 2.0


def _eps(dtype):
    return float(np.finfo(dtype).eps)


def _tiny(dtype):
    # smallest normal number: covers gradual underflow (and flush-to-zero) per term
    return float(np.finfo(dtype).tiny)


def _check_meta(actual, expected):
    assert isinstance(actual, np.ndarray), f"expected an ndarray, got {type(actual)!r}"
    assert actual.shape == expected.shape, f"shape {actual.shape} != expected {expected.shape}"
    assert actual.dtype == expected.dtype, f"dtype {actual.dtype} != expected {expected.dtype}"


def _first_mismatches(mask, actual, expected, limit=5):
    if mask.ndim == 0:
        return f"0-d: actual {actual[()]!r}, expected {expected[()]!r}"
    where = np.argwhere(mask)[:limit]
    parts = [f"at {tuple(int(i) for i in w)}: actual {actual[tuple(w)]!r}, "
             f"expected {expected[tuple(w)]!r}" for w in where]
    return f"{int(mask.sum())} of {mask.size} elements differ; " + "; ".join(parts)


def assert_exact(actual, expected):
    """Bitwise equality (sign of zero included); NaN == NaN whatever the payload."""
    expected = np.asarray(expected)
    _check_meta(actual, expected)
    if actual.dtype.kind == "f":
        a = actual.copy(order="C")  # (np.ascontiguousarray would make a 0-d array 1-d)
        e = expected.copy(order="C")
        an, en = np.isnan(a), np.isnan(e)
        uint = np.dtype(f"u{a.dtype.itemsize}")
        differ = (an != en) | (~an & ~en & (a.view(uint) != e.view(uint)))
    else:
        differ = actual != expected
    if differ.any():
        raise AssertionError("not bitwise equal: " + _first_mismatches(differ, actual, expected))


def reduction_tolerance(abs_bound, length, dtype):
    """The bound of ``assert_reduction_close``, elementwise."""
    abs_bound = np.asarray(abs_bound, dtype=np.float64)
    return REDUCTION_C * length * _eps(dtype) * abs_bound + _tiny(dtype) * length


def assert_reduction_close(actual, expected, abs_bound, length, dtype):
    """|actual - expected| <= C * length * eps(dtype) * abs_bound + tiny * length.

    ``expected`` and ``abs_bound`` are the float64 oracle on the inputs and on their absolute
    values; ``actual`` must have dtype ``dtype``.  NaN must match NaN; infinities must match.
    """
    dtype = np.dtype(dtype)
    expected = np.asarray(expected, dtype=np.float64)
    assert isinstance(actual, np.ndarray), f"expected an ndarray, got {type(actual)!r}"
    assert actual.shape == expected.shape, f"shape {actual.shape} != expected {expected.shape}"
    assert actual.dtype == dtype, f"dtype {actual.dtype} != expected {dtype}"
    assert length >= 1
    a = actual.astype(np.float64)
    tol = reduction_tolerance(abs_bound, length, dtype)
    an, en = np.isnan(a), np.isnan(expected)
    finite = np.isfinite(a) & np.isfinite(expected)
    with np.errstate(invalid="ignore"):
        err = np.where(finite, np.abs(a - expected), 0.0)
    infs_differ = ~finite & ~an & ~en & (a != expected)
    differ = (an != en) | infs_differ | (finite & ~(err <= tol))
    if differ.any():
        worst = np.unravel_index(np.argmax(np.where(finite, err / tol, 0)), err.shape)
        raise AssertionError(
            f"not within the reduction bound (length {length}, {dtype}): "
            + _first_mismatches(differ, a, expected)
            + f"; worst error/tolerance {float(err[worst] / tol[worst]):.3g} at "
            f"{tuple(int(i) for i in worst)}")


def assert_integer_exact(actual, expected, dtype=None):
    """Integer-valued inputs: equal to the oracle exactly (+0 == -0, NaN == NaN)."""
    expected = np.asarray(expected)
    assert isinstance(actual, np.ndarray), f"expected an ndarray, got {type(actual)!r}"
    assert actual.shape == expected.shape, f"shape {actual.shape} != expected {expected.shape}"
    if dtype is not None:
        assert actual.dtype == np.dtype(dtype), f"dtype {actual.dtype} != expected {dtype}"
    cast = expected.astype(actual.dtype)
    # the test is only well posed if the exact result is representable in the dtype
    fin = np.isfinite(expected)
    assert np.array_equal(cast[fin].astype(expected.dtype), expected[fin]), \
        "test bug: the exact result is not representable in " + str(actual.dtype)
    expected = cast
    an, en = np.isnan(actual), np.isnan(expected)
    differ = (an != en) | (~an & ~en & (actual != expected))
    if differ.any():
        raise AssertionError("not exactly equal: " + _first_mismatches(differ, actual, expected))


def bits(a):
    """The bit pattern of ``a``: a float array as unsigned integers of its width (so NaN
    payloads and the sign of zero compare), any other array as itself; C-contiguous."""
    a = np.ascontiguousarray(a)
    return a.view(f"u{a.dtype.itemsize}") if a.dtype.kind == "f" else a


def assert_bitwise_equal(actual, expected, what="results"):
    """Same dtype, shape and bit pattern (NaN payloads included); ``what`` starts the message."""
    assert isinstance(actual, np.ndarray), f"{what}: expected an ndarray, got {type(actual)!r}"
    assert actual.dtype == expected.dtype and actual.shape == expected.shape, (
        f"{what}: {actual.dtype}{actual.shape} != {expected.dtype}{expected.shape}")
    a, e = bits(actual), bits(expected)
    if not np.array_equal(a, e):
        bad = np.argwhere(a != e) if a.ndim else np.zeros((1, 0), np.int64)
        first = tuple(int(i) for i in bad[0])
        raise AssertionError(
            f"{what}: not bitwise equal in {len(bad)} of {a.size} elements, first at {first}: "
            f"{actual[first]!r} vs {expected[first]!r}")


# ---- Winograd F(4x4, 3x3) -----------------------------------------------------------------
# The transforms of csrc/kernels/winograd/winograd.h: V = B^T d B, U = G' g G'^T (G' = 24 G),
# y = A^T (sum_c U . V) A / 576.
WINOGRAD_BT = np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                        [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], float)
WINOGRAD_G = np.array([[6, 0, 0], [-4, -4, -4], [-4, 4, -4], [1, 2, 4], [1, -2, 4], [0, 0, 24]],
                      float)
WINOGRAD_AT = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
                        [0, 1, -1, 8, -8, 1]], float)
# kappa[p, a, r]: how much input column a of a tile and filter tap r weigh in output column p
# when every product of the three transforms is taken in absolute value.  The exact
# transforms give 1 for a = p + r and 0 elsewhere; in absolute value the row sums are
# 16, 17, 24, 48 (3 for a direct convolution) and the largest entry 10.7.
WINOGRAD_KAPPA = np.einsum("pi,ir,ia->par", np.abs(WINOGRAD_AT), np.abs(WINOGRAD_G),
                           np.abs(WINOGRAD_BT)) / 24
# Roundings in sequence on the way to one output: filter transform 6, input transform 4, one
# per channel in the GEMM, output transform 6, the scale and the bias 2.
WINOGRAD_DEPTH = 18


def winograd_abs_bound(x, w, b=None, padding=((0, 0), (0, 0)), groups=1):
    """The Winograd analogue of the oracle on absolute values: for output pixel (p, q) of
    its 4x4 tile, sum over the channels and the tile's 6x6 input patch and the 9 taps of
    |x| |w| kappa[p, a, r] kappa[q, b, s] (+ |bias|).  Every rounding of F(4x4, 3x3) has an
    error below eps/2 times a partial result bounded by this, so

        |actual - exact| <= (Cg + WINOGRAD_DEPTH) * eps/2 * winograd_abs_bound

    (gamma_n, first order).  Unlike a direct sum the bound includes products of x and w that
    the exact result does not pair (they cancel in exact arithmetic): the error of
    Winograd is relative to the whole patch, not to the sum of |x| |w| of the output."""
    x = np.abs(np.asarray(x, np.float64))
    w = np.abs(np.asarray(w, np.float64))
    (pt, pb), (pl, pr) = padding
    n, c, h, wd = x.shape
    k, cg = w.shape[:2]
    out_h, out_w = h + pt + pb - 2, wd + pl + pr - 2
    th, tw = -(-out_h // 4), -(-out_w // 4)
    xp = np.zeros((n, c, 4 * th + 2, 4 * tw + 2))
    xp[:, :, pt:pt + h, pl:pl + wd] = x[:, :, :4 * th + 2 - pt, :4 * tw + 2 - pl]
    # (n, c, tile row, tile column, a, b): the 6x6 patch of every tile
    patches = np.lib.stride_tricks.sliding_window_view(xp, (6, 6), axis=(2, 3))[:, :, ::4, ::4]
    # (k, cg, p, q, a, b): the patch weights of each output pixel of a tile
    weights = np.einsum("par,qbs,kcrs->kcpqab", WINOGRAD_KAPPA, WINOGRAD_KAPPA, w)
    kg = k // groups
    out = np.empty((n, k, th, tw, 4, 4))
    for g in range(groups):
        out[:, g * kg:(g + 1) * kg] = np.einsum(
            "nctuab,kcpqab->nktupq", patches[:, g * cg:(g + 1) * cg],
            weights[g * kg:(g + 1) * kg], optimize=True)
    out = out.transpose(0, 1, 2, 4, 3, 5).reshape(n, k, 4 * th, 4 * tw)[:, :, :out_h, :out_w]
    if b is not None:
        out = out + np.abs(np.asarray(b, np.float64))[None, :, None, None]
    return out


def assert_winograd_close(actual, expected, wino_bound, channels_per_group, dtype=np.float32):
    """``assert_reduction_close`` with the Winograd bound: |actual - expected| <=
    REDUCTION_C * (Cg + WINOGRAD_DEPTH) * eps * winograd_abs_bound (4x the first-order bound
    above) + tiny per rounding."""
    assert_reduction_close(actual, expected, wino_bound, channels_per_group + WINOGRAD_DEPTH,
                           dtype)

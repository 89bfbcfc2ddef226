"""The window geometry of csrc/common/geometry.h, which every driver, reference and kernel
helper shares (so the kernels-against-references tests cannot catch a fault in it): each
function against a brute-force count in Python integers."""
import pytest
from hypothesis import given, strategies as st

from fastconv.ops import _ext

INT64_MAX = 2**63 - 1


def outputs_inside(offset, stride, size, count):
    return [o for o in range(count) if 0 <= o * stride + offset < size]


def as_range(lo_hi):
    lo, hi = lo_hi
    assert lo <= hi
    return list(range(lo, hi))


@given(st.integers(-40, 40), st.integers(1, 7), st.integers(-10, 40), st.integers(0, 30))
def test_valid_range_is_the_outputs_whose_position_lies_inside(offset, stride, size, count):
    assert as_range(_ext.geometry_valid_range(offset, stride, size, count)) == \
        outputs_inside(offset, stride, size, count)


@pytest.mark.parametrize("offset,stride,size,count,expected", [
    (-2**62, 2**62, 3, 5, (1, 2)),                  # huge padding and stride
    (-2**62, 1, 3, 2**62 + 3, (2**62, 2**62 + 3)),   # unit stride, far from the input
    (2**62, 2**61, 2**62 + 1, 4, (0, 1)),
    (-5, INT64_MAX, 10, 3, (1, 1)),                  # -offset + stride - 1 passes int64
    (3, 2, 3, 10, (0, 0)),                           # starts past the input
])
def test_valid_range_past_2_62(offset, stride, size, count, expected):
    assert _ext.geometry_valid_range(offset, stride, size, count) == expected


@given(st.integers(1, 30), st.integers(0, 5), st.integers(1, 7), st.integers(1, 4),
       st.integers(1, 4), st.integers(0, 30))
def test_window_interior_is_the_outputs_whose_every_tap_lies_inside(size, pad, kernel, stride,
                                                                    dilation, count):
    expected = [o for o in range(count)
                if all(0 <= o * stride - pad + j * dilation < size for j in range(kernel))]
    assert as_range(_ext.geometry_window_interior(size, pad, kernel, stride, dilation,
                                                  count)) == expected


@given(st.integers(1, 30), st.integers(0, 5), st.integers(0, 5), st.integers(1, 7),
       st.integers(1, 6), st.integers(1, 4), st.booleans())
def test_window_count_is_torchs_output_size(size, pad_before, pad_after, kernel, stride,
                                            dilation, ceil_mode):
    span = dilation * (kernel - 1)
    numerator = size + pad_before + pad_after - span - 1
    out = -(-numerator // stride) + 1 if ceil_mode else numerator // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad_before:
        out -= 1
    expected = out if out >= 1 else None  # (ceil_mode keeps a window that overhangs the end)
    assert _ext.geometry_window_count(size, pad_before, pad_after, kernel, stride, dilation,
                                      ceil_mode) == expected


def test_window_count_reports_sums_past_int64():
    with pytest.raises(ValueError, match="64 bits"):
        _ext.geometry_window_count(3, 2**62, 2**62, 3, 1, 1, False)
    with pytest.raises(ValueError, match="64 bits"):
        _ext.geometry_window_count(3, 0, 0, 3, 1, 2**62, False)


@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 4), st.integers(1, 4),
       st.integers(1, 3), st.integers(1, 3), st.booleans(), st.booleans(), st.data())
def test_avg_pool_divisor_counts_the_window_as_torch(h, w, kh, kw, sh, sw, ceil_mode,
                                                     count_include_pad, data):
    ph, pw = data.draw(st.integers(0, kh // 2)), data.draw(st.integers(0, kw // 2))
    p = _ext.geometry_window_count(h, ph, ph, kh, sh, 1, ceil_mode)
    q = _ext.geometry_window_count(w, pw, pw, kw, sw, 1, ceil_mode)
    if p is None or q is None:
        return
    for oh in range(p):
        for ow in range(q):
            window = [(oh * sh - ph + i, ow * sw - pw + j) for i in range(kh) for j in range(kw)]
            if count_include_pad:  # inside the padded plane (ceil_mode's last window overhangs)
                expected = sum(y < h + ph and x < w + pw for y, x in window)
            else:
                expected = sum(0 <= y < h and 0 <= x < w for y, x in window)
            assert _ext.geometry_avg_pool_divisor(oh, ow, h, w, (kh, kw), (sh, sw), (ph, pw),
                                                  count_include_pad) == expected

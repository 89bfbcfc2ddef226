"""Huge sizes: the C library's 64-bit size arithmetic past 2**31 and up to 2**63, and outputs
that cannot fit in memory refused before anything is allocated."""
import os
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, strategies as st

import fastconv
from fastconv import functional
from fastconv.ops import _ext
from ops import OPS, huge_view
from subprocess_env import subprocess_env

INT64_MAX = 2**63 - 1
sizes = st.integers(0, INT64_MAX)
positive_sizes = st.integers(1, INT64_MAX)


# ---- the size helpers of csrc/common/internal.h ----------------------------------------------

@pytest.mark.parametrize("factors,product", [
    ([2**31, 2**31], 2**62),
    ([2**31 + 1, 2**31 - 1], 2**62 - 1),
    ([2**32, 2**31 - 1, 1], 2**63 - 2**32),
    ([3, 5, 7, 2**40], 105 * 2**40),
    ([INT64_MAX], INT64_MAX),
    ([0, 2**62], 0),
    ([], 1),
])
def test_checked_product_is_exact_past_2_31(factors, product):
    assert _ext.size_checked_product(factors) == product


@pytest.mark.parametrize("factors", [[2**31, 2**32], [2**32, 2**32], [3, 2**62],
                                     [INT64_MAX, 2], [2**21, 2**21, 2**21]])
def test_checked_product_reports_overflow_past_2_63(factors):
    with pytest.raises(ValueError, match="64 bits"):
        _ext.size_checked_product(factors)


def test_checked_product_refuses_a_negative_factor():
    with pytest.raises(ValueError, match="size_checked_product"):
        _ext.size_checked_product([4, -1])


@given(st.lists(st.integers(0, 2**40), max_size=5))
def test_checked_product_matches_python_ints(factors):
    # a running product past int64 is an overflow even when a later factor is 0, as numpy
    # refuses np.empty((2**40, 2**40, 0)): the C code may form any prefix product as a stride
    prefixes = [int(np.prod([1] + factors[:i], dtype=object)) for i in range(len(factors) + 1)]
    if max(prefixes) <= INT64_MAX:
        assert _ext.size_checked_product(factors) == prefixes[-1]
    else:
        with pytest.raises(ValueError):
            _ext.size_checked_product(factors)


@given(sizes, sizes)
def test_mul_saturating_is_the_product_or_int64_max(a, b):
    assert _ext.size_mul_saturating(a, b) == min(a * b, INT64_MAX)


@pytest.mark.parametrize("a,b,quotient", [(INT64_MAX, 2**62, 2), (INT64_MAX, 1, INT64_MAX),
                                          (INT64_MAX, INT64_MAX, 1), (2**31 + 1, 2, 2**30 + 1),
                                          (2**32, 2**32, 1), (0, 7, 0)])
def test_ceil_div_near_int64_max_does_not_overflow(a, b, quotient):
    # the former (a + b - 1) / b passed INT64_MAX on the first three
    assert _ext.size_ceil_div(a, b) == quotient


@given(sizes, positive_sizes)
def test_ceil_div_matches_python(a, b):
    assert _ext.size_ceil_div(a, b) == -(-a // b)


@given(st.integers(-INT64_MAX, INT64_MAX), positive_sizes)
def test_floor_div_matches_python(a, b):
    assert _ext.size_floor_div(a, b) == a // b


@pytest.mark.parametrize("count", [0, 5, 2**31 + 7, 2**40 + 3, INT64_MAX])
@pytest.mark.parametrize("parts", [1, 2, 3, 7, 64])
def test_task_ranges_cover_every_unit_once_in_near_equal_parts(count, parts):
    bounds = [_ext.size_task_range(count, parts, i) for i in range(parts)]
    assert bounds[0][0] == 0 and bounds[-1][1] == count
    assert all(bounds[i][1] == bounds[i + 1][0] for i in range(parts - 1))
    lengths = {end - begin for begin, end in bounds}
    assert max(lengths) - min(lengths) <= 1 and min(lengths) >= 0


@pytest.mark.parametrize("nbytes", [-1, -(2**62), INT64_MAX, 2**63 - 64])
def test_aligned_alloc_refuses_negative_and_unaddressable_sizes(nbytes):
    assert not _ext.size_aligned_alloc_succeeds(nbytes)


@pytest.mark.parametrize("nbytes", [0, 1, 64, 2**20 + 3])
def test_aligned_alloc_gives_ordinary_sizes(nbytes):
    assert _ext.size_aligned_alloc_succeeds(nbytes)


@pytest.mark.parametrize("h,r,stride,pads,dilation,expected", [
    (2**33, 3, 1, (0, 0), 1, 2**33 - 2),                   # past 2**31
    (2**40, 3, 2**20, (1, 1), 1, 2**20),
    (3, 3, 2**62, (2**62, 0), 1, 2),                       # huge padding and stride
    (3, 3, 1, (2**62, 0), 2**61, 3),                       # span 2**62
    (INT64_MAX - 2, 1, INT64_MAX, (1, 1), 1, 1),           # padded extent = INT64_MAX
    (INT64_MAX - 2, 3, 2**62, (1, 1), 1, 2),
])
def test_conv2d_output_size_past_2_31(h, r, stride, pads, dilation, expected):
    size = _ext.conv2d_output_size(h, 5, r, 1, (stride, 1), (pads, (0, 0)), (dilation, 1))
    assert size == (expected, 5)
    padded = h + pads[0] + pads[1]
    assert expected == (padded - dilation * (r - 1) - 1) // stride + 1


@pytest.mark.parametrize("h,r,pads,dilation", [
    (INT64_MAX - 1, 1, (1, 1), 1),         # H + top + bottom = 2**63
    (3, 3, (2**62, 2**62), 1),
    (3, 3, (0, 0), 2**62),                 # dilation * (R - 1) = 2**63
])
def test_conv2d_output_size_reports_sums_past_2_63(h, r, pads, dilation):
    with pytest.raises(ValueError, match="64 bits"):
        _ext.conv2d_output_size(h, 5, r, 1, (1, 1), (pads, (0, 0)), (dilation, 1))


@given(st.integers(1, 2**62), st.integers(1, 2**20), st.integers(1, 2**62),
       st.integers(0, 2**60), st.integers(1, 2**40))
def test_conv2d_output_size_matches_python_ints(h, r, stride, pad, dilation):
    padded, span = h + 2 * pad, dilation * (r - 1)
    size = _ext.conv2d_output_size(h, 1, r, 1, (stride, 1), ((pad, pad), (0, 0)),
                                   (dilation, 1))
    if padded > INT64_MAX or span > INT64_MAX:
        pytest.fail("drawn sums stay within int64 by construction")
    if padded <= span:
        assert size is None
    else:
        assert size == ((padded - span - 1) // stride + 1, 1)


@given(st.integers(1, 2**61), st.integers(1, 2**20), st.integers(1, 2**61),
       st.booleans())
def test_pool2d_output_size_matches_python_ints(h, kernel, stride, ceil_mode):
    size = _ext.pool2d_output_size(h, 1, (kernel, 1), (stride, 1), (kernel // 2, 0), (1, 1),
                                   ceil_mode)
    pad = kernel // 2
    numerator = h + 2 * pad - kernel
    if numerator < 0:
        assert size is None
        return
    out = (numerator + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= h + pad:
        out -= 1
    assert size == (out, 1)


# ---- outputs that cannot fit: refused before anything is allocated --------------------------

def f32(*shape):
    return np.ones(shape, np.float32)


def numpy_bytes_allocated_by(call):
    """(exception raised, peak bytes numpy allocated meanwhile): numpy reports its array
    buffers to tracemalloc, so a refused output shows up here if it was allocated."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - the caller checks which
            error = exc
        else:
            error = None
        return error, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# every op whose row has a call beyond any machine's memory (tests/ops.py: ``huge``)
HUGE_CALLS = {op.name: op.huge for op in OPS if op.huge is not None}


@pytest.mark.parametrize("op", sorted(HUGE_CALLS))
def test_output_beyond_memory_is_a_memory_error_before_allocation(op):
    error, peak = numpy_bytes_allocated_by(HUGE_CALLS[op])
    assert isinstance(error, MemoryError), repr(error)
    message = str(error)
    assert message.startswith(op + ":") and "GiB" in message
    assert "nothing was allocated" in message
    assert peak < 2**20, f"{op} allocated {peak} bytes before refusing"


@pytest.fixture
def memory_limit(monkeypatch):
    """Pretend this machine holds `limit` bytes (the check reads it once and caches it)."""
    def set_limit(limit):
        monkeypatch.setattr(functional, "_memory_limit", limit)
    return set_limit


def test_max_pool2d_counts_its_indices_against_memory(memory_limit):
    x = huge_view(1, 1, 512, 512)   # output 256 x 256: 256 KiB of float32, 512 KiB of int64 indices
    memory_limit(600 * 1024)
    assert fastconv.max_pool2d(x, 2).shape == (1, 1, 256, 256)
    error, peak = numpy_bytes_allocated_by(lambda: fastconv.max_pool2d(x, 2,
                                                                       return_indices=True))
    assert isinstance(error, MemoryError) and "(1, 1, 256, 256)" in str(error)
    assert peak < 64 * 1024


@pytest.mark.parametrize("op,call,shape", [
    ("conv2d", lambda: fastconv.conv2d(huge_view(2, 1, 300, 300), f32(4, 1, 1, 1)),
     "(2, 4, 300, 300)"),
    ("avg_pool2d", lambda: fastconv.avg_pool2d(huge_view(1, 8, 400, 400), 1),
     "(1, 8, 400, 400)"),
    ("max_pool2d_backward", lambda: fastconv.max_pool2d_backward(
        f32(1, 1, 1, 1), np.zeros((1, 1, 1, 1), np.int64), (1, 1, 600, 600)), "(1, 1, 600, 600)"),
])
def test_every_allocating_op_checks_against_the_memory_limit(memory_limit, op, call, shape):
    memory_limit(2**20)
    error, peak = numpy_bytes_allocated_by(call)
    assert isinstance(error, MemoryError) and str(error).startswith(op + ":")
    assert shape in str(error)
    assert peak < 64 * 1024


def test_memory_limit_is_ram_and_swap_at_most():
    limit = functional._memory_limit_bytes()
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 2**26 <= limit <= 2**62
    assert limit <= ram * 64  # swap larger than 63x RAM would be a misread /proc/meminfo


@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="AddressSanitizer maps terabytes of shadow memory: under an address-"
                           "space limit it cannot map more and aborts; the plain runs check this")
def test_address_space_limit_is_obeyed_in_a_fresh_process(tmp_path):
    # ulimit -v 4 GiB: a 6 GiB output is refused by fastconv, with its own message, although
    # the machine has the RAM
    script = textwrap.dedent("""
        import resource, numpy as np, fastconv
        resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, resource.RLIM_INFINITY))
        try:
            fastconv.conv2d(np.ones((1, 1, 3, 3), np.float32), np.ones((1, 1, 1, 1), np.float32),
                            padding=(2**29, 0))   # 2**30 x 3 float32... 12 GiB
        except MemoryError as exc:
            print("refused:", exc)
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=subprocess_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("refused: conv2d: output of shape (1, 1, 1073741827, 3)")
    assert "nothing was allocated" in result.stdout

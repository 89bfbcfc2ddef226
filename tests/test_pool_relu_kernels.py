"""The SIMD pooling and ReLU members against the C reference twins, bit for bit, on every ISA
path this CPU has (switched in-process with fastconv.ops._ext.select_isa): every width around
the vector tiles, strides 1-3, padding, dilation, ceil_mode, and NaN (distinct payloads: the
first one must win), +-inf, -0.0 and ties placed on lane boundaries; 1 vs 2 threads."""
import numpy as np
import pytest

import fastconv
import fastconv.reference
from fastconv.ops import _ext
from tolerances import assert_bitwise_equal

ISAS = [isa for isa in _ext.ISA_NAMES
        if _ext.ISA_NAMES.index(isa) <= _ext.ISA_NAMES.index(_ext.cpu_isa())]
DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]
# output columns per vector of the pooling member of each path and dtype (its member table,
# csrc/kernels/pool/members.c): where the lane boundaries fall
LANES = {(m["isa"], m["dtype"]): m["nr"] for m in _ext.kernel_members("pool")}


@pytest.fixture(params=ISAS)
def isa(request):
    """Run the test on one ISA path, then restore the one in use."""
    before = _ext.active_isa()
    _ext.select_isa(request.param)
    assert _ext.active_isa() == request.param
    yield request.param
    _ext.select_isa(before)


def nans(dtype):
    """Quiet NaNs of distinct payloads and signs."""
    if np.dtype(dtype) == np.float32:
        return np.array([0x7FC00001, 0xFFC00002, 0x7FC00003], np.uint32).view(np.float32)
    return np.array([0x7FF8000000000001, 0xFFF8000000000002, 0x7FF8000000000003],
                    np.uint64).view(np.float64)


def special_x(shape, dtype, seed, boundaries):
    """Small integers (many ties) with NaN, +-inf and +-0.0 at random places and at the given
    columns (lane boundaries of the vector tiles, in input columns)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, shape).astype(dtype)
    specials = np.concatenate([nans(dtype), np.array([np.inf, -np.inf, 0.0, -0.0], dtype)])
    w = shape[-1]
    mask = rng.random(shape) < 0.04
    for col in boundaries:
        if col < w:
            mask[..., col] |= rng.random(shape[:-1]) < 0.3
    x[mask] = rng.choice(specials, int(mask.sum()))
    return x


def boundary_columns(stride, lanes):
    """Input columns where output lanes 0, lanes-1, lanes, ... start, +-1 (dilation/kernel)."""
    cols = set()
    for lane in (0, lanes - 1, lanes, lanes + 1, 2 * lanes - 1, 2 * lanes, 3 * lanes):
        for delta in (-1, 0, 1, 2):
            cols.add(lane * stride + delta)
    return sorted(c for c in cols if c >= 0)


# (kernel, stride, padding, dilation): the common 2x2/s2 and 3x3/s2/p1, stride 1 and 3
# (gathers), asymmetric shapes, dilation, and windows that can lie wholly in the padding
POOL_CASES = [
    ((2, 2), (2, 2), (0, 0), (1, 1)),
    ((3, 3), (2, 2), (1, 1), (1, 1)),
    ((3, 3), (1, 1), (1, 1), (1, 1)),
    ((2, 2), (1, 1), (1, 1), (1, 1)),
    ((3, 3), (3, 3), (1, 1), (1, 1)),
    ((1, 5), (1, 3), (0, 2), (1, 1)),
    ((3, 3), (1, 1), (1, 1), (2, 2)),
    ((2, 3), (2, 2), (1, 1), (1, 3)),
]


def _valid(w, h, kernel, pad, dilation):
    return all(n + 2 * p >= d * (k - 1) + 1 for n, k, p, d in
               zip((h, w), kernel, pad, dilation))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_pool_members_match_the_reference_bitwise_at_every_width(isa, dtype, case):
    kernel, stride, pad, dilation = case
    lanes = LANES[isa, f"f{np.dtype(dtype).itemsize * 8}"]
    checked = 0
    for w in range(1, 71):
        h = 5 + w % 3  # odd and even heights
        if not _valid(w, h, kernel, pad, dilation):
            continue
        x = special_x((2, 3, h, w), dtype, seed=w, boundaries=boundary_columns(stride[1], lanes))
        for ceil_mode in (False, True):
            args = dict(kernel_size=kernel, stride=stride, padding=pad, dilation=dilation,
                        ceil_mode=ceil_mode)
            y, idx = fastconv.max_pool2d(x, return_indices=True, **args)
            ry, ridx = fastconv.reference.max_pool2d(x, return_indices=True, **args)
            assert_bitwise_equal(y, ry)
            np.testing.assert_array_equal(idx, ridx)
            assert_bitwise_equal(fastconv.max_pool2d(x, **args), ry)
            if dilation == (1, 1):
                finite = np.nan_to_num(x, nan=0.5, posinf=7.0, neginf=-7.0)
                for inc in (True, False):
                    a = fastconv.avg_pool2d(finite, kernel, stride, pad, ceil_mode, inc)
                    # the same additions in the same order, the same divisor: bitwise
                    assert_bitwise_equal(a, fastconv.reference.avg_pool2d(
                        finite, kernel, stride, pad, ceil_mode, inc))
            checked += 1
    assert checked >= 60


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_first_nan_of_the_window_wins_on_every_lane(isa, dtype):
    # two NaNs of different payloads in the 3x3/s2/p1 window of every odd output column
    # (window row r, column c = input row 1 + r, column 2 * ow - 1 + c for output row 1):
    # the earlier one in row-major order (tuple order) wins, whichever lane the column is on
    a, b = nans(dtype)[:2]
    odd = np.arange(1, 35, 2)
    for first, second in [((0, 1), (1, 0)), ((1, 0), (0, 1)), ((0, 2), (2, 0)), ((2, 1), (2, 2))]:
        x = np.zeros((1, 1, 9, 70), dtype)
        x[0, 0, 1 + first[0], 2 * odd - 1 + first[1]] = a
        x[0, 0, 1 + second[0], 2 * odd - 1 + second[1]] = b
        y, idx = fastconv.max_pool2d(x, 3, 2, 1, return_indices=True)
        ry, ridx = fastconv.reference.max_pool2d(x, 3, 2, 1, return_indices=True)
        assert_bitwise_equal(y, ry)
        np.testing.assert_array_equal(idx, ridx)
        (r, c), winner = (first, a) if first < second else (second, b)
        assert_bitwise_equal(y[0, 0, 1, odd], np.full(len(odd), winner, dtype))
        np.testing.assert_array_equal(idx[0, 0, 1, odd], (1 + r) * 70 + 2 * odd - 1 + c)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_signed_zero_ties_keep_the_first_on_every_lane(isa, dtype):
    # -0.0 first then +0.0 (and the reverse) in every window: the first one's sign survives
    x = np.zeros((1, 2, 2, 64), dtype)
    x[0, 0, 0, :] = -0.0
    x[0, 1, 1, :] = -0.0
    y, idx = fastconv.max_pool2d(x, 2, return_indices=True)
    assert np.signbit(y[0, 0]).all() and not np.signbit(y[0, 1]).any()
    np.testing.assert_array_equal(idx[0, 0, 0], 2 * np.arange(32))
    np.testing.assert_array_equal(idx[0, 1, 0], 2 * np.arange(32))


@pytest.mark.parametrize("dtype", DTYPES)
def test_pools_one_and_two_threads_are_bitwise_identical(isa, restore_threads, dtype):
    x = special_x((3, 8, 37, 75), dtype, seed=5, boundaries=range(0, 75, 8))
    results = []
    for n in (1, 2):
        fastconv.set_num_threads(n)
        finite = np.nan_to_num(x)
        results.append([*fastconv.max_pool2d(x, 3, 2, 1, return_indices=True),
                        fastconv.max_pool2d(x, 2), fastconv.avg_pool2d(finite, 2),
                        fastconv.avg_pool2d(finite, 3, 2, 1, True, False)])
    for one, two in zip(*results):
        assert_bitwise_equal(two, one)


def relu_x(n, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n).astype(dtype)
    specials = np.concatenate([nans(dtype), np.array([np.inf, -np.inf, 0.0, -0.0], dtype)])
    where = rng.random(n) < 0.1
    x[where] = rng.choice(specials, int(where.sum()))
    return x


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_members_match_the_reference_bitwise_at_every_length_and_offset(isa, dtype):
    for n in list(range(0, 140)) + [255, 256, 257, 1000]:
        for offset in (0, 1, 3):  # misaligned starts, for the vector loops and their tails
            buf = relu_x(n + offset, dtype, seed=n)
            x = buf[offset:]
            expected = fastconv.reference.relu(x)
            assert_bitwise_equal(fastconv.relu(x), expected)
            out = np.empty(n + offset, dtype)[offset:]
            fastconv.relu(x, out=out)
            assert_bitwise_equal(out, expected)
            inplace = x.copy()
            fastconv.relu(inplace, out=inplace)
            assert_bitwise_equal(inplace, expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_streaming_stores_on_a_large_output_and_two_threads(isa, restore_threads, dtype):
    # > 16 MiB out of place takes the streaming-store member; odd length, misaligned output
    n = (17 << 20) // np.dtype(dtype).itemsize + 13
    x = relu_x(n, dtype, seed=1)
    expected = fastconv.reference.relu(x)
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        assert_bitwise_equal(fastconv.relu(x), expected)
        out = np.empty(n + 1, dtype)[1:]
        fastconv.relu(x, out=out)
        assert_bitwise_equal(out, expected)


def test_show_config_names_the_pool_and_relu_members_of_the_isa(isa):
    kernels = fastconv.show_config(print_=False)["kernels"]
    for family, op in (("relu", "relu"), ("pool", "max_pool2d"), ("pool", "avg_pool2d")):
        active = {m["name"] for m in _ext.kernel_members(family) if m["active"]}
        assert active == {kernels[op]}
        # a path without its own member of the family runs the scalar one
        isas = {m["isa"] for m in _ext.kernel_members(family)}
        assert kernels[op].endswith(isa if isa in isas else "scalar")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel_h", [7, 8, 9, 12])
def test_max_pool_indices_of_tall_windows(isa, dtype, kernel_h):
    # the vector index store looks window rows up in a register up to 8 rows, by a gather above
    x = special_x((2, 2, 15, 41), dtype, seed=kernel_h, boundaries=range(0, 41, 8))
    for pad in (0, kernel_h // 2):
        args = dict(kernel_size=(kernel_h, 3), stride=(1, 2), padding=(pad, 1))
        y, idx = fastconv.max_pool2d(x, return_indices=True, **args)
        ry, ridx = fastconv.reference.max_pool2d(x, return_indices=True, **args)
        assert_bitwise_equal(y, ry)
        np.testing.assert_array_equal(idx, ridx)

"""The direct (dconv) and depthwise (dwconv) kernel families: every SIMD member against its
scalar twin and the oracle, at the edges of its register tile.

Each ISA path is selected in-process with ``fastconv.ops._ext.select_isa`` (restored
afterwards); only paths up to the one the session runs on are used, so a run with
FASTCONV_ISA=avx2 never executes AVX-512 code.  The members and their tiles come from the
families' member tables (csrc/kernels/dconv/members.c, csrc/kernels/dwconv/members.c, via
_ext.kernel_members): e.g. dconv avx2 4 channels x 24 columns, avx512 8 x 32; dwconv avx2
2 rows x 24 columns, avx512 2 rows x 64 columns, 32 output rows per work item.
"""

import itertools
import zlib

import numpy as np
import pytest

import fastconv
from fastconv.ops import _ext
import fastconv.reference
import oracle
from tolerances import assert_exact, assert_integer_exact, assert_reduction_close

SESSION_ISA = _ext.active_isa()
RUNNABLE = _ext.ISA_NAMES[:_ext.ISA_NAMES.index(SESSION_ISA) + 1]


def simd_isas(*families):
    """The ISA paths of the families' float32 SIMD members (the tests run float32), each
    skipped above the session's path."""
    isas = [m["isa"] for f in families for m in _ext.kernel_members(f)
            if m["dtype"] == "f32" and m["isa"] != "scalar"]
    return [pytest.param(isa, marks=pytest.mark.skipif(
        isa not in RUNNABLE, reason=f"the session runs {SESSION_ISA}"))
        for isa in sorted(set(isas), key=_ext.ISA_NAMES.index)]


DWCONV_ISAS = simd_isas("dwconv")
DCONV_ISAS = simd_isas("dconv")
SIMD_ISAS = simd_isas("dconv", "dwconv")


@pytest.fixture
def on_isa():
    """Call on_isa(name) to switch the kernel table; the session's path is restored after."""
    def switch(name):
        _ext.select_isa(name)
        assert _ext.active_isa() == name
    yield switch
    _ext.select_isa(SESSION_ISA)


def _inputs(seed, xs, ws, integer, dtype=np.float32):
    rng = np.random.default_rng(seed)
    if integer:
        return (rng.integers(-4, 5, xs).astype(dtype), rng.integers(-4, 5, ws).astype(dtype),
                rng.integers(-4, 5, ws[0]).astype(dtype))
    return (rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype),
            rng.standard_normal(ws[0]).astype(dtype))


def _check_case(on_isa, isa, algorithm, xs, ws, stride, pads, dilation, groups, relu):
    """isa's kernel == scalar twin bitwise and == oracle exactly on integer inputs; within the
    reduction bound of the oracle and of fastconv.reference on random inputs."""
    seed = zlib.crc32(repr((xs, ws, stride, pads, dilation, groups)).encode())
    act = "relu" if relu else None
    kw = dict(stride=stride, padding=pads, dilation=dilation, groups=groups, activation=act)
    okw = dict(stride=stride, padding=pads, dilation=dilation, groups=groups)
    what = f"{isa} {algorithm} x{xs} w{ws} stride {stride} pads {pads} dil {dilation} g{groups}"
    try:
        for integer in (True, False):
            x, w, b = _inputs(seed + integer, xs, ws, integer)
            expected = oracle.conv2d(x, w, b, **okw)
            if relu:
                expected = oracle.relu(expected)
            on_isa("scalar")
            twin = fastconv.conv2d(x, w, b, algorithm=algorithm, **kw)
            on_isa(isa)
            y = fastconv.conv2d(x, w, b, algorithm=algorithm, **kw)
            if integer:
                assert_integer_exact(y, expected, np.float32)
                assert_exact(y, twin)
                continue
            length = ws[1] * ws[2] * ws[3] + 1
            bound = oracle.conv2d_abs_bound(x, w, b, **okw)
            assert_reduction_close(y, expected, bound, length, np.float32)
            ref = fastconv.reference.conv2d(x, w, b, **kw)
            # both are within the bound of the exact result, so within twice it of each other
            assert_reduction_close(y, ref.astype(np.float64), bound, 2 * length, np.float32)
    except AssertionError as exc:
        raise AssertionError(f"{what}: {exc}") from None


# --- depthwise ------------------------------------------------------------------------------

@pytest.mark.parametrize("isa", DWCONV_ISAS)
def test_dwconv_output_widths_around_the_vector_and_block(on_isa, isa):
    # 3x3 runs the kernel's fixed-size path, 2x5 its generic one; heights give row tiles of
    # 1..4 and a remainder
    for q in list(range(1, 41)) + [47, 48, 49, 63, 64, 65, 129]:
        for (r, s), h in (((3, 3), 7), ((2, 5), 6)):
            _check_case(on_isa, isa, "depthwise", (1, 2, h, q + s - 1), (2, 1, r, s), (1, 1),
                        ((0, 0), (0, 0)), (1, 1), 2, relu=q % 2 == 0)


@pytest.mark.parametrize("isa", DWCONV_ISAS)
def test_dwconv_output_heights_around_the_row_tile_and_work_item(on_isa, isa):
    for p in (1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 65):
        _check_case(on_isa, isa, "depthwise", (2, 3, p, 19), (6, 1, 3, 3), (1, 1),
                    ((1, 1), (1, 1)), (1, 1), 3, relu=True)


@pytest.mark.parametrize("isa", DWCONV_ISAS)
def test_dwconv_every_padding_combination_with_strides_and_dilations(on_isa, isa):
    for pads in itertools.product((0, 1, 3), repeat=4):
        t, b, l, r = pads
        for stride, dil in (((1, 1), (1, 1)), ((2, 3), (1, 1)), ((1, 2), (2, 1)),
                            ((3, 1), (2, 2))):
            _check_case(on_isa, isa, "depthwise", (1, 2, 9, 23), (4, 1, 3, 4), stride,
                        ((t, b), (l, r)), dil, 2, relu=(t + l) % 2 == 1)


@pytest.mark.parametrize("isa", DWCONV_ISAS)
def test_dwconv_channel_multipliers_and_single_channel_filter_banks(on_isa, isa):
    for c, m, ks in ((1, 1, 5), (1, 6, 5), (3, 2, 3), (5, 3, 1), (7, 1, 7), (16, 1, 3)):
        _check_case(on_isa, isa, "depthwise", (2, c, 12, 30), (c * m, 1, ks, ks), (1, 1),
                    ((ks // 2, ks // 2), (ks // 2, ks // 2)), (1, 1), c, relu=False)


@pytest.mark.parametrize("isa", DWCONV_ISAS)
def test_dwconv_3x3_row_tile_at_strides_paddings_and_row_ends(on_isa, isa):
    # conv2d's 3x3 tile in place (simd.tmpl.h, dw3_tile: up to 4 output rows share input rows
    # at row stride 1 and 2, column stride 2 from the even / odd lanes, masked loads only in a
    # row's first and last vectors) and what it leaves to dw_tile: padding past a vector,
    # dilated columns at column stride 2, row steps that share no rows.  Output widths around
    # the vector and the tile's blocks, heights around the 4-row tile and the 32-row item.
    widths = (8, 9, 15, 16, 17, 23, 24, 25, 31, 33, 40, 56, 57)
    pad_pairs = ((1, 1), (0, 0), (2, 0), (0, 2), (8, 1), (1, 9))
    for stride, dil in (((1, 1), (1, 1)), ((2, 2), (1, 1)), ((2, 1), (2, 1)),
                        ((4, 2), (2, 1)), ((1, 2), (1, 1)), ((2, 2), (1, 2)),
                        ((1, 1), (2, 2))):
        for n, q in enumerate(widths):
            pl, pr = pad_pairs[n % len(pad_pairs)]
            pt, pb = pad_pairs[(n + 1) % len(pad_pairs)]
            p = (1, 2, 3, 5, 6, 7, 9, 35)[n % 8]  # output rows
            w_in = (q - 1) * stride[1] + 1 + 2 * dil[1] - pl - pr
            h_in = (p - 1) * stride[0] + 1 + 2 * dil[0] - pt - pb
            if w_in < 1 or h_in < 1:
                continue
            _check_case(on_isa, isa, "depthwise", (1, 2, h_in, w_in), (2, 1, 3, 3), stride,
                        ((pt, pb), (pl, pr)), dil, 2, relu=n % 2 == 1)


@pytest.mark.parametrize("isa", DWCONV_ISAS)
def test_dwconv_3x3_stride_2_one_and_two_threads_are_bitwise_identical(on_isa,
                                                                        restore_threads, isa):
    on_isa(isa)
    x, w, b = _inputs(6, (2, 6, 57, 75), (6, 1, 3, 3), integer=False)
    results = []
    for n in (1, 2):
        fastconv.set_num_threads(n)
        results.append(fastconv.conv2d(x, w, b, stride=2, padding=1, groups=6,
                                       algorithm="depthwise"))
    assert_exact(results[1], results[0])


# --- direct ---------------------------------------------------------------------------------

@pytest.mark.parametrize("isa", DCONV_ISAS)
def test_dconv_output_widths_around_the_vector_and_block(on_isa, isa):
    for q in list(range(1, 41)) + [47, 48, 49, 63, 64, 65]:
        _check_case(on_isa, isa, "direct", (1, 3, 4, q + 2), (9, 3, 3, 3), (1, 1),
                    ((0, 0), (0, 0)), (1, 1), 1, relu=q % 3 == 0)


@pytest.mark.parametrize("isa", DCONV_ISAS)
def test_dconv_filter_counts_around_the_channel_block(on_isa, isa):
    for k in (1, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17):
        for c in (1, 3, 5, 17):
            _check_case(on_isa, isa, "direct", (2, c, 6, 35), (k, c, 3, 2), (1, 1),
                        ((1, 1), (0, 1)), (1, 1), 1, relu=k % 2 == 1)


@pytest.mark.parametrize("isa", DCONV_ISAS)
def test_dconv_every_padding_combination_with_strides_dilations_and_groups(on_isa, isa):
    for pads in itertools.product((0, 2), repeat=4):
        t, b, l, r = pads
        for stride, dil, groups in (((1, 1), (1, 1), 1), ((2, 3), (1, 2), 2),
                                    ((3, 2), (2, 1), 1), ((1, 1), (2, 2), 3)):
            _check_case(on_isa, isa, "direct", (1, 6, 10, 21), (12, 6 // groups, 3, 3), stride,
                        ((t, b), (l, r)), dil, groups, relu=(b + r) % 4 == 2)


# --- threads, fused ReLU, the auto rule ---------------------------------------------------------

@pytest.mark.parametrize("isa", ["scalar"] + SIMD_ISAS)
@pytest.mark.parametrize("algorithm,xs,ws,groups", [
    ("depthwise", (1, 1, 300, 70), (1, 1, 5, 5), 1),
    ("depthwise", (2, 24, 33, 33), (48, 1, 3, 3), 24),
    ("direct", (2, 5, 30, 37), (19, 5, 3, 3), 1),
])
def test_one_and_two_threads_are_bitwise_identical(on_isa, restore_threads, isa, algorithm,
                                                   xs, ws, groups):
    on_isa(isa)
    x, w, b = _inputs(5, xs, ws, integer=False)
    results = []
    for n in (1, 2):
        fastconv.set_num_threads(n)
        results.append(fastconv.conv2d(x, w, b, padding=ws[2] // 2, groups=groups,
                                       algorithm=algorithm))
    assert_exact(results[1], results[0])


@pytest.mark.parametrize("isa", ["scalar"] + SIMD_ISAS)
@pytest.mark.parametrize("algorithm", ["direct", "depthwise"])
def test_fused_relu_equals_relu_of_the_convolution(on_isa, isa, algorithm):
    on_isa(isa)
    x, w, b = _inputs(8, (2, 4, 13, 45), (8, 1, 3, 3), integer=False)
    plain = fastconv.conv2d(x, w, b, padding=1, groups=4, algorithm=algorithm)
    fused = fastconv.conv2d(x, w, b, padding=1, groups=4, algorithm=algorithm,
                            activation="relu")
    assert (plain < 0).any() and (plain > 0).any()
    assert_exact(fused, fastconv.relu(plain))


def test_show_config_names_the_depthwise_kernel_of_the_active_isa():
    name = fastconv.show_config(False)["kernels"]["conv2d_depthwise"]
    active = [m for m in _ext.kernel_members("dwconv") if m["active"] and m["dtype"] == "f32"]
    assert [m["name"] for m in active] == [name]
    assert name.startswith("f32-dwconv") and active[0]["isa"] in RUNNABLE

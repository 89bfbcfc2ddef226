"""The GEMM microkernels (csrc/kernels/gemm) against their scalar twin, the C reference and the
oracle, at the edges of their register tiles, on every ISA path this CPU has.

The microkernels are reached through conv2d(algorithm="im2col" / "pointwise"): M is the number
of filters, N the output pixels and the reduction C/groups * R * S, so the shapes below put
each of them at tile - 1, tile and tile + 1 of the kernel in use (its MR x NR, read from the
kernel name), with reductions of 1, odd lengths and longer than one kc block (256).  Inputs
are integer-valued, so every path must give the exact result, bitwise.
"""

import re

import numpy as np
import pytest

import fastconv
import fastconv.reference
import oracle
from fastconv import _ext
from tolerances import assert_exact, assert_integer_exact, assert_reduction_close

ISAS = ["scalar", "avx2", "avx512"]
AVAILABLE = ISAS[:ISAS.index(_ext.cpu_isa()) + 1]
DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]


@pytest.fixture
def on_isa():
    """Switch the kernel table to an ISA path in this process; the original is restored."""
    original = _ext.active_isa()
    yield lambda isa: _ext.select_isa(isa)
    _ext.select_isa(original)


def gemm_tile(dtype):
    """(MR, NR) of the GEMM microkernel in use for dtype, from its name 'f32-gemm 8x32 avx512'."""
    name = _ext.kernel_name("conv2d_im2col", np.dtype(dtype).name)
    match = re.fullmatch(r"f(32|64)-gemm (\d+)x(\d+) (\w+)", name)
    assert match, name
    assert match.group(1) == str(np.dtype(dtype).itemsize * 8), name
    assert match.group(4) == _ext.active_isa(), name
    return int(match.group(2)), int(match.group(3))


def edge_cases(mr, nr):
    """(x shape, weight shape, padding) around the MR x NR tile and the kc block."""
    cases = []
    for k in (1, mr - 1, mr, mr + 1, 2 * mr + 1):
        for q in (nr - 1, nr, nr + 1):
            # 3x3 filters over 7 channels (reduction 63) on a 1 x q output
            cases.append(((1, 7, 3, q + 2), (max(k, 1), 7, 3, 3), 0))
    for c, r in ((1, 1), (13, 1), (3, 3), (300, 1), (37, 3)):  # reductions 1, 13, 27, 300, 333
        cases.append(((2, c, 5, nr // 2 + 3), (mr + 3, c, r, r), r // 2))
    return [case for case in cases if case[1][0] >= 1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("isa", AVAILABLE)
def test_every_gemm_kernel_matches_its_scalar_twin_at_tile_edges(on_isa, isa, dtype):
    rng = np.random.default_rng(7)
    on_isa(isa)
    mr, nr = gemm_tile(dtype)
    assert 1 <= mr <= 64  # the im2col driver keeps one bias tile of at most 64 on its stack
    for xs, ws, pad in edge_cases(mr, nr):
        x = rng.integers(-4, 5, xs).astype(dtype)
        w = rng.integers(-4, 5, ws).astype(dtype)
        b = rng.integers(-4, 5, ws[0]).astype(dtype)
        algorithms = ["im2col"] + (["pointwise"] if ws[2:] == (1, 1) and pad == 0 else [])
        expected = oracle.conv2d(x, w, b, padding=((pad, pad), (pad, pad)))
        for act in (None, "relu"):
            want = oracle.relu(expected) if act else expected
            on_isa(isa)
            fast = [fastconv.conv2d(x, w, b, padding=pad, activation=act, algorithm=a)
                    for a in algorithms]
            on_isa("scalar")
            twin = fastconv.conv2d(x, w, b, padding=pad, activation=act, algorithm="im2col")
            ref = fastconv.reference.conv2d(x, w, b, padding=pad, activation=act)
            for y in fast + [twin, ref]:
                assert_integer_exact(y, want, dtype)
                assert_exact(y, twin)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("isa", AVAILABLE)
def test_gemm_kernels_on_real_valued_inputs_stay_within_the_reduction_bound(on_isa, isa,
                                                                            dtype):
    rng = np.random.default_rng(8)
    on_isa(isa)
    mr, nr = gemm_tile(dtype)
    for xs, ws, pad in edge_cases(mr, nr)[-5:]:
        x = rng.standard_normal(xs).astype(dtype)
        w = rng.standard_normal(ws).astype(dtype)
        b = rng.standard_normal(ws[0]).astype(dtype)
        pads = ((pad, pad), (pad, pad))
        expected = oracle.conv2d(x, w, b, padding=pads)
        bound = oracle.conv2d_abs_bound(x, w, b, padding=pads)
        length = ws[1] * ws[2] * ws[3] + 1
        y = fastconv.conv2d(x, w, b, padding=pad, algorithm="im2col")
        assert_reduction_close(y, expected, bound, length, dtype)


@pytest.mark.parametrize("isa", AVAILABLE)
def test_gemm_kernel_names_say_dtype_tile_and_isa(on_isa, isa):
    on_isa(isa)
    for dtype in (np.float32, np.float64):
        mr, nr = gemm_tile(dtype)
        assert _ext.kernel_name("conv2d_pointwise", np.dtype(dtype).name) == \
            _ext.kernel_name("conv2d_im2col", np.dtype(dtype).name)
        if isa != "scalar":  # the SIMD tiles are whole vectors wide
            lanes = (64 if isa == "avx512" else 32) // np.dtype(dtype).itemsize
            assert nr % lanes == 0, (isa, dtype, nr)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("isa", AVAILABLE)
def test_gemm_edge_tiles_never_write_outside_the_output(on_isa, isa, dtype):
    """An output one short of the tile in both directions, inside a larger out= buffer whose
    neighbours must stay untouched (a full-tile store past the edge would overwrite them)."""
    on_isa(isa)
    mr, nr = gemm_tile(dtype)
    rng = np.random.default_rng(9)
    x = rng.integers(-4, 5, (1, 5, 1, nr - 1)).astype(dtype)
    w = rng.integers(-4, 5, (mr - 1 if mr > 1 else 1, 5, 1, 1)).astype(dtype)
    backing = np.full(w.shape[0] * (nr - 1) + 64, 7.0, dtype)
    out = backing[:w.shape[0] * (nr - 1)].reshape(1, w.shape[0], 1, nr - 1)
    for algorithm in ("im2col", "pointwise"):
        fastconv.conv2d(x, w, algorithm=algorithm, out=out)
        assert_integer_exact(out, oracle.conv2d(x, w, None), dtype)
        assert (backing[out.size:] == 7.0).all()

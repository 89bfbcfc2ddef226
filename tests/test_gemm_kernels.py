"""The GEMM microkernels (csrc/kernels/gemm) against their scalar twin, the C reference and the
oracle, at the edges of their register tiles, on every ISA path this CPU has.

The microkernels are reached through conv2d(algorithm="im2col" / "pointwise"): M is the number
of filters, N the output pixels and the reduction C/groups * R * S, so the shapes below put
each of them at tile - 1, tile and tile + 1 of the member (its MR x NR, from the family's
member table: csrc/kernels/gemm/members.c via _ext.kernel_members), with reductions of 1, odd lengths and longer than one kc block (256).  Inputs
are integer-valued, so every path must give the exact result, bitwise.
"""

import numpy as np
import pytest

import fastconv
import fastconv.reference
import oracle
from fastconv.ops import _ext
from tolerances import assert_exact, assert_integer_exact, assert_reduction_close

SESSION_ISA = _ext.active_isa()
RUNNABLE = _ext.ISA_NAMES[:_ext.ISA_NAMES.index(SESSION_ISA) + 1]
DTYPES = {"f32": np.float32, "f64": np.float64}
# every member of the family on this architecture; those above the session's path are skipped
# (a FASTCONV_ISA=avx2 run executes no AVX-512 code)
MEMBERS = [pytest.param(m, id=m["name"].replace(" ", "-"), marks=pytest.mark.skipif(
    m["isa"] not in RUNNABLE, reason=f"the session runs {SESSION_ISA} (CPU: {_ext.cpu_isa()})"))
    for m in _ext.kernel_members("gemm")]


@pytest.fixture
def on_isa():
    """Switch the kernel table to an ISA path in this process; the original is restored."""
    original = _ext.active_isa()
    yield lambda isa: _ext.select_isa(isa)
    _ext.select_isa(original)


def use_member(on_isa, member):
    """Install the member (dispatch installs one per ISA path and dtype); its dtype, MR, NR."""
    on_isa(member["isa"])
    dtype = DTYPES[member["dtype"]]
    assert _ext.kernel_name("conv2d_im2col", np.dtype(dtype).name) == member["name"]
    assert [m for m in _ext.kernel_members("gemm") if m["active"] and
            m["dtype"] == member["dtype"]] == [dict(member, active=True)]
    return dtype, member["mr"], member["nr"]


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


@pytest.mark.parametrize("member", MEMBERS)
def test_every_gemm_kernel_matches_its_scalar_twin_at_tile_edges(on_isa, member):
    rng = np.random.default_rng(7)
    isa = member["isa"]
    dtype, mr, nr = use_member(on_isa, member)
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


@pytest.mark.parametrize("member", MEMBERS)
def test_gemm_kernels_on_real_valued_inputs_stay_within_the_reduction_bound(on_isa, member):
    rng = np.random.default_rng(8)
    dtype, mr, nr = use_member(on_isa, member)
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


VECTOR_BYTES = {"avx2": 32, "avx512": 64, "neon": 16}


@pytest.mark.parametrize("member", MEMBERS)
def test_gemm_member_names_say_dtype_tile_and_isa(on_isa, member):
    dtype, mr, nr = use_member(on_isa, member)
    isa = member["isa"]
    assert member["name"] == f"{member['dtype']}-gemm {mr}x{nr} {isa}"
    assert member["symbol"] == f"fc_{member['dtype']}_gemm_ukernel_{mr}x{nr}__{isa}"
    assert _ext.kernel_name("conv2d_pointwise", np.dtype(dtype).name) == member["name"]
    assert member["kc"] >= 1 and member["nc"] % nr == 0
    if isa != "scalar":  # the SIMD tiles are whole vectors wide
        lanes = VECTOR_BYTES[isa] // np.dtype(dtype).itemsize
        assert nr % lanes == 0, (isa, dtype, nr)


def test_every_isa_path_has_a_gemm_member_per_dtype():
    members = _ext.kernel_members("gemm")
    for dtype in DTYPES:
        assert {m["isa"] for m in members if m["dtype"] == dtype} <= set(_ext.ISA_NAMES)
        assert any(m["isa"] == "scalar" for m in members if m["dtype"] == dtype)


@pytest.mark.parametrize("member", MEMBERS)
def test_gemm_edge_tiles_never_write_outside_the_output(on_isa, member):
    """An output one short of the tile in both directions, inside a larger out= buffer whose
    neighbours must stay untouched (a full-tile store past the edge would overwrite them)."""
    dtype, mr, nr = use_member(on_isa, member)
    rng = np.random.default_rng(9)
    x = rng.integers(-4, 5, (1, 5, 1, nr - 1)).astype(dtype)
    w = rng.integers(-4, 5, (mr - 1 if mr > 1 else 1, 5, 1, 1)).astype(dtype)
    backing = np.full(w.shape[0] * (nr - 1) + 64, 7.0, dtype)
    out = backing[:w.shape[0] * (nr - 1)].reshape(1, w.shape[0], 1, nr - 1)
    for algorithm in ("im2col", "pointwise"):
        fastconv.conv2d(x, w, algorithm=algorithm, out=out)
        assert_integer_exact(out, oracle.conv2d(x, w, None), dtype)
        assert (backing[out.size:] == 7.0).all()

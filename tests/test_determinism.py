"""Determinism: every op gives bitwise-identical results over 100 repeats, across 1, 2, 3 and
4 threads and under adversarial schedules, on every ISA path.

The threads claim output tiles dynamically (csrc/common/parallel.c), each tile's arithmetic
and each reduction's order independent of the thread that runs it, so neither a repeat, another
thread count nor another schedule may change a bit.  Each case runs 100 times,
cycling through set_num_threads(1, 2, 3, 4) (4 oversubscribes a 2-core machine, which is fine),
and every result is compared with the first.  The shapes cross the register tiles of every ISA
(37 filters, 23-wide rows: no multiple of 4, 6, 8, 16, 24 or 32) and are big enough that the
team really has 2, 3 and 4 threads (asserted with probe_team_size on a lower bound of each
driver's work: otherwise the thread counts would all run one thread and prove nothing).

ISA paths are switched in-process with fastconv._ext.select_isa, up to the one the session
runs (a FASTCONV_ISA=avx2 run executes no AVX-512 code), and restored afterwards.  Results of
different ISAs may differ (another FMA order); only one path's results are compared.

Beyond tests/test_conv2d.py's and test_backward.py's "1 vs 2 threads" checks (varied
geometry, the session's ISA only), this covers repeats, 3 and 4 threads and every ISA path.
"""
import os
import warnings

import numpy as np
import pytest

import fastconv
from fastconv import _ext

ISAS = list(_ext.ISA_NAMES)
SESSION_ISA = _ext.active_isa()
REPEATS = 100
if "libasan" in os.environ.get("LD_PRELOAD", ""):
    # The sanitizer build runs these for memory errors in the threaded drivers, ~20x slower:
    # 5 repeats per thread count keep its stage short; the plain build runs the full 100.
    REPEATS = 20
    warnings.warn("test_determinism: under ASan, 20 repeats instead of 100", stacklevel=1)
THREADS = (1, 2, 3, 4)
DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]


@pytest.fixture(params=[pytest.param(isa, marks=pytest.mark.skipif(
    ISAS.index(isa) > ISAS.index(SESSION_ISA),
    reason=f"the session runs {SESSION_ISA} (CPU: {_ext.cpu_isa()})")) for isa in ISAS])
def isa(request):
    """Run on one ISA path; the session's path is restored afterwards."""
    _ext.select_isa(request.param)
    assert _ext.active_isa() == request.param
    yield request.param
    _ext.select_isa(SESSION_ISA)


def _conv_macs(x, w, out, groups=1):
    return out.size * (x.shape[1] // groups) * w.shape[2] * w.shape[3]


def _inputs(dtype):
    rng = np.random.default_rng(5)
    d = {name: rng.standard_normal(shape).astype(dtype) for name, shape in [
        ("x", (3, 14, 19, 23)), ("w", (37, 14, 3, 3)), ("b", (37,)), ("w1", (37, 14, 1, 1)),
        ("wd", (28, 1, 3, 3)), ("wgroups", (38, 7, 3, 3)), ("g", (3, 37, 19, 23)),
        ("wdb", (42, 1, 3, 3)), ("gdb", (3, 42, 10, 12)),
        ("p", (4, 16, 45, 53)), ("gp", (4, 16, 23, 27)), ("gr", (4, 16, 45, 53)),
        ("xl", (57, 300)), ("wl", (37, 300)), ("bl", (37,)), ("gl", (57, 37)),
        ("xl3", (3, 19, 130)), ("wl3", (70, 130)), ("gl3", (3, 19, 70))]}
    return d


# name -> (run(d) -> list of arrays, work(d, results) -> a lower bound of the driver's work
# units for its team size); conv: multiply-adds, pools: window visits, relu: elements
CASES = {
    "conv2d_direct_bias_relu": (
        lambda d: [fastconv.conv2d(d["x"], d["w"], d["b"], padding=1, activation="relu",
                                   algorithm="direct")],
        lambda d, r: _conv_macs(d["x"], d["w"], r[0])),
    "conv2d_im2col_bias_relu": (
        lambda d: [fastconv.conv2d(d["x"], d["w"], d["b"], padding=1, activation="relu",
                                   algorithm="im2col")],
        lambda d, r: _conv_macs(d["x"], d["w"], r[0])),
    "conv2d_im2col_stride2_dilated": (
        lambda d: [fastconv.conv2d(d["x"], d["w"], d["b"], stride=2, padding=2, dilation=2,
                                   algorithm="im2col")],
        lambda d, r: _conv_macs(d["x"], d["w"], r[0])),
    "conv2d_pointwise_bias": (
        lambda d: [fastconv.conv2d(d["x"], d["w1"], d["b"], algorithm="pointwise")],
        lambda d, r: _conv_macs(d["x"], d["w1"], r[0])),
    "conv2d_depthwise_relu": (
        lambda d: [fastconv.conv2d(d["x"], d["wd"], padding=1, groups=14, activation="relu",
                                   algorithm="depthwise")],
        lambda d, r: _conv_macs(d["x"], d["wd"], r[0], groups=14)),
    "conv2d_auto_groups2": (
        lambda d: [fastconv.conv2d(d["x"], d["wgroups"], padding=1, groups=2)],
        lambda d, r: _conv_macs(d["x"], d["wgroups"], r[0], groups=2)),
    "conv2d_backward": (
        lambda d: list(fastconv.conv2d_backward(d["g"], d["x"], d["w"], padding=1)),
        lambda d, r: _conv_macs(d["x"], d["w"], d["g"])),
    "conv2d_backward_depthwise_stride2": (
        lambda d: list(fastconv.conv2d_backward(d["gdb"], d["x"], d["wdb"], stride=2,
                                                padding=1, groups=14)),
        lambda d, r: _conv_macs(d["x"], d["wdb"], d["gdb"], groups=14)),
    "max_pool2d_and_backward": (
        lambda d: (lambda y, i: [y, i, fastconv.max_pool2d_backward(d["gp"], i, d["p"].shape)])(
            *fastconv.max_pool2d(d["p"], 3, 2, 1, return_indices=True)),
        lambda d, r: r[0].size * 9),
    "avg_pool2d_and_backward": (
        lambda d: [fastconv.avg_pool2d(d["p"], 3, 2, 1, count_include_pad=False),
                   fastconv.avg_pool2d_backward(d["gp"], d["p"].shape, 3, 2, 1,
                                                count_include_pad=False)],
        lambda d, r: r[0].size * 9),
    "relu_and_backward": (
        lambda d: (lambda y: [y, fastconv.relu_backward(d["gr"], y)])(fastconv.relu(d["p"])),
        lambda d, r: d["p"].size),
    # linear: 57 rows and 37 outputs cross every register tile; 300 inputs, past one kc block
    "linear_bias_relu": (
        lambda d: [fastconv.linear(d["xl"], d["wl"], d["bl"], activation="relu")],
        lambda d, r: d["xl"].size * d["wl"].shape[0]),
    "linear_backward": (
        lambda d: list(fastconv.linear_backward(d["gl"], d["xl"], d["wl"])),
        lambda d, r: d["xl"].size * d["wl"].shape[0]),
    "linear_leading_dims_and_backward": (
        lambda d: [fastconv.linear(d["xl3"], d["wl3"]),
                   *fastconv.linear_backward(d["gl3"], d["xl3"], d["wl3"])],
        lambda d, r: d["xl3"].size * d["wl3"].shape[0]),
}


def _bits(a):
    a = np.ascontiguousarray(a)
    return a.view(f"u{a.dtype.itemsize}") if a.dtype.kind == "f" else a


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("dtype", DTYPES)
def test_bitwise_identical_over_repeats_and_thread_counts(isa, restore_threads, dtype, case):
    run, work = CASES[case]
    d = _inputs(dtype)
    fastconv.set_num_threads(1)
    first = [_bits(a).copy() for a in run(d)]
    assert all(a.size for a in first)
    if _ext.has_openmp():
        units = work(d, first)
        for n in THREADS:
            fastconv.set_num_threads(n)
            assert _ext.probe_team_size(units) == n, (
                f"{case}: {units} work units run {_ext.probe_team_size(units)} threads, not {n}")
    for repeat in range(1, REPEATS):
        threads = THREADS[repeat % len(THREADS)]
        fastconv.set_num_threads(threads)
        for i, (a, e) in enumerate(zip(run(d), first)):
            if not np.array_equal(_bits(a), e):
                bad = np.argwhere(_bits(a) != e)
                pytest.fail(f"{case} on {isa}, repeat {repeat}, {threads} threads: result {i} "
                            f"differs from the first (1 thread) in {len(bad)} elements, first "
                            f"at {tuple(bad[0])}")


SCHEDULES = {"shuffled": _ext.SCHEDULE_SHUFFLE, "late_thread": _ext.SCHEDULE_DELAY,
             "shuffled_late": _ext.SCHEDULE_SHUFFLE | _ext.SCHEDULE_DELAY}


@pytest.fixture
def adversarial_schedule():
    yield _ext.set_schedule_test
    _ext.set_schedule_test(0)


@pytest.mark.parametrize("schedule", list(SCHEDULES))
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("dtype", DTYPES)
def test_bitwise_identical_under_adversarial_schedules(isa, restore_threads, adversarial_schedule,
                                                       dtype, case, schedule):
    """Threads claim tasks dynamically (csrc/common/parallel.c): any thread may compute any
    tile, in any order.  Under a test schedule (each phase's tasks in a pseudo-random order,
    the last thread of every team starting late, random pauses), on 1 to 3 threads, every
    result must equal the normal 1-thread result bit for bit."""
    run, _ = CASES[case]
    d = _inputs(dtype)
    fastconv.set_num_threads(1)
    first = [_bits(a).copy() for a in run(d)]
    for seed, threads in [(1, 1), (2, 2), (3, 3), (4, 2)]:
        fastconv.set_num_threads(threads)
        adversarial_schedule(SCHEDULES[schedule], seed)
        assert _ext.schedule_test_mode() == SCHEDULES[schedule]
        results = run(d)
        adversarial_schedule(0)
        for i, (a, e) in enumerate(zip(results, first)):
            if not np.array_equal(_bits(a), e):
                bad = np.argwhere(_bits(a) != e)
                pytest.fail(f"{case} on {isa}, schedule {schedule} (seed {seed}), {threads} "
                            f"threads: result {i} differs from the 1-thread result in "
                            f"{len(bad)} elements, first at {tuple(bad[0])}")

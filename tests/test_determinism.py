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
The cases, their inputs and their work units are the op table's (tests/ops.py: each row's
``determinism`` samples).

ISA paths are switched in-process with fastconv.ops._ext.select_isa, up to the one the session
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
from fastconv.ops import _ext
from ops import OPS, determinism_inputs
from tolerances import assert_bitwise_equal

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


# every op's samples (tests/ops.py): name -> (the op's row, Sample(run(d) -> list of arrays,
# work(d, results) -> a lower bound of the driver's work units for its team size))
CASES = {sample.name: (op, sample) for op in OPS for sample in op.determinism}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("dtype", DTYPES)
def test_bitwise_identical_over_repeats_and_thread_counts(isa, restore_threads, dtype, case):
    op, (_, run, work, _) = CASES[case]
    d = determinism_inputs(dtype)
    fastconv.set_num_threads(1)
    first = [a.copy() for a in run(d)]
    assert all(a.size for a in first)
    if _ext.has_openmp():
        units = work(d, first)
        for n in THREADS:
            fastconv.set_num_threads(n)
            assert _ext.probe_team_size(units) == n, (
                f"{case}: {units} {op.work_unit} run {_ext.probe_team_size(units)} threads, "
                f"not {n}")
    for repeat in range(1, REPEATS):
        threads = THREADS[repeat % len(THREADS)]
        fastconv.set_num_threads(threads)
        for i, (a, e) in enumerate(zip(run(d), first)):
            assert_bitwise_equal(a, e, f"{case} on {isa}, repeat {repeat}, {threads} threads: "
                                       f"result {i} against the first (1 thread)")


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
    run = CASES[case][1].run
    d = determinism_inputs(dtype)
    fastconv.set_num_threads(1)
    first = [a.copy() for a in run(d)]
    for seed, threads in [(1, 1), (2, 2), (3, 3), (4, 2)]:
        fastconv.set_num_threads(threads)
        adversarial_schedule(SCHEDULES[schedule], seed)
        assert _ext.schedule_test_mode() == SCHEDULES[schedule]
        results = run(d)
        adversarial_schedule(0)
        for i, (a, e) in enumerate(zip(results, first)):
            assert_bitwise_equal(a, e, f"{case} on {isa}, schedule {schedule} (seed {seed}), "
                                       f"{threads} threads: result {i} against the 1-thread "
                                       f"result")

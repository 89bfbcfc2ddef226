"""The ops' parallel runtime (csrc/common/parallel.c): phases of tasks claimed dynamically.

Every op's parallel region runs through it, so these properties hold for every op: each task
runs exactly once, whatever the thread count and the schedule; a task of phase p starts only
after every task of phase p - 1 has completed; the test schedules (shuffled claims, a late
thread, random pauses) really change the order.  tests/test_determinism.py checks that no op's
result depends on any of this.
"""
import numpy as np
import pytest

import fastconv
from fastconv.ops import _ext

SHUFFLE, DELAY = _ext.SCHEDULE_SHUFFLE, _ext.SCHEDULE_DELAY


@pytest.fixture
def schedule():
    """Sets a test schedule; the normal one is restored afterwards."""
    yield _ext.set_schedule_test
    _ext.set_schedule_test(0)


PHASES = [[1], [7], [0], [3, 0, 5], [64, 1, 17, 2], [2, 2, 2, 2, 2, 2], [1000]]


@pytest.mark.parametrize("tasks", PHASES, ids=str)
@pytest.mark.parametrize("threads", [1, 2, 3, 8])
@pytest.mark.parametrize("mode", [0, SHUFFLE, DELAY, SHUFFLE | DELAY])
def test_every_task_runs_once_and_phases_run_in_order(restore_threads, schedule, tasks,
                                                      threads, mode):
    fastconv.set_num_threads(threads)
    schedule(mode, 12345)
    phase, task, started, thread = _ext.probe_schedule(threads, tasks)
    total = sum(tasks)
    assert sorted(started.tolist()) == list(range(total)), "a task ran twice or never"
    assert ((thread >= 0) & (thread < threads)).all()
    for p in range(len(tasks) - 1):
        done, later = started[phase == p], started[phase > p]
        if done.size and later.size:
            assert done.max() < later.min(), f"a task of a later phase started before phase {p} ended"
    for p, count in enumerate(tasks):
        assert sorted(task[phase == p].tolist()) == list(range(count))


def test_shuffle_reorders_tasks_within_each_phase(restore_threads, schedule):
    fastconv.set_num_threads(1)  # one thread: the start order is the claim order
    _, _, plain, _ = _ext.probe_schedule(1, [50, 50])
    assert plain.tolist() == list(range(100))
    orders = set()
    for seed in range(5):
        schedule(SHUFFLE, seed)
        phase, _, started, _ = _ext.probe_schedule(1, [50, 50])
        assert started[phase == 0].max() < started[phase == 1].min()
        orders.add(tuple(started))
    assert len(orders) == 5 and tuple(plain) not in orders


def test_task_count_and_ranges():
    assert _ext.size_task_count(0, 5, 10) == 0
    assert _ext.size_task_count(1, 1, 10**9) == 1
    assert _ext.size_task_count(100, 10, 100) == 10
    assert _ext.size_task_count(100, 1000, 1) == 100  # never more tasks than units
    assert _ext.size_task_count(2**62, 2**62, 1) == 2**62  # saturates, no overflow

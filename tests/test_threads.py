"""Threads: OpenMP's own count is the source of truth (OMP_NUM_THREADS, omp_set_num_threads,
threadpoolctl), capped by set_num_threads; the team an op really runs follows it."""
import ctypes
import os

import pytest

import fastconv
from fastconv.ops import _ext
from test_api import run_python

needs_openmp = pytest.mark.skipif(not _ext.has_openmp(), reason="built without OpenMP")
BIG = 1 << 40  # work units: enough for every thread the count allows


def _openmp_library_of_the_extension():
    """The file of the OpenMP runtime fastconv.ops._ext binds omp_get_max_threads to (dladdr)."""

    class DlInfo(ctypes.Structure):
        _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                    ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]

    ext = ctypes.CDLL(_ext.__file__)
    address = ctypes.cast(ext.omp_get_max_threads, ctypes.c_void_p)
    info = DlInfo()
    libc = ctypes.CDLL(None)
    assert libc.dladdr(address, ctypes.byref(info)), "dladdr found no library"
    return os.path.realpath(info.dli_fname.decode())


@needs_openmp
def test_set_num_threads_sets_the_team_the_ops_run(restore_threads):
    for n in (1, 2):
        fastconv.set_num_threads(n)
        assert fastconv.get_num_threads() == n
        assert _ext.probe_team_size(BIG) == n
    # small ops run on one thread whatever the count: waking a team costs more than they take
    assert _ext.probe_team_size(1) == 1


@needs_openmp
def test_omp_num_threads_is_the_default_in_a_subprocess():
    res = run_python("import fastconv, fastconv.ops._ext as e; "
                     "print(fastconv.get_num_threads(), e.probe_team_size(1 << 40))",
                     OMP_NUM_THREADS="1")
    assert res.stdout.split() == ["1", "1"]


@needs_openmp
def test_threadpoolctl_lists_and_limits_fastconv_openmp(restore_threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    fastconv.set_num_threads(2)
    ours = _openmp_library_of_the_extension()
    listed = [os.path.realpath(pool["filepath"]) for pool in threadpoolctl.threadpool_info()
              if pool["user_api"] == "openmp"]
    assert ours in listed, f"threadpoolctl lists {listed}, not fastconv's OpenMP {ours}"
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert fastconv.get_num_threads() == 1
        assert _ext.probe_team_size(BIG) == 1
        # and the ops give the same answer (bitwise: thread count never changes a result)
        import numpy as np
        x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
        one = fastconv.max_pool2d(x, 3, 2, 1)
    assert fastconv.get_num_threads() == 2  # the limit is lifted on exit
    np.testing.assert_array_equal(fastconv.max_pool2d(x, 3, 2, 1), one)


@needs_openmp
def test_threadpoolctl_limit_above_set_num_threads_keeps_the_smaller(restore_threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    fastconv.set_num_threads(1)
    with threadpoolctl.threadpool_limits(limits=2, user_api="openmp"):
        assert fastconv.get_num_threads() == 1
        assert _ext.probe_team_size(BIG) == 1


# A child forked after the parent ran a team: the pool's threads do not survive fork (with GNU
# OpenMP's pool the child's first parallel region used to wait for them forever); fastconv's
# pool starts afresh in the child.  The parent waits a bounded time for the child, so a hang
# fails the test instead of the run.
_FORK = r"""
import os, time
import numpy as np
import fastconv, fastconv.ops._ext as e
fastconv.set_num_threads(2)
x = np.random.default_rng(0).standard_normal((4, 16, 32, 32)).astype(np.float32)
w = np.random.default_rng(1).standard_normal((24, 16, 3, 3)).astype(np.float32)
if {team_first}:
    assert e.probe_team_size(1 << 40) == 2
    y = fastconv.conv2d(x, w, padding=1)
pid = os.fork()
if pid == 0:
    try:
        team = e.probe_team_size(1 << 40)
        out = fastconv.conv2d(x, w, padding=1)
        print("child", fastconv.get_num_threads(), team, flush=True)
        if {team_first}:
            assert out.tobytes() == y.tobytes()
        os._exit(0)
    except BaseException as exc:
        print("child failed:", repr(exc), flush=True)
        os._exit(1)
for _ in range(1200):
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        print("exit", os.waitstatus_to_exitcode(status))
        break
    time.sleep(0.05)
else:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    print("child hung")
"""


@needs_openmp
def test_a_child_forked_after_a_team_runs_ops_on_its_threads_without_hanging():
    res = run_python(_FORK.format(team_first=True), OMP_NUM_THREADS="2")
    assert res.stdout.split() == ["child", "2", "2", "exit", "0"], res.stdout


@needs_openmp
def test_a_child_forked_before_any_team_keeps_its_threads():
    res = run_python(_FORK.format(team_first=False), OMP_NUM_THREADS="2")
    assert res.stdout.split() == ["child", "2", "2", "exit", "0"], res.stdout

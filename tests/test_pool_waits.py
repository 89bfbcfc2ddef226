"""fastconv's threads give their core back between ops (csrc/common/parallel.c).

Idle workers spin ~50 us for the next op (a training step's ops follow each other within that),
then sleep on a futex: a machine whose cores other processes need gets them back.  (GNU
OpenMP's default spin of ~300,000 pause loops after each region burned tens of milliseconds
of a core instead.)  Environment variables for OpenMP's waiting do not change that: fastconv
runs no OpenMP region, and follows OpenMP only for the thread count.
"""
import json
import os
import subprocess
import sys

import pytest

from fastconv.ops import _ext
from subprocess_env import subprocess_env

pytestmark = pytest.mark.skipif(not _ext.has_openmp(), reason="a serial build has no threads")

# Runs a 2-thread op, then reports the CPU time the process's other threads burn while the
# main thread sleeps for 0.3 s: spinning OpenMP workers show up as CPU time there.
IDLE_PROBE = r"""
import json, os, sys, time
{prelude}
import numpy as np
import fastconv
fastconv.set_num_threads(2)
x = np.ones((1, 64, 64, 64), np.float32)
w = np.ones((64, 64, 3, 3), np.float32)
def worker_cpu():
    total = 0
    for tid in os.listdir("/proc/self/task"):
        if int(tid) == os.getpid():
            continue
        with open(f"/proc/self/task/{{tid}}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime, clock ticks
    return total / os.sysconf("SC_CLK_TCK")
idle = []
for _ in range(5):
    fastconv.conv2d(x, w, padding=1)
    before = worker_cpu()
    time.sleep(0.3)
    idle.append(worker_cpu() - before)
print(json.dumps(dict(idle=min(idle), team=fastconv.ops._ext.probe_team_size(1 << 30),
                      wait=fastconv.show_config(False)["thread_pool"],
                      inherited=os.environ.get("GOMP_SPINCOUNT"))))
"""


def _probe(prelude="", **env):
    environment = subprocess_env(**env)
    for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "OMP_NUM_THREADS"):
        if name not in env:
            environment.pop(name, None)
    # cwd: the tests' folder, not the repository root, whose unbuilt fastconv `-c` would import
    out = subprocess.run([sys.executable, "-c", IDLE_PROBE.format(prelude=prelude)],
                         env=environment, capture_output=True, text=True, timeout=120,
                         cwd=os.path.dirname(os.path.abspath(__file__)))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_idle_threads_sleep_soon_after_an_op():
    result = _probe()
    assert result["team"] == 2
    assert "spin ~50 us, then sleep" in result["wait"]
    # a worker spinning through the whole 0.3 s would show 0.3 s; a short spin, ~0.001 s
    assert result["idle"] < 0.03, result


def test_openmp_wait_settings_neither_matter_nor_leak():
    """OMP_WAIT_POLICY=active would make GNU OpenMP's idle threads spin: fastconv's pool does
    not use them, so its workers still sleep; and the environment is left as it was."""
    result = _probe(OMP_WAIT_POLICY="active")
    assert result["idle"] < 0.03, result
    assert result["inherited"] is None

"""fastconv's OpenMP threads give their core back between ops (fastconv/_openmp.py).

GNU OpenMP's default makes idle threads spin ~300,000 pause loops after each region: tens of
milliseconds of a core that a busy machine's other processes (or the next op's own threads)
need.  fastconv sets a short spin for the runtime it loads itself, never for one another
library loaded first, and never for child processes; a user's own setting wins.
"""
import json
import subprocess
import sys

import pytest

from fastconv import _ext
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
print(json.dumps(dict(idle=min(idle), team=fastconv._ext.probe_team_size(1 << 30),
                      wait=fastconv.show_config(False)["openmp_wait"],
                      inherited=os.environ.get("GOMP_SPINCOUNT"))))
"""


def _probe(prelude="", **env):
    environment = subprocess_env(**env)
    for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "OMP_NUM_THREADS"):
        if name not in env:
            environment.pop(name, None)
    out = subprocess.run([sys.executable, "-c", IDLE_PROBE.format(prelude=prelude)],
                         env=environment, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_idle_threads_sleep_soon_after_an_op():
    result = _probe()
    assert result["team"] == 2
    assert "set by fastconv" in result["wait"]
    # a worker spinning through the whole 0.3 s would show 0.3 s; a short spin, ~0.001 s
    assert result["idle"] < 0.03, result
    assert result["inherited"] is None, "the setting leaked into the environment"


def test_the_probe_sees_a_spinning_runtime():
    """The same probe with OpenMP told to spin: the idle CPU time shows, so the test above
    can fail."""
    result = _probe(OMP_WAIT_POLICY="active")
    assert "OMP_WAIT_POLICY=active" in result["wait"]
    assert result["idle"] > 0.1, result


def test_a_user_setting_wins():
    result = _probe(GOMP_SPINCOUNT="0")
    assert result["wait"] == "as set by GOMP_SPINCOUNT=0"
    assert result["inherited"] == "0"


def test_a_runtime_loaded_before_keeps_its_own_setting(tmp_path):
    """A process that loaded the runtime first (here by ctypes, as torch's import does with
    its own libgomp.so.1) keeps that runtime's behaviour: fastconv does not configure it."""
    prelude = "import ctypes, ctypes.util; ctypes.CDLL(ctypes.util.find_library('gomp'))"
    result = _probe(prelude=prelude)
    assert "loaded before fastconv" in result["wait"]

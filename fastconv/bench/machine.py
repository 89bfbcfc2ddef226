"""The machine: is it busy (LoadMonitor, and BusyProcess, the neighbour of --load), what is it
(machine_info), and its peaks (PeakKernels: sgemm GFLOP/s and copy GB/s)."""
import os
import platform
import statistics
import sys
import threading
import time
from collections import namedtuple

import numpy as np

from .cases import _rng
from .peers import Peers
from .timing import measure


SGEMM_SIZE, QUICK_SGEMM_SIZE = 2048, 256
COPY_BYTES, QUICK_COPY_BYTES = 128 << 20, 4 << 20


# ---- is the machine busy? -------------------------------------------------------------------
#
# Three signs, each cheap to read, each blind where another sees:
# * CPU time: /proc/stat counts, per CPU, the ticks spent busy, idle and stolen by the
#   hypervisor; minus this process's own CPU time (getrusage, all its threads) that leaves what
#   other processes used on the CPUs we may run on.  It sees another job even when our timings
#   do not suffer yet (one thread of ours beside one of theirs on two cores), but not a
#   neighbour in another virtual machine: that shows as steal, or not at all.
# * Steal: the same lines' steal column.
# * A calibration loop: a fixed single-thread pure-Python loop (no library's threads in it),
#   timed at the start and between the cases; slower than at the start means our core is
#   shared or slowed, whatever the cause (a sibling hyperthread, a neighbour VM, frequency).
# Plus, before the run only, the load beyond this process: the number of runnable threads
# (/proc/stat's procs_running, less the one reading it) averaged over the look before the run.
# Not the 1-minute load average: it still counts a job that ended seconds ago (the JSON keeps
# it, and falls back on it where procs_running cannot be read or covers other CPUs than ours).

PROC_STAT_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
# Limits of the verdict "busy".  They are detection thresholds, not performance constants: a
# quarter of a CPU taken by others is already enough to move a 2-thread timing on 2 cores.
OTHERS_CPU_LIMIT = 0.25      # CPUs (on average over the window) used by other processes
STEAL_CPU_LIMIT = 0.10       # CPUs taken by the hypervisor
CALIBRATION_MARGIN = 1.15    # calibration loop slower than at the start by more than 15%
LOADAVG_LIMIT = 0.5          # runnable threads beyond this process, before the run
CALIBRATION_ITERATIONS = 50_000   # ~2 ms of pure Python on the 2-core AVX-512 Xeon VM
PREFLIGHT_S, QUICK_PREFLIGHT_S = 1.0, 0.25   # the quiet look before the run
# A window is watched for at least this long (a pause ends a shorter one): at 100 ticks/s the
# counters of 2 CPUs tell 0.2 CPU apart over 0.1 s, nothing over 10 ms.
MIN_WINDOW_S = 0.1
# A calibration loop counts only when this process used at most 10% more CPU than the loop's
# wall time (only the loop ran); else it is run again after a pause, for at most 0.5 s.
OWN_CPU_SLACK, OWN_THREADS_WAIT_S = 1.10, 0.5


def parse_proc_stat(text, cpus=None):
    """Ticks per field of /proc/stat, summed over the CPUs in `cpus` (the "cpuN" lines; None:
    the aggregate "cpu" line).  None when no line matches.

    Example
    -------
    >>> parse_proc_stat("cpu  9 0 2 20 0 0 0 1\\ncpu0 4 0 1 10 0 0 0 1\\ncpu1 5 0 1 10 0 0 0 0",
    ...                 cpus={1})["user"]
    5
    """
    total, found = dict.fromkeys(PROC_STAT_FIELDS, 0), False
    for line in text.splitlines():
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu"):
            continue
        if cpus is None and name != "cpu" or cpus is not None and name[3:] not in \
                {str(c) for c in cpus}:
            continue
        # guest and guest_nice (after steal) are already counted in user and nice
        for field, value in zip(PROC_STAT_FIELDS, rest.split()):
            total[field] += int(value)
        found = True
    return total if found else None


CpuSample = namedtuple("CpuSample", "wall ticks own_s excluded_s")


def cpu_use(before, after, cpus, hz):
    """What the CPUs did between two CpuSamples: a dict of CPUs (cores' worth, averaged over the
    window) used by other processes, by the hypervisor (steal), by us, and by the processes we
    started ourselves (excluded from "others"), plus the resolution of those figures (each
    CPU's counters advance in whole ticks: its busy time over the window is known to within
    one tick).  None without /proc/stat.

    Example: on 2 CPUs at 100 ticks/s, in 1 s, 150 ticks busy of which our process used 0.6 s:
    others used 0.9 CPU.

    >>> a = CpuSample(0.0, dict(user=0, nice=0, system=0, idle=0, iowait=0, irq=0, softirq=0,
    ...                         steal=0), 0.0, 0.0)
    >>> b = CpuSample(1.0, dict(a.ticks, user=140, system=10, idle=50), 0.6, 0.0)
    >>> use = cpu_use(a, b, cpus=2, hz=100)
    >>> round(use["others_cpus"], 2), round(use["own_cpus"], 2), use["resolution_cpus"]
    (0.9, 0.6, 0.02)
    """
    if before.ticks is None or after.ticks is None:
        return None
    wall = max(after.wall - before.wall, 1e-9)
    delta = {k: after.ticks[k] - before.ticks[k] for k in PROC_STAT_FIELDS}
    steal = delta["steal"] / hz
    busy = (sum(delta.values()) - delta["idle"] - delta["iowait"] - delta["steal"]) / hz
    own = after.own_s - before.own_s
    excluded = after.excluded_s - before.excluded_s
    return {"wall_s": wall, "others_cpus": max(0.0, busy - own - excluded) / wall,
            "steal_cpus": steal / wall, "own_cpus": own / wall, "excluded_cpus": excluded / wall,
            "resolution_cpus": cpus / hz / wall, "cpus": cpus}


def parse_procs_running(text):
    """The number of runnable threads /proc/stat gives (procs_running), or None."""
    for line in text.splitlines():
        if line.startswith("procs_running "):
            return int(line.split()[1])
    return None


def busy_reasons(use, slowdown=None, loadavg_beyond=None):
    """The signs of a busy machine in one window, as sentences (empty: quiet).  A CPU figure
    counts only when it exceeds its limit by more than the window's resolution, so a window too
    short to tell is not called busy on a tick's noise.

    Example
    -------
    >>> use = dict(others_cpus=0.9, steal_cpus=0.0, resolution_cpus=0.04, cpus=2)
    >>> busy_reasons(use, slowdown=1.3)      # doctest: +NORMALIZE_WHITESPACE
    ['other processes used 0.9 CPU (of 2)',
     'the calibration loop ran 1.30x slower than at the start']
    """
    reasons = []
    if use is not None:
        if use["others_cpus"] - use["resolution_cpus"] > OTHERS_CPU_LIMIT:
            reasons.append(f"other processes used {use['others_cpus']:.1f} CPU "
                           f"(of {use['cpus']})")
        if use["steal_cpus"] - use["resolution_cpus"] > STEAL_CPU_LIMIT:
            reasons.append(f"the hypervisor took {use['steal_cpus']:.1f} CPU (steal)")
    if slowdown is not None and slowdown > CALIBRATION_MARGIN:
        reasons.append(f"the calibration loop ran {slowdown:.2f}x slower than at the start")
    if loadavg_beyond is not None and loadavg_beyond > LOADAVG_LIMIT:
        reasons.append(f"load {loadavg_beyond:.1f} beyond this process (runnable threads)")
    return reasons


def _calibration_loop():
    """(wall seconds, this process's CPU seconds) of one calibration loop.  CPU time beyond
    the wall time means another thread of ours ran meanwhile (a pool still spinning after
    the last call): the loop then measured us, not the machine."""
    own = _own_cpu_s()
    start = time.perf_counter()
    x = 0
    for i in range(CALIBRATION_ITERATIONS):
        x += i * i
    wall = time.perf_counter() - start
    return wall, _own_cpu_s() - own


def _own_cpu_s(children=False):
    """CPU seconds of this process (all its threads), plus, with `children`, of the child
    processes it has waited for."""
    try:
        import resource
        usages = [resource.getrusage(resource.RUSAGE_SELF)]
        if children:
            usages.append(resource.getrusage(resource.RUSAGE_CHILDREN))
        return sum(u.ru_utime + u.ru_stime for u in usages)
    except ImportError:   # not POSIX
        times = os.times()
        return times.user + times.system + (
            times.children_user + times.children_system if children else 0.0)


def _process_cpu_s(pid, hz):
    """utime + stime of another process (ours: the busy child of --load), 0 when gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / hz
    except (OSError, IndexError, ValueError):
        return 0.0


class BusyProcess:
    """A CPU-bound child process (a pure-Python loop), for as long as the `with` block lasts:
    the neighbour of --load and of the tests of the busy detection.  It is killed on leaving
    the block, whatever happens in it; and should we be killed outright, it sees within a few
    hundredths of a second that its parent is gone and ends."""

    # spins; every million iterations (~20 ms) checks that its parent still lives
    CODE = ("import os, sys\nparent = int(sys.argv[1])\nwhile os.getppid() == parent:\n"
            "    for _ in range(1000000):\n        pass\n")

    def __init__(self):
        self.process = None

    def __enter__(self):
        import subprocess
        self.process = subprocess.Popen([sys.executable, "-c", self.CODE, str(os.getpid())],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        return self

    @property
    def pid(self):
        return self.process.pid

    def poll(self):
        return self.process.poll()

    def __exit__(self, *exc):
        try:
            self.process.kill()
        finally:
            self.process.wait()
        return False


class LoadMonitor:
    """Watches the machine while the benchmark runs.

    `preflight()` times the calibration loop on the quiet-as-can-be start (its best of several
    runs is the reference) and looks at the machine for a moment before the run; around each
    measurement, `begin()` and `end(token)` give the window's figures and its verdict:
    {"busy": bool, "reasons": [...], "others_cpus", "steal_cpus", "calibration_slowdown", ...}.
    `exclude_pids` holds processes we started on purpose (--load's busy process), which are
    not "others"; with `children`, neither are the child processes waited for before a
    window ends (a script whose work runs in subprocesses).
    """

    def __init__(self, settle=0.0, children=False):
        self.settle = settle
        self.children = children
        try:
            self.cpus = sorted(os.sched_getaffinity(0))
        except AttributeError:
            self.cpus = None
        try:
            self.hz = os.sysconf("SC_CLK_TCK")
        except (AttributeError, ValueError, OSError):
            self.hz = 100
        self.exclude_pids = set()
        self.reference_s = None
        self.calibration_interfered = 0   # loops dropped: our own threads ran beside them
        self.has_proc_stat = self._ticks() is not None

    def _proc_stat(self):
        try:
            with open("/proc/stat") as f:
                return f.read()
        except OSError:
            return None

    def _ticks(self):
        text = self._proc_stat()
        return None if text is None else parse_proc_stat(text, self.cpus)

    def sample(self):
        return CpuSample(time.perf_counter(), self._ticks(), _own_cpu_s(self.children),
                         sum(_process_cpu_s(pid, self.hz) for pid in self.exclude_pids))

    def _cpu_use(self, before, after):
        return cpu_use(before, after, len(self.cpus) if self.cpus else os.cpu_count() or 1,
                       self.hz)

    def calibration(self, runs=3):
        """Median time of `runs` calibration loops during which no other thread of ours ran,
        after the settle pause; a loop that shared the CPU with our own threads is run again
        after a pause, for at most OWN_THREADS_WAIT_S.  None when no loop ran alone."""
        if self.settle:
            time.sleep(self.settle)
        times, deadline = [], time.perf_counter() + OWN_THREADS_WAIT_S
        while len(times) < runs:
            wall, own = _calibration_loop()
            if own <= OWN_CPU_SLACK * wall:
                times.append(wall)
            elif time.perf_counter() > deadline:
                break
            else:
                time.sleep(0.02)
        self.calibration_interfered += runs - len(times)
        return statistics.median(times) if times else None

    def _slowdown(self, runs=3):
        seconds = self.calibration(runs) if self.reference_s else None
        return None if seconds is None else seconds / self.reference_s

    def preflight(self, seconds):
        """The reference calibration and a look at the machine while we sleep `seconds`."""
        self.reference_s = min(_calibration_loop()[0] for _ in range(7))
        before = self.sample()
        # procs_running counts every CPU's runnable threads: ours only when they are all ours
        whole_machine = self.cpus is not None and len(self.cpus) == os.cpu_count()
        running, end = [], time.perf_counter() + seconds
        while True:
            text = self._proc_stat() if whole_machine else None
            count = None if text is None else parse_procs_running(text)
            if count is not None:
                running.append(max(count - 1, 0))     # less this thread, running as it reads
            if time.perf_counter() >= end:
                break
            time.sleep(0.02)
        use = self._cpu_use(before, self.sample())
        slowdown = self._slowdown(5)
        loadavg = beyond = None
        try:
            loadavg = os.getloadavg()[0]
        except (AttributeError, OSError):
            pass
        if running:
            beyond = statistics.fmean(running)
        elif loadavg is not None:
            beyond = max(0.0, loadavg - self._own_load())
        return self._verdict(use, slowdown, loadavg=loadavg, loadavg_beyond=beyond)

    @staticmethod
    def _own_load():
        """This process's share of the 1-minute load average: its CPU time over its age, at
        most over the last minute (the average forgets older load)."""
        try:
            with open("/proc/self/stat") as f:
                start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
            with open("/proc/uptime") as f:
                age = float(f.read().split()[0]) - start_ticks / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError, AttributeError):
            age = 60.0
        return _own_cpu_s() / max(age, 60.0)

    def begin(self):
        return self._slowdown(), self.sample()

    def end(self, token):
        """The verdict on the window since begin(): its CPU figures and the worse of the
        calibrations before and after it."""
        before_slowdown, before = token
        short = MIN_WINDOW_S - (time.perf_counter() - before.wall)
        if short > 0:
            time.sleep(short)
        after = self.sample()
        use = self._cpu_use(before, after)
        slowdowns = [s for s in (before_slowdown, self._slowdown()) if s is not None]
        return self._verdict(use, max(slowdowns) if slowdowns else None)

    def _verdict(self, use, slowdown, loadavg=None, loadavg_beyond=None):
        reasons = busy_reasons(use, slowdown, loadavg_beyond)
        verdict = {"busy": bool(reasons), "reasons": reasons, "calibration_slowdown": slowdown,
                   "cpu": use}
        if loadavg is not None or loadavg_beyond is not None:
            verdict.update(loadavg_1min=loadavg, load_beyond_us=loadavg_beyond)
        return verdict


class PeakKernels:
    """The kernels whose speed is the machine's peak: sgemm GFLOP/s and copy bandwidth GB/s.

    sgemm: float32 matmul of two n x n matrices by numpy's BLAS and, when torch is given, by
    torch; the peak is the faster of the two, because numpy's OpenBLAS may run an older ISA's
    kernel than the CPU has.  copy: np.copyto, read + write bytes, split over `threads` Python
    threads (numpy releases the GIL while it copies), and on one thread: the faster of the two
    is the peak (a copy split over threads that must wait for a busy core can be many times
    slower than one thread's).  `measure` times them alone before the cases; run_case then runs
    the chosen sgemm and copy inside each case's round-robin, so that a row's share of peak
    pairs timings taken under the same load.
    """

    def __init__(self, threads, quick=False, torch=None):
        rng = _rng()
        n = self.n = QUICK_SGEMM_SIZE if quick else SGEMM_SIZE
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        c = np.empty((n, n), np.float32)
        count = (QUICK_COPY_BYTES if quick else COPY_BYTES) // 4
        src, dst = rng.standard_normal(count, dtype=np.float32), np.empty(count, np.float32)
        bounds = np.linspace(0, count, threads + 1).astype(int)
        chunks = [(dst[lo:hi], src[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])]

        def copy_one_thread():
            np.copyto(dst, src)

        def copy():
            workers = [threading.Thread(target=np.copyto, args=chunk) for chunk in chunks]
            for t in workers:
                t.start()
            for t in workers:
                t.join()

        self.sgemm = {"numpy": lambda: np.matmul(a, b, out=c)}
        if torch is not None:
            at, bt, ct = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(c)
            self.sgemm["torch"] = lambda: torch.matmul(at, bt, out=ct)
        self.sgemm_source = "numpy"
        self.copies = {"1 thread": copy_one_thread}
        if threads > 1:
            self.copies[f"{threads} threads"] = copy
        self.copy_source = "1 thread"
        self.sgemm_flops = 2 * n**3
        self.copy_bytes = 2 * src.nbytes     # read + written

    def measure(self, repeat, min_time, settle=0.0):
        """The peaks, timed alone (interleaved with each other, `settle` seconds' pause before
        each timing); picks the faster sgemm and the faster copy."""
        impls = dict(self.sgemm)
        impls.update({f"copy {name}": fn for name, fn in self.copies.items()})
        samples, _ = measure(impls, repeat, min_time, settle=settle)
        sgemm = {name: self.sgemm_flops / statistics.median(samples[name]) / 1e9
                 for name in self.sgemm}
        copy = {name: self.copy_bytes / statistics.median(samples[f"copy {name}"]) / 1e9
                for name in self.copies}
        self.sgemm_source = max(sgemm, key=sgemm.get)
        self.copy_source = max(copy, key=copy.get)
        return {"sgemm_gflops": sgemm[self.sgemm_source], "sgemm_source": self.sgemm_source,
                "sgemm_n": self.n, "numpy_sgemm_gflops": sgemm["numpy"],
                "torch_sgemm_gflops": sgemm.get("torch"),
                "copy_gbs": copy[self.copy_source], "copy_source": self.copy_source,
                "copy_gbs_by_threads": copy, "copy_bytes": self.copy_bytes // 2,
                "blas": Peers.blas()}

    def for_unit(self, unit):
        """(label, kernel, work) of the peak a row of this unit is a share of."""
        if unit == "GFLOP/s":
            return "peak:sgemm", self.sgemm[self.sgemm_source], self.sgemm_flops
        return "peak:copy", self.copies[self.copy_source], self.copy_bytes


def machine_info():
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"platform": platform.platform(), "machine": platform.machine(), "cpu": cpu,
            "cores": _cores()}


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1

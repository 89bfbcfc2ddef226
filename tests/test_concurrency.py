"""Concurrency (issue 5 §4): several Python threads calling fastconv at once get results bitwise
equal to serial calls, and the GIL is really released while the C code runs.

Every op (the op table's samples, tests/ops.py: conv2d with each algorithm, conv2d_backward,
both pools and their backward passes, ReLU, linear and their backward passes, out= and in-place
forms; and the C references and a fastconv.nn training step) is first run serially; then 8
threads, released together by a Barrier, run the ops in rotation
(thread i starts at op i, so different kernels run at the same moment) on one shared input set
and on inputs of their own, with one and with two threads each (the op that finds fastconv's
pool busy runs on its own thread, so pooled and lone ops overlap).  Results never depend on the thread count, so
set_num_threads called from another thread in the middle must change nothing either.
"""
import gc
import os
import re
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import fastconv
import fastconv.reference
from fastconv.ops import _ext
from fastconv.models import lenet5
from ops import OPS as TABLE, Sample, concurrency_inputs
from subprocess_env import subprocess_env
from tolerances import assert_bitwise_equal

N_THREADS = 8
ROUNDS = 2  # each thread runs every op this many times
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---- the ops ----------------------------------------------------------------------------------

def reference_ops(d, own):
    """The C references (fastconv.reference) release the GIL too; small slices: they are naive."""
    ref = fastconv.reference
    x, w = d["x"][:1], d["w"][:8]
    y, idx = ref.max_pool2d(x, 3, 2, 1, return_indices=True)
    return [ref.conv2d(x, w, d["b"][:8], padding=1), *ref.conv2d_backward(
        d["g"][:1, :8], x, w, stride=2, padding=1), y, idx, ref.avg_pool2d(x, 2),
        ref.relu(x), ref.linear(d["xl"][:8], d["wl"][:10], d["bl"][:10]),
        *ref.linear_backward(d["gl"][:8, :10], d["xl"][:8], d["wl"][:10])]


def nn_step(d, own):
    """Forward and backward of LeNet-5 (a model per thread: layers keep their activations)."""
    model = lenet5(seed=0)
    logits = model(d["img"])
    model.zero_grad()
    grad = model.backward(np.ones_like(logits))
    return [logits, grad] + [p.grad for p in model.parameters()]


# every op's samples (tests/ops.py: each row's ``concurrency``, on concurrency_inputs(seed)), the
# first being the direct conv2d the single-op tests below run; then what is not a row
SAMPLES = [sample for op in TABLE for sample in op.concurrency] + [
    Sample("reference_ops", reference_ops), Sample("nn_step", nn_step)]
OPS = [sample.run for sample in SAMPLES]


# ---- helpers ----------------------------------------------------------------------------------

def assert_bitwise(actual, expected, what):
    assert len(actual) == len(expected), what
    for i, (a, e) in enumerate(zip(actual, expected)):
        assert_bitwise_equal(a, e, f"{what}, result {i} against serial")


def run_threads(target, count=N_THREADS, timeout=120):
    """Start `count` threads running target(index, barrier); re-raise the first error."""
    barrier = threading.Barrier(count)
    errors = []

    def body(i):
        try:
            target(i, barrier)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
        assert not t.is_alive(), "a thread did not finish"
    real = [e for e in errors if not isinstance(e, threading.BrokenBarrierError)]
    if real or errors:
        raise (real or errors)[0]


@pytest.fixture(scope="module")
def serial():
    """Inputs of seeds 0..N_THREADS-1 and every op's serial results on them (one thread)."""
    inputs = [concurrency_inputs(seed) for seed in range(N_THREADS)]
    saved = fastconv.get_num_threads()
    fastconv.set_num_threads(1)  # the threaded runs are then also checked against one thread
    try:
        expected = [[op(d, {}) for op in OPS] for d in inputs]
    finally:
        fastconv.set_num_threads(saved)
    return inputs, expected


def rotate(i, barrier, inputs_of, expected_of, rounds=ROUNDS):
    own = {}
    barrier.wait(timeout=60)
    for step in range(rounds * len(OPS)):
        k = (i + step) % len(OPS)
        result = OPS[k](inputs_of(i), own)
        assert_bitwise(result, expected_of(i)[k], f"thread {i}, op {SAMPLES[k].name}")


# ---- results equal serial ---------------------------------------------------------------------

@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("sharing", ["shared", "own"])
def test_threads_get_the_serial_results(serial, restore_threads, threads, sharing):
    inputs, expected = serial
    fastconv.set_num_threads(threads)
    before = [{k: v.copy() for k, v in d.items()} for d in inputs]
    pick = (lambda i: 0) if sharing == "shared" else (lambda i: i)
    run_threads(lambda i, barrier: rotate(i, barrier, lambda j: inputs[pick(j)],
                                          lambda j: expected[pick(j)]))
    for d, saved in zip(inputs, before):  # nobody wrote into an input
        for name in d:
            assert_bitwise_equal(d[name], saved[name], f"input {name} was modified")


@pytest.mark.skipif(not _ext.has_openmp(), reason="built without OpenMP: one thread per op")
def test_the_teams_split(serial, restore_threads):
    """With 2 threads the ops above really run a team of 2 (else the 2-thread cases would prove
    nothing about overlapping teams): the drivers size the team by multiply-adds (conv2d),
    window visits (pools) and elements (ReLU)."""
    fastconv.set_num_threads(2)
    inputs, expected = serial
    probed = []
    for k, (op, sample) in enumerate((op, sample) for op in TABLE for sample in op.concurrency):
        if sample.work is None:
            continue
        work = sample.work(inputs[0], expected[0][k])
        assert _ext.probe_team_size(work) == 2, (
            f"{op.name} ({sample.name}) of concurrency_inputs: {work} {op.work_unit} run a "
            f"single thread")
        probed.append(op.name)
    # a sample of every kind of work unit (multiply-adds, window visits, elements) is probed
    assert {"conv2d", "max_pool2d", "relu", "linear"} <= set(probed)


def test_set_num_threads_from_another_thread_changes_nothing(serial, restore_threads):
    """One thread keeps changing the (process-wide) thread count while the others compute."""
    inputs, expected = serial
    stop = threading.Event()

    running = [N_THREADS - 1]
    lock = threading.Lock()

    def target(i, barrier):
        if i == 0:
            barrier.wait(timeout=60)
            n = 0
            while not stop.is_set():
                fastconv.set_num_threads(1 + n % 3)
                n += 1
            assert n > 0
            return
        try:
            rotate(i, barrier, lambda j: inputs[j], lambda j: expected[j])
        finally:
            with lock:
                running[0] -= 1
                if running[0] == 0:
                    stop.set()

    run_threads(target)


def test_an_input_whose_last_name_is_dropped_mid_call_stays_alive(serial):
    """The call holds its arguments: a thread rebinding the only name of an input while
    another thread computes on it never frees the buffer under the op (ASan would report a
    use after free; here the results would differ)."""
    inputs, expected = serial
    box = [inputs[0]["x"].copy()]
    stop = threading.Event()
    want = expected[0][0]  # direct conv of inputs[0]

    def target(i, barrier):
        barrier.wait(timeout=60)
        if i == 0:
            while not stop.is_set():
                box[0] = inputs[0]["x"].copy()
                gc.collect(0)
            return
        try:
            for _ in range(20):
                y = fastconv.conv2d(box[0], inputs[0]["w"], inputs[0]["b"], padding=1,
                                    algorithm="direct")
                assert_bitwise([y], want, "conv2d of a rebound input")
        finally:
            stop.set()

    run_threads(target, count=2)


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux's /proc/self/task")
def test_short_lived_threads_leave_no_threads_behind(serial, restore_threads):
    """fastconv's pool is one per process, not one per calling thread: Python threads that
    come and go (a ThreadPoolExecutor's churn) must not pile up OS threads."""
    fastconv.set_num_threads(2)
    d = serial[0][0]
    OPS[0](d, {})
    before = len(os.listdir("/proc/self/task"))
    for _ in range(50):
        t = threading.Thread(target=OPS[0], args=(d, {}))
        t.start()
        t.join()
    # (a per-thread pool's threads would exit after the thread's end, not before join returns)
    for _ in range(200):
        if len(os.listdir("/proc/self/task")) <= before:
            break
        time.sleep(0.05)
    assert len(os.listdir("/proc/self/task")) <= before


# ---- the GIL is released ----------------------------------------------------------------------

def test_conv2d_releases_the_gil(restore_threads):
    """While thread A runs conv2d into out= (pre-filled with NaN), thread B, pure Python, reads
    64 elements spread over out.  Holding the GIL, A would let B read only before or after the
    C call, when the samples are all NaN or none is; B seeing a partly written output proves it
    ran during the call.  Events, not wall-clock thresholds.

    Each read is one numpy gather of 64 elements (numpy keeps the GIL below 500), so it is
    atomic for a thread that holds the GIL; B counts it only when A's phase was "in call k"
    both before and after it, so a read overlapping out.fill (which releases the GIL) or
    another call never counts."""
    fastconv.set_num_threads(1)
    rng = np.random.default_rng(3)
    # ~2 G multiply-adds: 20-40 ms a call on one AVX-512 core, ~10x that on the scalar path;
    # a quarter of it under ASan (-O1 and checked accesses: ~0.4 s a call)
    batch = 1 if "libasan" in os.environ.get("LD_PRELOAD", "") else 4
    x = rng.standard_normal((batch, 256, 28, 28)).astype(np.float32)
    w = rng.standard_normal((256, 256, 3, 3)).astype(np.float32)
    out = np.empty((batch, 256, 28, 28), np.float32)
    flat = out.reshape(-1)
    samples = np.linspace(0, flat.size - 1, 64).astype(np.int64)
    phase = [("idle", -1)]  # A's (what, call); a list item is read and set atomically
    finished = threading.Event()
    polls = [0]
    calls_seen_partial = set()

    def poller():
        while not finished.is_set():
            before = phase[0]
            if before[0] != "in":
                continue
            written = int(np.count_nonzero(~np.isnan(flat[samples])))
            if phase[0] != before:
                continue
            polls[0] += 1
            if 0 < written < samples.size:
                calls_seen_partial.add(before[1])

    b = threading.Thread(target=poller)
    b.start()
    try:
        for call in range(30):
            phase[0] = ("fill", call)
            out.fill(np.nan)
            phase[0] = ("in", call)
            fastconv.conv2d(x, w, padding=1, algorithm="direct", out=out)
            phase[0] = ("out", call)
            assert not np.isnan(flat[samples]).any()
            if len(calls_seen_partial) >= 3:
                break
    finally:
        finished.set()
        b.join()
    assert len(calls_seen_partial) >= 3, (
        f"in {call + 1} conv2d calls the other thread saw a partly written output in only "
        f"{len(calls_seen_partial)} ({polls[0]} reads during calls): the GIL is not released "
        f"around the C call")


_KERNEL_CALL = re.compile(r"\b(fc_(?:ref_)?\w+_(?:forward|backward)|fc_probe_team_size)\(")


def test_every_kernel_call_in_the_extension_is_inside_nogil():
    """Static guard for the rule 'GIL released around every C call': each call of a driver
    (fc_<op>_forward/backward, their references) in fastconv/ops/_ext.pyx sits in a
    `with nogil:` block."""
    path = os.path.join(ROOT, "fastconv", "ops", "_ext.pyx")
    if not os.path.exists(path):
        pytest.skip(f"the Cython source {path} is not beside the tests (installed package)")
    calls = 0
    nogil_indent = None
    with open(path) as f:
        lines = f.read().splitlines()
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        # the declarations are in libfastconv.pxd: every fc_ name here is a call
        assert not stripped.startswith("cdef extern"), \
            f"_ext.pyx:{number}: declare the C library in libfastconv.pxd, not in _ext.pyx"
        indent = len(line) - len(line.lstrip())
        if nogil_indent is not None and indent <= nogil_indent:
            nogil_indent = None
        if stripped == "with nogil:":
            nogil_indent = indent
            continue
        if stripped.startswith(("def ", "cdef ", "cpdef ")):
            continue
        if _KERNEL_CALL.search(line):
            calls += 1
            assert nogil_indent is not None, f"_ext.pyx:{number} calls C with the GIL: {stripped}"
    assert calls >= 17, f"found only {calls} kernel calls in {path}: the pattern is stale"


def test_gil_release_benchmark_runs_and_prints_its_table():
    """bench/gil_release.py --quick: the format only (timings on a shared machine are noise)."""
    script = os.path.join(ROOT, "bench", "gil_release.py")
    res = subprocess.run([sys.executable, script, "--quick", "--no-torch"], env=subprocess_env(),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    rows = [line for line in res.stdout.splitlines() if line.startswith("fastconv ")]
    assert [r.split()[1] for r in rows] == ["conv2d", "max_pool2d", "relu"], res.stdout
    for row in rows:
        cpus_s, cpus_p, serial_ms, parallel_ms, ratio = (float(v) for v in row.split()[-5:])
        assert cpus_s >= 0 and cpus_p >= 0 and serial_ms > 0 and parallel_ms > 0
        assert ratio == pytest.approx(parallel_ms / serial_ms, rel=0.05, abs=0.002)

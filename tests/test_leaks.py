"""No leaks: memory and reference counts stay flat over 1000 calls of every op, valid or not.

For every case of tests/leak_cases.py (each computing op on its valid paths, each error path of
functional.py, of the C drivers and of the Cython bridge): 10 warm-up calls, then 1000 calls,
after which

* resident memory (/proc/self/statm, current RSS, not the peak) has grown by at most 1 MiB
  (issue 5 section 2);
* the bytes glibc's malloc has handed out and not had back (mallinfo2: uordblks + hblkhd, every
  arena) have grown by at most 16 KiB.  RSS moves in pages and is blurred by the allocator
  keeping freed memory: a leak of a few hundred bytes per call (an fc_aligned_alloc'd tap-offset
  table, a Python object) stays under 1 MiB of RSS over 1000 calls, but not under 16 KiB of heap;
* the reference count of every array the call is given (inputs, weight, bias, out=) is what it
  was;
* a returned array is owned by the caller alone and does not keep an input alive.

Also: with two OpenMP threads (the team-sized workspaces); through each C driver's
out-of-memory branch (1000 MemoryErrors under an address-space limit, in a subprocess); and a
small run of every case under valgrind memcheck (tests/valgrind_smoke.py), which must report no
definite leak and no invalid access in fastconv's frames.  The checks are shown to fail on
injected leaks (test_the_checks_catch_a_leak).

Measured growth on a clean build (2-core Zen 4, glibc 2.36): RSS 0 KiB and heap 0-128 bytes
for every case, so the limits leave room for noise only.
"""
import ctypes
import gc
import mmap
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import fastconv
from leak_cases import BRIDGE, CASES, ERRORS, VALID, run
from ops import NAMES
from subprocess_env import subprocess_env

HERE = os.path.dirname(os.path.abspath(__file__))

ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")
WARMUP = 10
# Under ASan (every call 3-10x slower) the refcount checks still run, on fewer calls: a leaked
# reference shows after one call; only the memory checks need 1000 (and they are skipped there).
CALLS = 200 if ASAN else 1000
RSS_LIMIT = 1 << 20
HEAP_LIMIT = 16 << 10
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes():
    """Current resident set size of this process."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                 "uordblks", "fordblks", "keepcost")]


def _mallinfo2():
    try:
        fn = ctypes.CDLL(None).mallinfo2
    except (AttributeError, OSError):  # not glibc >= 2.33
        return None
    fn.restype = _Mallinfo2
    return fn


_MALLINFO2 = _mallinfo2()


def heap_bytes():
    """Bytes malloc has handed out and not had back, over every arena, mmapped blocks too."""
    info = _MALLINFO2()
    return info.uordblks + info.hblkhd


def _growth(case, built, calls):
    """(RSS growth, heap growth) over `calls` calls, garbage collected before and after."""
    gc.collect()
    rss, heap = rss_bytes(), heap_bytes() if _MALLINFO2 else 0
    run(case, calls, built)
    gc.collect()
    return rss_bytes() - rss, (heap_bytes() - heap) if _MALLINFO2 else 0


def _refcounts(built):
    return {name: sys.getrefcount(a) for name, a in built.arrays.items()}


def _returned_arrays(result):
    return [r for r in (result if isinstance(result, tuple) else (result,))
            if isinstance(r, np.ndarray)]


def _check_result_ownership(case, built, before):
    """A fresh result is referenced by the caller alone, holds no input through .base, and
    dropping it leaves every input's refcount where it was."""
    result = built()
    # relu(x, out=x) and friends return an array they were given: its count grows by this
    # `result` reference, and that is all
    expected = {name: before[name] + sum(r is a for r in _returned_arrays(result))
                for name, a in built.arrays.items()}
    assert _refcounts(built) == expected, \
        f"{case.op}/{case.name}: a returned array keeps an input alive"
    given = list(built.arrays.values())
    fresh = [a for a in _returned_arrays(result) if not any(a is g for g in given)]
    for i in range(len(fresh)):
        # held by `result` (itself or its tuple), and here by `fresh` and getrefcount's argument
        owners = sys.getrefcount(fresh[i]) - 2
        assert owners == 1, f"{case.op}/{case.name}: returned array {i} has {owners} owners"
        base = fresh[i].base
        while base is not None:
            assert not any(base is g for g in given), \
                f"{case.op}/{case.name}: returned array {i} is a view of an input"
            base = getattr(base, "base", None)
    del result, fresh, given
    assert _refcounts(built) == before, f"{case.op}/{case.name}: the result pinned an input"


def check_no_leak(case, calls=CALLS):
    built = case.build()
    run(case, WARMUP, built)
    before = _refcounts(built)
    rss, heap = _growth(case, built, calls)
    if not ASAN and (rss > RSS_LIMIT or heap > HEAP_LIMIT):
        # A second round, and the smaller growth of the two: a leak grows every round, while a
        # first-time cost (the allocator mapping a new arena or top chunk, numpy growing its
        # small-block cache, fastconv's pool starting its workers) shows in one round only.
        rss2, heap2 = _growth(case, built, calls)
        rss, heap = min(rss, rss2), min(heap, heap2)
    assert _refcounts(built) == before, \
        f"{case.op}/{case.name}: reference counts of the arguments changed over {calls} calls"
    if case.raises is None:
        _check_result_ownership(case, built, before)
    if ASAN:
        return  # refcounts only: test_memory_checks_run says why, once
    assert rss <= RSS_LIMIT, \
        f"{case.op}/{case.name}: RSS grew by {rss / 1024:.0f} KiB over {calls} calls"
    if _MALLINFO2 is not None:
        assert heap <= HEAP_LIMIT, \
            f"{case.op}/{case.name}: the malloc heap grew by {heap} bytes over {calls} calls"


def test_memory_checks_run():
    """check_no_leak's RSS and heap assertions are live in this process; where they cannot be,
    this test says so (the refcount checks run everywhere)."""
    if ASAN:
        pytest.skip("RSS and heap growth are not checked under ASan: its quarantine holds "
                    "freed memory and its allocator replaces glibc's (refcounts still are)")
    if _MALLINFO2 is None:
        pytest.skip("the heap check needs glibc's mallinfo2 (RSS is still checked)")
    assert rss_bytes() > 0 and heap_bytes() > 0


@pytest.fixture(scope="module", autouse=True)
def frozen_gc():
    # Everything alive before the first test goes to the collector's permanent generation:
    # gc.collect() then walks only what the calls create, ~0.1 ms instead of ~10 ms a time.
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.fixture
def one_thread(restore_threads):
    # One OpenMP thread: the timings of the ~200 cases stay predictable on a shared 2-core
    # machine (a busy sibling stalls a team at every barrier).  The drivers size their
    # workspace by the team, so the team of two is checked on THREADED below.
    fastconv.set_num_threads(1)


def _id(case):
    return f"{case.op}-{case.name}"


def test_the_table_covers_every_computing_op():
    # the computing ops are the op table's rows (tests/test_ops.py: exactly fastconv's public
    # ops): each has valid and error cases here
    assert {c.op for c in VALID} == set(NAMES)
    assert {c.op for c in ERRORS} == set(NAMES)
    assert len({_id(c) for c in CASES}) == len(CASES), "two cases share a name"
    # conv2d runs on every algorithm, with and without bias, with out=
    names = " ".join(c.name for c in VALID if c.op == "conv2d")
    for word in ("auto", "direct", "im2col", "pointwise", "depthwise", "bias", "out",
                 "reference", "f64"):
        assert word in names
    assert len([c for c in VALID if c.op == "conv2d_backward"]) >= 8  # each output_mask
    # the errors raised in C, and the bridge's, are in the table
    assert any("bytes per thread" in c.match for c in ERRORS)
    assert any("must lie in" in c.match for c in ERRORS)
    assert len(BRIDGE) >= 10


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_no_leak(case, one_thread):
    check_no_leak(case)


THREADED = [c for c in CASES if _id(c) in {
    "conv2d-im2col", "conv2d-depthwise", "conv2d_backward-mask-111", "max_pool2d-indices",
    "max_pool2d_backward-fastconv-index-16", "conv2d-workspace-im2col", "linear-bias-relu",
    "linear_backward-mask-111"}]


@pytest.mark.parametrize("case", THREADED, ids=_id)
def test_no_leak_with_two_threads(case, restore_threads):
    """The drivers' team-sized workspace, on a team of two.  300 calls: on a busy 2-core
    machine each parallel region can wait milliseconds for a descheduled thread, and the heap
    check needs no more (the smallest fc_aligned_alloc block, 64 bytes + malloc's header, leaked
    300 times is 24 KiB, over HEAP_LIMIT).  The 1000-call RSS criterion is test_no_leak's."""
    assert len(THREADED) == 8
    fastconv.set_num_threads(2)
    check_no_leak(case, calls=min(CALLS, 300))


# ---- the checks can fail ---------------------------------------------------------------------

class _Leaky:
    """Wraps a case's call to leak what the checks must catch."""

    def __init__(self, built, leak):
        self.built, self.leak, self.arrays, self.kept = built, leak, built.arrays, []

    def __call__(self):
        result = self.built()
        if self.leak == "reference":  # a Py_INCREF too many on an input
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(self.built.args[0]))
        elif self.leak == "result-kept":  # someone else still holds the result
            self.kept[:] = [result]
        elif self.leak == "view-of-input":  # the result is a view that pins the input
            result = self.built.args[0][...]
        elif self.leak == "bytes":
            # 256 bytes per call through malloc, like a forgotten fc_aligned_free of a small
            # table: well under 1 MiB of RSS over 1000 calls, over the heap limit
            ctypes.CDLL(None).malloc(256)
        elif self.leak == "pages":
            # 4 KiB of fresh pages per call, 4 MiB in all: its own mapping, as a big scratch
            # buffer gets (a malloc'd block could reuse pages an earlier test left resident)
            page = mmap.mmap(-1, 4096)
            page.write(b"x" * 4096)
            self.kept.append(page)
        return result


@pytest.mark.parametrize("leak,message", [
    ("reference", "reference counts of the arguments changed"),
    ("result-kept", "returned array 0 has 2 owners"),
    ("view-of-input", "a returned array keeps an input alive"),
    ("bytes", "malloc heap grew"),
    ("pages", "RSS grew"),
])
def test_the_checks_catch_a_leak(leak, message, one_thread):
    if leak in ("bytes", "pages") and (ASAN or _MALLINFO2 is None):
        pytest.skip("the memory checks do not run under ASan / without glibc's mallinfo2")
    case = next(c for c in VALID if _id(c) == "relu-plain")
    leaky = case._replace(build=lambda: _Leaky(case.build(), leak))
    with pytest.raises(AssertionError, match=message):
        check_no_leak(leaky)


# ---- out of memory inside the C drivers ---------------------------------------------------------

# The address space a case may still map: more than numpy's outputs plus a 1 MiB pymalloc arena
# coming or going, less than any of the drivers' workspaces below (4 MB and more).
OOM_MARGIN = 2 << 20


def _oom_cases():
    """(name, call, op): calls whose outputs numpy can allocate within OOM_MARGIN, but whose
    C driver then cannot allocate its workspace (packed weights, padded-row buffers, the
    backward's virtual grid, a tall window's row pointers); and the arrays they hold."""
    rng = np.random.default_rng(5)

    def f32(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    x, w = f32(1, 256, 32, 32), f32(512, 256, 3, 3)            # packed weights: 4.7 MB
    x2 = f32(2, 256, 32, 32)    # 2 images: at batch 1 im2col's items pack their own panels
    wide, w1 = f32(1, 1, 4, 2**19), f32(1, 1, 3, 3)            # padded rows: 12 MB
    tall = f32(1, 1, 2**20, 1)                                 # row pointers: 16 MB
    # 2 images: at batch 1 (one block of pixels) grad_input packs each strip's W^T panel itself
    xb, wb, gb = f32(2, 64, 32, 32), f32(2048, 64, 3, 3), f32(2, 2048, 15, 15)
    xg, wg, gg = f32(1, 4, 512, 512), f32(4, 4, 3, 3), f32(1, 4, 510, 510)  # grid: 8 MB
    return [
        ("im2col", lambda: fastconv.conv2d(x2, w, stride=16, algorithm="im2col"), "conv2d"),
        ("direct", lambda: fastconv.conv2d(x, w, stride=16, algorithm="direct"), "conv2d"),
        ("depthwise", lambda: fastconv.conv2d(wide, w1, stride=(1, 2**16),
                                              algorithm="depthwise"), "conv2d"),
        ("backward-grad-input", lambda: fastconv.conv2d_backward(
            gb, xb, wb, stride=2, output_mask=(True, False, False)), "conv2d_backward"),
        ("backward-grad-weight", lambda: fastconv.conv2d_backward(
            gg, xg, wg, output_mask=(False, True, False)), "conv2d_backward"),
        ("max-pool-tall", lambda: fastconv.max_pool2d(tall, (2**20, 1)), "max_pool2d"),
        ("avg-pool-tall", lambda: fastconv.avg_pool2d(tall, (2**20, 1)), "avg_pool2d"),
    ], [x, x2, w, wide, w1, tall, xb, wb, gb, xg, wg, gg]


def _oom_child():
    """Run in a subprocess by test_out_of_memory_in_the_drivers_leaks_nothing: prints one JSON
    line per case."""
    import json
    import resource
    # a fixed mmap threshold: every block of 64 KiB or more is a fresh mapping (glibc would
    # otherwise raise the threshold after the first free and serve the next from its heap)
    ctypes.CDLL(None).mallopt(-3, 64 << 10)  # M_MMAP_THRESHOLD
    # and no block cache: a workspace cached by the warm-up calls would be reused under the
    # limit, and the drivers' allocation failures never reached
    fastconv.set_cache_limit(0)
    fastconv.set_num_threads(1)
    cases, arrays = _oom_cases()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    for name, fn, op in cases:
        for _ in range(WARMUP):
            fn()
        refs = [sys.getrefcount(a) for a in arrays]
        gc.collect()
        rss, heap = rss_bytes(), heap_bytes()
        with open("/proc/self/statm") as f:
            mapped = int(f.read().split()[0]) * PAGE
        resource.setrlimit(resource.RLIMIT_AS, (mapped + OOM_MARGIN, hard))
        messages = {}
        try:
            for _ in range(CALLS):
                try:
                    fn()
                    text = "no error"
                except MemoryError as exc:
                    text = str(exc)
                messages[text] = messages.get(text, 0) + 1
        finally:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        gc.collect()
        print(json.dumps(dict(name=name, op=op, messages=messages, rss=rss_bytes() - rss,
                              heap=heap_bytes() - heap,
                              refs=[sys.getrefcount(a) for a in arrays] == refs)), flush=True)


def test_out_of_memory_in_the_drivers_leaks_nothing(tmp_path):
    """Each driver's allocation failure (FC_ERR_OUT_OF_MEMORY -> MemoryError "<op>: out of
    memory") frees what it had allocated: 1000 failures under an address-space limit leave the
    heap, RSS and refcounts flat.  A subprocess: the limit applies to the whole process."""
    if ASAN:
        pytest.skip("under ASan an address-space limit aborts in ASan's allocator instead of "
                    "failing the allocation")
    if _MALLINFO2 is None:
        pytest.skip("needs glibc (mallopt, mallinfo2)")
    import json
    env = subprocess_env(OMP_NUM_THREADS="1")
    res = subprocess.run([sys.executable, "-c", "import test_leaks; test_leaks._oom_child()"],
                         env=env, capture_output=True, text=True, timeout=300,
                         cwd=str(tmp_path))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    results = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert [r["name"] for r in results] == [c[0] for c in _oom_cases()[0]]
    for r in results:
        assert r["messages"] == {f"{r['op']}: out of memory": CALLS}, r
        assert r["refs"], r
        assert r["rss"] <= RSS_LIMIT and r["heap"] <= HEAP_LIMIT, r


# ---- valgrind memcheck ------------------------------------------------------------------------

# A frame of fastconv's: the extension module, a C library function, a Cython wrapper.
_FASTCONV_FRAME = re.compile(r"(\bfc_\w+|__pyx_\w+|_ext\.cpython|/csrc/|fastconv/ops/_ext)")
_ERROR_KINDS = ("Invalid read", "Invalid write", "Invalid free", "Mismatched free",
                "Conditional jump or move depends on uninitialised",
                "Use of uninitialised value", "Syscall param", "Source and destination overlap")


def valgrind_findings(log):
    """The records of a memcheck log that are fastconv's: a definite leak or an invalid access
    with a fastconv frame inside the innermost Python frame (between the error and the first
    _PyEval_EvalFrame frame): fastconv's C code or its Cython bridge did it.  The interpreter's
    own exit-time and import-time leaks do not count, even where fastconv's module init is
    further up the stack (it imports numpy)."""
    records, current = [], []
    for line in log.splitlines():
        body = re.sub(r"^==\d+==\s?", "", line)
        if not body.strip():
            if current:
                records.append(current)
            current = []
        else:
            current.append(body)
    if current:
        records.append(current)
    found = []
    for record in records:
        head = record[0]
        if not ("definitely lost in loss record" in head or head.startswith(_ERROR_KINDS)):
            continue
        for frame in record[1:]:
            if "_PyEval_EvalFrame" in frame:
                break
            if _FASTCONV_FRAME.search(frame):
                found.append("\n".join(record))
                break
    return found


def test_valgrind_findings_parser():
    log = """==7== Invalid read of size 4
==7==    at 0x1: fc_f32_conv2d_direct (conv2d_direct.tmpl.h:40)
==7==    by 0x2: PyObject_Call (call.c:1)
==7==
==7== 64 bytes in 1 blocks are definitely lost in loss record 3 of 9
==7==    at 0x3: malloc (vg_replace_malloc.c:381)
==7==    by 0x4: PyMem_RawMalloc (obmalloc.c:1)
==7==
==7== 24 bytes in 1 blocks are definitely lost in loss record 4 of 9
==7==    at 0x3: posix_memalign (vg_replace_malloc.c:381)
==7==    by 0x5: fc_aligned_alloc (common.c:25)
==7==
==7== 24 bytes in 1 blocks are definitely lost in loss record 5 of 9
==7==    at 0x3: malloc (vg_replace_malloc.c:381)
==7==    by 0x6: PyFloat_FromDouble (floatobject.c:149)
==7==    by 0x7: _PyEval_EvalFrameDefault (ceval.c:5091)
==7==    by 0x8: __pyx_pymod_exec__ext (_ext.c:14496)
==7==
"""
    found = valgrind_findings(log)
    assert len(found) == 2
    assert "Invalid read" in found[0] and "fc_aligned_alloc" in found[1]


@pytest.mark.valgrind
def test_valgrind_memcheck_finds_nothing_in_fastconv(tmp_path):
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        pytest.skip("valgrind is not on PATH")
    if ASAN:
        pytest.skip("valgrind cannot run a process with ASan's runtime preloaded")
    log = tmp_path / "memcheck.log"
    env = subprocess_env(PYTHONMALLOC="malloc", OMP_NUM_THREADS="2")
    cmd = [valgrind, "--tool=memcheck", "--leak-check=full",
           "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
           "--num-callers=30", f"--log-file={log}",
           sys.executable, os.path.join(HERE, "valgrind_smoke.py")]
    # cwd outside the repository root: from the root, the unbuilt source tree would be imported
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600,
                         cwd=str(tmp_path))
    text = log.read_text()
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:] + text[-3000:]
    assert "valgrind_smoke: done" in res.stdout, res.stdout[-3000:]
    assert "ERROR SUMMARY" in text and "Memcheck" in text, text[-3000:]
    found = valgrind_findings(text)
    assert not found, "\n\n".join(found)

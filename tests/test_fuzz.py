"""Fuzz targets: every public op over random shapes, parameters, dtypes, strides and layouts.

Each draw is a whole call -- valid or not -- together with the test's own, independent
verdict on it: which exception (TypeError, ValueError) an invalid draw must raise, or, for a
valid one, the float64 oracle's answer.  The rule for every call:

* it returns, the draw was valid, and the result equals the oracle (tests/oracle.py, with the
  tolerances of tests/tolerances.py; NaN where the oracle has NaN); or
* it raises the TypeError / ValueError the verdict expects, and the message names the op
  (a MemoryError, also naming the op, only where the output is beyond any machine's memory);
* and either way the inputs are bitwise unchanged (only ``out=`` may be written).

Anything else -- another exception, a crash, a wrong answer, a modified input, a valid draw
that raises -- fails.  Where the verdict cannot be decided simply (a ``max_workspace_bytes``
below an algorithm's unknown minimum) both outcomes are accepted, but a result must still be
right.

Not drawn, on purpose: NaN / infinity in conv weights where padding is applied (forward) or
grad_input is computed (backward), and in grad_output where padding is applied: there an
implementation may multiply them by an implicit zero (padding, zero-stuffing) that the oracle
does not, or the other way round, and 0 * inf = NaN makes both answers right.  Valid calls
whose output exceeds MAX_OUTPUT_BYTES or whose oracle would cost more than MAX_ORACLE_WORK
(e.g. 'same' padding of 2**31 for a huge dilation) are rejected, not run.

The targets are the rows of the op table (tests/ops.py): each op's function, oracle, bound and
tolerance are the row's, and its calls come from its drawer ``<op>_calls`` below (a row
without one fails ``test_fuzz``).

Budget (environment variable FASTCONV_FUZZ_SECONDS):

* unset: a fixed QUICK_EXAMPLES examples per target, under the suite's hypothesis profile, so
  the file runs in every normal test run (well under half a minute);
* N > 0: all targets together run for about N seconds (N / number of targets each), in
  chunks of fresh, non-derandomised hypothesis runs, each with its own printed seed, until
  the target's share of the clock is spent;
* 0 or inf: run until interrupted.

Every example also draws the thread count (1 to 7).  Timed runs keep failures in a
hypothesis example database (FASTCONV_FUZZ_DB, default <tmp>/fastconv-fuzz-db), which replays
them first on the next run; a failure also prints at once (run with -s) its chunk's seed, which
FASTCONV_FUZZ_SEED=<seed> replays as every target's first chunk, and hypothesis's
``@reproduce_failure`` blob.  Every bug the fuzzer found is a named regression test in the op's
own test file (test_errors.py, test_backward.py, test_relu.py: "found by tests/test_fuzz.py").
"""

import math
import os
import sys
import tempfile
import time
import traceback

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, seed, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

import fastconv
import oracle
from tolerances import assert_exact, assert_reduction_close
from ops import (ADAPTIVE_AVG_POOL2D, ADAPTIVE_AVG_POOL2D_BACKWARD, AVG_POOL2D,
                 AVG_POOL2D_BACKWARD, CONV2D, CONV2D_BACKWARD, CONV_TRANSPOSE2D,
                 CONV_TRANSPOSE2D_BACKWARD, LEAKY_RELU, LEAKY_RELU_BACKWARD,
                 LINEAR, LINEAR_BACKWARD, MAX_POOL2D, MAX_POOL2D_BACKWARD, OPS, RELU, RELU6,
                 RELU6_BACKWARD, RELU_BACKWARD, FILTER2D, SEP_FILTER2D, ADD, BATCH_NORM,
                 BATCH_NORM_BACKWARD)
from tolerances import assert_winograd_close, winograd_abs_bound


def _budget():
    raw = os.environ.get("FASTCONV_FUZZ_SECONDS", "").strip()
    if not raw:
        return None
    value = float(raw)
    return math.inf if value <= 0 or math.isinf(value) else value


# NaN and infinity are drawn on purpose: numpy's warnings about them (in the oracle and in the
# float64 copies) are expected
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning",
                                        "ignore:overflow encountered:RuntimeWarning",
                                        "ignore:divide by zero encountered:RuntimeWarning")

SECONDS = _budget()
# the first chunk of each target replays this seed (printed by a failing chunk)
REPLAY_SEED = os.environ.get("FASTCONV_FUZZ_SEED")
VERBOSE = SECONDS is not None
QUICK_EXAMPLES = 250
CHUNK_EXAMPLES = 100
TARGETS = len(OPS)
UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")

# Largest valid output the fuzzer actually computes; a valid draw beyond it is rejected
# (it would take memory and time without testing anything the small draws do not).
MAX_OUTPUT_BYTES = 1 << 24
# Outputs beyond this many bytes are more than any machine's memory: MemoryError (naming the
# op, before anything is allocated) is then the only right answer.
HUGE_BYTES = 2**46
# Largest oracle cost (multiply-adds, window taps) of one draw.
MAX_ORACLE_WORK = 2_000_000

BOTH = (TypeError, ValueError)

# ---- values -----------------------------------------------------------------------------------

# big-endian but float: valid (converted); everything else here must raise TypeError
INVALID_DTYPES = [np.float16, np.int32, np.int64, np.uint8, np.bool_, np.complex64,
                  np.complex128, object, np.longdouble, "U4", "S4"]


def _specials(dtype):
    fin = np.finfo(dtype)
    huge = 1e17 if dtype == np.float32 else 1e150  # products and sums stay finite
    return np.array([np.nan, -np.nan, np.inf, -np.inf, -0.0, 0.0, float(fin.tiny) / 4,
                     -float(fin.tiny) / 8, float(fin.tiny), huge, -huge], dtype)


def _payload_nan(dtype):
    """A NaN with a non-default payload (signalling, in fact): an input copy must keep it."""
    if dtype == np.float32:
        return np.array(0x7FA00123, np.uint32).view(np.float32)
    return np.array(0x7FF4000000000123, np.uint64).view(np.float64)


def _values(rng, shape, dtype, kind):
    """Float values of `dtype`: 'normal', 'ints' (small, with ties) or 'special'."""
    if kind == "ints":
        v = rng.integers(-3, 3, shape).astype(dtype)
    else:
        v = rng.standard_normal(shape).astype(dtype)
    if kind == "special" and v.size:
        spec = _specials(dtype)
        mask = rng.random(shape) < 0.25
        v[mask] = spec[rng.integers(0, len(spec), int(mask.sum()))]
        flat = v.reshape(-1)
        flat[rng.integers(0, v.size)] = _payload_nan(dtype)
    return v


class Arr:
    """One drawn array argument: the value passed to the op and the test's verdict on it."""

    def __init__(self, api, error=None):
        self.api = api
        self.error = error  # None or TypeError
        if error is None:
            conv = np.asarray(api)
            self.itemsize = conv.dtype.itemsize
            self.f64 = conv.astype(np.float64)
            self.native = np.dtype(conv.dtype.newbyteorder("="))
        else:
            self.itemsize = None
            self.f64 = None

    @property
    def ndarray(self):
        return isinstance(self.api, np.ndarray)


def _layout(draw, t, allow=("C", "F", "neg", "step", "unaligned", "broadcast", "readonly",
                            "list")):
    """t (C-contiguous, final dtype) in a drawn memory layout holding the same values (a
    broadcast layout repeats one slice, so its values differ from t's)."""
    kind = draw(st.sampled_from(allow))
    if kind == "C" or t.ndim == 0 and kind not in ("list", "readonly", "unaligned"):
        return t
    if kind == "F":
        return np.asfortranarray(t)
    if kind == "neg":
        axes = tuple(a for a in range(t.ndim) if draw(st.booleans())) or (t.ndim - 1,)
        base = np.ascontiguousarray(np.flip(t, axes))
        return np.flip(base, axes)
    if kind == "step":
        axis = draw(st.integers(0, t.ndim - 1))
        step = draw(st.sampled_from([2, 3, -2]))
        shape = list(t.shape)
        shape[axis] *= abs(step)
        base = np.zeros(shape, t.dtype)
        index = [slice(None)] * t.ndim
        index[axis] = slice(None, None, step)
        view = base[tuple(index)]
        view[...] = t
        return view
    if kind == "unaligned":
        if t.dtype.itemsize == 1 or t.dtype.kind in "OUS":
            return t
        buf = np.zeros(t.nbytes + 1, np.uint8)
        view = buf[1:].view(t.dtype).reshape(t.shape)
        view[...] = t
        return view
    if kind == "broadcast":
        axis = draw(st.integers(0, t.ndim - 1))
        return np.broadcast_to(np.take(t, [0] if t.shape[axis] else [], axis=axis), t.shape) \
            if t.shape[axis] else t
    if kind == "readonly":
        t = t.copy()
        t.flags.writeable = False
        return t
    if t.size == 0:  # (a list would lose the empty array's shape)
        return t
    return t.tolist()  # "list"; a 0-d array gives a Python scalar


# Whether the current draw may hold injected faults: 40% of draws do, the others are valid
# unless their (valid-looking) geometry is not, so that most calls reach the kernels.
FAULTY = [True]


def set_faulty(draw):
    FAULTY[0] = draw(st.integers(0, 9)) < 4


def fault(draw, n):
    """In a faulty draw, True with probability 1/n; never otherwise."""
    return FAULTY[0] and draw(st.integers(0, n - 1)) == 0


def pick(draw, valid, invalid):
    return draw(st.sampled_from(list(valid) + list(invalid) if FAULTY[0] else list(valid)))


def draw_array(draw, shape, base, special=True, layouts=True, dtypes=True):
    """An array argument of `shape` for an op whose arrays share dtype `base`.

    Mostly base itself; sometimes the other float dtype (a mismatch), a big-endian copy
    (valid), or an invalid dtype (TypeError)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["normal", "normal", "ints", "special"] if special
                                else ["normal", "ints"]))
    pick = draw(st.integers(0, 99 if FAULTY[0] else 86)) if dtypes else 0
    if pick < 80:
        dtype = np.dtype(base)
    elif pick < 87:
        dtype = np.dtype(base).newbyteorder(">")
    elif pick < 91:
        dtype = np.dtype(np.float64 if base == np.float32 else np.float32)
    else:
        bad = np.dtype(draw(st.sampled_from(INVALID_DTYPES)))
        t = _values(rng, shape, np.float64, "ints").astype(bad)
        if layouts and draw(st.booleans()):
            t = _layout(draw, t.copy(), ("C", "F", "neg", "step", "list"))
        # a list of Python floats (from an object array) is a valid float64 array
        conv = np.asarray(t)
        ok = conv.dtype.kind == "f" and conv.dtype.itemsize in (4, 8)
        return Arr(t, None if ok else TypeError)
    t = _values(rng, shape, dtype.newbyteorder("="), kind).astype(dtype)
    if layouts:
        t = _layout(draw, t)
    return Arr(t)


def _dtype_errors(arrays):
    """TypeError per invalid array, and one for a float32/float64 mix among the valid ones."""
    errs = [a.error for a in arrays if a is not None and a.error]
    sizes = {a.itemsize for a in arrays if a is not None and a.error is None}
    if len(sizes) > 1:
        errs.append(TypeError)
    return errs


# ---- parameters -------------------------------------------------------------------------------

# (value, its verdict) for int parameters: ints, numpy ints, and invalid spellings
HUGE_INTS = [2**24, 2**31, 2**62]
BAD_INT_TYPES = [True, False, 1.5, 2.0, None, "2", b"2", np.float64(2.0), [1], object()]
TOO_BIG = [2**62 + 1, 2**63, -2**63, 2**64, -2**62 - 1]


def draw_int(draw, lo, hi):
    """(spec, value or None, error): one int parameter, usually valid in [lo, hi]."""
    r = draw(st.integers(0, 99 if FAULTY[0] else 87))
    if r < 88:
        v = draw(st.integers(lo, hi))
        if r < 4:
            return np.int64(v), v, None
        if r < 6:
            return np.int32(v), v, None
        return v, v, None
    if r < 92:
        v = draw(st.sampled_from(HUGE_INTS + [-1, 0, -2**31]))
        return v, v, None
    if r < 96:
        return draw(st.sampled_from(BAD_INT_TYPES)), None, TypeError
    return draw(st.sampled_from(TOO_BIG)), None, ValueError


def draw_pair(draw, lo, hi):
    """(spec, (h, w) or None, error) for an `int or (int, int)` parameter."""
    r = draw(st.integers(0, 99 if FAULTY[0] else 93))
    if r < 50:
        spec, v, err = draw_int(draw, lo, hi)
        if isinstance(spec, list):  # [1]: torch reads a one-element sequence as both axes
            return spec, (spec[0], spec[0]), None
        if r < 10 and err is None:  # the same in a tuple, as torch accepts it
            return (spec,), (v, v), None
        return spec, None if v is None else (v, v), err
    if r < 94:
        (sh, h, eh), (sw, w, ew) = draw_int(draw, lo, hi), draw_int(draw, lo, hi)
        errs = [e for e in (eh, ew) if e]
        spec = (sh, sw) if r < 85 else [sh, sw]
        if errs:
            return spec, None, errs[0] if len(set(errs)) == 1 else BOTH
        return spec, (h, w), None
    bad = draw(st.sampled_from([(), [], (1, 1, 1), [2, 2, 2]]))
    return bad, None, ValueError


def positive(pair, err):
    """The verdict on a pair that must be positive."""
    if err or pair is None:
        return err
    return ValueError if min(pair) <= 0 else None


def merge(errs):
    """One verdict from the list of the draw's faults: None, the one class, or a tuple of
    the classes any of which may come first."""
    errs = [e for e in errs if e]
    if not any(errs):
        return None
    kinds = set()
    for e in errs:
        kinds.update(e if isinstance(e, tuple) else (e,))
    if len(kinds) == 1:
        return kinds.pop()
    return BOTH if kinds <= set(BOTH) else tuple(sorted(kinds, key=str))


SIZES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13]
WIDE = [15, 16, 17, 31, 32, 33]


def draw_extent(draw):
    return draw(st.sampled_from(WIDE)) if draw(st.integers(0, 5)) == 0 else \
        draw(st.sampled_from(SIZES))


def draw_bool_flag(draw, errs):
    """A bool parameter as users pass it (bool, 0/1, numpy bool, a one-element array), or,
    appending its TypeError to errs, something without a truth value (an array of two)."""
    value = pick(draw, [False, True, 0, 1, np.False_, np.True_, np.array([1])],
                 [np.array([True, False])])
    if isinstance(value, np.ndarray) and value.size != 1:
        errs.append(TypeError)
    return value


def draw_out(draw, shape, dtype, errs, extra=()):
    """(out, variant): an out= of `shape` and `dtype`, usually right, sometimes wrong in one
    way (its fault appended to errs); the variants in `extra` (aliasing an input) are left
    to the caller."""
    variant = pick(draw, ["ok", "ok", "ok", "F"],
                   ["step", "dtype", "shape", "readonly", "list", "unaligned"] + list(extra))
    out = np.full(shape, np.nan, dtype)
    if variant == "F" and shape:  # (np.asfortranarray makes a 0-d array 1-d)
        out = np.asfortranarray(out)
    elif variant == "step":
        out = np.full(shape[:-1] + (2 * shape[-1],) if shape else (2,), np.nan, dtype)
        out = out[..., ::2] if shape else out[:1].reshape(())
    elif variant == "dtype":
        out = out.astype(np.float64 if np.dtype(dtype) == np.float32 else np.float32)
        errs.append(TypeError)
    elif variant == "shape":
        out = np.full(shape + (2,), np.nan, dtype)
        errs.append(ValueError)
    elif variant == "readonly":
        out.flags.writeable = False
        errs.append(ValueError)
    elif variant == "unaligned":
        out = _layout(draw, out, ("unaligned",))
    elif variant == "list":
        out = out.tolist()
        errs.append(TypeError)
    if variant in ("F", "step", "unaligned") and not (out.flags.c_contiguous and
                                                      out.flags.aligned):
        errs.append(ValueError)
    return out, variant


# ---- the runner -------------------------------------------------------------------------------

COUNTS = {}
THREADS = st.sampled_from([1, 2, 2, 3, 7])


def snapshot(*values):
    """The ndarrays among values with their bytes, to check they were not modified."""
    return [(v, v.tobytes(), v.shape, v.strides) for v in values if isinstance(v, np.ndarray)]


def assert_unchanged(snap, op):
    for arr, data, shape, strides in snap:
        assert arr.shape == shape and arr.strides == strides, f"{op} reshaped an input"
        assert arr.tobytes() == data, f"{op} modified an input of shape {shape}"


class Call:
    """A drawn call: fn(*args, **kwargs), its verdict, and the check of its result."""

    def __init__(self, op, fn, args, kwargs, expect, check, maybe=None, keep=()):
        self.op, self.fn, self.args, self.kwargs = op, fn, args, kwargs
        self.expect = expect  # None (must succeed) or exception class(es)
        self.maybe = maybe  # exception class a valid draw may also raise (or None)
        self.check = check  # check(result) for a successful call
        self.keep = keep  # inputs that must stay unchanged

    def __repr__(self):
        def short(v):
            if isinstance(v, np.ndarray):
                return (f"ndarray(shape={v.shape}, dtype={v.dtype}, strides={v.strides}, "
                        f"aligned={v.flags.aligned}, writeable={v.flags.writeable})")
            if isinstance(v, list):
                return f"list(shape={np.shape(v)})"
            return repr(v)
        args = ", ".join(short(a) for a in self.args)
        kwargs = ", ".join(f"{k}={short(v)}" for k, v in self.kwargs.items())
        return f"{self.op}({args}, {kwargs}) expect={self.expect} maybe={self.maybe}"


def run_call(call):
    """'ok', 'raised' or 'memory' (the outcome), or an AssertionError."""
    snap = snapshot(*call.keep)
    try:
        result = call.fn(*call.args, **call.kwargs)
    except MemoryError as exc:
        expect = call.expect if isinstance(call.expect, tuple) else (call.expect,)
        assert MemoryError in expect, f"MemoryError on a draw that is not huge: {call!r}"
        assert call.op in str(exc), f"message does not name {call.op}: {exc!r}"
        assert_unchanged(snap, call.op)
        return "memory"
    except (TypeError, ValueError) as exc:
        allowed = call.expect if call.expect is not None else call.maybe
        if isinstance(allowed, tuple):
            allowed = tuple(e for e in allowed if e is not MemoryError) or None
        assert allowed not in (None, MemoryError), f"valid draw raised {exc!r}: {call!r}"
        assert isinstance(exc, allowed), f"raised {exc!r}, expected {allowed}: {call!r}"
        assert call.op in str(exc), f"message does not name {call.op}: {exc!r}"
        assert_unchanged(snap, call.op)
        return "raised"
    assert call.expect is None, f"invalid draw returned (expected {call.expect}): {call!r}"
    assert_unchanged(snap, call.op)
    call.check(result)
    return "ok"


def _database():
    path = os.environ.get("FASTCONV_FUZZ_DB") or os.path.join(tempfile.gettempdir(),
                                                                "fastconv-fuzz-db")
    return DirectoryBasedExampleDatabase(path)


def fuzz(strategy, name, capsys):
    """Runs `strategy`'s calls for the quick count or the target's share of the clock."""
    counts = COUNTS[name] = dict(ok=0, raised=0, memory=0)
    slowest = [0.0, ""]
    saved_threads = fastconv.get_num_threads()

    def body(call, threads):
        # thread counts beyond the cores and the tiles too: every partition must hold
        fastconv.set_num_threads(threads)
        began = time.monotonic()
        try:
            counts[run_call(call)] += 1
        finally:
            fastconv.set_num_threads(saved_threads)
            took = time.monotonic() - began
            if took > slowest[0]:
                slowest[:] = [took, repr(call)]

    started = time.monotonic()
    runs = 0
    try:
        if SECONDS is None:
            given(call=strategy, threads=THREADS)(
                settings(settings.default, max_examples=QUICK_EXAMPLES, deadline=None,
                         suppress_health_check=list(HealthCheck))(body))()
            runs = 1
            return
        share = SECONDS / TARGETS
        chunk_settings = settings(
            settings.default, max_examples=CHUNK_EXAMPLES, deadline=None, derandomize=False,
            database=_database(), print_blob=True, suppress_health_check=list(HealthCheck))
        while runs == 0 or time.monotonic() - started < share:
            chunk_seed = int(REPLAY_SEED) if REPLAY_SEED and runs == 0 else \
                int.from_bytes(os.urandom(8), "little")

            def chunk(call, threads):  # (a function takes settings once)
                body(call, threads)
            test = seed(chunk_seed)(given(call=strategy, threads=THREADS)(chunk_settings(chunk)))
            try:
                test()
            except Exception as exc:
                # at once, not only in pytest's summary at the end of a long run
                traceback.print_exception(exc, file=sys.stderr)
                print(f"\n{name}: failing chunk seed {chunk_seed} "
                      f"(FASTCONV_FUZZ_SEED={chunk_seed} replays it)", file=sys.stderr)
                raise
            runs += 1
    finally:
        with capsys.disabled():
            print(f"\n[fuzz] {name}: {sum(counts.values())} examples ({counts['ok']} returned, "
                  f"{counts['raised']} raised, {counts['memory']} MemoryError) in {runs} "
                  f"hypothesis run(s), {time.monotonic() - started:.1f} s; slowest example "
                  f"{slowest[0]:.2f} s", end="")
            if VERBOSE:
                print(f"\n    the slowest: {slowest[1]}", end="")


# ---- conv2d -----------------------------------------------------------------------------------

def _conv_padding(draw, in_hw, kernel, stride, dilation):
    """(spec, ((t, b), (l, r)) or None, error)."""
    if fault(draw, 25):  # an output of about 2**50 elements: more than any machine holds
        return 2**24, ((2**24, 2**24), (2**24, 2**24)), None
    r = draw(st.integers(0, 99))
    if not FAULTY[0] and 22 <= r < 25:
        r = 0
    if r < 10:
        return "valid", ((0, 0), (0, 0)), None
    if r < 22:
        if stride is None or dilation is None:
            return "same", None, None
        return "same", tuple(oracle.same_padding(*a) for a in zip(in_hw, kernel, stride,
                                                                    dilation)), None
    if r < 25:
        return draw(st.sampled_from(["SAME", "full", "", "same "])), None, ValueError
    if r < 35:
        (st_, t, et), (sb, b, eb), (sl, lft, el), (sr, rgt, er) = \
            [draw_int(draw, 0, 3) for _ in range(4)]
        spec = ((st_, sb), (sl, sr))
        errs = [e for e in (et, eb, el, er) if e]
        if errs:
            return spec, None, merge(errs)
        pads = ((t, b), (lft, rgt))
        return spec, pads, ValueError if min(t, b, lft, rgt) < 0 else None
    spec, pair, err = draw_pair(draw, 0, 3)
    if isinstance(spec, str):  # any string other than 'same' / 'valid'
        return spec, None, ValueError
    if err:
        return spec, None, err
    return spec, ((pair[0],) * 2, (pair[1],) * 2), ValueError if min(pair) < 0 else None


ALGORITHMS = ["auto", "auto", "direct", "im2col", "pointwise", "depthwise", "winograd", None]


@st.composite
def conv_draw(draw, backward=False):
    """The shared geometry of conv2d and conv2d_backward: arrays, params, verdict so far."""
    op = "conv2d_backward" if backward else "conv2d"
    base = draw(st.sampled_from([np.float32, np.float64]))
    errs = []
    groups_spec, groups, gerr = draw_int(draw, 1, 3)
    # one draw in six is "wide": channel and filter counts around the GEMM and direct
    # kernels' register tiles (8x32, 6x16, 4x24 ...) and reduction lengths C/groups*R*S past
    # a few hundred, on small planes
    wide = draw(st.integers(0, 5)) == 0
    if wide:
        cg = draw(st.sampled_from([1, 7, 8, 9, 16, 17, 31, 32, 33, 64]))
        kg = draw(st.sampled_from([5, 6, 7, 8, 9, 15, 16, 17, 24, 25, 31, 32, 33]))
    elif draw(st.integers(0, 3)) == 0:  # depthwise: one channel per group
        cg, kg = 1, draw(st.sampled_from([0, 1, 1, 2, 3, 4]))
    else:
        cg, kg = draw(st.integers(1, 4)), draw(st.sampled_from([0, 1, 1, 2, 3, 4]))
    g_eff = groups if gerr is None and groups and 0 < groups <= 4 else 1
    c = cg * g_eff
    k = kg * g_eff
    n = draw(st.sampled_from([0, 1, 1, 2, 3]))
    h, w = draw_extent(draw), draw_extent(draw)
    if wide:
        h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    if fault(draw, 20):  # a zero channel / height / width
        which = draw(st.integers(0, 2))
        c, h, w = [0 if i == which else v for i, v in enumerate((c, h, w))]
    r_, s_ = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    if fault(draw, 30):
        r_ = 0
    # the weight's channel count: usually right, sometimes not
    wc = draw(st.integers(1, 5)) if fault(draw, 15) else cg
    unbatched = n == 1 and draw(st.booleans())
    xshape = (c, h, w) if unbatched else (n, c, h, w)
    wshape = (k, wc, r_, s_)
    rank = draw(st.integers(0, 29)) if FAULTY[0] else 2
    if rank == 0:
        xshape = draw(st.sampled_from([(), (h,), (c, h, w, 1, 1), (h, w)]))
    elif rank == 1:
        wshape = draw(st.sampled_from([(k, wc, r_), (k, wc, r_, s_, 1)]))
    stride_spec, stride, serr = draw_pair(draw, 1, 3)
    dil_spec, dil, derr = draw_pair(draw, 1, 3)
    serr, derr = positive(stride, serr), positive(dil, derr)
    stride = None if serr else stride
    dil = None if derr else dil
    pad_spec, pads, perr = _conv_padding(draw, (h, w), (r_, s_), stride, dil)

    x = draw_array(draw, xshape, base)
    wt = draw_array(draw, wshape, base, special=backward or pads == ((0, 0), (0, 0)))
    arrays = [x, wt]
    # the structural verdict: every check the library makes before a faulty parameter's own
    # is evaluated here too, so that a single fault gives a definite exception class
    x_ok = len(xshape) in (3, 4) and 0 not in xshape[-3:]
    w_ok = len(wshape) == 4
    errs += [None if x_ok else ValueError, None if w_ok else ValueError, gerr]
    if gerr is None and groups <= 0:
        errs.append(ValueError)
    elif gerr is None and x_ok and w_ok:
        if c % groups or k % groups or wc * groups != c or 0 in (r_, s_):
            errs.append(ValueError)
    errs += [serr, derr, perr]
    geometry = None
    if not any(errs):
        padded = (h + sum(pads[0]), w + sum(pads[1]))
        dilated = ((r_ - 1) * dil[0] + 1, (s_ - 1) * dil[1] + 1)
        if padded[0] < dilated[0] or padded[1] < dilated[1]:
            errs.append(ValueError)
        else:
            p = (padded[0] - dilated[0]) // stride[0] + 1
            q = (padded[1] - dilated[1]) // stride[1] + 1
            itemsize = max(a.itemsize or 4 for a in arrays)
            # an empty output of impossible extents is as invalid as a huge one
            if max(n, 1) * max(k, 1) * p * q * itemsize > 2**62:
                errs.append(ValueError)
            elif n * k * p * q * itemsize > HUGE_BYTES:
                errs.append(MemoryError)
            else:
                assume(n * k * p * q * itemsize <= MAX_OUTPUT_BYTES)
                assume(max(n, 1) * max(k, 1) * p * q <= MAX_OUTPUT_BYTES)
                assume(n * k * p * q * cg * r_ * s_ <= MAX_ORACLE_WORK)
                # the oracle pads x for real ('same' with a huge dilation pads by 2**31)
                assume(max(n, 1) * c * padded[0] * padded[1] <= MAX_ORACLE_WORK)
                geometry = dict(n=n, c=c, k=k, p=p, q=q, r=r_, s=s_, cg=cg, groups=groups,
                                stride=stride, pads=pads, dil=dil)
    return dict(op=op, base=base, x=x, w=wt, errs=errs, geometry=geometry, unbatched=unbatched,
                specs=dict(stride=stride_spec, padding=pad_spec, dilation=dil_spec,
                           groups=groups_spec))


# ---- the epilogue of conv2d and linear ---------------------------------------------------------

# the C library's table: a new activation is fuzzed too, once tests/oracle.py knows it
ACTIVATIONS = tuple(fastconv._ext.ACTIVATIONS)


def draw_epilogue(draw, base, shape, errs):
    """conv2d's and linear's epilogue keywords: an activation (sometimes a misspelt one),
    sometimes a negative_slope with leaky_relu, and when the output's shape is known sometimes
    a residual (now and then of a wrong shape: ValueError).  Returns (kwargs, activation,
    slope, residual Arr or None); the residual's dtype faults are draw_array's."""
    activation = pick(draw, (None,) + ACTIVATIONS, ["tanh", "RELU", ["relu"], 0])
    if activation not in ACTIVATIONS:
        errs.append(BOTH if isinstance(activation, list) else ValueError)
    kwargs = dict(activation=activation)
    slope = 0.01
    if activation == "leaky_relu" and draw(st.booleans()):
        # |slope| <= 1: the activation does not widen the sum's error bound
        slope = kwargs["negative_slope"] = draw(st.sampled_from([0.2, 0.5, -0.25, 0.0]))
    residual = None
    if shape is not None and draw(st.integers(0, 3)) == 0:
        rshape = tuple(shape)
        if fault(draw, 15):
            rshape = rshape[:-1] + (rshape[-1] + 1,)
            errs.append(ValueError)
        residual = draw_array(draw, rshape, base, special=False)
        kwargs["residual"] = residual.api
    return kwargs, activation, slope, residual


def _epilogue_oracle(expected, bound, activation, slope, residual):
    """The oracle's sum and its error bound after the epilogue (residual float64, or None)."""
    if residual is not None:
        expected, bound = expected + residual, bound + np.abs(residual)
    return oracle.activation(expected, activation, slope), bound


def _oracle_args(g):
    return dict(stride=g["stride"], padding=g["pads"], dilation=g["dil"], groups=g["groups"])


def _batched(arr, unbatched):
    return arr[None] if unbatched else arr


@st.composite
def conv2d_calls(draw):
    set_faulty(draw)
    d = draw(conv_draw())
    x, wt, geo, errs = d["x"], d["w"], d["geometry"], list(d["errs"])
    k = geo["k"] if geo else (wt.f64.shape[0] if wt.f64 is not None and wt.f64.ndim else 1)
    bias = None
    r = draw(st.integers(0, 9))
    if r >= 4:
        bshape = draw(st.sampled_from([(), (k + 1,), (k, 1)])) if fault(draw, 15) else (k,)
        bias = draw_array(draw, bshape, d["base"])
        if bshape != (k,):
            errs.append(ValueError)
    y_shape = None
    if geo:
        y_shape = (geo["n"], geo["k"], geo["p"], geo["q"])[1 if d["unbatched"] else 0:]
    epilogue, activation, slope, residual = draw_epilogue(draw, d["base"], y_shape, errs)
    errs += _dtype_errors([x, wt, bias, residual])
    algorithm = pick(draw, ALGORITHMS, ["Winograd", "Direct", 3, ["auto"]])
    if isinstance(algorithm, list):
        errs.append(BOTH)
    elif algorithm not in ALGORITHMS:
        errs.append(ValueError)
    elif geo and algorithm == "pointwise" and (
            (geo["r"], geo["s"]) != (1, 1) or geo["stride"] != (1, 1) or
            geo["pads"] != ((0, 0), (0, 0))):
        errs.append(ValueError)
    elif geo and algorithm == "depthwise" and geo["groups"] != geo["c"]:
        errs.append(ValueError)
    elif geo and algorithm == "winograd" and (
            (geo["r"], geo["s"]) != (3, 3) or geo["stride"] != (1, 1) or
            geo["dil"] != (1, 1) or x.itemsize != 4):
        errs.append(ValueError)
    maybe = None
    ws = pick(draw, [None, None, None, 1 << 24, 2**62, 64, 4096, 1 << 16],
              [0, -1, True, 1.5, "1M", 2**62 + 1])
    if ws is not None:
        if isinstance(ws, bool) or not isinstance(ws, int):
            errs.append(TypeError)
        elif not 0 < ws <= 2**62:
            errs.append(ValueError)
        elif ws < 1 << 20 and algorithm in ("auto", "im2col", "pointwise", "winograd", None):
            maybe = ValueError  # below the algorithm's minimum workspace: documented
    kwargs = dict(d["specs"], **epilogue, algorithm=algorithm, max_workspace_bytes=ws)
    out = None
    keep = [x.api, wt.api] + ([bias.api] if bias else []) + ([residual.api] if residual else [])
    if geo and draw(st.integers(0, 3)) == 0:
        sizes = [a.itemsize for a in (x, wt, bias) if a is not None and a.itemsize]
        dtype = np.float32 if max(sizes, default=8) == 4 else np.float64
        shape = (geo["n"], geo["k"], geo["p"], geo["q"])
        if d["unbatched"]:
            shape = shape[1:]
        out, variant = draw_out(draw, shape, dtype, errs, ["alias"])
        if variant == "alias" and isinstance(x.api, np.ndarray) and x.api.size and \
                out.size and x.api.flags.writeable and not any(errs) and \
                x.api.dtype == np.dtype(dtype) and x.api.flags.c_contiguous:
            # out is a view of x's memory
            flat = x.api.reshape(-1)
            if flat.size >= out.size:
                out = flat[:out.size].reshape(shape)
                errs.append(ValueError)
        kwargs["out"] = out
    verdict = merge(errs)
    if verdict is not None:
        maybe = None

    def check(result):
        if out is not None:
            assert result is out, "conv2d did not return out"
        b64 = None if bias is None else bias.f64
        args = _oracle_args(geo)
        x4 = _batched(x.f64, d["unbatched"])
        expected = CONV2D.oracle(x4, wt.f64, b64, **args)
        bound = CONV2D.abs_bound(x4, wt.f64, b64, **args)
        expected, bound = _epilogue_oracle(
            expected, bound, activation, slope,
            None if residual is None else _batched(residual.f64, d["unbatched"]))
        length = geo["cg"] * geo["r"] * geo["s"] + (bias is not None) + (residual is not None)
        dtype = np.float32 if x.itemsize == 4 else np.float64
        if algorithm == "winograd":
            # its own rounding (tolerances.py); a NaN or an infinity spreads over the whole
            # tiles whose patches hold it, and products near the float32 range overflow in
            # the transforms (docs/design.md, "Winograd"): only finite, moderate inputs are compared
            big = [np.abs(a).max(initial=0) for a in (x4, wt.f64)]
            if all(np.isfinite(a).all() for a in (x4, wt.f64, b64) if a is not None) and \
                    big[0] * big[1] < 1e25:
                assert_winograd_close(
                    _batched(result, d["unbatched"]), expected,
                    winograd_abs_bound(x4, wt.f64, b64, geo["pads"], geo["groups"]), geo["cg"])
            return
        CONV2D.tolerance(_batched(result, d["unbatched"]), expected, bound,
                               max(length, 1), dtype)

    args = [x.api, wt.api, None if bias is None else bias.api]
    return Call("conv2d", CONV2D.fn, args, kwargs, verdict, check, maybe, keep)


# ---- conv2d_backward --------------------------------------------------------------------------

MASKS = [(True, True, True), (True, False, False), (False, True, False), (False, False, True),
         (True, True, False), (False, True, True), (False, False, False), [1, 0, 1],
         (np.True_, np.False_, np.True_)]


@st.composite
def conv2d_backward_calls(draw):
    set_faulty(draw)
    d = draw(conv_draw(backward=True))
    x, wt, geo, errs = d["x"], d["w"], d["geometry"], list(d["errs"])
    if geo:
        gshape = (geo["n"], geo["k"], geo["p"], geo["q"])
    else:
        gshape = (1, 1, 2, 2)
    # a forward output too big for memory: its grad_output cannot exist either, so the one
    # drawn has the wrong shape (ValueError), unless the size is checked first
    errs = [(MemoryError, ValueError) if e is MemoryError else e for e in errs]
    if fault(draw, 15):
        gshape = gshape[:2] + (gshape[2] + 1, gshape[3])
        errs.append(ValueError)
    if d["unbatched"]:
        gshape = gshape[1:]
    nopad = geo is not None and geo["pads"] == ((0, 0), (0, 0))
    g = draw_array(draw, gshape, d["base"], special=nopad)
    errs += _dtype_errors([x, wt, g])
    mask = pick(draw, MASKS, [None, (True, True), 3, (True,) * 4])
    if mask is None or mask == 3:
        errs.append(TypeError)
    elif len(mask) != 3:
        errs.append(ValueError)
    # weight specials are only meaningful for grad_input if no implementation multiplies
    # them by an implicit zero (zero-stuffed grad_output): keep them out of that gradient
    if isinstance(mask, (tuple, list)) and len(mask) == 3 and mask[0]:
        assume(wt.f64 is None or np.isfinite(wt.f64).all())
    verdict = merge(errs)

    def check(result):
        assert isinstance(result, tuple) and len(result) == 3
        gx, gw, gb = result
        dtype = np.float32 if x.itemsize == 4 else np.float64
        x4 = _batched(x.f64, d["unbatched"])
        g4 = _batched(g.f64, d["unbatched"])
        args = _oracle_args(geo)
        exp = CONV2D_BACKWARD.oracle(g4, x4, wt.f64, **args)
        bound = CONV2D_BACKWARD.abs_bound(g4, x4, wt.f64, **args)
        pixels = max(1, geo["n"] * geo["p"] * geo["q"])
        kg = geo["k"] // geo["groups"]
        lengths = (max(1, kg * geo["r"] * geo["s"]), pixels, pixels)
        for i, (got, want, bnd, length) in enumerate(zip((gx, gw, gb), exp, bound, lengths)):
            if not mask[i]:
                assert got is None, f"output_mask[{i}] is False but a gradient was returned"
                continue
            if i == 0:
                got = _batched(got, d["unbatched"])
            CONV2D_BACKWARD.tolerance(got, want, bnd, length, dtype)

    kwargs = dict(d["specs"], output_mask=mask)
    return Call("conv2d_backward", CONV2D_BACKWARD.fn, [g.api, x.api, wt.api], kwargs,
                verdict, check, keep=[g.api, x.api, wt.api])


# ---- conv_transpose2d and its backward --------------------------------------------------------

@st.composite
def conv_transpose_draw(draw):
    """x, weight and the geometry of a transposed convolution, with the verdict's faults (no
    NaN / infinity: x plays conv2d's grad_output, see the module's docstring)."""
    errs = []
    base = draw(st.sampled_from([np.float32, np.float64]))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    c_in, og = groups * draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    n = draw(st.sampled_from([0, 1, 2, 3]))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    unbatched = n == 1 and draw(st.booleans())
    wshape = [c_in, og, *kernel]
    if fault(draw, 10):  # weight's C_in is not x's channels
        wshape[0] += 1
        errs.append(ValueError)
    (stride_spec, stride, serr), (dil_spec, dil, derr), (pad_spec, pad, perr),         (opad_spec, opad, oerr) = (draw_pair(draw, 1, 3), draw_pair(draw, 1, 3),
                                   draw_pair(draw, 0, 3), draw_pair(draw, 0, 2))
    errs += [positive(stride, serr), positive(dil, derr), perr, oerr]
    errs += [ValueError for pair in (pad, opad) if pair is not None and min(pair) < 0]
    size = None
    if not any(errs):
        assume(max(stride + dil + pad + opad) <= 64)  # outputs of a test's size
        if any(o >= st_ and o >= d for o, st_, d in zip(opad, stride, dil)):
            errs.append(ValueError)
        size = tuple((i - 1) * st_ - 2 * p + d * (k - 1) + o + 1 for i, st_, p, d, k, o in
                     zip((h, w), stride, pad, dil, kernel, opad))
        if min(size) <= 0:
            errs.append(ValueError)
            size = None
    x = draw_array(draw, (c_in, h, w) if unbatched else (n, c_in, h, w), base, special=False)
    wt = draw_array(draw, tuple(wshape), base, special=False)
    kwargs = dict(stride=stride_spec, padding=pad_spec, output_padding=opad_spec,
                  groups=groups, dilation=dil_spec)
    pairs = dict(stride=stride, padding=pad, output_padding=opad, groups=groups, dilation=dil)
    return dict(base=base, x=x, w=wt, n=n, c_out=og * groups, size=size, unbatched=unbatched,
                errs=errs, kwargs=kwargs, pairs=pairs, length=c_in // groups * og)


@st.composite
def conv_transpose2d_calls(draw):
    set_faulty(draw)
    d = draw(conv_transpose_draw())
    x, wt, errs = d["x"], d["w"], list(d["errs"])
    bias = None
    if draw(st.booleans()):
        bshape = (d["c_out"] + (1 if fault(draw, 8) else 0),)
        if bshape != (d["c_out"],):
            errs.append(ValueError)
        bias = draw_array(draw, bshape, d["base"], special=False)
    activation = draw(st.sampled_from([None, "relu", "relu6", "leaky_relu"]))
    errs += _dtype_errors([x, wt, bias])
    verdict = merge(errs)

    def check(y):
        dtype = np.float32 if x.itemsize == 4 else np.float64
        x4 = _batched(x.f64, d["unbatched"])
        b = None if bias is None else bias.f64
        expected = CONV_TRANSPOSE2D.oracle(x4, wt.f64, b, **d["pairs"])
        bound = CONV_TRANSPOSE2D.abs_bound(x4, wt.f64, b, **d["pairs"])
        if activation is not None:
            expected, bound = oracle.activation(expected, activation), np.abs(bound)
        length = d["length"] * wt.f64.shape[2] * wt.f64.shape[3] + 1
        CONV_TRANSPOSE2D.tolerance(_batched(y, d["unbatched"]), expected, bound, length, dtype)

    args = [x.api, wt.api] + ([] if bias is None else [bias.api])
    return Call("conv_transpose2d", CONV_TRANSPOSE2D.fn, args,
                dict(d["kwargs"], activation=activation), verdict, check,
                keep=[a.api for a in (x, wt, bias) if a is not None])


@st.composite
def conv_transpose2d_backward_calls(draw):
    set_faulty(draw)
    d = draw(conv_transpose_draw())
    x, wt, errs = d["x"], d["w"], list(d["errs"])
    size = d["size"] or (2, 2)
    gshape = (d["n"], d["c_out"]) + size
    if fault(draw, 10):
        gshape = gshape[:2] + (gshape[2] + 1, gshape[3])
        errs.append(ValueError)
    g = draw_array(draw, gshape[1:] if d["unbatched"] else gshape, d["base"], special=False)
    errs += _dtype_errors([x, wt, g])
    mask = pick(draw, MASKS, [None, (True, True), 3])
    if mask is None or mask == 3:
        errs.append(TypeError)
    elif len(mask) != 3:
        errs.append(ValueError)
    verdict = merge(errs)

    def check(result):
        assert isinstance(result, tuple) and len(result) == 3
        dtype = np.float32 if x.itemsize == 4 else np.float64
        x4, g4 = _batched(x.f64, d["unbatched"]), _batched(g.f64, d["unbatched"])
        expected = CONV_TRANSPOSE2D_BACKWARD.oracle(g4, x4, wt.f64, **d["pairs"])
        bounds = CONV_TRANSPOSE2D_BACKWARD.abs_bound(g4, x4, wt.f64, **d["pairs"])
        taps = wt.f64.shape[2] * wt.f64.shape[3]
        lengths = (max(1, wt.f64.shape[1] * taps), max(1, x4.shape[0] * x4.shape[2] *
                                                        x4.shape[3]),
                   max(1, g4.shape[0] * g4.shape[2] * g4.shape[3]))
        for i, (got, want, bound, length) in enumerate(zip(result, expected, bounds, lengths)):
            if not mask[i]:
                assert got is None, f"output_mask[{i}] is False but a gradient was returned"
                continue
            if i == 0:
                got = _batched(got, d["unbatched"])
            CONV_TRANSPOSE2D_BACKWARD.tolerance(got, want, bound, length, dtype)

    return Call("conv_transpose2d_backward", CONV_TRANSPOSE2D_BACKWARD.fn,
                [g.api, x.api, wt.api], dict(d["kwargs"], output_mask=mask), verdict, check,
                keep=[g.api, x.api, wt.api])


# ---- pooling ----------------------------------------------------------------------------------

@st.composite
def pool_draw(draw, op, dilation, shape_only=False):
    """kernel_size, stride, padding, dilation, ceil_mode and the input's shape; verdict."""
    errs = []
    kspec, kernel, kerr = draw_pair(draw, 1, 5)
    kerr = positive(kernel, kerr)
    if draw(st.booleans()):
        sspec, stride, serr = None, kernel, None
    else:
        sspec, stride, serr = draw_pair(draw, 1, 4)
        serr = positive(stride, serr)
        if sspec is None or (isinstance(sspec, (tuple, list)) and not sspec):
            stride, serr = kernel, None  # the default; torch's pools read () / [] as it too
    pspec, pads, perr = draw_pair(draw, 0, 2)
    if dilation:
        dspec, dil, derr = draw_pair(draw, 1, 3)
        derr = positive(dil, derr)
    else:
        dspec, dil, derr = None, (1, 1), None
    ceil_errs = []  # (ceil_mode is looked at after the padding checks)
    ceil = draw_bool_flag(draw, ceil_errs)
    n = draw(st.sampled_from([0, 1, 1, 2, 3]))
    c = draw(st.sampled_from([1, 1, 2, 3, 5]))
    h, w = draw_extent(draw), draw_extent(draw)
    if fault(draw, 20):
        which = draw(st.integers(0, 2))
        c, h, w = [0 if i == which else v for i, v in enumerate((c, h, w))]
    unbatched = n == 1 and draw(st.booleans())
    shape = (c, h, w) if unbatched else (n, c, h, w)
    if not shape_only and fault(draw, 30):
        shape = draw(st.sampled_from([(), (h,), (h, w), (n, c, h, w, 1)]))
        errs.append(ValueError)
    elif 0 in shape[-3:]:
        errs.append(ValueError)
    errs += [kerr, serr, perr, derr]
    geometry = None
    if not any(errs):
        if min(pads) < 0 or pads[0] > kernel[0] // 2 or pads[1] > kernel[1] // 2:
            errs.append(ValueError)
        elif ceil_errs:
            errs += ceil_errs
        else:
            p = oracle.pool_output_size(h, kernel[0], stride[0], pads[0], dil[0], bool(ceil))
            q = oracle.pool_output_size(w, kernel[1], stride[1], pads[1], dil[1], bool(ceil))
            if p < 1 or q < 1:
                errs.append(ValueError)
            elif max(n, 1) * c * p * q * 8 > 2**62:
                errs.append(ValueError)
            else:
                assume(max(n, 1) * c * p * q * 8 <= MAX_OUTPUT_BYTES)
                assume(p * q * kernel[0] * kernel[1] * max(n * c, 1) <= MAX_ORACLE_WORK)
                geometry = dict(n=n, c=c, p=p, q=q, kernel=kernel, stride=stride, pads=pads,
                                dil=dil, ceil=bool(ceil))
    specs = dict(kernel_size=kspec, stride=sspec, padding=pspec, ceil_mode=ceil)
    if dilation:
        specs["dilation"] = dspec
    return dict(op=op, shape=shape, unbatched=unbatched, errs=errs, geometry=geometry,
                specs=specs)


@st.composite
def pool_forward_draw(draw, op, dilation):
    """pool_draw's geometry, x, and the verdict so far."""
    d = draw(pool_draw(op, dilation))
    x = draw_array(draw, d["shape"], draw(st.sampled_from([np.float32, np.float64])))
    return d, x, d["errs"] + _dtype_errors([x])


@st.composite
def max_pool2d_calls(draw):
    set_faulty(draw)
    d, x, errs = draw(pool_forward_draw("max_pool2d", dilation=True))
    ret = draw_bool_flag(draw, errs)
    geo = d["geometry"]

    def check(result):
        if ret:
            assert isinstance(result, tuple) and len(result) == 2
            y, idx = result
        else:
            y, idx = result, None
        x4 = _batched(x.f64, d["unbatched"])
        ey, eidx = MAX_POOL2D.oracle(x4, geo["kernel"], geo["stride"], geo["pads"], geo["dil"],
                                     geo["ceil"]) if x4.shape[0] else (
            np.zeros((0, geo["c"], geo["p"], geo["q"])),
            np.zeros((0, geo["c"], geo["p"], geo["q"]), np.int64))
        dtype = np.float32 if x.itemsize == 4 else np.float64
        MAX_POOL2D.tolerance(_batched(y, d["unbatched"]), ey.astype(dtype))
        if idx is not None:
            MAX_POOL2D.tolerance(_batched(idx, d["unbatched"]), eidx)

    kwargs = dict(d["specs"], return_indices=ret)
    return Call("max_pool2d", MAX_POOL2D.fn, [x.api], kwargs, merge(errs), check,
                keep=[x.api])


def _avg_oracle(geo, count_include_pad):
    return (geo["kernel"], geo["stride"], geo["pads"], geo["ceil"], bool(count_include_pad))


@st.composite
def avg_pool2d_calls(draw):
    set_faulty(draw)
    d, x, errs = draw(pool_forward_draw("avg_pool2d", dilation=False))
    cip = draw_bool_flag(draw, errs)
    geo = d["geometry"]

    def check(y):
        x4 = _batched(x.f64, d["unbatched"])
        dtype = np.float32 if x.itemsize == 4 else np.float64
        if not x4.shape[0]:
            assert y.shape == _batched(np.zeros((0, geo["c"], geo["p"], geo["q"])),
                                       d["unbatched"]).shape and y.dtype == dtype
            return
        a = _avg_oracle(geo, cip)
        AVG_POOL2D.tolerance(_batched(y, d["unbatched"]), AVG_POOL2D.oracle(x4, *a),
                               AVG_POOL2D.abs_bound(x4, *a),
                               1 + geo["kernel"][0] * geo["kernel"][1], dtype)

    kwargs = dict(d["specs"], count_include_pad=cip)
    return Call("avg_pool2d", AVG_POOL2D.fn, [x.api], kwargs, merge(errs), check,
                keep=[x.api])


def draw_input_shape(draw, shape):
    """(spec, verdict): input_shape as users pass it, sometimes invalid or huge."""
    r = draw(st.integers(0, 99 if FAULTY[0] else 79))
    if r < 80:
        return draw(st.sampled_from([tuple(shape), list(shape),
                                     tuple(np.int64(v) for v in shape),
                                     np.array(shape)])), None
    if r < 85:
        return tuple(shape[:-1]) + (1.5,), TypeError
    if r < 88:
        return None, TypeError
    if r < 92:
        return draw(st.sampled_from([(2, 2), (1, 1, 1, 2, 2), ()])), ValueError
    if r < 95:
        return tuple(shape[:-3]) + (0,) + tuple(shape[-2:]), ValueError
    return tuple(shape[:-1]) + (draw(st.sampled_from([2**63, -1, 2**62 + 1])),), ValueError


# ---- max_pool2d_backward ----------------------------------------------------------------------

@st.composite
def max_pool2d_backward_calls(draw):
    set_faulty(draw)
    base = draw(st.sampled_from([np.float32, np.float64]))
    n = draw(st.sampled_from([0, 1, 1, 2, 3]))
    c = draw(st.sampled_from([1, 2, 3]))
    h, w = draw_extent(draw), draw_extent(draw)
    unbatched = n == 1 and draw(st.booleans())
    shape = (c, h, w) if unbatched else (n, c, h, w)
    errs = []
    huge = fault(draw, 25)
    if huge:
        # an input_shape whose gradient exceeds 2**62 bytes (ValueError) or any machine's
        # memory (MemoryError)
        big = draw(st.sampled_from([2**31, 2**24]))
        shape = shape[:-2] + (big, big)
        h, w = shape[-2:]
        ishape_spec, ierr = tuple(shape), None
    else:
        ishape_spec, ierr = draw_input_shape(draw, shape)
    errs.append(ierr)
    pq = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    gshape = shape[:-2] + pq
    if fault(draw, 20):
        gshape = draw(st.sampled_from([shape[:-2] + (0, pq[1]), shape[:-3] + (c + 1,) + pq,
                                       pq]))
        if ierr is None:
            errs.append(ValueError)
    g = draw_array(draw, gshape, base)
    errs += _dtype_errors([g])
    # indices: in [-1, H*W) (some from real windows), sometimes out of range or not integer
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    plane = min(h * w, 2**62)
    idx = rng.integers(-1, plane, gshape, dtype=np.int64)
    r = draw(st.integers(0, 99))
    if not FAULTY[0] and 10 <= r < 22:
        r = 99
    idx_dtype = np.int64
    if r < 10:
        idx_dtype = draw(st.sampled_from([np.int32, np.uint16, np.uint64, np.int16, ">i8"]))
        if plane > np.iinfo(np.dtype(idx_dtype)).max:
            idx = idx % min(plane, 1000)
        if np.dtype(idx_dtype).kind == "u":
            idx = np.abs(idx)
        idx = idx.astype(idx_dtype)
    elif r < 15:
        if idx.size:
            idx.reshape(-1)[rng.integers(0, idx.size)] = draw(
                st.sampled_from([plane, -2, plane + 7, -2**63, 2**63 - 1]))
    elif r < 19:
        idx = idx.astype(draw(st.sampled_from([np.float64, np.float32, np.bool_, object])))
    elif r < 22:
        idx = idx[..., :1] if gshape and gshape[-1] > 1 else np.zeros(gshape + (1,), np.int64)
        errs.append(ValueError)
    if isinstance(idx, np.ndarray) and idx.ndim and draw(st.booleans()):
        idx = _layout(draw, np.ascontiguousarray(idx))
    # judged after the layout: a broadcast may hide a bad index, a list of objects is ints
    final = np.asarray(idx)
    if final.dtype.kind not in "iu":
        errs.append(TypeError)
    elif final.size and ((final < -1) | (final >= plane)).any():
        errs.append(ValueError)
    if huge:
        planes = shape[0] if len(shape) == 4 else 1
        errs.append(ValueError if big == 2**31 else MemoryError if planes else None)
    verdict = merge(errs)
    maybe = None

    def check(gx):
        s4 = shape if len(shape) == 4 else (1,) + tuple(shape)
        g4 = g.f64.reshape(s4[:2] + pq)
        i4 = np.asarray(idx).reshape(g4.shape)
        exp = MAX_POOL2D_BACKWARD.oracle(g4, i4, s4)
        bnd = MAX_POOL2D_BACKWARD.abs_bound(g4, i4, s4)
        flat = i4.reshape(-1, pq[0] * pq[1])
        length = 1
        for row in flat:
            row = row[row >= 0]
            if row.size:
                length = max(length, int(np.bincount(row.astype(np.int64)).max()))
        dtype = np.float32 if g.itemsize == 4 else np.float64
        MAX_POOL2D_BACKWARD.tolerance(gx.reshape(s4), exp, bnd, length, dtype)

    return Call("max_pool2d_backward", MAX_POOL2D_BACKWARD.fn, [g.api, idx, ishape_spec],
                {}, verdict, check, maybe, keep=[g.api, idx])


# ---- avg_pool2d_backward ----------------------------------------------------------------------

@st.composite
def avg_pool2d_backward_calls(draw):
    set_faulty(draw)
    d = draw(pool_draw("avg_pool2d_backward", dilation=False, shape_only=True))
    base = draw(st.sampled_from([np.float32, np.float64]))
    geo, errs = d["geometry"], list(d["errs"])
    shape = d["shape"]
    ishape_spec, ierr = draw_input_shape(draw, shape)
    errs.append(ierr)
    if geo:
        gshape = (geo["n"], geo["c"], geo["p"], geo["q"])
        if d["unbatched"]:
            gshape = gshape[1:]
    else:
        gshape = tuple(shape[:-2]) + (1, 1)
    if fault(draw, 20):
        gshape = gshape[:-1] + (gshape[-1] + 1,)
        errs.append(ValueError)
    g = draw_array(draw, gshape, base)
    errs += _dtype_errors([g])
    cip = draw_bool_flag(draw, errs)

    def check(gx):
        dtype = np.float32 if g.itemsize == 4 else np.float64
        s4 = shape if len(shape) == 4 else (1,) + tuple(shape)
        g4 = g.f64.reshape((s4[0], s4[1], geo["p"], geo["q"]))
        a = _avg_oracle(geo, cip)
        AVG_POOL2D_BACKWARD.tolerance(gx.reshape(s4), AVG_POOL2D_BACKWARD.oracle(g4, s4, *a),
                               AVG_POOL2D_BACKWARD.abs_bound(g4, s4, *a),
                               1 + geo["kernel"][0] * geo["kernel"][1], dtype)

    kwargs = dict(d["specs"], count_include_pad=cip)
    return Call("avg_pool2d_backward", AVG_POOL2D_BACKWARD.fn, [g.api, ishape_spec],
                kwargs, merge(errs), check, keep=[g.api])


# ---- adaptive_avg_pool2d and its backward ------------------------------------------------------

def _draw_adaptive_size(draw, h, w):
    """(spec, (P, Q) or None, error) for output_size: ints, pairs with None entries, faults."""
    r = draw(st.integers(0, 99 if FAULTY[0] else 89))
    if r < 30:
        v = draw(st.integers(1, 9))
        return draw(st.sampled_from([v, np.int64(v), (v,)])), (v, v), None
    if r < 90:
        p, q = draw(st.sampled_from([None, 1, 2, 3, 5, 8, 20])), \
            draw(st.sampled_from([None, 1, 2, 3, 7, 33]))
        spec = draw(st.sampled_from([(p, q), [p, q]]))
        return spec, (h if p is None else p, w if q is None else q), None
    if r < 95:
        return draw(st.sampled_from([0, (0, 2), (2, -1)])), None, ValueError
    return draw(st.sampled_from([1.5, "2", (1.0, 2)])), None, TypeError


def _adaptive_shape(draw):
    n = draw(st.sampled_from([0, 1, 1, 2, 3]))
    c = draw(st.sampled_from([1, 2, 3]))
    h, w = draw_extent(draw), draw_extent(draw)
    unbatched = n == 1 and draw(st.booleans())
    return ((c, h, w) if unbatched else (n, c, h, w)), unbatched


@st.composite
def adaptive_avg_pool2d_calls(draw):
    set_faulty(draw)
    base = draw(st.sampled_from([np.float32, np.float64]))
    shape, unbatched = _adaptive_shape(draw)
    errs = []
    if fault(draw, 20):
        shape = draw(st.sampled_from([(), (shape[-1],), shape[-2:], (1,) + shape[-3:-1] + (0,)]))
        errs.append(ValueError)
    x = draw_array(draw, shape, base)
    spec, size, serr = _draw_adaptive_size(draw, shape[-2] if len(shape) > 1 else 1,
                                           shape[-1] if shape else 1)
    # the order fastconv checks in: x's dtype, its shape, then output_size
    verdict = next((e for e in _dtype_errors([x]) + errs + [serr] if e), None)

    def check(y):
        x4 = _batched(x.f64, unbatched)
        dtype = np.float32 if x.itemsize == 4 else np.float64
        y4 = _batched(y, unbatched)
        assert y4.shape == x4.shape[:2] + size and y.dtype == dtype
        if x4.shape[0]:
            longest = -(-x4.shape[2] // size[0]) + 1, -(-x4.shape[3] // size[1]) + 1
            ADAPTIVE_AVG_POOL2D.tolerance(y4, ADAPTIVE_AVG_POOL2D.oracle(x4, size),
                                          ADAPTIVE_AVG_POOL2D.abs_bound(x4, size),
                                          1 + longest[0] * longest[1], dtype)

    return Call("adaptive_avg_pool2d", ADAPTIVE_AVG_POOL2D.fn, [x.api, spec], {}, verdict,
                check, keep=[x.api])


@st.composite
def adaptive_avg_pool2d_backward_calls(draw):
    set_faulty(draw)
    base = draw(st.sampled_from([np.float32, np.float64]))
    shape, unbatched = _adaptive_shape(draw)
    ishape_spec, ierr = draw_input_shape(draw, shape)
    p, q = draw(st.sampled_from([1, 2, 3, 7, 20])), draw(st.sampled_from([1, 2, 5, 33]))
    gshape = tuple(shape[:-2]) + (p, q)
    errs = []
    if fault(draw, 20):
        gshape = gshape[1:] if len(gshape) == 4 else (2,) + gshape
        errs.append(ValueError)
    g = draw_array(draw, gshape, base)
    verdict = next((e for e in _dtype_errors([g]) + [ierr] + errs if e), None)

    def check(gx):
        dtype = np.float32 if g.itemsize == 4 else np.float64
        s4 = shape if len(shape) == 4 else (1,) + tuple(shape)
        g4 = g.f64.reshape((s4[0], s4[1], p, q))
        # the terms summed into one input element: the windows that cover it, up to
        # ceil(P / H) + 1 along a side whose output is larger than the input (a (4, 1) input
        # under a (7, 33) gradient takes 33 windows along w), else 2
        covering = -(-p // s4[2]) + 1, -(-q // s4[3]) + 1
        ADAPTIVE_AVG_POOL2D_BACKWARD.tolerance(
            gx.reshape(s4), ADAPTIVE_AVG_POOL2D_BACKWARD.oracle(g4, s4),
            ADAPTIVE_AVG_POOL2D_BACKWARD.abs_bound(g4, s4), 1 + covering[0] * covering[1],
            dtype)

    return Call("adaptive_avg_pool2d_backward", ADAPTIVE_AVG_POOL2D_BACKWARD.fn,
                [g.api, ishape_spec], {}, verdict, check, keep=[g.api])


# ---- relu and relu_backward -------------------------------------------------------------------

def draw_any_shape(draw):
    ndim = draw(st.sampled_from([0, 1, 1, 2, 3, 4, 4, 5]))
    dims = [draw(st.sampled_from([0, 1, 2, 3, 5, 7, 16, 17, 33, 64, 65]))
            if i == ndim - 1 else draw(st.sampled_from([0, 1, 1, 2, 3, 4])) for i in range(ndim)]
    return tuple(dims)


def _out_variant(draw, shape, dtype, source, in_place_ok):
    """(out or None, errs, in_place): a drawn out= for an elementwise op.

    source is the array in-place calls alias (x for relu, grad_output for relu_backward)."""
    r = draw(st.integers(0, 9))
    if r < 5:
        return None, [], False
    if r == 5 and in_place_ok and isinstance(source.api, np.ndarray):
        a = source.api
        errs = []
        if a.dtype != np.dtype(dtype):  # big-endian or another dtype
            errs.append(TypeError if source.error is None else BOTH)
        if not a.flags.c_contiguous or not a.flags.writeable or not a.flags.aligned:
            errs.append(ValueError)
        return a, errs, True
    errs = []
    out, variant = draw_out(draw, shape, dtype, errs, ["overlap"])
    if variant == "overlap":
        a = source.api
        if isinstance(a, np.ndarray) and a.size > 1 and a.flags.c_contiguous and \
                a.flags.writeable and a.dtype == np.dtype(dtype) and a.flags.aligned and \
                a.base is not None and a.base.size > a.size:
            # only for sources drawn with a spare element after them (see _spare)
            out = np.ndarray(a.shape, a.dtype, buffer=a.base, offset=a.dtype.itemsize)
            errs.append(ValueError)
    return out, errs, False


def _spare(draw, arr):
    """arr moved into a buffer one element longer, so that an out= can overlap it shifted."""
    a = arr.api
    if arr.error or not (isinstance(a, np.ndarray) and a.size > 1 and a.dtype.isnative) or \
            draw(st.integers(0, 4)):
        return arr
    buf = np.empty(a.size + 1, a.dtype)
    buf[:-1] = a.reshape(-1)
    return Arr(buf[:-1].reshape(a.shape))


def _elementwise_calls(draw, row):
    """A call of the elementwise op of `row` (relu, relu6, leaky_relu) on x, out= or in place."""
    set_faulty(draw)
    base = draw(st.sampled_from([np.float32, np.float64]))
    shape = draw_any_shape(draw)
    x = _spare(draw, draw_array(draw, shape, base))
    errs = _dtype_errors([x])
    dtype = np.float32 if (x.itemsize or 4) == 4 else np.float64
    out, oerrs, in_place = _out_variant(draw, shape, dtype, x, True)
    errs += oerrs
    kwargs = {} if out is None else dict(out=out)
    before = x.f64

    def check(y):
        if out is not None:
            assert y is out, f"{row.name} did not return out"
        src = np.asarray(before if in_place else x.api)
        expected = row.oracle(src.astype(np.dtype(dtype)))
        row.tolerance(y, expected)

    if in_place and x.f64 is not None:
        # in place, x is the output: compare it to the oracle of a copy taken before
        before = np.array(x.api, copy=True)
    keep = [] if in_place else [x.api]
    return Call(row.name, row.fn, [x.api], kwargs, merge(errs), check, keep=keep)


def _elementwise_backward_calls(draw, row):
    """A call of the elementwise backward op of `row` on (grad_output, the forward's array),
    out= or in place."""
    set_faulty(draw)
    base = draw(st.sampled_from([np.float32, np.float64]))
    shape = draw_any_shape(draw)
    g = _spare(draw, draw_array(draw, shape, base))
    yshape = shape
    errs = []
    if fault(draw, 15):
        yshape = shape + (1,) if draw(st.booleans()) or not shape else shape[:-1]
        errs.append(ValueError)
    y = draw_array(draw, yshape, base)
    errs += _dtype_errors([g, y])
    dtype = np.float32 if (g.itemsize or 4) == 4 else np.float64
    out, oerrs, in_place = _out_variant(draw, shape, dtype, g, True)
    errs += oerrs
    kwargs = {} if out is None else dict(out=out)
    g_before = np.array(g.api, copy=True) if in_place else None

    def check(result):
        if out is not None:
            assert result is out, f"{row.name} did not return out"
        src = g_before if in_place else np.asarray(g.api)
        expected = row.oracle(src.astype(np.dtype(dtype)), y.f64)
        row.tolerance(result, expected)

    keep = [y.api] + ([] if in_place else [g.api])
    return Call(row.name, row.fn, [g.api, y.api], kwargs, merge(errs), check, keep=keep)


# the drawers <op>_calls of the elementwise rows (relu_calls, relu6_backward_calls, ...)
for _forward, _backward in ((RELU, RELU_BACKWARD), (RELU6, RELU6_BACKWARD),
                            (LEAKY_RELU, LEAKY_RELU_BACKWARD)):
    globals()[f"{_forward.name}_calls"] = st.composite(
        lambda draw, row=_forward: _elementwise_calls(draw, row))
    globals()[f"{_backward.name}_calls"] = st.composite(
        lambda draw, row=_backward: _elementwise_backward_calls(draw, row))
del _forward, _backward


# add: (a, b) as an elementwise backward's (grad_output, the forward's array), out= or in place
add_calls = st.composite(lambda draw: _elementwise_backward_calls(draw, ADD))


# ---- batch_norm and its backward ----------------------------------------------------------------

def _bn_draw(draw):
    """(x, weight, shape, dtype, errs) of a batch_norm draw: (N, C, *spatial) of 0-2 spatial
    axes, no specials (one inf makes a whole channel NaN, where the bound says nothing)."""
    set_faulty(draw)
    base = draw(st.sampled_from([np.float32, np.float64]))
    c = draw(st.integers(1, 4))
    shape = (draw(st.sampled_from([0, 1, 2, 3, 5])), c) + tuple(
        draw(st.lists(st.integers(1, 9), max_size=2)))
    x = draw_array(draw, shape, base, special=False)
    w = draw(st.sampled_from([None, "array"]))
    w = None if w is None else draw_array(draw, (c,), base, special=False)
    errs = _dtype_errors([x, w])
    dtype = np.dtype(np.float32 if (x.itemsize or 4) == 4 else np.float64)
    return x, w, shape, dtype, errs


@st.composite
def batch_norm_calls(draw):
    x, w, shape, dtype, errs = _bn_draw(draw)
    training = draw(st.booleans())
    count = int(np.prod(shape)) // shape[1]
    if training and count == 1:  # (an empty batch normalises nothing, as torch)
        errs.append(ValueError)
    stats = draw(st.booleans()) or not training
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rm = rng.standard_normal(shape[1]).astype(dtype) if stats else None
    rv = rng.uniform(0.1, 3, shape[1]).astype(dtype) if stats else None
    before = (None, None) if rm is None else (rm.copy(), rm.copy())
    if rm is not None:
        before = (rm.copy(), rv.copy())
    momentum = draw(st.sampled_from([0.1, 0.0, 1.0, 0.5]))
    kwargs = dict(training=training, momentum=momentum)

    def check(y):
        if count == 0:  # nothing to normalise: an empty y, the running statistics unchanged
            assert y.shape == shape
            if rm is not None:
                assert_exact(rm, before[0])
                assert_exact(rv, before[1])
            return
        expected = oracle.batch_norm(x.f64, before[0], before[1], None if w is None else w.f64,
                                     None, training, momentum, 1e-5)
        BATCH_NORM.tolerance(y, expected[0], expected[5], count + 4, dtype)
        if training and rm is not None:
            tol = 64 * count * np.finfo(dtype).eps
            np.testing.assert_allclose(rm, expected[3], rtol=tol, atol=tol)
            np.testing.assert_allclose(rv, expected[4], rtol=tol, atol=tol)

    return Call("batch_norm", BATCH_NORM.fn, [x.api, rm, rv, None if w is None else w.api],
                kwargs, merge(errs), check, keep=[x.api] + ([] if w is None else [w.api]))


@st.composite
def batch_norm_backward_calls(draw):
    x, w, shape, dtype, errs = _bn_draw(draw)
    g = draw_array(draw, shape, dtype.type, special=False)
    errs += _dtype_errors([x, w, g])
    training = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    mean = rng.standard_normal(shape[1]).astype(dtype)
    invstd = rng.uniform(0.3, 3, shape[1]).astype(dtype)
    count = max(int(np.prod(shape)) // shape[1], 1)

    def check(result):
        expected, bounds = oracle.batch_norm_backward(g.f64, x.f64,
                                                      None if w is None else w.f64, mean,
                                                      invstd, training)
        for actual, e, bound in zip(result, expected, bounds):
            BATCH_NORM_BACKWARD.tolerance(actual, e, bound, count + 4, dtype)

    return Call("batch_norm_backward", BATCH_NORM_BACKWARD.fn,
                [g.api, x.api, None if w is None else w.api, mean, invstd],
                dict(training=training), merge(errs), check,
                keep=[g.api, x.api] + ([] if w is None else [w.api]))


# ---- linear and linear_backward -------------------------------------------------------------

# one draw in four is "wide": feature counts around the GEMM's register tiles (8x32, 6x16, 4x4)
# and reductions past a kc block
LINEAR_IN = [0, 1, 2, 3, 4, 5]
LINEAR_IN_WIDE = [1, 7, 8, 9, 31, 33, 64, 257, 300]
LINEAR_OUT = [0, 1, 2, 3, 4, 5]
LINEAR_OUT_WIDE = [5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 70]
LINEAR_LEAD = [(), (1,), (2,), (3,), (0,), (7,), (9,), (33,), (65,), (2, 3), (1, 0, 2)]


@st.composite
def linear_draw(draw, op):
    """x (..., in_features) and weight (out_features, in_features): arrays, the verdict so far
    (in the order fastconv.functional checks) and the output's shape (None if invalid)."""
    base = draw(st.sampled_from([np.float32, np.float64]))
    wide = draw(st.integers(0, 3)) == 0
    k = draw(st.sampled_from(LINEAR_IN_WIDE if wide else LINEAR_IN))
    o = draw(st.sampled_from(LINEAR_OUT_WIDE if wide else LINEAR_OUT))
    lead = draw(st.sampled_from(LINEAR_LEAD))
    xk = k + draw(st.integers(1, 3)) if fault(draw, 10) else k  # mismatched in_features
    xshape, wshape = lead + (xk,), (o, k)
    rank = draw(st.integers(0, 19)) if FAULTY[0] else 2
    if rank == 0:
        xshape = ()
    elif rank == 1:
        wshape = draw(st.sampled_from([(k,), (o, k, 1), ()]))
    x = draw_array(draw, xshape, base)
    wt = draw_array(draw, wshape, base)
    errs = []
    shape = None
    if len(xshape) < 1 or len(wshape) != 2 or xshape[-1] != wshape[1]:
        errs.append(ValueError)
    else:
        shape = lead + (o,)
        rows = int(np.prod(lead))
        assume(rows * max(o, 1) * max(k, 1) <= MAX_ORACLE_WORK)
    return dict(op=op, base=base, x=x, w=wt, errs=errs, shape=shape, k=k, o=o)


def _linear_check_forward(result, x, wt, bias, activation, k, slope=0.01, residual=None):
    dtype = np.float32 if x.itemsize == 4 else np.float64
    b64 = None if bias is None else bias.f64
    expected, bound = _epilogue_oracle(
        LINEAR.oracle(x.f64, wt.f64, b64), LINEAR.abs_bound(x.f64, wt.f64, b64), activation,
        slope, None if residual is None else residual.f64)
    LINEAR.tolerance(result, expected, bound,
                     max(1, k + (bias is not None) + (residual is not None)), dtype)


@st.composite
def linear_calls(draw):
    set_faulty(draw)
    d = draw(linear_draw("linear"))
    x, wt, errs, shape = d["x"], d["w"], list(d["errs"]), d["shape"]
    bias = None
    if draw(st.integers(0, 9)) >= 4:
        bshape = (d["o"],)
        if fault(draw, 15):
            bshape = draw(st.sampled_from([(), (d["o"] + 1,), (d["o"], 1)]))
            errs.append(ValueError)
        bias = draw_array(draw, bshape, d["base"])
    kwargs, activation, slope, residual = draw_epilogue(draw, d["base"], shape, errs)
    errs += _dtype_errors([x, wt, bias, residual])
    out = None
    if shape is not None and draw(st.integers(0, 3)) == 0:
        sizes = [a.itemsize for a in (x, wt, bias) if a is not None and a.itemsize]
        dtype = np.float32 if max(sizes, default=8) == 4 else np.float64
        out, variant = draw_out(draw, shape, dtype, errs, ["alias"])
        if variant == "alias" and isinstance(x.api, np.ndarray) and x.api.size >= out.size and \
                out.size and x.api.flags.writeable and x.api.flags.c_contiguous and \
                x.api.dtype == np.dtype(dtype) and not any(errs):
            out = x.api.reshape(-1)[:out.size].reshape(shape)  # out is a view of x's memory
            errs.append(ValueError)
        kwargs["out"] = out

    def check(result):
        if out is not None:
            assert result is out, "linear did not return out"
        assert result.shape == shape
        _linear_check_forward(result, x, wt, bias, activation, d["k"], slope, residual)

    args = [x.api, wt.api, None if bias is None else bias.api]
    keep = [x.api, wt.api] + ([bias.api] if bias else []) + ([residual.api] if residual else [])
    return Call("linear", LINEAR.fn, args, kwargs, merge(errs), check, keep=keep)


@st.composite
def linear_backward_calls(draw):
    set_faulty(draw)
    d = draw(linear_draw("linear_backward"))
    x, wt, errs, shape = d["x"], d["w"], list(d["errs"]), d["shape"]
    gshape = shape if shape is not None else (2, 2)
    if fault(draw, 15):
        gshape = gshape[:-1] + (gshape[-1] + 1,) if gshape else (1,)
        errs.append(ValueError)
    g = draw_array(draw, gshape, d["base"])
    errs += _dtype_errors([x, wt, g])
    mask = pick(draw, MASKS, [None, (True, True), 3, (True,) * 4])
    if mask is None or mask == 3:
        errs.append(TypeError)
    elif len(mask) != 3:
        errs.append(ValueError)

    def check(result):
        assert isinstance(result, tuple) and len(result) == 3
        dtype = np.float32 if x.itemsize == 4 else np.float64
        exp = LINEAR_BACKWARD.oracle(g.f64, x.f64, wt.f64)
        bound = LINEAR_BACKWARD.abs_bound(g.f64, x.f64, wt.f64)
        rows = max(1, int(np.prod(x.f64.shape[:-1])))
        for i, (got, want, bnd, length) in enumerate(zip(result, exp, bound,
                                                         (max(1, d["o"]), rows, rows))):
            if not mask[i]:
                assert got is None, f"output_mask[{i}] is False but a gradient was returned"
                continue
            LINEAR_BACKWARD.tolerance(got, want, bnd, length, dtype)

    return Call("linear_backward", LINEAR_BACKWARD.fn, [g.api, x.api, wt.api],
                dict(output_mask=mask), merge(errs), check, keep=[g.api, x.api, wt.api])


# ---- image filtering --------------------------------------------------------------------------

PIXEL_DTYPES = [np.uint8, np.uint16, np.int16, np.float32, np.float64]
BORDERS = ["constant", "replicate", "reflect", "reflect101", "wrap"]


def _draw_image(draw, errs):
    """An image of any of filter2d's layouts, dtypes and strides (or a bad one in a faulty
    draw), with values whose products and sums stay finite."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    ndim = draw(st.sampled_from([2, 3, 4]))
    shape = tuple(draw(st.sampled_from(SIZES)) for _ in range(2))
    if ndim >= 3:
        shape = shape + (draw(st.sampled_from([1, 2, 3, 4])),)
    if ndim == 4:
        shape = (draw(st.sampled_from([0, 1, 2])),) + shape
    dtype = draw(st.sampled_from(PIXEL_DTYPES))
    if fault(draw, 6):
        dtype = draw(st.sampled_from([np.float16, np.int32, np.bool_, np.complex64, object]))
        errs.append(TypeError)
    if fault(draw, 8):
        shape = draw(st.sampled_from([(5,), (1, 2, 3, 4, 5), (0, 4), (4, 0, 3)]))
        errs.append(ValueError)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    lo, hi = (info.min, info.max + 1) if info is not None else (-100, 100)
    values = rng.integers(lo, hi, shape) if dtype is not object else np.zeros(shape)
    x = values.astype(dtype) if np.dtype(dtype).kind != "f" or dtype == np.float16 else \
        (values + rng.random(shape)).astype(dtype)
    layout = draw(st.integers(0, 5))
    if layout == 1 and x.ndim >= 2:
        x = x[::-1]
    elif layout == 2 and x.ndim >= 2:
        x = np.ascontiguousarray(np.repeat(x, 2, axis=1))[:, ::2]
    elif layout == 3 and x.dtype.kind in "fiu" and x.dtype.itemsize > 1:
        x = x.astype(x.dtype.newbyteorder(">"))
    elif layout == 4:
        x.flags.writeable = False
    return x


def _filter_check(op, x, kernel, kwargs):
    """check(y): the oracle's value, rounded and saturated for integer outputs (within 1: the
    float32 sum may round either way near .5), else within the reduction bound."""
    def check(y):
        if kwargs.get("out") is not None:
            assert y is kwargs["out"], f"{op} did not return out"
        args = dict(border=kwargs.get("border", "reflect101"), value=kwargs.get("value", 0.0))
        expected = oracle.filter2d(x, kernel, **args)
        assert y.shape == x.shape
        if y.dtype.kind in "iu":
            info = np.iinfo(y.dtype)
            exact = np.clip(np.rint(expected), info.min, info.max)
            assert np.abs(y.astype(np.float64) - exact).max(initial=0) <= 1
        else:
            bound = oracle.filter2d_abs_bound(x, kernel, **args)
            length = kernel.size + sum(kernel.shape)
            assert_reduction_close(y, expected, bound, length, y.dtype)
    return check


def _filter_kwargs(draw, x, errs):
    kwargs = {}
    border = draw(st.sampled_from(BORDERS))
    if fault(draw, 8):
        border = kwargs["border"] = draw(st.sampled_from(["mirror", "BORDER_WRAP", "", 3]))
        errs.append(ValueError)
    elif draw(st.booleans()):
        kwargs["border"] = border
    if border == "constant" and draw(st.booleans()):
        kwargs["value"] = draw(st.sampled_from([0.0, -3.5, 7, 255.0]))
    native = x.dtype.newbyteorder("=") if x.dtype.kind in "fiu" else x.dtype
    choice = draw(st.integers(0, 3))
    if choice == 1:
        kwargs["dtype"] = native
    elif choice == 2:
        kwargs["dtype"] = draw(st.sampled_from([np.float32, np.float64]))
    elif choice == 3 and fault(draw, 2):
        kwargs["dtype"] = np.int32
        errs.append(TypeError)
    return kwargs


def _filter_out(draw, x, kwargs, errs):
    """Sometimes an out= of the right (or a wrong) shape and dtype."""
    if draw(st.integers(0, 3)) or errs or x.dtype.kind not in "fiu":
        return
    native = x.dtype.newbyteorder("=")
    dtype = kwargs.get("dtype") or (native if native.kind == "f" else np.float32)
    shape = x.shape
    if fault(draw, 3):
        shape = x.shape + (1,)
        errs.append(ValueError)
    kwargs["out"] = np.full(shape, 3, dtype)


@st.composite
def filter2d_calls(draw):
    set_faulty(draw)
    errs = []
    x = _draw_image(draw, errs)
    kshape = (draw(st.sampled_from([1, 2, 3, 5, 8, 15])), draw(st.sampled_from([1, 2, 3, 4, 7])))
    kernel = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(-3, 4, kshape) / 2
    if draw(st.integers(0, 5)) == 0:
        kernel = np.outer(kernel[:, 0], kernel[0])  # rank 1: the separable rule
    if fault(draw, 8):
        kernel = draw(st.sampled_from([np.ones(3), np.ones((0, 3)), np.ones((2, 2, 2))]))
        errs.append(ValueError)
    kwargs = _filter_kwargs(draw, x, errs)
    _filter_out(draw, x, kwargs, errs)
    return Call("filter2d", FILTER2D.fn, [x, kernel], kwargs, merge(errs),
                _filter_check("filter2d", x, np.asarray(kernel, float), kwargs), keep=[x])


@st.composite
def sep_filter2d_calls(draw):
    set_faulty(draw)
    errs = []
    x = _draw_image(draw, errs)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kx = rng.integers(-3, 4, draw(st.sampled_from([1, 2, 3, 6, 9]))) / 4
    ky = rng.integers(-3, 4, draw(st.sampled_from([1, 3, 4, 11]))) / 4
    if fault(draw, 8):
        kx = draw(st.sampled_from([np.ones((2, 2)), np.ones(0)]))
        errs.append(ValueError)
    kwargs = _filter_kwargs(draw, x, errs)
    _filter_out(draw, x, kwargs, errs)
    kernel = np.outer(ky, kx) if kx.ndim == 1 else np.ones((1, 1))
    return Call("sep_filter2d", SEP_FILTER2D.fn, [x, kx, ky], kwargs, merge(errs),
                _filter_check("sep_filter2d", x, kernel, kwargs), keep=[x])


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_fuzz(op, capsys):
    """Every row of the op table (tests/ops.py) is fuzzed by its drawer ``<op>_calls``."""
    drawer = globals().get(f"{op.name}_calls")
    assert drawer is not None, f"{op.name} has no fuzz drawer: write {op.name}_calls here"
    fuzz(drawer(), op.name, capsys)

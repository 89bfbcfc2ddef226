"""Measured plans for conv2d's algorithm="auto": tune once, remember, explain.

The C library's rule (fc_conv2d_auto_algorithm) picks an algorithm from the shape, the dtype
(and so which members are vectorised on the ISA path in use) and the precision.  A
rule cannot know every CPU, so on the first call of a layer big enough for the choice to matter
(at least MEASURE_MIN_FLOPS), `auto` times every algorithm that takes the layer on the
caller's own arrays, keeps the fastest in a plan cache and runs it from then on;
`fastconv.tune(...)` does the same ahead of time on random data, and
`fastconv.explain(...)` says what `auto` runs for a layer, and why.

The plan cache
--------------
* A small JSON file per CPU model and fastconv version (FASTCONV_CACHE_DIR, else
  $XDG_CACHE_HOME/fastconv, else ~/.cache/fastconv; `plans-<hash>.json`), whose header names
  both: a file from another CPU or version, or one that does not parse, is ignored and
  rewritten on the next store.  Processes that tune at once each merge their entries into what
  is on disk under an advisory lock (fcntl.flock where there is one) and replace the file
  atomically (os.replace), so it is never half-written.  An unwritable directory leaves the
  plans in memory for the process.
* The key is the layer: dtype, the shapes of x and weight, stride, padding, dilation, groups,
  the ISA path and the precision (at "highest", the default, Winograd is never a candidate;
  at "high" it is).  Not the thread count: every algorithm's result is bitwise identical for
  any thread count, and `auto` keeps that promise only if it runs the same algorithm at every
  thread count (a plan is measured at the thread count of the call that made it).
* A plan measured while the machine is oversubscribed (its 1-minute load average above 1.5x
  the cores) is used by the process that measured it but not written: the next process
  measures again.
* FASTCONV_TUNE=0 turns measuring off: `auto` is the rule, and the cache is neither read nor
  written.  Which algorithm runs may change a result's last bits (each sums in its own order,
  within the documented tolerances); a given algorithm's result never depends on the plan.
"""
import contextlib
import hashlib
import json
import os
import platform
import tempfile
import time

import numpy as np

from . import _ext

try:                    # POSIX: serialise the read-merge-write of concurrent processes
    import fcntl
except ImportError:     # Windows: os.replace alone keeps the file whole
    fcntl = None

FORMAT = 1
# Layers under this many FLOPs (2 per multiply-add) run the rule: well under a millisecond,
# where measuring would cost more than any choice could save.
MEASURE_MIN_FLOPS = 5e7
MEASURE_REPEAT = 3        # rounds of timed calls, the algorithms interleaved; the fastest counts
ABANDON_FACTOR = 2.0      # an algorithm this much slower than the best so far is not repeated
# Another algorithm replaces the rule's pick only when it measured this much faster: a plan is
# kept for good, and one timing disturbed by another process must not pin a slower algorithm
# (a 2-core machine under load measured direct 1% ahead of im2col on VGG's 3x3 layer).
RULE_MARGIN = 0.9


def tuning_enabled():
    """False when FASTCONV_TUNE=0 (or "off", "false", "no")."""
    return os.environ.get("FASTCONV_TUNE", "1").strip().lower() not in ("0", "off", "false",
                                                                        "no")


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "Model", "CPU part")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cache_dir():
    explicit = os.environ.get("FASTCONV_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "fastconv")


_header_and_digest = None


def _header():
    """The cache file's header: this CPU and fastconv version, read once per process (reading
    /proc/cpuinfo on every big layer's call cost 80 us of its 1-2 ms)."""
    global _header_and_digest
    if _header_and_digest is None:
        from .._config import __version__
        header = {"format": FORMAT, "fastconv": __version__, "cpu": _cpu_model(),
                  "machine": platform.machine()}
        digest = hashlib.sha1(json.dumps(header, sort_keys=True).encode()).hexdigest()[:12]
        _header_and_digest = header, digest
    return dict(_header_and_digest[0])


def cache_path():
    """The plan cache file of this CPU and fastconv version (in the directory the environment
    names at the time of the call)."""
    _header()
    return os.path.join(_cache_dir(), f"plans-{_header_and_digest[1]}.json")


def _read(path):
    """The entries of the cache file at `path`: {} when it is missing, unreadable, corrupt,
    or written by another CPU, version or format."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict) or doc.get("header") != _header():
        return {}
    entries = doc.get("plans")
    if not isinstance(entries, dict):
        return {}
    return {key: entry for key, entry in entries.items()
            if isinstance(entry, dict) and isinstance(entry.get("algorithm"), str)
            and entry["algorithm"] in _ext.ALGORITHMS and entry["algorithm"] != "auto"}


_memory = {}   # path -> {key: entry}: the plans this process knows


def _known(path):
    if path not in _memory:
        _memory[path] = _read(path)
    return _memory[path]


@contextlib.contextmanager
def _locked(directory):
    if fcntl is None:
        yield
        return
    with open(os.path.join(directory, "plans.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _store(path, key, entry):
    """Remember entry under key, in memory and in the file (merged with what other processes
    wrote meanwhile); False when the file could not be written."""
    _known(path)[key] = entry
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, exist_ok=True)
        with _locked(directory):
            entries = _read(path)
            entries[key] = entry
            fd, tmp = tempfile.mkstemp(prefix=".plans-", suffix=".tmp", dir=directory)
            try:
                with os.fdopen(fd, "w") as f:
                    json.dump({"header": _header(), "plans": entries}, f, indent=0,
                              sort_keys=True)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
    except OSError:
        return False
    _memory[path].update(entries)
    return True


def plan_key(dtype, x_shape, weight_shape, stride, pads, dilation, groups, precision):
    """The cache key of a layer (see the module's docstring for what it leaves out)."""
    (pt, pb), (pl, pr) = pads
    return (f"{np.dtype(dtype).name} x{'x'.join(map(str, x_shape))} "
            f"w{'x'.join(map(str, weight_shape))} s{stride[0]},{stride[1]} "
            f"p{pt},{pb},{pl},{pr} d{dilation[0]},{dilation[1]} g{groups} "
            f"{_ext.active_isa()} {precision}")


def _flops(geometry, weight_shape):
    n, k, p, q = geometry.output_shape
    return 2.0 * n * k * p * q * weight_shape[1] * weight_shape[2] * weight_shape[3]


def _measure(run, candidates, keep=None):
    """{algorithm: seconds (the fastest of its timed calls)} and {algorithm: why skipped}.
    The algorithms take turns, round by round, so a burst of load falls on all of them.  An
    algorithm ABANDON_FACTOR slower than the best so far is not timed again, except `keep`
    (the rule's pick): one timing of it slowed by a preempted thread (2-core AVX2 EPYC: the
    dilated 3x3 layer's im2col timed 5.8 ms against 2.9 ms a call) must not hand the layer to
    another algorithm for good."""
    times, skipped = {}, {}
    for name in candidates:
        try:
            run(name)                      # warm-up: caches, page faults, workspace
        except ValueError as exc:          # the algorithm does not take this layer
            skipped[name] = str(exc)
            continue
        times[name] = float("inf")
    live = list(times)
    for r in range(MEASURE_REPEAT):
        for name in live[r % len(live):] + live[:r % len(live)]:
            if r > 0 and name != keep and times[name] > ABANDON_FACTOR * min(times.values()):
                continue                   # hopeless: one timing says enough
            start = time.perf_counter()
            run(name)
            times[name] = min(times[name], time.perf_counter() - start)
    return times, skipped


def _winner(times, rule):
    """The plan's algorithm: the fastest, unless the rule's pick is within RULE_MARGIN of it."""
    best = min(times, key=times.get)
    if rule in times and times[best] > RULE_MARGIN * times[rule]:
        return rule
    return best


def worth_measuring(geometry, weight_shape):
    """Is the layer big enough for `auto` to measure (and to look up a plan)?  Checked before
    anything else, so that small calls pay nothing for plans."""
    return _flops(geometry, weight_shape) >= MEASURE_MIN_FLOPS


def _candidates(rule, precision):
    """Every algorithm but auto (and Winograd but at precision "high"), the rule's pick first
    (it sets the bar to abandon others)."""
    names = [name for name in _ext.ALGORITHMS if name != "auto"
             and (name != "winograd" or precision == "high")]
    return [rule] + [name for name in names if name != rule]


def choose(x4, weight, bias, geometry, stride, pads, dilation, groups, precision, run):
    """The algorithm `auto` runs for this call at this precision ("highest" or "high"): the
    cached plan, a new measurement (when tuning is on and the layer is big enough), or None
    for the rule.  run(name) computes the
    layer with that algorithm into a scratch output (raising ValueError where it does not
    apply)."""
    if not worth_measuring(geometry, weight.shape) or not tuning_enabled():
        return None
    path = cache_path()
    key = plan_key(x4.dtype, x4.shape, weight.shape, stride, pads, dilation, groups, precision)
    entry = _known(path).get(key)
    if entry is None:
        rule = _ext.conv2d_auto_algorithm(x4.shape, weight.shape, stride, pads, dilation,
                                          groups, x4.dtype, precision)
        times, _ = _measure(run, _candidates(rule, precision), keep=rule)
        entry = {"algorithm": _winner(times, rule), "rule": rule, "times_s": times,
                 "threads": _ext.get_num_threads(), "measured": time.strftime("%Y-%m-%d")}
        if oversubscribed():
            # timings taken while other jobs outnumber the cores say more about them than
            # about the layer (a loaded machine once pinned a 3x slower algorithm on a 3x3
            # layer for good): this process uses the plan, the next one measures again
            _known(path)[key] = dict(entry, provisional=True)
        else:
            _store(path, key, entry)
    return entry["algorithm"]


def oversubscribed():
    """Do runnable tasks outnumber the cores by half again (the 1-minute load average; False
    where the OS does not report one)?  Then `auto` keeps what it measured in memory only."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return False
    return load > 1.5 * (os.cpu_count() or 1)


# ---- the public functions -------------------------------------------------------------------

def _layer(op, x_shape, weight_shape, stride, padding, dilation, groups, dtype):
    """Zero-filled arrays of the layer (only their shapes and dtype matter) and its validated
    geometry, through conv2d's own checks."""
    from .functional import _conv_geometry
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{op}: dtype must be float32 or float64, got {dtype!r}") from None
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"{op}: dtype must be float32 or float64, got {dtype}")
    shapes = []
    for name, shape in (("x_shape", x_shape), ("weight_shape", weight_shape)):
        try:
            shape = tuple(int(v) for v in shape)
        except (TypeError, ValueError):
            raise TypeError(f"{op}: {name} must be a tuple of ints, got {shape!r}") from None
        if any(v < 0 for v in shape):
            raise ValueError(f"{op}: {name} must not be negative, got {shape}")
        shapes.append(shape)
    x = np.lib.stride_tricks.as_strided(np.zeros(1, dtype), shapes[0], (0,) * len(shapes[0]))
    weight = np.lib.stride_tricks.as_strided(np.zeros(1, dtype), shapes[1],
                                             (0,) * len(shapes[1]))
    x4, _, stride, pads, dilation, groups, geometry = _conv_geometry(
        op, x, weight, stride, padding, dilation, groups)
    return x4.shape, weight.shape, dtype, stride, pads, dilation, groups, geometry


def _precision(op, precision):
    from .. import _config
    return _config.get_precision() if precision is None else \
        _config._check_precision(op, precision)


def tune(x_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1, *,
         dtype="float32", precision=None):
    """Measure every conv2d algorithm on a layer now (random data, the current thread count)
    and keep the fastest as the plan `algorithm="auto"` runs from then on, also in later
    processes (the plan cache: see fastconv.ops.plans).  Re-measures a layer already planned.

    Returns the plan: {"algorithm", "rule", "times_s", "threads", "measured"}.  Measures even
    when FASTCONV_TUNE=0 (which only stops `auto` from measuring and reading plans) and for
    layers too small for `auto` to measure (they keep running the rule).  `precision` (None:
    fastconv.get_precision()) is the plan's: Winograd is measured at "high" only.

    Example
    -------
    >>> import fastconv
    >>> plan = fastconv.tune((1, 16, 32, 32), (16, 16, 3, 3), padding=1)
    >>> plan["algorithm"] in plan["times_s"]
    True
    """
    from .functional import conv2d
    x_shape, w_shape, dtype, stride, pads, dilation, groups, geometry = _layer(
        "tune", x_shape, weight_shape, stride, padding, dilation, groups, dtype)
    precision = _precision("tune", precision)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(dtype)
    weight = rng.standard_normal(w_shape).astype(dtype)
    bias = rng.standard_normal(w_shape[0]).astype(dtype)
    out = np.empty(geometry.output_shape, dtype)

    def run(name):
        conv2d(x, weight, bias, stride, pads, dilation, groups, algorithm=name, out=out)

    rule = _ext.conv2d_auto_algorithm(x_shape, w_shape, stride, pads, dilation, groups, dtype,
                                      precision)
    times, _ = _measure(run, _candidates(rule, precision), keep=rule)
    entry = {"algorithm": _winner(times, rule), "rule": rule, "times_s": times,
             "threads": _ext.get_num_threads(), "measured": time.strftime("%Y-%m-%d")}
    _store(cache_path(),
           plan_key(dtype, x_shape, w_shape, stride, pads, dilation, groups, precision), entry)
    return dict(entry)


def _threads(count):
    return f"{count} thread" + ("" if count == 1 else "s")


def explain(x_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1, *,
            dtype="float32", precision=None, print_=True):
    """What conv2d(..., algorithm="auto") runs for this layer, and why; printed (unless
    print_=False) and returned as a dict: algorithm, reason, source ("plan", "rule" or
    "rule (tuning off)"), times_s (a plan's measurements), kernel (the microkernel member),
    min_workspace_bytes (per thread; 0 for an algorithm without a bounded workspace),
    gflops (measured, from the plan, else None), flops and the plan cache's path.  It
    measures nothing: `fastconv.tune` does, and so does the layer's first call when tuning
    is on.

    Example
    -------
    >>> import fastconv
    >>> info = fastconv.explain((1, 3, 8, 8), (4, 3, 3, 3), print_=False)
    >>> info["algorithm"], info["source"]
    ('direct', 'rule')
    """
    x_shape, w_shape, dtype, stride, pads, dilation, groups, geometry = _layer(
        "explain", x_shape, weight_shape, stride, padding, dilation, groups, dtype)
    precision = _precision("explain", precision)
    flops = _flops(geometry, w_shape)
    rule = _ext.conv2d_auto_algorithm(x_shape, w_shape, stride, pads, dilation, groups, dtype,
                                      precision)
    path = cache_path()
    entry = None
    if tuning_enabled():
        entry = _known(path).get(plan_key(dtype, x_shape, w_shape, stride, pads, dilation,
                                          groups, precision))
    info = {"algorithm": rule, "times_s": {}, "gflops": None, "flops": flops,
            "cache": path}
    if entry is not None:
        algorithm = entry["algorithm"]
        times = "; ".join(f"{name} {1e3 * t:.3g} ms" for name, t in
                          sorted(entry["times_s"].items(), key=lambda item: item[1]))
        info.update(algorithm=algorithm, source="plan", times_s=dict(entry["times_s"]),
                    reason=f"measured at {_threads(entry.get('threads', '?'))} on "
                           f"{entry.get('measured', '?')}: {times} (the rule says {rule}; "
                           f"one plan serves every thread count, so that auto runs the same "
                           f"algorithm, and gives the same bits, at any)")
        if entry["times_s"].get(algorithm):
            info["gflops"] = flops / entry["times_s"][algorithm] / 1e9
    elif not tuning_enabled():
        info.update(source="rule (tuning off)",
                    reason="FASTCONV_TUNE=0: the shape rule of fc_conv2d_auto_algorithm")
    elif flops < MEASURE_MIN_FLOPS:
        info.update(source="rule", reason=f"the shape rule: {flops / 1e6:.3g} MFLOP is under "
                    f"the {MEASURE_MIN_FLOPS / 1e6:.0f} MFLOP worth measuring")
    else:
        info.update(source="rule", reason="the shape rule, until the layer's first call (or "
                    "fastconv.tune) measures the algorithms")
    kernel_op = {"direct": "conv2d_direct", "depthwise": "conv2d_depthwise",
                 "winograd": "conv2d_winograd"}.get(info["algorithm"], "conv2d_im2col")
    try:
        info["kernel"] = _ext.kernel_name(kernel_op, dtype.name)
    except (KeyError, ValueError):
        info["kernel"] = None
    info["min_workspace_bytes"] = _ext.conv2d_min_workspace(
        x_shape, w_shape, stride, pads, dilation, groups, dtype.name, info["algorithm"])
    if print_:
        print(f"conv2d x{x_shape} w{w_shape} stride {stride} padding {pads} dilation "
              f"{dilation} groups {groups} {dtype.name}: algorithm={info['algorithm']!r}\n"
              f"  why: {info['reason']}\n"
              f"  kernel: {info['kernel']}; workspace at least {info['min_workspace_bytes']} "
              f"bytes per thread; "
              + (f"{info['gflops']:.1f} GFLOP/s measured" if info["gflops"] else
                 f"{flops / 1e9:.3g} GFLOP per call, speed not measured"))
    return info

"""conv2d's measured plans (fastconv.ops.plans): `auto` measures a big layer once and runs the
winner after, in this process and in later ones; FASTCONV_TUNE=0; the cache file under
corruption, another CPU or version, an unwritable directory and two processes at once;
fastconv.tune and fastconv.explain."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastconv
from fastconv.ops import _ext, plans
from subprocess_env import subprocess_env, TESTS_DIR
from tolerances import assert_bitwise_equal

# 2 * 64 * 32 * 32 * 576 = 75 MFLOP: above MEASURE_MIN_FLOPS, a millisecond or two
BIG_X, BIG_W = (1, 64, 32, 32), (64, 64, 3, 3)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A fresh, empty plan cache, tuning on, nothing remembered in memory, and a machine that
    counts as quiet whatever the load of the one running the tests."""
    monkeypatch.setenv("FASTCONV_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("FASTCONV_TUNE", raising=False)
    monkeypatch.setattr(plans, "_memory", {})
    monkeypatch.setattr(plans, "oversubscribed", lambda: False)
    return tmp_path


def _arrays(x_shape=BIG_X, w_shape=BIG_W, dtype=np.float32):
    rng = np.random.default_rng(5)
    return (rng.standard_normal(x_shape).astype(dtype),
            rng.standard_normal(w_shape).astype(dtype),
            rng.standard_normal(w_shape[0]).astype(dtype))


def _fake_measure(winner, calls):
    """A _measure that times nothing: `winner` is fastest; records each call's candidates."""
    def measure(run, candidates, keep=None):
        calls.append(list(candidates))
        times = {}
        for name in candidates:
            try:
                run(name)
            except ValueError:
                continue
            times[name] = 1.0 if name == winner else 2.0
        return times, {}
    return measure


def test_a_plan_measured_on_an_oversubscribed_machine_is_not_written(cache_dir, monkeypatch):
    rule = _ext.conv2d_auto_algorithm(BIG_X, BIG_W, (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    winner = "direct" if rule != "direct" else "im2col"
    calls = []
    monkeypatch.setattr(plans, "_measure", _fake_measure(winner, calls))
    monkeypatch.setattr(plans, "oversubscribed", lambda: True)
    x, w, b = _arrays()
    for _ in range(2):   # measured once, used by this process
        assert_bitwise_equal(fastconv.conv2d(x, w, b, padding=1),
                             fastconv.conv2d(x, w, b, padding=1, algorithm=winner))
    assert len(calls) == 1
    assert not list(cache_dir.glob("plans-*.json"))   # nothing on disk
    monkeypatch.setattr(plans, "_memory", {})          # the next process measures again
    monkeypatch.setattr(plans, "oversubscribed", lambda: False)
    fastconv.conv2d(x, w, b, padding=1)
    assert len(calls) == 2 and list(cache_dir.glob("plans-*.json"))


def test_oversubscribed_compares_the_load_average_with_the_cores(monkeypatch):
    cores = os.cpu_count() or 1
    monkeypatch.setattr(plans.os, "getloadavg", lambda: (1.5 * cores + 0.5, 0.0, 0.0))
    assert plans.oversubscribed()
    monkeypatch.setattr(plans.os, "getloadavg", lambda: (float(cores), 0.0, 0.0))
    assert not plans.oversubscribed()


def test_auto_measures_a_big_layer_once_and_runs_the_winner(cache_dir, monkeypatch):
    assert plans.MEASURE_MIN_FLOPS <= 2 * 64 * 32 * 32 * 576
    rule = _ext.conv2d_auto_algorithm(BIG_X, BIG_W, (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    winner = "direct" if rule != "direct" else "im2col"
    calls = []
    monkeypatch.setattr(plans, "_measure", _fake_measure(winner, calls))
    x, w, b = _arrays()
    first = fastconv.conv2d(x, w, b, padding=1)
    second = fastconv.conv2d(x, w, b, padding=1, activation="relu")
    assert len(calls) == 1 and calls[0][0] == rule     # the rule's pick is timed first
    expected = fastconv.conv2d(x, w, b, padding=1, algorithm=winner)
    assert_bitwise_equal(first, expected)
    assert_bitwise_equal(second, fastconv.conv2d(x, w, b, padding=1, activation="relu",
                                                 algorithm=winner))
    (path,) = cache_dir.glob("plans-*.json")
    doc = json.loads(path.read_text())
    (entry,) = doc["plans"].values()
    assert entry["algorithm"] == winner and entry["rule"] == rule
    info = fastconv.explain(BIG_X, BIG_W, padding=1, print_=False)
    assert info["algorithm"] == winner and info["source"] == "plan"
    assert winner in info["reason"] and info["gflops"] > 0


def test_a_later_process_runs_the_stored_plan_without_measuring(cache_dir, monkeypatch):
    monkeypatch.setattr(plans, "_measure", _fake_measure("direct", []))
    x, w, b = _arrays()
    fastconv.conv2d(x, w, b, padding=1)
    code = ("import numpy as np, fastconv\n"
            "from fastconv.ops import plans\n"
            "def boom(*a): raise AssertionError('measured again')\n"
            "plans._measure = boom\n"
            f"print(fastconv.explain({BIG_X}, {BIG_W}, padding=1, print_=False)['algorithm'])\n")
    res = subprocess.run([sys.executable, "-c", code], env=subprocess_env(), cwd=TESTS_DIR,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["direct"]


def test_the_same_call_reads_fastconv_tune_and_the_plans_each_time(cache_dir, monkeypatch):
    """A repeated call (conv2d's per-shape cache) still resolves auto on every call: the plan
    while tuning is on, the rule once FASTCONV_TUNE=0, the plan again after.  (At precision
    "high", where Winograd against an exact-order sum shows in the bits: direct and im2col
    sum alike.)"""
    rule = _ext.conv2d_auto_algorithm(BIG_X, BIG_W, (1, 1), ((1, 1), (1, 1)), (1, 1), 1,
                                      np.float32, "high")
    winner = "im2col" if rule == "winograd" else "winograd"
    calls = []
    monkeypatch.setattr(plans, "_measure", _fake_measure(winner, calls))
    x, w, b = _arrays()
    planned = fastconv.conv2d(x, w, b, padding=1, algorithm=winner)
    by_rule = fastconv.conv2d(x, w, b, padding=1, algorithm=rule)
    assert not np.array_equal(planned, by_rule)   # else the checks below prove nothing
    for tune in ("1", "0", "1"):
        monkeypatch.setenv("FASTCONV_TUNE", tune)
        for _ in range(2):
            assert_bitwise_equal(fastconv.conv2d(x, w, b, padding=1, precision="high"),
                                 planned if tune == "1" else by_rule, f"FASTCONV_TUNE={tune}")
    assert len(calls) == 1


def test_small_layers_and_tuning_off_run_the_rule_and_touch_no_file(cache_dir, monkeypatch):
    def boom(*args):
        raise AssertionError("measured")
    monkeypatch.setattr(plans, "_measure", boom)
    x, w, b = _arrays((1, 4, 16, 16), (4, 4, 3, 3))
    assert_bitwise_equal(fastconv.conv2d(x, w, b, padding=1),
                         fastconv.conv2d(x, w, b, padding=1, algorithm=_ext.conv2d_auto_algorithm(
                             x.shape, w.shape, (1, 1), ((1, 1), (1, 1)), (1, 1), 1)))
    assert fastconv.explain(x.shape, w.shape, padding=1, print_=False)["source"] == "rule"
    monkeypatch.setenv("FASTCONV_TUNE", "0")
    x, w, b = _arrays()
    rule = _ext.conv2d_auto_algorithm(BIG_X, BIG_W, (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    assert_bitwise_equal(fastconv.conv2d(x, w, b, padding=1),
                         fastconv.conv2d(x, w, b, padding=1, algorithm=rule))
    assert fastconv.explain(BIG_X, BIG_W, padding=1, print_=False)["source"] == \
        "rule (tuning off)"
    assert list(cache_dir.iterdir()) == []


@pytest.mark.parametrize("content", ["{not json", "[]", '{"header": 1, "plans": {}}',
                                     '{"header": {"format": 1, "fastconv": "0.0.0", '
                                     '"cpu": "another", "machine": "x"}, "plans": '
                                     '{"k": {"algorithm": "direct"}}}'])
def test_a_corrupt_or_foreign_cache_is_ignored_and_rewritten(cache_dir, monkeypatch, content):
    path = plans.cache_path()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(content)
    calls = []
    monkeypatch.setattr(plans, "_measure", _fake_measure("im2col", calls))
    x, w, b = _arrays()
    assert_bitwise_equal(fastconv.conv2d(x, w, b, padding=1),
                         fastconv.conv2d(x, w, b, padding=1, algorithm="im2col"))
    assert len(calls) == 1
    doc = json.loads(open(path).read())
    assert doc["header"] == plans._header() and len(doc["plans"]) == 1


def test_the_rule_keeps_a_near_tie_and_the_algorithms_take_turns(monkeypatch):
    assert plans._winner({"im2col": 1.0, "direct": 0.95}, "im2col") == "im2col"
    assert plans._winner({"im2col": 1.0, "direct": 0.85}, "im2col") == "direct"
    assert plans._winner({"direct": 0.5, "im2col": 1.0}, "pointwise") == "direct"
    order = []
    # a clock that each run advances by exactly 1 ms: equal times, none is abandoned, whatever
    # the machine's load (a real sleep overran 3x on a loaded machine and abandoned one)
    clock = [0.0]
    monkeypatch.setattr(plans.time, "perf_counter", lambda: clock[0])

    def run(name):
        order.append(name)
        clock[0] += 1e-3
    times, skipped = plans._measure(run, ["im2col", "direct", "pointwise"])
    # one warm-up each, then MEASURE_REPEAT rounds in which the first rotates
    assert order[:3] == ["im2col", "direct", "pointwise"]
    assert order[3:6] == ["im2col", "direct", "pointwise"]
    assert order[6:9] == ["direct", "pointwise", "im2col"]
    assert set(times) == {"im2col", "direct", "pointwise"} and not skipped


def test_entries_naming_no_algorithm_are_dropped(cache_dir):
    path = plans.cache_path()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"header": plans._header(), "plans": {
            "a": {"algorithm": "winograd-9000"}, "b": {"algorithm": "auto"}, "c": [],
            "d": {"algorithm": "direct"}}}, f)
    assert plans._read(path) == {"d": {"algorithm": "direct"}}


def test_an_unwritable_cache_keeps_the_plans_in_memory(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("FASTCONV_CACHE_DIR", str(blocker / "sub"))   # under a regular file
    monkeypatch.delenv("FASTCONV_TUNE", raising=False)
    monkeypatch.setattr(plans, "_memory", {})
    calls = []
    monkeypatch.setattr(plans, "_measure", _fake_measure("direct", calls))
    x, w, b = _arrays()
    for _ in range(2):
        assert_bitwise_equal(fastconv.conv2d(x, w, b, padding=1),
                             fastconv.conv2d(x, w, b, padding=1, algorithm="direct"))
    assert len(calls) == 1


def test_two_processes_tuning_at_once_keep_both_plans(cache_dir):
    code = ("import sys, fastconv\n"
            "c = int(sys.argv[1])\n"
            "for k in (8, 16, 24):\n"
            "    fastconv.tune((1, c, 12, 12), (k, c, 3, 3), padding=1)\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(c)], env=subprocess_env(),
                              cwd=TESTS_DIR, stderr=subprocess.PIPE, text=True)
             for c in (3, 5)]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
    doc = json.loads(open(plans.cache_path()).read())
    assert len(doc["plans"]) == 6
    assert not [p for p in cache_dir.iterdir() if p.name.endswith(".tmp")]


def test_tune_measures_every_algorithm_that_takes_the_layer(cache_dir):
    plan = fastconv.tune((2, 8, 10, 10), (8, 8, 1, 1))
    assert set(plan["times_s"]) >= {"direct", "im2col", "pointwise"}
    assert "depthwise" not in plan["times_s"]
    best = min(plan["times_s"], key=plan["times_s"].get)
    # the fastest, unless the rule's pick measured within RULE_MARGIN of it
    times, rule = plan["times_s"], plan["rule"]
    assert plan["algorithm"] == best or (
        plan["algorithm"] == rule and times[best] > plans.RULE_MARGIN * times[rule])
    assert plan["threads"] == fastconv.get_num_threads()
    info = fastconv.explain((2, 8, 10, 10), (8, 8, 1, 1), print_=False)
    assert info["source"] == "plan" and info["algorithm"] == plan["algorithm"]
    depthwise = fastconv.tune((1, 6, 9, 9), (6, 1, 3, 3), groups=6, dtype=np.float64)
    assert "depthwise" in depthwise["times_s"] and "pointwise" not in depthwise["times_s"]


@pytest.mark.parametrize("x_shape,w_shape,kwargs,algorithm", [
    ((1, 3, 8, 8), (4, 3, 3, 3), {}, "direct"),
    ((1, 16, 8, 8), (16, 16, 3, 3), {"stride": 2}, "im2col"),
    ((1, 16, 8, 8), (16, 16, 1, 1), {}, "pointwise"),
    ((1, 16, 8, 8), (16, 1, 3, 3), {"groups": 16}, "depthwise"),
])
def test_explain_names_the_rule_kernel_and_workspace(cache_dir, capsys, x_shape, w_shape, kwargs,
                                                    algorithm):
    from fastconv.ops import _ext
    for dtype in ("float32", "float64"):
        info = fastconv.explain(x_shape, w_shape, dtype=dtype, **kwargs)
        printed = capsys.readouterr().out
        if algorithm == "direct" and "scalar" in _ext.kernel_name("conv2d_direct", dtype) \
                and "scalar" not in _ext.kernel_name("conv2d_im2col", dtype):
            algorithm = "im2col"  # a scalar direct member loses to the SIMD GEMM (float64)
        assert info["algorithm"] == algorithm and info["source"] == "rule"
        assert f"algorithm={algorithm!r}" in printed and "why: the shape rule" in printed
        assert info["kernel"] and info["kernel"].startswith("f32" if dtype == "float32" else "f64")
        assert info["kernel"] in printed
        gemm = algorithm in ("im2col", "pointwise")
        assert (info["min_workspace_bytes"] > 0) == gemm
        assert info["gflops"] is None and info["flops"] > 0


@pytest.mark.parametrize("call,error", [
    (lambda: fastconv.explain((1, 3, 8), (4, 3, 3, 3)), ValueError),
    (lambda: fastconv.explain((1, 3, 8, 8), (4, 2, 3, 3)), ValueError),
    (lambda: fastconv.explain((1, 3, 8, 8), (4, 3, 3, 3), dtype="int32"), TypeError),
    (lambda: fastconv.tune((1, 3, 8, 8), (4, 3, 3, 3), dtype="nonsense"), TypeError),
    (lambda: fastconv.tune((1, 3, 8, 8), "oops"), TypeError),
    (lambda: fastconv.tune((1, -3, 8, 8), (4, 3, 3, 3)), ValueError),
])
def test_tune_and_explain_reject_bad_layers_clearly(cache_dir, call, error):
    with pytest.raises(error, match="tune|explain"):
        call()


def test_one_slow_timing_of_the_rules_pick_does_not_lose_it_the_layer():
    # the rule's pick is slowed once (a preempted thread): it is timed again in every round,
    # and its best timing beats the other algorithm; before, the first slow timing abandoned it
    import time
    timed = {"im2col": 0, "direct": 0}

    def run(name):
        timed[name] += 1
        if name == "im2col":
            time.sleep(0.1 if timed[name] == 2 else 0.002)  # call 1 is the warm-up
        else:
            time.sleep(0.02)
    times, _ = plans._measure(run, ["im2col", "direct"], keep="im2col")
    assert timed["im2col"] == 1 + plans.MEASURE_REPEAT
    assert plans._winner(times, "im2col") == "im2col"
    # without keep the slow first timing abandons it (what a plan used to record)
    timed = {"im2col": 0, "direct": 0}
    times, _ = plans._measure(run, ["im2col", "direct"])
    assert timed["im2col"] == 2 and plans._winner(times, "im2col") == "direct"

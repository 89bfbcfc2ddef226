"""`fastconv bench`: the command runs, its JSON holds what it promises, --filter, --list and
--plot behave; the NumPy peers compute what fastconv computes; the target rules.  No timing
is asserted: the figures depend on the machine and its load."""
import doctest
import json
import re
import subprocess
import sys
import time

import numpy as np
import pytest

import fastconv
from fastconv import benchmark as fb
from fastconv.bench.cases import NHWC_LAYERS
import oracle
from tolerances import assert_exact, assert_reduction_close
from subprocess_env import subprocess_env

QUICK_NAMES = [case.name for case in fb.cases(quick=True)]


def _bench_modules():
    """fastconv.bench's modules: the code fastconv.benchmark re-exports."""
    import importlib
    import pkgutil
    import fastconv.bench
    return [fastconv.bench] + [importlib.import_module(f"fastconv.bench.{info.name}")
                               for info in pkgutil.iter_modules(fastconv.bench.__path__)]


def bench(tmp_path, *args, status=0):
    """Run `python -m fastconv bench ARGS` in a fresh interpreter on the fastconv under test;
    one thread keeps it to a few seconds on a busy machine."""
    res = subprocess.run([sys.executable, "-m", "fastconv", "bench", *args], env=subprocess_env(),
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == status, f"exit {res.returncode}:\n{res.stdout}\n{res.stderr}"
    return res.stdout


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    out = bench(tmp, "--quick", "--repeat", "2", "--threads", "1", "--json", "quick.json")
    with open(tmp / "quick.json") as f:
        return out, json.load(f)


def test_quick_run_prints_a_row_per_case(quick_run):
    out, _ = quick_run
    lines = out.splitlines()
    assert any(line.startswith("case ") and "target" in line for line in lines)
    for name in QUICK_NAMES:
        assert any(line.split()[:1] == [name] for line in lines), name
    assert "machine peaks: sgemm" in out and "ERROR" not in out


def test_quick_json_has_settings_machine_versions_and_peaks(quick_run):
    _, doc = quick_run
    assert doc["settings"]["threads"] == 1 and doc["settings"]["repeat"] == 2
    assert doc["settings"]["quick"] is True
    assert doc["versions"]["fastconv"] == fastconv.__version__
    assert doc["versions"]["numpy"] == np.__version__
    assert set(doc["versions"]) >= {"torch", "onnxruntime", "opencv", "python"}
    assert doc["machine"]["cores"] >= 1 and doc["config"]["isa"] in fastconv.ops._ext.ISA_NAMES
    assert doc["peaks"]["sgemm_gflops"] > 0 and doc["peaks"]["copy_gbs"] > 0
    assert doc["targets"] == fb.TARGETS


def test_quick_json_has_every_case_with_its_figures(quick_run):
    _, doc = quick_run
    assert [row["name"] for row in doc["cases"]] == QUICK_NAMES
    for row in doc["cases"]:
        assert "error" not in row, row
        fast = row["impls"]["fastconv"]
        assert len(fast["samples_s"]) == 2 and fast["q1_s"] <= fast["median_s"] <= fast["q3_s"]
        assert fast["number"] >= 1 and row["rate"] > 0 and row["work"] > 0
        assert row["unit"] == ("GFLOP/s" if row["op"].startswith(("conv2d", "conv_transpose2d"))
                               else "GB/s")
        # every peer has a ratio or says why not, never both
        for peer in fb.PEERS:
            assert (peer in row["ratios"]) != (peer in row["missing"]), (row["name"], peer)
        # numpy is always there, except beside a training step (it has no backward)
        assert ("numpy" in row["ratios"]) != (row["op"] == "conv2d_backward")
        if row["op"] == "conv2d_backward":
            assert row["name"] == row["layer"] + "+bwd"
            assert set(row["missing"]) >= {"onnxruntime", "opencv", "numpy"}
        assert set(row["checks"]) == set(row["ratios"])
        assert row["peak_share"] > 0 and row["peak_rate"] > 0
        # the peak kernel runs in the case's loop, except on the overhead rows
        assert any(label.startswith("peak:") for label in row["impls"]) != \
            row["name"].startswith("overhead")
        assert all(check["ok"] for check in row["checks"].values()), row["checks"]
        assert row["target"]["status"] == "n/a"  # the targets are for the full shapes
        if row["op"] == "conv2d":
            assert row["auto_algorithm"] in fastconv.ops._ext.ALGORITHMS


def test_installed_peers_have_a_ratio_on_every_conv_layer_and_the_geomean(quick_run):
    out, doc = quick_run
    layers = [r for r in doc["cases"] if r["op"] == "conv2d" and r["name"] == r["layer"]
              and not r["name"].startswith(("image", "overhead"))]
    for peer in ("torch", "onnxruntime"):
        if doc["versions"][peer] is None:
            assert peer not in doc["geomeans"]
            continue
        ratios = [r["ratios"][peer] for r in layers]
        assert doc["geomeans"][peer]["layers"] == len(layers) == len(fb.CONV_SHAPES) - 1
        expected = float(np.exp(np.mean(np.log(ratios))))
        assert doc["geomeans"][peer]["ratio"] == pytest.approx(expected, rel=1e-12)
        assert "geomean of the conv layers' ratios:" in out
    if doc["versions"]["torch"] is not None:
        assert all("torch" in r["ratios"] for r in doc["cases"] if r["op"] == "conv2d_backward")


def test_nhwc_conv_rows_time_the_nchw_call_of_their_layer_in_the_same_loop(quick_run):
    out, doc = quick_run
    rows = [r for r in doc["cases"] if r["name"].startswith("nhwc_") and r["op"] == "conv2d"]
    assert {r["layer"] for r in rows} == set(NHWC_LAYERS)
    header = next(line for line in out.splitlines() if line.startswith("case "))
    column = header.index("nchw")
    for row in rows:
        assert row["name"] == "nhwc_" + row["layer"]
        nchw = row["impls"]["nchw"]
        assert len(nchw["samples_s"]) == 2 and nchw["number"] >= 1
        # the ratio is NCHW time / NHWC time, paired within each repeat
        assert row["ratios"]["nchw"] == pytest.approx(fb.paired_ratio(
            nchw["samples_s"], row["impls"]["fastconv"]["samples_s"]))
        # the NHWC result is the NCHW one transposed, bit for bit
        assert row["checks"]["nchw"]["max_relative_error"] == 0
        line = next(line for line in out.splitlines() if line.split()[:1] == [row["name"]])
        assert line[column:].split()[0] == f"{row['ratios']['nchw']:.2f}x"
    # no other row has the column
    assert all("nchw" not in r["ratios"] for r in doc["cases"] if r not in rows)
    assert doc["targets"]["conv_nhwc"] == {"nchw": 0.9}


def test_nhwc_conv_rows_are_held_to_the_nchw_call_and_listed_in_the_targets():
    assert {c.rule for c in fb.cases() if c.name.startswith("nhwc_") and c.op == "conv2d"} == \
        {"conv_nhwc"}
    assert fb.evaluate_target("conv_nhwc", _row({"nchw": 0.95, "torch": 0.5}))["status"] == \
        "pass"
    failed = fb.evaluate_target("conv_nhwc", _row({"nchw": 0.78}))
    assert failed["status"] == "FAIL" and failed["failed"] == ["nchw"]
    assert fb.evaluate_target("conv_nhwc", _row({"torch": 1.2}))["status"] == "n/a"
    line = next(line for line in re.sub(r"\n {4}", " ", fb.targets_legend()).splitlines()
                if "nhwc_depthwise" in line)
    assert line.endswith(">= 0.9x nchw") and "nhwc_vgg_3x3" in line


def test_missing_peers_are_named_absent_in_the_table(quick_run):
    out, doc = quick_run
    for peer in ("torch", "onnxruntime", "opencv"):
        if doc["versions"][peer] is None:
            row = next(r for r in doc["cases"] if r["name"] == "image_5x5")
            assert row["missing"][peer].startswith("not installed")
            assert "absent" in out


def test_filter_is_a_regex_on_case_names_and_plot_writes_a_png_or_says_why_not(tmp_path):
    out = bench(tmp_path, "--quick", "--repeat", "1", "--threads", "1", "--filter", "^relu",
                "--json", "f.json", "--plot", "ratios.png")
    with open(tmp_path / "f.json") as f:
        doc = json.load(f)
    assert [row["name"] for row in doc["cases"]] == ["relu", "relu_inplace"]
    assert doc["settings"]["filter"] == "^relu"
    png = tmp_path / "ratios.png"
    if "matplotlib is not installed" in out:
        assert not png.exists()
    else:
        assert "plot written to ratios.png" in out
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_precision_high_is_the_runs_setting_and_is_restored_after(tmp_path, capsys,
                                                                  monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = fastconv.get_precision()
    assert fb.main(["--quick", "--repeat", "1", "--threads", "1", "--filter", "^vgg_3x3$",
                    "--precision", "high", "--json", "p.json"]) == 0
    assert "precision 'high'" in capsys.readouterr().out
    with open(tmp_path / "p.json") as f:
        doc = json.load(f)
    assert doc["settings"]["precision"] == "high"
    assert doc["cases"][0]["auto_algorithm"] in fastconv.ops._ext.ALGORITHMS
    assert fastconv.get_precision() == before == "highest"


def test_filter_that_is_no_regex_is_a_substring_and_list_shows_the_cases(tmp_path):
    listed = bench(tmp_path, "--quick", "--list", "--filter", "+relu").splitlines()
    assert [line.split()[0] for line in listed] == [n for n in QUICK_NAMES if "+relu" in n]
    assert all("activation=relu" in line for line in listed)
    everything = bench(tmp_path, "--list").splitlines()
    assert [line.split()[0] for line in everything] == [c.name for c in fb.cases()]


def test_filter_matching_nothing_says_so(tmp_path):
    out = bench(tmp_path, "--quick", "--filter", "no_such_case", status=2)
    assert "no case matches" in out


def test_load_times_the_cases_again_beside_a_busy_process_it_starts_and_stops(tmp_path):
    out = bench(tmp_path, "--quick", "--repeat", "2", "--threads", "1", "--filter",
                "^(relu|resnet_1x1)$", "--load", "--json", "l.json")
    with open(tmp_path / "l.json") as f:
        doc = json.load(f)
    load = doc["load"]
    assert load["threads"] == [1, 2] and load["target"] == fb.LOAD_TARGET
    assert [row["name"] for row in load["rows"]] == ["resnet_1x1", "relu"]
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("under load "))
    assert "2t/1t" in lines[start] and f"target <= {fb.LOAD_TARGET}x" in lines[start]
    for row, line in zip(load["rows"], lines[start + 1:]):
        assert line.split()[0] == row["name"]
        for library in ("fastconv", "torch"):
            figures = row[library]
            if library == "torch" and doc["versions"]["torch"] is None:
                assert "missing" in figures
                continue
            one, two = figures["1"], figures["2"]
            # throughput: all the blocks' time over all their calls, not a median
            assert one["time_s"] == pytest.approx(sum(one["blocks_s"]) / one["calls"])
            assert len(two["blocks_s"]) == 2 and two["calls"] >= 2
            assert figures["ratio"] == pytest.approx(two["time_s"] / one["time_s"])
        assert row["target"]["status"] == "n/a"         # --quick
        if row["load"]["cpu"] is not None and not row["load"]["busy"]:
            # our own neighbour is not "others" (asserted where no one else took its core)
            assert row["load"]["cpu"]["excluded_cpus"] > 0.2, row["load"]
    # the busy process is gone (killed, or ended when it saw its parent go)
    deadline = time.monotonic() + 2
    while _running(load["neighbour_pid"]):
        assert time.monotonic() < deadline, "the busy process outlived the benchmark"
        time.sleep(0.05)


def _running(pid):
    """Whether process `pid` exists and is not a zombie (Linux; elsewhere: assume not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1][:1] not in ("Z", "X")
    except OSError:
        return False


def test_load_restores_every_thread_count():
    peers = fb.Peers()
    case = next(c for c in fb.cases(quick=True) if c.name == "relu")
    before = fastconv.get_num_threads(), peers.torch and peers.torch.get_num_threads()
    rows, _ = fb.run_load([case], peers, repeat=1, min_time=0.001, threads=2, quick=True,
                          settle=0.0)
    assert (fastconv.get_num_threads(), peers.torch and peers.torch.get_num_threads()) == before
    assert rows[0]["fastconv"]["ratio"] > 0


def test_algorithms_and_scaling_report_each_conv_path(tmp_path):
    bench(tmp_path, "--quick", "--repeat", "1", "--threads", "1", "--filter", "^resnet_1x1$",
          "--algorithms", "--scaling", "--json", "a.json")
    with open(tmp_path / "a.json") as f:
        doc = json.load(f)
    (row,) = doc["cases"]
    info = row["algorithms"]
    accepted = set(info["times_s"]) | set(row["skipped_algorithms"])
    assert accepted == set(fastconv.ops._ext.ALGORITHMS) - {"auto"}
    assert info["best"] in info["times_s"] and info["auto"] == row["auto_algorithm"]
    assert info["auto_slowdown"] > 0 and isinstance(info["ok"], bool)
    (scaling,) = doc["scaling"]
    assert scaling["name"] == "resnet_1x1" and scaling["speedup"] > 0


# ---- the pieces, in process -----------------------------------------------------------------

def test_docstring_examples_of_the_benchmark_modules_run():
    results = [doctest.testmod(module) for module in _bench_modules()]
    assert sum(r.attempted for r in results) >= 5 and sum(r.failed for r in results) == 0

def test_quick_shapes_keep_the_kind_of_layer():
    for full in fb.CONV_SHAPES:
        quick = fb.quick_conv_shape(full)
        assert (quick.r, quick.s, quick.stride, quick.padding) == \
               (full.r, full.s, full.stride, full.padding)
        assert (quick.groups == quick.c > 1) == (full.groups == full.c > 1)
        assert (quick.c == quick.k == 1) == (full.c == full.k == 1)
        assert fb.conv_flops(quick) < fb.conv_flops(full)


def test_conv_flops_counts_two_per_multiply_add():
    shape = fb.ConvShape("t", 2, 6, 10, 12, 4, 3, 3, 1, 1, 2)   # output 10 x 12
    assert fb.conv_flops(shape) == 2 * (2 * 4 * 10 * 12) * (3 * 3 * 3)


@pytest.mark.parametrize("stride,padding,groups,dilation,kernel",
                         [(1, 0, 1, 1, (3, 3)), (2, 1, 1, 1, (3, 3)), (1, 1, 2, 1, (3, 3)),
                          (1, 1, 4, 1, (3, 3)), (1, 2, 1, 2, (3, 3)), (1, (0, 3), 1, 1, (1, 7)),
                          (2, (1, 2), 1, 2, (2, 3))])
def test_numpy_peer_conv2d_is_the_convolution(stride, padding, groups, dilation, kernel):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 9, 8), dtype=np.float32)
    w = rng.standard_normal((4, 4 // groups, *kernel), dtype=np.float32)
    b = rng.standard_normal(4, dtype=np.float32)
    ph, pw = padding if isinstance(padding, tuple) else (padding, padding)
    args = dict(stride=(stride, stride), padding=((ph, ph), (pw, pw)), groups=groups,
                dilation=(dilation, dilation))
    y = np.ascontiguousarray(fb.numpy_conv2d(x, w, b, stride, padding, groups,
                                             dilation=dilation))
    assert_reduction_close(y, oracle.conv2d(x, w, b, **args),
                           oracle.conv2d_abs_bound(x, w, b, **args),
                           4 // groups * kernel[0] * kernel[1] + 1, np.float32)
    relu = fb.numpy_conv2d(x, w, b, stride, padding, groups, relu=True, dilation=dilation)
    assert_exact(np.ascontiguousarray(relu), np.maximum(y, 0))


@pytest.mark.parametrize("kernel,stride,padding", [(2, 2, 0), (3, 2, 1), (3, 1, 0)])
def test_numpy_peer_pools_are_the_pools(kernel, stride, padding):
    x = np.random.default_rng(2).standard_normal((2, 3, 10, 8), dtype=np.float32)
    expected, _ = oracle.max_pool2d(x, (kernel, kernel), (stride, stride), (padding, padding))
    assert_exact(np.ascontiguousarray(fb.numpy_max_pool2d(x, kernel, stride, padding)),
                 expected.astype(np.float32))
    mean = fb.numpy_avg_pool2d_2x2(x)
    np.testing.assert_allclose(mean, oracle.avg_pool2d(x, (2, 2), (2, 2)), rtol=1e-6, atol=1e-6)


def test_select_takes_a_substring_or_a_regex():
    cases = fb.cases()
    assert [c.name for c in fb.select(cases, "^max_pool")] == ["max_pool2d_2x2s2",
                                                                "max_pool2d_3x3s2p1"]
    assert [c.name for c in fb.select(cases, "lenet_c1+relu")] == ["lenet_c1+relu"]
    assert [c.name for c in fb.select(cases, "*relu")] == [c.name for c in cases
                                                           if "*relu" in c.name] == []
    assert [c.name for c in fb.select(cases, "b1|b32$")] == ["resnet_3x3_b1",
                                                             "resnet_3x3_b1+relu",
                                                             "resnet_3x3_b32",
                                                             "resnet_3x3_b1+bwd"]
    assert fb.select(cases, None) == cases


def _row(ratios=None, share=None, seconds=1e-3):
    return {"ratios": ratios or {}, "peak_share": share,
            "impls": {"fastconv": {"median_s": seconds}}}


def test_targets_pass_fail_or_cannot_be_judged_without_the_peer():
    both = {"torch": 1.2, "onnxruntime": 1.05}
    assert fb.evaluate_target("conv_large", _row(both, 0.75))["status"] == "pass"
    failed = fb.evaluate_target("conv_large", _row(both, 0.5))
    assert failed["status"] == "FAIL" and failed["failed"] == ["peak"]
    failed = fb.evaluate_target("conv", _row({"torch": 1.05, "onnxruntime": 0.9}))
    assert failed["status"] == "FAIL" and failed["failed"] == ["torch", "onnxruntime"]
    assert fb.evaluate_target("conv", _row({"torch": 1.2}))["status"] == "n/a"  # no ORT
    assert fb.evaluate_target("train", _row({"torch": 1.25}))["status"] == "pass"
    assert fb.evaluate_target("image", _row({"torch": 12.0}))["status"] == "n/a"  # no opencv
    assert fb.evaluate_target("image", _row({"torch": 2.0}))["status"] == "FAIL"
    assert fb.evaluate_target("overhead_relu", _row(seconds=2e-6))["status"] == "pass"
    assert fb.evaluate_target("overhead_relu", _row(seconds=4e-6))["status"] == "FAIL"
    assert fb.evaluate_target(None, _row())["status"] == "-"


def test_the_legend_spells_out_every_target_and_cites_nothing_a_user_cannot_see():
    legend = re.sub(r"\n {4}", " ", fb.targets_legend())   # a rule's wrapped lines as one
    for rule, criteria in fb.TARGETS.items():
        case = next(c for c in fb.cases() if c.rule == rule and not c.name.endswith("+relu"))
        line = next(line for line in legend.splitlines()[1:] if f" {case.name}" in line)
        for bound in criteria.values():
            assert f"{100 * bound:.0f}%" in line or f"{bound:g}" in line, (rule, line)
    # the strings the command prints (and the comments beside them) name no tracker entry
    for module in (fb, *_bench_modules()):
        with open(module.__file__) as f:
            source = f.read()
        assert not re.search(r"(?i)\bissue\s*#?\d|§", source), module.__name__


def test_every_rule_a_case_names_has_targets():
    for case in fb.cases():
        assert case.rule is None or case.rule in fb.TARGETS
    large = [c for c in fb.cases() if c.rule == "conv_large" and c.name == c.layer]
    assert {c.name for c in large} < set(fb.LARGE_LAYERS)


def test_each_layer_is_held_to_the_rule_of_its_kind():
    rules = {c.name: c.rule for c in fb.cases()}
    assert rules["vgg_3x3"] == rules["grouped"] == rules["resnet_3x3_7x7"] == "conv_3x3s1"
    assert rules["resnet_7x7s2"] == rules["resnet_1x1"] == "conv_large"
    assert rules["dilated"] == rules["conv_3x3s2"] == rules["inception_1x7"] == "conv"
    assert rules["depthwise"] == rules["mobilenet_dw_s2"] == "depthwise"
    assert rules["nhwc_depthwise"] == rules["nhwc_grouped"] == "conv_nhwc"
    assert rules["lenet_c2+relu"] == "lenet" and rules["image_5x5"] == "image"
    assert {rules[n] for n in rules if n.endswith("+bwd")} == {"train"}


def test_max_relative_error_scales_by_the_expected_magnitude():
    expected = np.array([100.0, -50.0])
    assert fb.max_relative_error(expected + [0.01, 0], expected) == pytest.approx(1e-4)
    assert fb.max_relative_error(expected[:1], expected) == np.inf


# ---- is the machine busy? -------------------------------------------------------------------

def _stat(cpu0, cpu1):
    """A fabricated /proc/stat: per CPU (user, system, idle, steal) ticks."""
    def line(name, user, system, idle, steal):
        return f"{name} {user} 0 {system} {idle} 0 0 0 {steal} 0 0"
    total = [a + b for a, b in zip(cpu0, cpu1)]
    return "\n".join([line("cpu ", *total), line("cpu0", *cpu0), line("cpu1", *cpu1),
                      "intr 12345 0 0", "ctxt 999", "procs_running 3"])


def _sample(wall, text, own_s=0.0, excluded_s=0.0, cpus=(0, 1)):
    return fb.CpuSample(wall, fb.parse_proc_stat(text, cpus), own_s, excluded_s)


def test_procs_running_is_read_from_proc_stat():
    assert fb.parse_procs_running(_stat((0, 0, 0, 0), (0, 0, 0, 0))) == 3
    assert fb.parse_procs_running("cpu 1 2 3 4") is None


def test_proc_stat_is_summed_over_our_cpus_only():
    text = _stat((10, 2, 80, 1), (30, 4, 60, 0))
    assert fb.parse_proc_stat(text, {0, 1}) == fb.parse_proc_stat(text)   # the "cpu" line
    assert fb.parse_proc_stat(text, {1})["user"] == 30
    assert fb.parse_proc_stat(text, {0})["steal"] == 1
    assert fb.parse_proc_stat("intr 1\nctxt 2") is None
    assert fb.parse_proc_stat(text, {7}) is None          # no such CPU


def test_others_cpu_is_busy_time_minus_our_own():
    # 2 CPUs, 100 ticks/s, 2 s: 400 ticks, of which 100 idle -> 3 CPU-seconds busy; we used
    # 1.2 s of them: the others used 1.8 s in 2 s, 0.9 CPU
    before = _sample(10.0, _stat((0, 0, 0, 0), (0, 0, 0, 0)), own_s=5.0)
    after = _sample(12.0, _stat((150, 10, 40, 0), (130, 10, 60, 0)), own_s=6.2)
    use = fb.cpu_use(before, after, cpus=2, hz=100)
    assert use["others_cpus"] == pytest.approx(0.9)
    assert use["own_cpus"] == pytest.approx(0.6)
    assert use["steal_cpus"] == 0 and use["wall_s"] == pytest.approx(2.0)
    assert use["resolution_cpus"] == pytest.approx(2 / 100 / 2.0)   # a tick per CPU
    assert fb.busy_reasons(use) == ["other processes used 0.9 CPU (of 2)"]


def test_steal_is_not_counted_as_busy_and_is_its_own_reason():
    before = _sample(0.0, _stat((0, 0, 0, 0), (0, 0, 0, 0)))
    after = _sample(1.0, _stat((10, 0, 60, 30), (10, 0, 70, 20)), own_s=0.2)
    use = fb.cpu_use(before, after, cpus=2, hz=100)
    assert use["steal_cpus"] == pytest.approx(0.5)
    assert use["others_cpus"] == pytest.approx(0.0)        # 0.2 busy, all ours
    assert fb.busy_reasons(use) == ["the hypervisor took 0.5 CPU (steal)"]


def test_processes_we_started_are_not_others():
    # --load's busy process used 1 CPU: excluded, the machine is otherwise quiet
    before = _sample(0.0, _stat((0, 0, 0, 0), (0, 0, 0, 0)), own_s=1.0, excluded_s=3.0)
    after = _sample(1.0, _stat((100, 0, 0, 0), (40, 0, 60, 0)), own_s=1.35, excluded_s=4.0)
    use = fb.cpu_use(before, after, cpus=2, hz=100)
    assert use["excluded_cpus"] == pytest.approx(1.0)
    assert use["others_cpus"] == pytest.approx(0.05)
    assert fb.busy_reasons(use) == []


def test_a_window_too_short_to_tell_is_not_called_busy_on_a_ticks_noise():
    # 0.05 s on 2 CPUs: 2 ticks of others could be the counters' rounding alone
    before = _sample(0.0, _stat((0, 0, 0, 0), (0, 0, 0, 0)))
    after = _sample(0.05, _stat((2, 0, 3, 0), (1, 0, 4, 0)), own_s=0.01)
    use = fb.cpu_use(before, after, cpus=2, hz=100)
    assert use["others_cpus"] == pytest.approx(0.4)
    assert use["resolution_cpus"] == pytest.approx(0.4)
    assert fb.busy_reasons(use) == []
    # ... but a whole busy core over the same window is
    after = _sample(0.05, _stat((5, 0, 0, 0), (5, 0, 0, 0)), own_s=0.0)
    assert fb.busy_reasons(fb.cpu_use(before, after, cpus=2, hz=100)) == \
        ["other processes used 2.0 CPU (of 2)"]


def test_calibration_slowdown_and_load_average_are_reasons_past_their_margins():
    quiet = dict(others_cpus=0.0, steal_cpus=0.0, resolution_cpus=0.01, cpus=2)
    assert fb.busy_reasons(quiet, slowdown=fb.CALIBRATION_MARGIN - 0.01) == []
    assert fb.busy_reasons(quiet, slowdown=1.4) == \
        ["the calibration loop ran 1.40x slower than at the start"]
    assert fb.busy_reasons(None, loadavg_beyond=1.6) == \
        ["load 1.6 beyond this process (runnable threads)"]
    assert fb.busy_reasons(None, slowdown=None, loadavg_beyond=0.2) == []


def _skip_if_the_cores_are_taken(monitor):
    """A child's CPU share can only be asserted while the machine has a core to give it."""
    token = monitor.begin()
    time.sleep(0.3)
    quiet = monitor.end(token)
    if quiet["cpu"] is not None and quiet["cpu"]["others_cpus"] > 0.4:
        pytest.skip(f"other processes already use {quiet['cpu']['others_cpus']:.1f} CPU: "
                    f"a busy child's share of the cores cannot be measured now")


def test_the_monitor_sees_a_busy_process_started_beside_it():
    monitor = fb.LoadMonitor()
    if not monitor.has_proc_stat:
        pytest.skip("no /proc/stat")
    monitor.preflight(0.05)
    _skip_if_the_cores_are_taken(monitor)
    with fb.BusyProcess() as child:
        time.sleep(0.2)
        token = monitor.begin()
        time.sleep(0.5)
        seen = monitor.end(token)
        assert seen["busy"] and seen["cpu"]["others_cpus"] > 0.5, seen
        monitor.exclude_pids.add(child.pid)      # ours: no longer "others"
        token = monitor.begin()
        time.sleep(0.5)
        excluded = monitor.end(token)
    assert excluded["cpu"]["excluded_cpus"] > 0.5, excluded
    assert excluded["cpu"]["others_cpus"] < seen["cpu"]["others_cpus"] - 0.5, (seen, excluded)
    assert child.poll() is not None           # killed on leaving the block


@pytest.fixture(scope="module")
def busy_run(tmp_path_factory):
    """A tiny run with a CPU-bound process beside it, started before the run."""
    tmp = tmp_path_factory.mktemp("busy")
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        out = bench(tmp, "--quick", "--repeat", "2", "--threads", "1", "--filter",
                    "^(relu|resnet_1x1)$", "--json", "busy.json")
    finally:
        spinner.kill()
        spinner.wait()
    with open(tmp / "busy.json") as f:
        return out, json.load(f)


def test_a_busy_machine_is_warned_about_at_the_top_and_on_every_row(busy_run):
    out, doc = busy_run
    if doc["busy"]["preflight"]["cpu"] is None:
        pytest.skip("no /proc/stat: only the calibration loop watches")
    lines = out.splitlines()
    warning = next(i for i, line in enumerate(lines) if line.startswith("WARNING: the machine "
                                                                         "is busy"))
    table = next(i for i, line in enumerate(lines) if line.startswith("case "))
    assert warning < table and "other processes used" in lines[warning]
    assert doc["busy"]["preflight"]["busy"], doc["busy"]["preflight"]
    for row in doc["cases"]:
        assert row["load"]["busy"], row["load"]
        assert any(r.startswith("other processes used") for r in row["load"]["reasons"])
        line = next(line for line in lines if line.split()[:1] == [row["name"]])
        assert line.split()[1] == "busy"
        assert f"  {row['name']}: other processes used" in out       # the note under the table
    assert doc["busy"]["rows"] == [row["name"] for row in doc["cases"]]
    assert doc["peaks"]["load"]["busy"], doc["peaks"]["load"]
    assert "! measured while the machine was busy" in out
    assert "WARNING: the machine was busy during this run" in out


def test_rows_say_whether_the_machine_was_busy_and_what_was_seen(quick_run):
    _, doc = quick_run
    for row in doc["cases"]:
        load = row["load"]
        assert isinstance(load["busy"], bool) and load["busy"] == bool(load["reasons"])
        assert load["calibration_slowdown"] > 0
        if load["cpu"] is not None:
            assert load["cpu"]["wall_s"] > 0 and load["cpu"]["others_cpus"] >= 0
    assert doc["busy"]["calibration_reference_s"] > 0
    assert set(doc["busy"]["limits"]) == {"others_cpus", "steal_cpus", "calibration_slowdown",
                                          "load_beyond_us"}


def test_a_share_of_peak_above_100_percent_is_marked_and_not_judged():
    row = dict(_row({"torch": 1.2, "onnxruntime": 1.1}, share=1.5), name="resnet_1x1",
               auto_algorithm="im2col", unit="GFLOP/s", rate=1.0, missing={}, checks={}, peak_share_reliable=False,
               load={"busy": False, "reasons": []})
    row["impls"]["fastconv"].update(spread=0.0)
    row["target"] = fb.evaluate_target("conv_large", row)
    assert row["target"]["status"] == "n/a"
    (peak,) = [c for c in row["target"]["criteria"] if c["criterion"] == "peak"]
    assert peak["ok"] is None and "unreliable" in peak["note"]
    assert "150%!" in fb.format_row(row).split()
    assert fb.peak_share_notes([row])[0].startswith("peak share above 100% (resnet_1x1)")


def test_float64_auto_benchmark_times_every_algorithm_and_judges_auto(tmp_path):
    """bench/float64_auto.py (the issue's float64 auto-vs-best row), on one small layer."""
    import os
    from subprocess_env import TESTS_DIR
    script = os.path.join(TESTS_DIR, "..", "bench", "float64_auto.py")
    out = tmp_path / "f64.json"
    res = subprocess.run([sys.executable, script, "--threads", "1", "--repeat", "1",
                          "--filter", "^lenet_c1$", "--json", str(out)], env=subprocess_env(),
                         cwd=TESTS_DIR, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    (row,) = json.loads(out.read_text())["rows"]
    assert row["layer"] == "lenet_c1" and row["auto_algorithm"] in row["median_s"]
    assert {"auto", "im2col", "direct", "depthwise"} <= set(row["median_s"])
    assert row["best_over_auto"] > 0 and "lenet_c1" in res.stdout

"""`fastconv bench`: the command runs, its JSON holds what it promises, --filter, --list and
--plot behave; the NumPy peers compute what fastconv computes; the target rules.  No timing
is asserted: the figures depend on the machine and its load."""
import doctest
import json
import re
import subprocess
import sys

import numpy as np
import pytest

import fastconv
from fastconv import benchmark as fb
import oracle
from tolerances import assert_exact, assert_reduction_close
from subprocess_env import subprocess_env

QUICK_NAMES = [case.name for case in fb.cases(quick=True)]


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
    assert set(doc["versions"]) >= {"torch", "opencv", "python"}
    assert doc["machine"]["cores"] >= 1 and doc["config"]["isa"] in ("scalar", "avx2", "avx512")
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
        assert row["unit"] == ("GFLOP/s" if row["op"] == "conv2d" else "GB/s")
        # every peer has a ratio or says why not, never both
        for peer in fb.PEERS:
            assert (peer in row["ratios"]) != (peer in row["missing"]), (row["name"], peer)
        assert "numpy" in row["ratios"]        # numpy is always there
        assert set(row["checks"]) == set(row["ratios"])
        assert row["peak_share"] > 0 and row["peak_rate"] > 0
        # the peak kernel runs in the case's loop, except on the overhead rows
        assert any(label.startswith("peak:") for label in row["impls"]) != \
            row["name"].startswith("overhead")
        assert all(check["ok"] for check in row["checks"].values()), row["checks"]
        assert row["target"]["status"] == "n/a"  # the targets are for the full shapes
        if row["op"] == "conv2d":
            assert row["auto_algorithm"] in fastconv._ext.ALGORITHMS


def test_missing_peers_are_named_absent_in_the_table(quick_run):
    out, doc = quick_run
    for peer in ("torch", "opencv"):
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


def test_filter_that_is_no_regex_is_a_substring_and_list_shows_the_cases(tmp_path):
    listed = bench(tmp_path, "--quick", "--list", "--filter", "+relu").splitlines()
    assert [line.split()[0] for line in listed] == [n for n in QUICK_NAMES if "+relu" in n]
    assert all("activation=relu" in line for line in listed)
    everything = bench(tmp_path, "--list").splitlines()
    assert [line.split()[0] for line in everything] == [c.name for c in fb.cases()]


def test_filter_matching_nothing_says_so(tmp_path):
    out = bench(tmp_path, "--quick", "--filter", "no_such_case", status=2)
    assert "no case matches" in out


def test_algorithms_and_scaling_report_each_conv_path(tmp_path):
    bench(tmp_path, "--quick", "--repeat", "1", "--threads", "1", "--filter", "^resnet_1x1$",
          "--algorithms", "--scaling", "--json", "a.json")
    with open(tmp_path / "a.json") as f:
        doc = json.load(f)
    (row,) = doc["cases"]
    info = row["algorithms"]
    accepted = set(info["times_s"]) | set(row["skipped_algorithms"])
    assert accepted == set(fastconv._ext.ALGORITHMS) - {"auto"}
    assert info["best"] in info["times_s"] and info["auto"] == row["auto_algorithm"]
    assert info["auto_slowdown"] > 0 and isinstance(info["ok"], bool)
    (scaling,) = doc["scaling"]
    assert scaling["name"] == "resnet_1x1" and scaling["speedup"] > 0


# ---- the pieces, in process -----------------------------------------------------------------

def test_docstring_examples_of_the_benchmark_module_run():
    result = doctest.testmod(fb)
    assert result.attempted >= 5 and result.failed == 0

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


@pytest.mark.parametrize("stride,padding,groups", [(1, 0, 1), (2, 1, 1), (1, 1, 2), (1, 1, 4)])
def test_numpy_peer_conv2d_is_the_convolution(stride, padding, groups):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 9, 8), dtype=np.float32)
    w = rng.standard_normal((4, 4 // groups, 3, 3), dtype=np.float32)
    b = rng.standard_normal(4, dtype=np.float32)
    args = dict(stride=(stride, stride), padding=((padding, padding),) * 2, groups=groups)
    y = np.ascontiguousarray(fb.numpy_conv2d(x, w, b, stride, padding, groups))
    assert_reduction_close(y, oracle.conv2d(x, w, b, **args),
                           oracle.conv2d_abs_bound(x, w, b, **args), 4 // groups * 9 + 1,
                           np.float32)
    relu = fb.numpy_conv2d(x, w, b, stride, padding, groups, relu=True)
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
                                                             "resnet_3x3_b32"]
    assert fb.select(cases, None) == cases


def _row(ratios=None, share=None, seconds=1e-3):
    return {"ratios": ratios or {}, "peak_share": share,
            "impls": {"fastconv": {"median_s": seconds}}}


def test_targets_pass_fail_or_cannot_be_judged_without_the_peer():
    assert fb.evaluate_target("large_layer", _row({"torch": 0.95}, 0.75))["status"] == "pass"
    failed = fb.evaluate_target("large_layer", _row({"torch": 0.95}, 0.5))
    assert failed["status"] == "FAIL" and failed["failed"] == ["peak"]
    assert fb.evaluate_target("image", _row({"torch": 12.0}))["status"] == "n/a"  # no opencv
    assert fb.evaluate_target("image", _row({"torch": 2.0}))["status"] == "FAIL"
    assert fb.evaluate_target("overhead_relu", _row(seconds=2e-6))["status"] == "pass"
    assert fb.evaluate_target("overhead_relu", _row(seconds=4e-6))["status"] == "FAIL"
    assert fb.evaluate_target(None, _row())["status"] == "-"


def test_the_legend_spells_out_every_target_and_cites_nothing_a_user_cannot_see():
    legend = fb.targets_legend()
    for rule, criteria in fb.TARGETS.items():
        case = next(c for c in fb.cases() if c.rule == rule and not c.name.endswith("+relu"))
        line = next(line for line in legend.splitlines()[1:] if f" {case.name}" in line)
        for bound in criteria.values():
            assert f"{100 * bound:.0f}%" in line or f"{bound:g}" in line, (rule, line)
    # the strings the command prints (and the comments beside them) name no tracker entry
    with open(fb.__file__) as f:
        source = f.read()
    assert not re.search(r"(?i)\bissue\s*#?\d|§", source)


def test_every_rule_a_case_names_has_targets():
    for case in fb.cases():
        assert case.rule is None or case.rule in fb.TARGETS
    large = [c for c in fb.cases() if c.rule == "large_layer" and c.name == c.layer]
    assert [c.name for c in large] == list(fb.LARGE_LAYERS)


def test_max_relative_error_scales_by_the_expected_magnitude():
    expected = np.array([100.0, -50.0])
    assert fb.max_relative_error(expected + [0.01, 0], expected) == pytest.approx(1e-4)
    assert fb.max_relative_error(expected[:1], expected) == np.inf

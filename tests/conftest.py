"""Shared fixtures and hypothesis profiles.

Profiles: "dev" (default, random) and "ci" (derandomised; chosen when the environment has
CI set).  HYPOTHESIS_PROFILE=name overrides the choice.  The example counts keep the whole
suite within about three minutes on two cores.
"""

import os
import tempfile

# conv2d's plan cache (fastconv.ops.plans) of this test session: in a directory of its own, so
# the suite neither reads the user's plans nor leaves its own behind; subprocesses inherit it
os.environ["FASTCONV_CACHE_DIR"] = tempfile.mkdtemp(prefix="fastconv-plans-")

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

_COMMON = dict(
    deadline=None,
    max_examples=150,
    # the fixtures below are safe to share between the examples of one test
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    print_blob=True,
)
# the example database lives beside the tests (not in the working directory); CI keeps none
settings.register_profile(
    "dev",
    database=DirectoryBasedExampleDatabase(
        os.path.join(os.path.dirname(os.path.abspath(__file__)), ".hypothesis")),
    **_COMMON)
# CI runs twice the examples: derandomised, so a failure there reproduces locally with
# HYPOTHESIS_PROFILE=ci
settings.register_profile("ci", derandomize=True, database=None,
                          **dict(_COMMON, max_examples=2 * _COMMON["max_examples"]))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


INT64_SENTINEL = np.iinfo(np.int64).min  # -2**63


class _EmptyRecorder:
    """Replacement for fastconv.functional._empty: pre-fills outputs with sentinels."""

    def __init__(self, original):
        self.original = original
        self.calls = []

    def __call__(self, shape, dtype):
        dtype = np.dtype(dtype)
        out = self.original(shape, dtype)
        assert isinstance(out, np.ndarray) and out.dtype == dtype
        if dtype.kind == "f":
            out.fill(np.nan)
        elif dtype == np.int64:
            out.fill(INT64_SENTINEL)
        elif dtype in (np.uint8, np.uint16, np.int16):  # filter2d's integer images
            out.fill(np.iinfo(dtype).max // 3)  # a value no saturated result is
        else:  # pragma: no cover - the API only allocates float, int64 and pixel outputs
            raise AssertionError(f"unexpected output dtype {dtype}")
        self.calls.append((tuple(shape), dtype))
        return out

    def reset(self):
        self.calls.clear()


@pytest.fixture
def nan_outputs(monkeypatch):
    """Every output array is pre-filled with NaN (float) or -2**63 (int64 indices).

    An element the kernel never writes then fails the comparison with the oracle (use with
    inputs that hold no NaN).  The fixture returns the recorder: tests assert that their
    outputs did come from ``_empty`` (``recorder.calls``), so the fixture cannot silently
    stop working.
    """
    import fastconv
    import fastconv.functional as functional

    recorder = _EmptyRecorder(functional._empty)
    monkeypatch.setattr(functional, "_empty", recorder)
    reference = getattr(fastconv, "reference", None)
    if reference is not None and hasattr(reference, "_empty"):
        monkeypatch.setattr(reference, "_empty", _EmptyRecorder(reference._empty))
    return recorder


@pytest.fixture
def restore_threads():
    """Restores fastconv's thread count after a test that changes it."""
    import fastconv

    saved = fastconv.get_num_threads()
    yield saved
    fastconv.set_num_threads(saved)


@pytest.fixture
def restore_precision():
    """Restores fastconv's precision setting (set_precision) after a test that changes it."""
    import fastconv

    saved = fastconv.get_precision()
    yield saved
    fastconv.set_precision(saved)


def pytest_report_header(config):
    import fastconv
    cfg = fastconv.show_config(False)
    kernels = ", ".join(f"{op}: {name}" for op, name in cfg["kernels"].items())
    return [f"fastconv {cfg['version']} from {os.path.dirname(fastconv.__file__)}",
            f"fastconv isa: {cfg['isa']} (cpu: {cfg['cpu_isa']}), threads: {cfg['num_threads']}, "
            f"openmp: {cfg['openmp']}", f"fastconv kernels: {kernels}"]


def pytest_sessionstart(session):
    """A run asked for one ISA path (CI runs the suite once per path) must really be on it."""
    requested = os.environ.get("FASTCONV_ISA")
    if not requested:
        return
    import fastconv
    cfg = fastconv.show_config(False)
    if cfg["isa"] != requested.strip().lower():
        raise pytest.UsageError(
            f"FASTCONV_ISA={requested} but fastconv runs {cfg['isa']} (CPU: {cfg['cpu_isa']})")


# CI runs the README's test block (no optional peers installed), then installs torch, OpenCV,
# ONNX Runtime and Dask and reruns, on the same ISA path, what skipped the first time:
# FASTCONV_SKIPPED_LOG names a file that gets one line per skipped test (pytest's @file
# argument) or module.  A parameter list that was empty without a peer (pytest's "NOTSET"
# case) is logged as its whole function, whose cases the peer adds.
def _log_skipped(nodeid):
    path = os.environ.get("FASTCONV_SKIPPED_LOG")
    if path:
        with open(path, "a") as log:
            log.write((nodeid.split("[")[0] if "NOTSET" in nodeid else nodeid) + "\n")


def pytest_runtest_logreport(report):
    if report.skipped:
        _log_skipped(report.nodeid)


def pytest_collectreport(report):
    if report.skipped:  # a module-level importorskip
        _log_skipped(report.nodeid)

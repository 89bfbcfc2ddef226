"""pytest-benchmark suite: `pytest bench` (add --fastconv-quick for the small shapes).

The cases, peers and shapes are fastconv.bench's, the ones `fastconv bench` prints; here
each implementation of a case (fastconv with algorithm="auto", each algorithm it accepts for a
conv2d shape, and every installed peer) is its own benchmark, grouped by case, so that
pytest-benchmark's table, --benchmark-compare and --benchmark-histogram apply.  pytest-benchmark
times them one after the other, not interleaved: for ratios on a busy machine prefer
`fastconv bench`, which alternates them within each repeat.  Every peer's result is also
checked against fastconv's.
"""
import functools

import numpy as np
import pytest

import fastconv
from fastconv import benchmark as fb
from fastconv.ops import _ext

ALGORITHMS = [name for name in _ext.ALGORITHMS if name != "auto"]


def pytest_generate_tests(metafunc):
    if "case" not in metafunc.fixturenames:
        return
    quick = metafunc.config.getoption("--fastconv-quick")
    params = []
    for case in fb.cases(quick):
        labels = ["fastconv"]
        if case.op == "conv2d":
            labels += [f"fastconv:{name}" for name in ALGORITHMS]
        for label in labels + list(fb.PEERS):
            params.append(pytest.param(case, label, id=f"{case.name}-{label}"))
    metafunc.parametrize("case,impl", params)


@pytest.fixture(scope="session")
def peers(request):
    threads = request.config.getoption("--fastconv-threads")
    if threads is not None:
        fastconv.set_num_threads(threads)
    peers = fb.Peers(threads or fb._cores())
    yield peers
    peers.restore()


@functools.lru_cache(maxsize=1)   # the cases run in order: keep one case's arrays alive
def _workload(case, peers):
    workload = case.build(peers)
    return workload, np.array(workload.impls["fastconv"]())


def test_case(benchmark, case, impl, peers):
    workload, expected = _workload(case, peers)
    if impl.startswith("fastconv:"):
        name = impl.split(":", 1)[1]
        if name not in workload.algorithms:
            pytest.skip(workload.skipped_algorithms.get(name, f"{name} does not apply"))
        run = workload.algorithms[name]
    elif impl in workload.impls:
        run = workload.impls[impl]
    else:
        pytest.skip(f"{impl}: {workload.missing.get(impl, 'not applicable')}")
    benchmark.group = case.name
    benchmark.extra_info.update(unit=workload.unit, describe=case.describe,
                                auto_algorithm=workload.auto_algorithm)
    result = benchmark(run)
    error = fb.max_relative_error(result, expected)
    assert error <= fb.CHECK_TOLERANCE, f"{impl} differs from fastconv by {error:.2e}"
    if benchmark.stats is not None:   # None under --benchmark-disable
        benchmark.extra_info["rate"] = workload.work / benchmark.stats["median"] / 1e9

"""Options of the pytest-benchmark suite (`pytest bench`; the test suite's `pytest` never
collects it: pyproject's testpaths is tests/)."""


def pytest_addoption(parser):
    group = parser.getgroup("fastconv bench")
    group.addoption("--fastconv-quick", action="store_true",
                    help="the small shapes of `fastconv bench --quick`")
    group.addoption("--fastconv-threads", type=int, default=None,
                    help="threads for fastconv and the peers (default: all cores)")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a smoke run of a whole script (tens of seconds)")

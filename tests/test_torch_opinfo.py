"""PyTorch's OpInfo samples and error inputs for the ops fastconv mirrors (tests/torch_opinfo.py):
every sample matches torch, every error input is rejected with a clear exception, and the only
samples fastconv refuses are the ones it refuses by design."""
import pytest

pytest.importorskip("torch", reason="torch's OpInfo database needs torch (an optional peer)")
pytest.importorskip("expecttest", reason="torch's testing database imports expecttest "
                                         "(pip install expecttest)")

import torch_opinfo


@pytest.fixture(scope="module")
def outcome():
    return torch_opinfo.run()


def test_every_mirrored_op_and_dtype_has_samples(outcome):
    counts, _ = outcome
    for op in torch_opinfo.OPS:
        for kind in ("float32", "float64"):
            runs = [c for (name, k), c in counts.items()
                    if (name == op or name.startswith(op + ".")) and k == kind]
            assert runs and sum(sum(c.values()) for c in runs) > 0, (op, kind)


def test_samples_match_torch_and_errors_are_rejected(outcome):
    counts, notes = outcome
    failures = [note for note in notes if note[2] != "by design"]
    assert not failures, "\n".join(f"{o}: {n} {k}: {t}" for n, k, o, t in failures)
    assert sum(c["ok"] for c in counts.values()) > 3000  # the samples really ran


@pytest.fixture(scope="module")
def module_outcome():
    return torch_opinfo.run_modules()


def test_every_converted_module_class_has_samples(module_outcome):
    counts, _ = module_outcome
    names = {name for name, _ in counts}
    # Flatten and Dropout have no ModuleInfo in every torch release: the rest must run
    assert set(torch_opinfo.MODULES) - {"Flatten", "Dropout"} <= names


def test_module_samples_converted_by_from_torch_match_torch(module_outcome):
    counts, notes = module_outcome
    failures = [note for note in notes if note[2] != "by design"]
    assert not failures, "\n".join(f"{o}: {n} {k}: {t}" for n, k, o, t in failures)
    assert sum(c["ok"] for c in counts.values()) > 150

"""The op table (tests/ops.py) is complete and its facts are true.

The suites that iterate the table trust it: a public op without a row would go untested by
all of them at once, and a wrong fact (an output that is not one, a tolerance looser than the
op needs) would weaken every suite that reads it.
"""
import inspect

import numpy as np
import pytest

import fastconv
import fastconv.reference
import oracle
from ops import BY_NAME, NAMES, OPS
from tolerances import assert_exact, assert_reduction_close

# settings and tools, not ops on arrays (tune and explain plan conv2d: tests/test_plans.py)
NON_OPS = {"set_num_threads", "get_num_threads", "show_config", "empty_cache", "set_cache_limit",
           "set_precision", "get_precision", "tune", "explain",
           # OpenCV's kernels handed to sep_filter2d (a row): checked against cv2 in
           # test_filter2d.py
           "gaussian_blur", "box_blur", "sobel",
           # conv2d's Winograd filters transformed once, and their class: bitwise against
           # conv2d(algorithm="winograd") in test_prepare_weights.py
           "prepare_weights", "PreparedWeights"}


def test_every_public_op_has_a_row():
    public = {name for name in fastconv.__all__ if callable(getattr(fastconv, name))} - NON_OPS
    assert public == set(NAMES), f"rows missing: {public - set(NAMES)}, " \
                                 f"rows for no op: {set(NAMES) - public}"
    assert set(fastconv.functional.__all__) == set(NAMES)
    assert len(OPS) == len(BY_NAME), "two rows share a name"


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_row_names_the_op_its_twin_and_its_oracle(op):
    assert op.fn is getattr(fastconv, op.name)
    assert op.reference is getattr(fastconv.reference, op.name)
    assert op.oracle is getattr(oracle, op.name)
    # the same signature: the suites call the twin with the op's arguments
    assert inspect.signature(op.reference).parameters.keys() <= \
        inspect.signature(op.fn).parameters.keys()


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_row_tolerance_is_exact_for_data_movement_and_bounded_for_sums(op):
    if op.tolerance is assert_exact:
        assert op.abs_bound is None
    else:
        assert op.tolerance is assert_reduction_close and callable(op.abs_bound)


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_row_outputs_are_the_arguments_the_op_writes(op):
    parameters = inspect.signature(op.fn).parameters
    assert set(op.outputs) == {"out"} & set(parameters)
    assert op.in_place is None or (op.in_place in parameters and op.outputs)


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_row_example_is_valid_and_allocates_what_the_row_says(op, dtype, nan_outputs):
    args, kwargs = op.example(dtype)
    result = op.fn(*args, **kwargs)
    assert len(nan_outputs.calls) == op.allocations(kwargs)
    for array in result if isinstance(result, tuple) else (result,):
        assert isinstance(array, np.ndarray) and array.dtype == dtype
    if "out" in op.outputs:
        nan_outputs.reset()
        out = np.empty_like(result)
        assert op.fn(*args, out=out, **kwargs) is out
        assert len(nan_outputs.calls) == op.allocations(dict(kwargs, out=out)) == 0
    for name, value in op.flags:
        assert name in inspect.signature(op.fn).parameters


@pytest.mark.parametrize("op", [BY_NAME["max_pool2d"]], ids=lambda op: op.name)
def test_max_pool2d_allocates_its_indices_too(op, nan_outputs):
    args, kwargs = op.example()
    op.fn(*args, return_indices=True, **kwargs)
    assert len(nan_outputs.calls) == op.allocations(dict(kwargs, return_indices=True)) == 2


@pytest.mark.parametrize("op", [op for op in OPS if "output_mask" in
                                inspect.signature(op.fn).parameters], ids=lambda op: op.name)
def test_backward_allocates_only_the_gradients_asked_for(op, nan_outputs):
    args, kwargs = op.example()
    for mask in [(True, False, True), (False, False, False), (False, True, False)]:
        nan_outputs.reset()
        op.fn(*args, output_mask=mask, **kwargs)
        assert len(nan_outputs.calls) == op.allocations(dict(kwargs, output_mask=mask))


def test_every_op_runs_in_the_determinism_and_concurrency_samples():
    for suite in ("determinism", "concurrency"):
        ran = set()
        for op in OPS:
            for sample in getattr(op, suite):
                ran |= {op.name, *sample.also}
        assert ran == set(NAMES), f"{suite}: no sample runs {set(NAMES) - ran}"
        names = [s.name for op in OPS for s in getattr(op, suite)]
        assert len(names) == len(set(names)), f"{suite}: two samples share a name"

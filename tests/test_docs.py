"""The documentation runs: the docstring examples of the public ops and the README's usage."""
import doctest
import os
import re

import numpy as np

import fastconv
import fastconv.functional

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def test_docstring_examples_of_the_public_ops_run_and_print_what_they_show():
    result = doctest.testmod(fastconv.functional, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 4, "every public op documents a runnable example"
    assert result.failed == 0


def test_readme_usage_example_runs_and_gives_the_shapes_its_comments_state():
    with open(README) as f:
        text = f.read()
    code = re.search(r"## Usage\n\n```python\n(.*?)```", text, re.S).group(1)
    namespace = {}
    exec(compile(code, "README.md usage", "exec"), namespace)
    # the comments state the shapes of y after each step: check the final ones
    assert namespace["y"].shape == (8, 16, 16, 16)
    z = namespace["z"]
    assert z.shape == (8, 16, 16, 16) and z.dtype == np.float32
    assert (z >= 0).all()
    assert isinstance(fastconv.show_config(print_=False), dict)
    # the training lines took one step: every parameter has a gradient and a finite loss
    assert np.isfinite(namespace["loss"])
    assert all(np.abs(p.grad).sum() > 0 for p in namespace["model"].parameters())

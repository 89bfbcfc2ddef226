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


def test_readme_torch_example_converts_saves_and_predicts(tmp_path, monkeypatch, capsys):
    import pytest
    pytest.importorskip("torch")
    with open(README) as f:
        text = f.read()
    code, command = re.search(r"<!-- readme:torch -->\n```python\n(.*?)```\n```sh\n(.*?)```",
                              text, re.S).groups()
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(code, "README.md torch example", "exec"), namespace)
    assert namespace["net"].meta["classes"] == ["cat", "dog", "fox", "owl"]
    np.save("more.npy", np.zeros((32, 32, 3), np.uint8))
    argv = command.split()[1:]
    assert argv[:2] == ["predict", "net.npz"]
    from fastconv.__main__ import main
    try:
        from PIL import Image
    except ImportError:
        argv.remove("photo.png")
    else:
        Image.fromarray(np.full((32, 32, 3), 200, np.uint8)).save("photo.png")
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("%") == 3 * (len(argv) - 4)

"""The package surface: version, show_config, threads, ISA paths, the GIL."""

import contextlib
import io
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastconv
from fastconv.ops import _ext
from tolerances import assert_exact
from subprocess_env import subprocess_env

HERE = os.path.dirname(os.path.abspath(__file__))
ISAS = _ext.ISA_NAMES  # this architecture's ISA paths, lowest first


def run_python(code, **env):
    """Run code in a fresh interpreter that imports the same fastconv as this process."""
    full_env = subprocess_env(**env)
    if "FASTCONV_ISA" not in env:
        full_env.pop("FASTCONV_ISA", None)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=full_env, cwd=HERE, timeout=300)
    assert res.returncode == 0, f"subprocess failed:\n{res.stdout}\n{res.stderr}"
    return res


def test_version_is_a_non_empty_string():
    assert isinstance(fastconv.__version__, str) and fastconv.__version__


def test_command_line_version_and_every_command_has_a_description(capsys):
    from fastconv.__main__ import main
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"fastconv {fastconv.__version__}\n"
    for command in ("demo", "config", "bench", "data", "train"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        usage, description = capsys.readouterr().out.split("\n\n")[:2]
        assert usage.startswith(f"usage: fastconv {command}")
        assert not description.startswith(("options:", "positional")) and \
            len(description) > 60, command
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    options = capsys.readouterr().out.split("\noptions:")[1]
    lr_help = " ".join(options.split("--lr LR")[1].split("\n  --schedule")[0].split())
    assert "onecycle rises from lr/25 to lr over the first 30% of the steps" in lr_help


def test_an_unbuilt_source_tree_says_what_to_do_in_one_line(tmp_path):
    """`python -m fastconv` (and `import fastconv`) from a checkout where the extension was
    never built: the package tree without its compiled files, on a path where it is found
    first (the working directory)."""
    import shutil
    package = os.path.dirname(os.path.abspath(fastconv.__file__))
    checkout = tmp_path / "checkout"
    shutil.copytree(package, checkout / "fastconv", ignore=shutil.ignore_patterns(
        "*.so", "*.pyd", "__pycache__"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    expected = (f"fastconv: the C extension is not built in {checkout / 'fastconv'}; run "
                f"`pip install .` and start Python outside the source tree")

    def run(*args):
        return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                              env=env, cwd=str(checkout), timeout=120)

    res = run("-m", "fastconv", "--version")
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.startswith(expected) and res.stderr.count("\n") == 1, res.stderr
    res = run("-c", "import fastconv")
    assert res.returncode == 1
    assert res.stderr.splitlines()[-1].startswith("ImportError: " + expected), res.stderr
    # still an ImportError for code that imports fastconv if it is there
    res = run("-c", "try:\n    import fastconv\nexcept ImportError as exc:\n    print(exc)")
    assert res.returncode == 0 and res.stdout.startswith(expected)


def test_public_names_are_exported():
    for name in ("conv2d", "max_pool2d", "avg_pool2d", "relu", "set_num_threads",
                 "get_num_threads", "show_config"):
        assert callable(getattr(fastconv, name)), name
    for name in ("conv2d", "max_pool2d", "avg_pool2d", "relu"):
        assert callable(getattr(fastconv.reference, name)), name
        assert callable(getattr(fastconv.functional, name)), name


# The public module paths and their homes in the package's layers (see fastconv.__doc__);
# submodules first, so that each is the first import of its name.
MODULE_HOMES = {"nn.layers": "training.nn.layers", "nn.loss": "training.nn.loss",
                "nn.module": "training.nn.module", "nn": "training.nn", "optim": "training.optim",
                "data.mnist": "training.data.mnist", "data.loader": "training.data.loader",
                "data": "training.data", "models": "training.models", "train": "training.train",
                "functional": "ops.functional", "reference": "ops.reference", "_ext": "ops._ext"}


def test_the_public_module_paths_are_the_modules_of_the_layers():
    """`import fastconv.nn.layers` and friends give the layer's module itself, not a copy (one
    Module class, one patched attribute), and `import fastconv` loads no training module."""
    res = run_python(
        "import importlib, sys, fastconv\n"
        "print(sorted(m for m in sys.modules if m.startswith('fastconv.training.')))\n"
        f"for public, home in {MODULE_HOMES!r}.items():\n"
        "    module = importlib.import_module('fastconv.' + public)\n"
        "    assert module is importlib.import_module('fastconv.' + home), public\n"
        "    top = public.split('.')[0]\n"
        "    assert getattr(fastconv, top) is sys.modules['fastconv.' + top], public\n"
        "from fastconv.nn import Conv2d, layers\n"
        "from fastconv.functional import conv2d\n"
        "assert Conv2d is layers.Conv2d is fastconv.training.nn.layers.Conv2d\n"
        "assert conv2d is fastconv.conv2d\n"
        "print('ok')")
    assert res.stdout.split() == ["[]", "ok"], res.stdout


def test_show_config_prints_and_returns_the_documented_dict(capsys):
    config = fastconv.show_config()
    printed = capsys.readouterr().out
    assert printed.strip(), "show_config printed nothing"
    assert isinstance(config, dict)
    assert {"version", "isa", "cpu_isa", "num_threads", "openmp", "kernels"} <= set(config)
    assert config["version"] == fastconv.__version__
    assert config["isa"] in ISAS and config["cpu_isa"] in ISAS
    assert ISAS.index(config["isa"]) <= ISAS.index(config["cpu_isa"])
    assert config["num_threads"] == fastconv.get_num_threads()
    assert isinstance(config["openmp"], bool)
    kernels = config["kernels"]
    assert isinstance(kernels, dict) and kernels
    assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in kernels.items())
    for op in ("max_pool2d", "avg_pool2d", "relu"):
        assert op in kernels, op
    for algorithm in fastconv.ops._ext.ALGORITHMS:
        if algorithm != "auto":
            assert f"conv2d_{algorithm}" in kernels, algorithm
    assert config["isa"] in printed


def test_set_num_threads_round_trips(restore_threads):
    for n in (1, 2, 3, 1):
        fastconv.set_num_threads(n)
        assert fastconv.get_num_threads() == n
    fastconv.set_num_threads(2)
    assert quiet_config()["num_threads"] == 2


def quiet_config():
    with contextlib.redirect_stdout(io.StringIO()):
        return fastconv.show_config()


def test_set_num_threads_accepts_numpy_integers(restore_threads):
    fastconv.set_num_threads(np.int64(2))
    assert fastconv.get_num_threads() == 2


def _string_option_calls(text):
    """Every public call that takes a string option, with that option spelled by `text`."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 8, 8)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    image = rng.standard_normal((9, 10)).astype(np.float32)
    return {
        "conv2d algorithm": lambda: fastconv.conv2d(x, w, algorithm=text("im2col")),
        "conv2d activation": lambda: fastconv.conv2d(x, w, activation=text("leaky_relu")),
        "conv2d padding": lambda: fastconv.conv2d(x, w, padding=text("same")),
        "conv2d precision": lambda: fastconv.conv2d(x, w, precision=text("high")),
        "conv2d layout": lambda: fastconv.conv2d(x_nhwc, w, layout=text("NHWC")),
        "max_pool2d layout": lambda: fastconv.max_pool2d(x_nhwc, 2, layout=text("NHWC")),
        "linear activation": lambda: fastconv.linear(x[0, 0], w.reshape(3, 18)[:, :8].copy(),
                                                     activation=text("relu6")),
        "add activation": lambda: fastconv.add(x, x, activation=text("relu")),
        "filter2d border": lambda: fastconv.filter2d(image, w[0, 0], border=text("constant")),
        "gaussian_blur border": lambda: fastconv.gaussian_blur(image, 1.0, border=text("wrap")),
    }


def test_string_options_accept_numpy_strings():
    # np.str_ is a str subclass (what indexing an array of names gives): every option takes it
    # as the plain str, with the same result
    plain, numpy_str = _string_option_calls(str), _string_option_calls(np.str_)
    for name in plain:
        assert_exact(numpy_str[name](), plain[name]())


@pytest.mark.parametrize("n", [0, -1])
def test_set_num_threads_non_positive_is_a_value_error(restore_threads, n):
    before = fastconv.get_num_threads()
    with pytest.raises(ValueError, match="^set_num_threads: "):
        fastconv.set_num_threads(n)
    assert fastconv.get_num_threads() == before


@pytest.mark.parametrize("n", [1.5, "2", None, True])
def test_set_num_threads_non_integer_is_a_type_error(restore_threads, n):
    before = fastconv.get_num_threads()
    with pytest.raises(TypeError, match="^set_num_threads: "):
        fastconv.set_num_threads(n)
    assert fastconv.get_num_threads() == before


def test_fastconv_isa_scalar_is_reported_in_a_subprocess():
    res = run_python("import json, io, contextlib, fastconv\n"
                     "with contextlib.redirect_stdout(io.StringIO()):\n"
                     "    c = fastconv.show_config()\n"
                     "print(json.dumps(c))",
                     FASTCONV_ISA="scalar")
    config = json.loads(res.stdout.strip().splitlines()[-1])
    assert config["isa"] == "scalar"


def _cpu_isa():
    return quiet_config()["cpu_isa"]


def test_unknown_fastconv_isa_value_does_not_break_import():
    res = run_python("import io, contextlib, warnings, fastconv\n"
                     "with contextlib.redirect_stdout(io.StringIO()):\n"
                     "    c = fastconv.show_config()\n"
                     "print(c['isa'], c['cpu_isa'])", FASTCONV_ISA="bogus")
    isa, cpu_isa = res.stdout.split()[-2:]
    assert isa in ISAS and cpu_isa in ISAS


# A battery run on each ISA path in its own interpreter: optimised ops against the C reference
# twins and the oracle.  Kept small: the full property tests run on the default path.
ISA_BATTERY = r"""
import sys, io, contextlib
import numpy as np
import fastconv, fastconv.reference as ref
import oracle
from tolerances import assert_exact, assert_integer_exact, assert_reduction_close

with contextlib.redirect_stdout(io.StringIO()):
    config = fastconv.show_config()
assert config["isa"] == sys.argv[1], config
# no kernel in use belongs to an ISA above the one forced
isas = fastconv.ops._ext.ISA_NAMES
above = isas[isas.index(sys.argv[1]) + 1:]
for op, name in config["kernels"].items():
    assert not any(isa in name for isa in above), (op, name, config)
rng = np.random.default_rng(0)
cases = [  # x shape, w shape, stride, padding ((t,b),(l,r)), dilation, groups
    ((2, 3, 9, 10), (5, 3, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1),
    ((1, 16, 12, 11), (33, 16, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1),
    ((2, 8, 13, 7), (16, 4, 2, 3), (2, 1), ((0, 1), (2, 0)), (1, 2), 2),
    ((1, 6, 11, 11), (6, 1, 3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1), 6),
    ((3, 5, 8, 8), (7, 5, 1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1), 1),
    ((1, 2, 20, 37), (19, 2, 5, 4), (1, 3), ((2, 2), (1, 3)), (2, 1), 1),
]
for dtype in (np.float32, np.float64):
    for xs, ws, st, pd, dl, g in cases:
        for integer in (False, True):
            if integer:
                x = rng.integers(-4, 5, xs).astype(dtype)
                w = rng.integers(-4, 5, ws).astype(dtype)
                b = rng.integers(-4, 5, ws[0]).astype(dtype)
            else:
                x = rng.standard_normal(xs).astype(dtype)
                w = rng.standard_normal(ws).astype(dtype)
                b = rng.standard_normal(ws[0]).astype(dtype)
            e = oracle.conv2d(x, w, b, st, pd, dl, g)
            bound = oracle.conv2d_abs_bound(x, w, b, st, pd, dl, g)
            length = ws[1] * ws[2] * ws[3] + 1
            r = ref.conv2d(x, w, b, stride=st, padding=pd, dilation=dl, groups=g)
            for algorithm in ("auto", "direct", "im2col"):
                for act in (None, "relu"):
                    y = fastconv.conv2d(x, w, b, stride=st, padding=pd, dilation=dl, groups=g,
                                        activation=act, algorithm=algorithm)
                    ee = oracle.relu(e) if act else e
                    if integer:
                        assert_integer_exact(y, ee, dtype)
                    else:
                        assert_reduction_close(y, ee, bound, length, dtype)
            if integer:
                assert_integer_exact(r, e, dtype)
            else:
                assert_reduction_close(r, e, bound, length, dtype)
    x = rng.integers(-3, 3, (2, 5, 17, 19)).astype(dtype)
    x[0, 0, 0, :3] = [np.nan, -np.inf, np.inf]
    for k, s, p, d, ceil in [((3, 3), (2, 2), (1, 1), (1, 1), False),
                             ((2, 3), (1, 2), (1, 0), (2, 1), True),
                             ((5, 5), (1, 1), (2, 2), (1, 1), False)]:
        ey, ei = oracle.max_pool2d(x, k, s, p, d, ceil)
        for m in (fastconv, ref):
            y, i = m.max_pool2d(x, k, s, p, d, ceil, return_indices=True)
            assert_exact(y, ey.astype(dtype))
            assert_exact(i, ei)
    xn = rng.standard_normal((2, 5, 17, 19)).astype(dtype)
    for k, s, p, ceil, inc in [((3, 3), (2, 2), (1, 1), True, False),
                               ((2, 4), (2, 1), (1, 2), False, True)]:
        ey = oracle.avg_pool2d(xn, k, s, p, ceil, inc)
        bd = oracle.avg_pool2d_abs_bound(xn, k, s, p, ceil, inc)
        for m in (fastconv, ref):
            assert_reduction_close(m.avg_pool2d(xn, k, s, p, ceil, inc), ey, bd, k[0] * k[1],
                                   dtype)
    for n in (0, 1, 7, 8, 15, 16, 17, 31, 33, 64, 1000):
        v = rng.standard_normal(n).astype(dtype)
        assert_exact(fastconv.relu(v), oracle.relu(v))
        assert_exact(ref.relu(v), oracle.relu(v))
print("ok")
"""


@pytest.mark.parametrize("isa", ISAS)
def test_every_isa_path_matches_reference_and_oracle(isa):
    if ISAS.index(isa) > ISAS.index(_cpu_isa()):
        pytest.skip(f"this CPU lacks {isa} (it has {_cpu_isa()})")
    res = run_python(ISA_BATTERY.replace("sys.argv[1]", repr(isa)), FASTCONV_ISA=isa)
    assert res.stdout.strip().splitlines()[-1] == "ok"


def test_two_python_threads_calling_conv2d_concurrently_match_serial_calls():
    rng = np.random.default_rng(7)
    jobs = []
    for i in range(4):
        x = rng.standard_normal((2, 8, 24, 24)).astype(np.float32)
        w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
        jobs.append((x, w, ("direct", "im2col")[i % 2]))
    serial = [fastconv.conv2d(x, w, padding=1, algorithm=a) for x, w, a in jobs]
    results = {}
    errors = []
    barrier = threading.Barrier(2)

    def worker(tid):
        try:
            barrier.wait()
            for rep in range(5):
                for j in range(tid, len(jobs), 2):
                    x, w, a = jobs[j]
                    results[(rep, j)] = fastconv.conv2d(x, w, padding=1, algorithm=a)
                    results[(rep, j, "pool")] = fastconv.max_pool2d(x, 2, return_indices=True)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker thread hung"
    assert not errors, errors
    assert len(results) == 5 * len(jobs) * 2
    for (rep, j, *pool), y in results.items():
        if pool:
            ey, ei = fastconv.max_pool2d(jobs[j][0], 2, return_indices=True)
            assert_exact(y[0], ey)
            assert_exact(y[1], ei)
        else:
            assert_exact(y, serial[j])


def test_nan_outputs_fixture_prefills_every_allocation(nan_outputs):
    import fastconv.functional
    f = fastconv.functional._empty((2, 3), np.dtype(np.float32))
    i = fastconv.functional._empty((4,), np.dtype(np.int64))
    assert np.isnan(f).all() and f.dtype == np.float32
    assert (i == np.iinfo(np.int64).min).all()
    assert len(nan_outputs.calls) == 2
    # and the ops really allocate through it
    nan_outputs.reset()
    fastconv.max_pool2d(np.ones((1, 1, 2, 2)), 2, return_indices=True)
    fastconv.conv2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 1, 1)))
    fastconv.avg_pool2d(np.ones((1, 1, 2, 2)), 2)
    fastconv.relu(np.ones(3))
    assert [str(c[1]) for c in nan_outputs.calls] == ["float64", "int64"] + ["float64"] * 3

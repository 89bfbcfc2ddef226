"""The environment of a test's subprocess: it must import the fastconv under test (the installed
package in CI, the in-place build in a checkout) and the tests' helper modules.  Run such a
subprocess with a cwd outside the repository root: from the root, `-m` / `-c` would import the
unbuilt source tree before PYTHONPATH."""
import os

import fastconv

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
# where the fastconv under test lives: site-packages when installed, the tree when built in place
FASTCONV_HOME = os.path.dirname(os.path.dirname(os.path.abspath(fastconv.__file__)))


def subprocess_env(**overrides):
    """os.environ plus `overrides`, with the fastconv under test and the tests' modules first on
    PYTHONPATH."""
    env = dict(os.environ, **overrides)
    env["PYTHONPATH"] = os.pathsep.join([FASTCONV_HOME, TESTS_DIR, env.get("PYTHONPATH", "")])
    return env

"""``fastconv.nn`` is ``fastconv.training.nn``: the same module under its public name."""
from . import _alias

_alias(__name__, "fastconv.training.nn")

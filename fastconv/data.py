"""``fastconv.data`` is ``fastconv.training.data``: the same module under its public name."""
from . import _alias

_alias(__name__, "fastconv.training.data")

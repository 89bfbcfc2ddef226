"""``fastconv.train`` is ``fastconv.training.train``: the same module under its public name."""
from . import _alias

_alias(__name__, "fastconv.training.train")

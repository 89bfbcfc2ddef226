"""``fastconv.optim`` is ``fastconv.training.optim``: the same module under its public name."""
from . import _alias

_alias(__name__, "fastconv.training.optim")

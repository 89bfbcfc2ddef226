"""``fastconv.models`` is ``fastconv.training.models``: the same module under its public name."""
from . import _alias

_alias(__name__, "fastconv.training.models")

"""Hypothesis building blocks shared by the property tests."""


def int_or_pair(draw, strategies, lo, hi):
    """An int or an (h, w) pair, as the API accepts; returns (spec, (h, w))."""
    if draw(strategies.booleans()):
        v = draw(strategies.integers(lo, hi))
        return v, (v, v)
    h, w = draw(strategies.integers(lo, hi)), draw(strategies.integers(lo, hi))
    return (h, w), (h, w)

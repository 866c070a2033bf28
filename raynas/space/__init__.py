"""The search-space language (pure Python: no Ray, no torch).

Example::

    from raynas.space import SearchSpace, one_of, int_range
    space = SearchSpace({"depth": int_range(2, 8), "act": one_of("relu", "gelu")}, name="tiny")
    arch = space.sample(0)
    assert space.decode(space.encode(arch)) == arch
"""

from raynas.space._compiled import Decision, Genotype
from raynas.space._nodes import (
    MAX_DEPTH,
    FloatRange,
    IntRange,
    OneOf,
    SublistOf,
    float_range,
    int_range,
    nesting_depth,
    one_of,
    sublist_of,
)
from raynas.space._space import DEFAULT_MAX_SIZE, SearchSpace, SpaceSummary, WideDecisionWarning

__all__ = ["DEFAULT_MAX_SIZE", "Decision", "FloatRange", "Genotype", "IntRange", "MAX_DEPTH", "OneOf", "SearchSpace",
           "SpaceSummary", "SublistOf", "WideDecisionWarning", "float_range", "int_range", "nesting_depth", "one_of",
           "sublist_of"]

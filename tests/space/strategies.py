"""Hypothesis strategies that generate random (small) search spaces, conditional ones included."""

from __future__ import annotations

from hypothesis import strategies as st

from raynas.space import float_range, int_range, one_of, sublist_of

_labels = st.sampled_from(["a", "b", "c", "d", "e", "f"])


def _leaf() -> st.SearchStrategy:
    return st.one_of(
        st.lists(st.integers(-5, 5), min_size=1, max_size=4, unique=True).map(lambda xs: one_of(*xs)),
        st.lists(_labels, min_size=1, max_size=4, unique=True).map(lambda xs: one_of(*xs)),
        st.tuples(st.integers(0, 5), st.integers(0, 4), st.integers(1, 3)).map(
            lambda t: int_range(t[0], t[0] + t[1], t[2])),
        st.tuples(st.floats(0, 1), st.integers(1, 4)).map(
            lambda t: float_range(t[0], t[0] + (t[1] - 1) * 0.5, num=t[1])),
        st.lists(_labels, min_size=1, max_size=5, unique=True).flatmap(
            lambda xs: st.integers(0, len(xs)).map(lambda k: sublist_of(xs, k))),
        st.integers(0, 3),  # a fixed value
    )


def spaces() -> st.SearchStrategy:
    """Nested dicts/lists of decisions; some one_of options are sub-spaces (conditional)."""
    def extend(children: st.SearchStrategy) -> st.SearchStrategy:
        return st.one_of(
            st.dictionaries(st.sampled_from(["x", "y", "z", "w"]), children, min_size=1, max_size=3),
            st.lists(children, min_size=1, max_size=3),
            st.lists(st.dictionaries(st.sampled_from(["p", "q"]), children, min_size=1, max_size=2),
                     min_size=2, max_size=3).map(lambda opts: one_of(*_distinct(opts))),
        )
    return st.recursive(_leaf(), extend, max_leaves=8).map(lambda s: {"root": s, "anchor": one_of(0, 1)})


def _distinct(options: list) -> list:
    # Conditional options must not be indistinguishable from each other; tag each with its position.
    return [{**o, "branch": i} for i, o in enumerate(options)]

"""The search-space language: sizes, sampling, encode/decode, mutation, enumeration, JSON, fix, checks."""

from __future__ import annotations

import json
import math
import random
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raynas.errors import SpaceError, SpaceTooLargeError
from raynas.space import SearchSpace, WideDecisionWarning, float_range, int_range, one_of, sublist_of
from tests.space.strategies import spaces

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def make(root, **kw) -> SearchSpace:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WideDecisionWarning)
        return SearchSpace(root, **kw)


@SETTINGS
@given(spaces(), st.integers(0, 2**31))
def test_encode_decode_round_trip(root, seed):
    space = make(root)
    rng = random.Random(seed)
    for _ in range(5):
        genotype = space.sample_genotype(rng)
        arch = space.decode(genotype)
        assert json.loads(json.dumps(arch)) == arch  # plain JSON-able
        assert space.encode(arch) == genotype
        assert space.canonical(genotype) == genotype


@SETTINGS
@given(spaces())
def test_size_matches_enumeration(root):
    space = make(root)
    if space.size > 3000:
        return
    genotypes = list(space.enumerate())
    assert len(genotypes) == space.size
    assert len(set(genotypes)) == space.size
    archs = {json.dumps(space.decode(g), sort_keys=True) for g in genotypes}
    assert len(archs) == space.size  # distinct genotypes are distinct architectures


@SETTINGS
@given(spaces(), st.integers(0, 2**31))
def test_mutation_stays_in_space_and_changes_one_active_decision(root, seed):
    space = make(root)
    rng = random.Random(seed)
    for _ in range(5):
        parent = space.sample_genotype(rng)
        child = space.mutate(parent, rng)
        assert space.encode(space.decode(child)) == child
        changeable = [i for i in space.active_decisions(parent) if space.decisions[i].num_options > 1]
        if not changeable:
            assert child == parent
            continue
        both = set(space.active_decisions(parent)) & set(space.active_decisions(child))
        changed = [i for i in both if parent[i] != child[i]]
        assert len(changed) == 1  # other differences are only in sub-spaces switched on or off by that one


@SETTINGS
@given(spaces())
def test_json_round_trip(root):
    space = make(root, name="generated")
    text = json.dumps(space.to_json())
    again = SearchSpace.from_json(json.loads(text))
    assert again == space
    assert again.size == space.size
    genotype = space.sample_genotype(3)
    assert again.decode(genotype) == space.decode(genotype)


def test_sampling_is_seeded():
    space = make({"a": int_range(0, 100), "b": one_of("x", "y", "z")})
    assert [space.sample(s) for s in range(5)] == [space.sample(s) for s in range(5)]
    assert len({json.dumps(space.sample(s)) for s in range(20)}) > 1


def test_exact_sizes_of_each_kind():
    assert make({"a": one_of(1, 2, 3)}).size == 3
    assert make({"a": sublist_of(list("abcde"), 2)}).size == math.comb(5, 2)
    assert make({"a": sublist_of(list("abcd"), min_k=1, max_k=3)}).size == 4 + 6 + 4
    assert make({"a": int_range(0, 10, 2)}).size == 6
    assert make({"a": float_range(0.0, 1.0, num=11)}).size == 11
    assert make({"a": float_range(0.0, 1.0, step=0.25)}).size == 5
    conditional = make({"block": one_of({"type": "conv", "k": one_of(3, 5, 7)}, {"type": "pool"}), "n": one_of(1, 2)})
    assert conditional.size == (3 + 1) * 2
    assert conditional.is_conditional


def test_sublist_values_are_distinct_and_in_option_order():
    space = make({"ops": sublist_of(["c", "a", "b", "d"], 2)})
    values = [space.decode(g)["ops"] for g in space.enumerate()]
    order = {"c": 0, "a": 1, "b": 2, "d": 3}
    for v in values:
        assert len(set(v)) == 2 and [order[x] for x in v] == sorted(order[x] for x in v)
    with pytest.raises(SpaceError, match="order"):
        space.encode({"ops": ["a", "c"]})


def test_float_range_values_survive_json():
    space = make({"m": float_range(0.1, 0.9, num=9)})
    for g in space.enumerate():
        arch = json.loads(json.dumps(space.decode(g)))
        assert space.encode(arch) == g


def test_encode_rejects_architectures_outside_the_space_naming_the_path():
    space = make({"enc": {"depth": int_range(2, 4), "act": one_of("relu", "gelu")}})
    with pytest.raises(SpaceError, match=r"enc\.depth"):
        space.encode({"enc": {"depth": 9, "act": "relu"}})
    with pytest.raises(SpaceError, match="missing"):
        space.encode({"enc": {"depth": 2}})


def test_oversize_space_is_refused_with_a_split_suggestion_unless_opted_in():
    root = {"encoder": [one_of(*range(10)) for _ in range(12)], "decoder": [one_of(*range(10)) for _ in range(12)]}
    with pytest.raises(SpaceTooLargeError) as info:
        make(root, name="big")
    text = str(info.value)
    assert "10^24" in text and "Split" in text and "'encoder'" in text and "allow_huge" in text
    big = make(root, name="big", allow_huge=True)
    assert big.size == 10**24
    encoder_fixed = big.fix({"encoder": [0] * 12})
    assert encoder_fixed.size == 10**12
    SearchSpace(encoder_fixed.root)  # now within the limit without opting in


def test_wide_decision_warns():
    with pytest.warns(WideDecisionWarning, match="'width'.*11 options"):
        SearchSpace({"width": int_range(0, 10)}, name="w")


def test_fix_validates_values_and_paths():
    space = make({"enc": {"depth": int_range(2, 4)}, "blocks": [{"k": one_of(3, 5)}, {"k": one_of(3, 5)}]})
    fixed = space.fix({"blocks[1].k": 5, "enc": {"depth": 3}})
    assert fixed.size == 2
    assert all(fixed.decode(g)["blocks"][1]["k"] == 5 for g in fixed.enumerate())
    with pytest.raises(SpaceError):
        space.fix({"blocks[1].k": 4})
    with pytest.raises(SpaceError, match="not found"):
        space.fix({"nope": 1})


def test_malformed_spaces_are_refused():
    with pytest.raises(SpaceError, match="no decision"):
        SearchSpace({"a": 1})
    with pytest.raises(SpaceError, match="distinct"):
        one_of(1, 1)
    with pytest.raises(SpaceError, match="num= or step="):
        float_range(0, 1)
    with pytest.raises(SpaceError):
        sublist_of(["a", "b"], 3)
    with pytest.raises(SpaceError, match="JSON"):
        SearchSpace({"a": one_of(1, 2), "b": object()})


def test_huge_space_operations_are_cheap_enough_to_run():
    space = make({f"d{i}": one_of(*range(10)) for i in range(20)})
    assert space.size == 10**20
    g = space.sample_genotype(0)
    assert space.encode(space.decode(space.mutate(g, 1))) != g

"""One contract suite that every registered controller must pass."""

from __future__ import annotations

import pickle
import random
import warnings

import pytest

from raynas.controllers import CONTROLLERS, TrialStatus, make_controller
from raynas.errors import ConfigError, UnknownNameError
from raynas.space import SearchSpace, WideDecisionWarning, int_range, one_of

NAMES = sorted(CONTROLLERS)


def small_space() -> SearchSpace:
    return SearchSpace({"a": one_of(*range(4)), "b": one_of("x", "y", "z"), "c": int_range(1, 5)}, name="small")


def conditional_space() -> SearchSpace:
    return SearchSpace({
        "stem": one_of(16, 32),
        "block": one_of({"type": "conv", "k": one_of(3, 5, 7), "act": one_of("relu", "gelu")},
                        {"type": "pool", "size": one_of(2, 3)}),
        "depth": int_range(1, 4),
    }, name="conditional")


def huge_space() -> SearchSpace:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WideDecisionWarning)
        return SearchSpace({f"d{i}": one_of(*range(10)) for i in range(20)}, name="huge")


def reward_of(genotype) -> float:
    """A deterministic toy reward that prefers large options (a learnable signal)."""
    return float(sum(genotype)) + 0.1 * (hash(tuple(genotype)) % 7)


def build(name: str, space: SearchSpace, seed: int = 0, max_trials: int = 60):
    return make_controller(name, space, seed=seed, max_trials=max_trials)


def drive(ctrl, steps: int, *, fail_every: int = 0) -> list:
    proposals = []
    for i in range(steps):
        g = ctrl.propose()
        if g is None:
            break
        proposals.append(g)
        if fail_every and i % fail_every == 0:
            ctrl.observe(g, None, TrialStatus.FAILED)
        else:
            ctrl.observe(g, reward_of(g))
    return proposals


@pytest.mark.parametrize("name, space_factory", [
    (name, factory) for name in NAMES for factory in (small_space, conditional_space, huge_space)
    if not (name == "grid" and factory is huge_space)  # grid refuses huge spaces: tested separately
])
def test_proposals_are_valid_architectures_of_the_space(name, space_factory):
    space = space_factory()
    ctrl = build(name, space)
    for g in drive(ctrl, 40):
        assert space.encode(space.decode(g)) == tuple(g)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_proposals_and_different_seed_differs(name):
    a = drive(build(name, conditional_space(), seed=3), 30)
    b = drive(build(name, conditional_space(), seed=3), 30)
    assert a == b
    if name != "grid":
        c = drive(build(name, conditional_space(), seed=4), 30)
        assert a != c


@pytest.mark.parametrize("name", NAMES)
def test_restored_state_continues_identically(name):
    space = conditional_space()
    original = build(name, space, seed=7)
    drive(original, 25, fail_every=5)
    state = pickle.loads(pickle.dumps(original.state_dict()))  # survives a trip through disk
    restored = build(name, space, seed=999)
    restored.load_state_dict(state)
    assert drive(original, 20) == drive(restored, 20)


@pytest.mark.parametrize("name", NAMES)
def test_proposals_without_results_keep_coming_and_stay_distinct(name):
    """Parallel trials: several proposals are made before any result arrives."""
    space = small_space()  # 60 architectures
    ctrl = build(name, space)
    pending = [ctrl.propose() for _ in range(30)]
    assert all(g is not None for g in pending)
    assert len(set(pending)) == 30
    for g in pending:
        ctrl.observe(g, reward_of(g))
    assert ctrl.propose() not in set(pending)


@pytest.mark.parametrize("name", NAMES)
def test_failures_are_not_zero_rewards(name):
    space = small_space()
    ctrl = build(name, space)
    failed = set()
    for _ in range(40):
        g = ctrl.propose()
        if g is None:
            break
        if sum(g) % 2 == 0:
            ctrl.observe(g, None, TrialStatus.FAILED)
            failed.add(g)
        else:
            ctrl.observe(g, reward_of(g), TrialStatus.COMPLETED)
    assert ctrl.num_failed == len(failed)
    assert ctrl.best is not None and ctrl.best[1] not in failed
    state = ctrl.state_dict()
    # no failed genotype is remembered with a reward anywhere in the controller's state
    for value in state.values():
        if isinstance(value, (list, tuple)) or hasattr(value, "__iter__") and not isinstance(value, (str, dict)):
            for item in list(value):
                if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], tuple):
                    assert item[0] not in failed


@pytest.mark.parametrize("name", NAMES)
def test_non_finite_reward_is_recorded_as_invalid(name):
    ctrl = build(name, small_space())
    g = ctrl.propose()
    ctrl.observe(g, float("nan"))
    assert ctrl.num_failed == 1 and ctrl.best is None


@pytest.mark.parametrize("name", NAMES)
def test_finds_good_architectures_on_a_learnable_problem(name):
    """Better than the median of the space after 60 trials (random is included: the bar is low on purpose)."""
    space = small_space()
    ctrl = build(name, space, seed=1)
    drive(ctrl, 60 if name != "grid" else space.size)
    values = sorted(reward_of(g) for g in space.enumerate())
    assert ctrl.best[0] >= values[len(values) // 2]


@pytest.mark.parametrize("name", [n for n in NAMES if n not in ("grid", "random")])
def test_learning_controllers_beat_random_on_average(name):
    space = huge_space()

    def best_after(ctrl_name: str, seed: int) -> float:
        ctrl = build(ctrl_name, space, seed=seed, max_trials=300)
        drive(ctrl, 300)
        return ctrl.best[0]

    ours = sum(best_after(name, s) for s in range(3))
    baseline = sum(best_after("random", s) for s in range(3))
    assert ours > baseline


def test_unknown_controller_and_bad_options_are_clear_errors():
    with pytest.raises(UnknownNameError, match="evolution"):
        make_controller("evolutoin", small_space())
    with pytest.raises(ConfigError, match="population_size"):
        make_controller("evolution", small_space(), options={"populaton_size": 5})
    with pytest.raises(ConfigError, match="sample_size"):
        make_controller("evolution", small_space(), options={"population_size": 5, "sample_size": 9})


def test_grid_enumerates_everything_once_then_finishes():
    space = small_space()
    ctrl = build("grid", space)
    seen = drive(ctrl, space.size + 5)
    assert len(seen) == space.size == len(set(seen))
    assert ctrl.propose() is None


def test_grid_refuses_huge_spaces():
    with pytest.raises(ConfigError, match="grid"):
        build("grid", huge_space())


def test_random_finishes_when_the_space_is_exhausted():
    space = small_space()
    ctrl = build("random", space)
    assert len(set(drive(ctrl, space.size + 10))) == space.size


def test_rl_explores_randomly_first_with_the_documented_default():
    from raynas.controllers import default_exploration_trials

    assert default_exploration_trials(10_000) == 100
    assert default_exploration_trials(1000) == 50
    ctrl = make_controller("rl", huge_space(), max_trials=1000)
    assert ctrl.exploration_trials == 50
    ctrl = make_controller("rl", huge_space(), options={"exploration_trials": 7})
    assert ctrl.exploration_trials == 7


def test_rl_policy_moves_toward_rewarded_options():
    space = SearchSpace({"a": one_of(0, 1, 2, 3)})
    ctrl = make_controller("rl", space, options={"exploration_trials": 0, "avoid_duplicates": False})
    rng = random.Random(0)
    for _ in range(300):
        g = ctrl.propose()
        ctrl.observe(g, 1.0 if g[0] == 2 else 0.0 + rng.random() * 0.01)
    probs = ctrl.probabilities(0)
    assert probs[2] == max(probs) and probs[2] > 0.5


@pytest.mark.parametrize("name", NAMES)
def test_early_stopped_trials_are_low_fidelity_not_failures(name):
    ctrl = build(name, small_space())
    g = ctrl.propose()
    ctrl.observe(g, 1e9, TrialStatus.STOPPED)  # a partial reward: never taken as the final one
    assert ctrl.num_failed == 0 and ctrl.best is None
    assert ctrl.propose() is not None

"""The multi-objective controller contract (in the style of test_contract.py): every multi-objective controller
proposes valid, distinct, reproducible architectures, survives a restore and a replay, keeps failures out of its
front, refuses malformed rewards, and finds a better front than random search on a learnable problem."""

from __future__ import annotations

import math
import pickle
import random
import warnings

import numpy as np
import pytest

from raynas.controllers import CONTROLLERS, PastTrial, TrialStatus, make_controller
from raynas.errors import ConfigError
from raynas.pareto import hypervolume, pareto_mask
from raynas.space import SearchSpace, WideDecisionWarning, one_of
from tests.controllers.test_contract import conditional_space, huge_space, medium_space, small_space

MULTI = ["mo-surrogate", "nsga2"]
SINGLE = sorted(name for name, cls in CONTROLLERS.items() if not cls.multi_objective)


def rewards_of(genotype, num_objectives: int = 2) -> tuple[float, ...]:
    """A deterministic toy trade-off: the first objective prefers large options, the second small ones, except on
    the first decision, which both prefer large (a learnable signal with a real front)."""
    g = list(genotype)
    first = float(sum(g)) + 0.1 * (hash(tuple(g)) % 7)
    second = float(-sum(g[1:]) + 2 * g[0])
    third = float(g[-1] - g[0])
    return (first, second, third)[:num_objectives]


def build(name: str, space: SearchSpace, seed: int = 0, max_trials: int = 60, num_objectives: int = 2, **options):
    return make_controller(name, space, seed=seed, max_trials=max_trials, num_objectives=num_objectives,
                           options=options)


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
            ctrl.observe(g, rewards_of(g, ctrl.num_objectives))
    return proposals


@pytest.mark.parametrize("name", MULTI)
@pytest.mark.parametrize("space_factory", [small_space, conditional_space, huge_space])
def test_proposals_are_valid_architectures_of_the_space(name, space_factory):
    space = space_factory()
    ctrl = build(name, space)
    assert ctrl.num_objectives == 2
    proposals = drive(ctrl, 40)
    assert len(proposals) == 40 or len(proposals) == space.size
    for g in proposals:
        assert space.encode(space.decode(g)) == tuple(g)


@pytest.mark.parametrize("name", MULTI)
def test_same_seed_same_proposals_and_different_seed_differs(name):
    a = drive(build(name, conditional_space(), seed=3), 30)
    assert a == drive(build(name, conditional_space(), seed=3), 30)
    assert a != drive(build(name, conditional_space(), seed=4), 30)


@pytest.mark.parametrize("name", MULTI)
def test_restored_state_continues_identically(name):
    space = medium_space()
    original = build(name, space, seed=7)
    drive(original, 35, fail_every=5)
    state = pickle.loads(pickle.dumps(original.state_dict()))
    restored = build(name, space, seed=999)
    restored.load_state_dict(state)
    assert drive(original, 20) == drive(restored, 20)


@pytest.mark.parametrize("name", MULTI)
def test_proposals_without_results_keep_coming_and_stay_distinct(name):
    ctrl = build(name, small_space())  # 60 architectures
    drive(ctrl, 15)  # past the warm-up: the model/population proposes
    pending = [ctrl.propose() for _ in range(30)]
    assert all(g is not None for g in pending)
    assert len(set(pending)) == 30 and not set(pending) & set(g for g, _ in ctrl.results)
    for g in pending:
        ctrl.observe(g, rewards_of(g))
    assert ctrl.propose() not in set(pending)


class Life:
    """Up to ``in_flight`` trials at once, outcomes in a seeded random order: failed, invalid (a NaN component),
    early-stopped and completed; every event written down as a replayable history."""

    def __init__(self, ctrl, *, in_flight: int = 3, seed: int = 0) -> None:
        self.ctrl, self.in_flight, self.rng = ctrl, in_flight, random.Random(seed)
        self.events: list[PastTrial] = []
        self.running: list = []
        self.step = 0

    def live(self, steps: int) -> list[PastTrial]:
        for _ in range(steps):
            while len(self.running) < self.in_flight:
                g = self.ctrl.propose()
                if g is None:
                    break
                self.events.append(PastTrial(g))
                self.running.append(g)
            if not self.running:
                break
            g = self.running.pop(self.rng.randrange(len(self.running)))
            status, reward = self.outcome(g)
            self.ctrl.observe(g, reward, status)
            self.events.append(PastTrial(g, status, reward))
            self.step += 1
        return self.events

    def outcome(self, g):
        i = self.step
        if i % 7 == 3:
            return TrialStatus.FAILED, None
        if i % 11 == 5:
            return TrialStatus.COMPLETED, (1.0, float("nan"))  # one non-finite component: invalid
        if i % 13 == 6:
            return TrialStatus.STOPPED, tuple(0.5 * r for r in rewards_of(g))
        return TrialStatus.COMPLETED, rewards_of(g)


def counters(ctrl) -> tuple:
    return ctrl.num_proposed, ctrl.num_observed, ctrl.num_failed, ctrl.best, ctrl.proposed, ctrl.pending, ctrl.results


@pytest.mark.parametrize("name", MULTI)
def test_replaying_a_lived_history_on_a_fresh_controller_gives_the_same_next_proposals(name):
    lived = build(name, medium_space(), seed=5)
    history = Life(lived).live(45)
    fresh = build(name, medium_space(), seed=5)
    fresh.replay(history)
    assert counters(fresh) == counters(lived)
    assert drive(fresh, 25, fail_every=4) == drive(lived, 25, fail_every=4)


@pytest.mark.parametrize("name", MULTI)
def test_restored_state_plus_replay_of_what_came_after_the_save_equals_living_it(name):
    lived = build(name, medium_space(), seed=2)
    life = Life(lived)
    life.live(20)
    saved, seen = pickle.loads(pickle.dumps(lived.state_dict())), len(life.events)
    after = life.live(25)[seen:]
    restored = build(name, medium_space(), seed=999)
    restored.load_state_dict(saved)
    restored.replay(after)
    assert counters(restored) == counters(lived)
    assert drive(restored, 25) == drive(lived, 25)


@pytest.mark.parametrize("name", MULTI)
def test_failures_and_invalid_trials_never_enter_the_front(name):
    ctrl = build(name, medium_space(), seed=1)
    history = Life(ctrl, in_flight=4, seed=3).live(60)
    bad = {e.genotype for e in history if e.status is not None and e.status is not TrialStatus.COMPLETED}
    bad |= {e.genotype for e in history if e.status is TrialStatus.COMPLETED and not all(map(math.isfinite, e.reward))}
    completed = [(e.genotype, e.reward) for e in history
                 if e.status is TrialStatus.COMPLETED and all(map(math.isfinite, e.reward))]
    assert bad and ctrl.num_failed == sum(e.status in (TrialStatus.FAILED, TrialStatus.INVALID) for e in history) + sum(
        e.status is TrialStatus.COMPLETED and not all(map(math.isfinite, e.reward)) for e in history)
    assert ctrl.results == completed  # exactly the completed trials, in order, with their rewards
    front = ctrl.front()
    expected = [c for c, keep in zip(completed, pareto_mask([r for _, r in completed])) if keep]
    assert front == expected and not {g for g, _ in front} & bad
    members = getattr(ctrl, "population", [])
    assert not {g for g, _ in members} & bad


@pytest.mark.parametrize("name", MULTI + ["random"])
def test_a_non_finite_component_is_recorded_as_invalid(name):
    ctrl = build(name, small_space())
    for reward in [(1.0, float("nan")), (float("inf"), 0.0), (float("-inf"), float("nan"))]:
        ctrl.observe(ctrl.propose(), reward)
    assert ctrl.num_failed == 3 and ctrl.best is None
    assert getattr(ctrl, "results", []) == []


@pytest.mark.parametrize("name", MULTI + ["random"])
@pytest.mark.parametrize("reward", [0.5, (0.5,), (0.5, 1.0, 2.0), "ab", (0.5, "x")])
def test_a_reward_of_the_wrong_shape_is_a_clear_error_that_changes_nothing(name, reward):
    ctrl = build(name, small_space())
    g = ctrl.propose()
    before = pickle.dumps(ctrl.state_dict())
    with pytest.raises(ValueError, match=r"2 objectives: a reward must be a tuple of 2 floats"):
        ctrl.observe(g, reward)
    assert pickle.dumps(ctrl.state_dict()) == before
    ctrl.observe(g, None, TrialStatus.FAILED)  # a failure needs no reward
    assert ctrl.num_failed == 1


@pytest.mark.parametrize("name", MULTI)
def test_three_objectives(name):
    space = medium_space()
    ctrl = build(name, space, seed=4, num_objectives=3)
    proposals = drive(ctrl, 40)
    assert len(set(proposals)) == 40 and all(space.encode(space.decode(g)) == g for g in proposals)
    assert all(len(r) == 3 for _, r in ctrl.front())
    assert ctrl.best == max((r, g) for g, r in ctrl.results)


def tradeoff_space() -> SearchSpace:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WideDecisionWarning)
        return SearchSpace({f"d{i}": one_of(*range(6)) for i in range(12)}, name="tradeoff")


def tradeoff(genotype) -> tuple[float, float]:
    """Two conflicting objectives, linear in the options, plus four decisions both objectives like."""
    weights = np.random.default_rng(0).random((2, 12))
    shared = np.where(np.arange(12) < 4, 1.0, 0.0)
    g = np.asarray(genotype, dtype=float)
    return float(weights[0] @ g + shared @ g), float(weights[1] @ (5 - g) + shared @ g)


@pytest.mark.parametrize("name", MULTI)
def test_multi_objective_controllers_find_a_larger_hypervolume_than_random(name):
    space = tradeoff_space()

    def hv(ctrl_name: str, seed: int) -> float:
        ctrl = build(ctrl_name, space, seed=seed, max_trials=120)
        points = []
        for _ in range(120):
            g = ctrl.propose()
            points.append(tradeoff(g))
            ctrl.observe(g, points[-1])
        return hypervolume(points, (0.0, 0.0))

    ours = [hv(name, s) for s in range(4)]
    baseline = [hv("random", s) for s in range(4)]
    assert np.mean(ours) > np.mean(baseline)


@pytest.mark.parametrize("name", SINGLE)
def test_single_objective_controllers_refuse_several_objectives_naming_the_multi_objective_ones(name):
    with pytest.raises(ConfigError) as info:
        make_controller(name, small_space(), num_objectives=2)
    text = str(info.value)
    assert "nsga2" in text and "mo-surrogate" in text and name in text
    assert make_controller(name, small_space(), num_objectives=1).num_objectives == 1


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "2"])
def test_a_malformed_number_of_objectives_is_a_clear_error(value):
    with pytest.raises(ConfigError, match="num_objectives"):
        make_controller("nsga2", small_space(), num_objectives=value)


@pytest.mark.parametrize("name, options, field", [
    ("nsga2", {"population_size": 1}, "population_size"),
    ("nsga2", {"population_size": 5, "tournament_size": 6}, "tournament_size"),
    ("nsga2", {"crossover_rate": 1.5}, "crossover_rate"),
    ("nsga2", {"populaton_size": 5}, "populaton_size"),
    ("mo-surrogate", {"exploration": -1}, "exploration"),
    ("mo-surrogate", {"reward_transform": "log"}, "reward_transform"),
    ("mo-surrogate", {"parent_pool": 0}, "parent_pool"),
])
def test_bad_options_are_config_errors_naming_the_option(name, options, field):
    with pytest.raises(ConfigError, match=f"controller.{field}"):
        build(name, small_space(), **options)


def test_nsga2_population_size_follows_the_trial_budget_and_stays_bounded():
    sizes = [make_controller("nsga2", huge_space(), max_trials=n, num_objectives=2).population_size
             for n in (None, 30, 100, 400, 10_000)]
    assert sizes == [20, 10, 10, 20, 50]
    assert build("nsga2", huge_space(), max_trials=400, population_size=7).population_size == 7
    ctrl = build("nsga2", huge_space(), max_trials=400)
    assert ctrl.population_size == 20
    drive(ctrl, 80, fail_every=6)
    assert len(ctrl.population) == 20 and len(ctrl.rank) == len(ctrl.crowding) == 20
    assert all(r in ctrl.results for r in ctrl.population)
    assert min(ctrl.rank) == 0

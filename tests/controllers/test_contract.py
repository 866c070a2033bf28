"""One contract suite that every registered controller must pass."""

from __future__ import annotations

import pickle
import random
import warnings

import pytest

from raynas.controllers import CONTROLLERS, PastTrial, TrialStatus, make_controller
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


# --- replay: catching up with a history (what a resumed search does with trials its saved state missed) -------------
def medium_space() -> SearchSpace:
    """Conditional, 256 architectures: small enough for grid, large enough for 60 distinct trials."""
    return SearchSpace({
        "stem": one_of(16, 32),
        "block": one_of({"type": "conv", "k": one_of(3, 5, 7), "act": one_of("relu", "gelu")},
                        {"type": "pool", "size": one_of(2, 3)}),
        "depth": int_range(1, 4),
        "width": one_of(8, 16, 32, 64),
    }, name="medium")


class Life:
    """Runs a controller with up to ``in_flight`` trials at once, their outcomes arriving in a seeded random order
    (failed, invalid, early-stopped and completed), and writes down every event as a replayable history."""

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

    def outcome(self, g) -> tuple[TrialStatus, float | None]:
        i = self.step
        if i % 7 == 3:
            return TrialStatus.FAILED, None
        if i % 11 == 5:
            return TrialStatus.COMPLETED, float("nan")  # recorded as invalid
        if i % 13 == 6:
            return TrialStatus.STOPPED, 0.5 * reward_of(g)  # a partial, low-fidelity reward
        return TrialStatus.COMPLETED, reward_of(g)


def counters(ctrl) -> tuple:
    return ctrl.num_proposed, ctrl.num_observed, ctrl.num_failed, ctrl.best, ctrl.proposed, ctrl.pending


@pytest.mark.parametrize("name", NAMES)
def test_replaying_a_lived_history_on_a_fresh_controller_gives_the_same_next_proposals(name):
    lived = build(name, medium_space(), seed=5)
    history = Life(lived).live(45)  # parallel trials: proposals and outcomes interleaved, 2 left running
    assert sum(e.status is None for e in history) == lived.num_proposed == 47
    fresh = build(name, medium_space(), seed=5)
    fresh.replay(history)
    assert counters(fresh) == counters(lived)
    assert sum(lived.pending.values()) == 2
    assert drive(fresh, 25, fail_every=4) == drive(lived, 25, fail_every=4)


@pytest.mark.parametrize("name", NAMES)
def test_restored_state_plus_replay_of_what_came_after_the_save_equals_living_it(name):
    """The resume path: the saved state missed the last events (some outcomes of trials running at the save)."""
    lived = build(name, medium_space(), seed=2)
    life = Life(lived)
    life.live(20)
    saved, seen = pickle.loads(pickle.dumps(lived.state_dict())), len(life.events)
    after = life.live(25)[seen:]
    assert any(e.status is not None and e.genotype in saved["pending"] for e in after)  # outcome of a pending one
    restored = build(name, medium_space(), seed=999)
    restored.load_state_dict(saved)
    restored.replay(after)
    assert counters(restored) == counters(lived)
    assert drive(restored, 25) == drive(lived, 25)


@pytest.mark.parametrize("name", NAMES)
def test_replay_of_an_empty_history_changes_nothing(name):
    ctrl, twin = build(name, medium_space(), seed=1), build(name, medium_space(), seed=1)
    Life(ctrl).live(15)
    Life(twin).live(15)
    before = pickle.dumps(ctrl.state_dict())
    ctrl.replay([])
    ctrl.replay(iter(()))
    assert pickle.dumps(ctrl.state_dict()) == before
    assert drive(ctrl, 10) == drive(twin, 10)


@pytest.mark.parametrize("name", NAMES)
def test_replayed_failed_and_invalid_trials_count_as_failures_never_as_rewards(name):
    space = small_space()
    donor = build("random", space, seed=11)
    history = []
    for i in range(24):  # one event per trial: the proposal and its outcome at once
        g = donor.propose()
        if i % 3 == 0:
            history.append(PastTrial(g, TrialStatus.FAILED))
        elif i % 3 == 1:
            history.append(PastTrial(g, "invalid"))
        elif i % 6 == 2:
            history.append(PastTrial(g, TrialStatus.COMPLETED, float("inf")))  # a non-finite reward: invalid
        else:
            history.append(PastTrial(g, TrialStatus.COMPLETED, reward_of(g)))
    ctrl = build(name, space, seed=0)
    ctrl.replay(history)
    completed = [e for e in history if e.status is TrialStatus.COMPLETED and e.reward != float("inf")]
    assert ctrl.num_proposed == ctrl.num_observed == 24 and not ctrl.pending
    assert ctrl.num_failed == 24 - len(completed) == 20
    assert ctrl.best == max((e.reward, e.genotype) for e in completed)
    # a history made by another controller and seed: none of its architectures is proposed again
    later = drive(ctrl, 20)
    assert len(later) == 20 and not set(later) & {e.genotype for e in history}


def test_past_trial_normalises_its_fields_and_refuses_an_unknown_status():
    event = PastTrial([1, 2, 3], "completed", 0.5)
    assert event.genotype == (1, 2, 3) and event.status is TrialStatus.COMPLETED
    assert PastTrial((0, 0, 0)).status is None
    with pytest.raises(ValueError, match="exploded"):
        PastTrial((0, 0, 0), "exploded")

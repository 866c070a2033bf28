"""Pareto math: fronts, crowding distance and hypervolume, checked against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from raynas.pareto import crowding_distance, hypervolume, hypervolume_improvement, non_dominated_sort, pareto_mask


def dominates(a, b) -> bool:
    return all(x >= y for x, y in zip(a, b)) and any(x > y for x, y in zip(a, b))


def brute_mask(points) -> list[bool]:
    return [not any(dominates(q, p) for q in points) for p in points]


def grid_hypervolume(points, reference) -> float:
    """Exact for integer coordinates: count the unit cells (lower corner c) dominated by some point."""
    points = np.asarray(points)
    ref = np.asarray(reference)
    ranges = [range(int(r), int(points[:, j].max())) for j, r in enumerate(ref)]
    count = 0
    for cell in itertools.product(*ranges):
        upper = np.asarray(cell) + 1
        if np.any(np.all(points >= upper, axis=1)):
            count += 1
    return float(count)


def test_known_small_cases():
    assert hypervolume([[1.0, 1.0]], [0.0, 0.0]) == 1.0
    assert hypervolume([[2.0, 1.0], [1.0, 2.0]], [0.0, 0.0]) == 3.0
    assert hypervolume([[2.0, 1.0], [1.0, 2.0], [1.0, 1.0]], [0.0, 0.0]) == 3.0  # a dominated point adds nothing
    assert hypervolume([[1.0, 1.0, 1.0]], [0.0, 0.0, 0.0]) == 1.0
    assert hypervolume([[2.0, 1.0, 1.0], [1.0, 2.0, 1.0], [1.0, 1.0, 2.0]], [0, 0, 0]) == 4.0  # 3 x 2 minus 2 overlaps
    assert hypervolume([[3.0, 5.0]], [1.0, 1.0]) == 8.0
    assert hypervolume([[-1.0, -2.0]], [-3.0, -3.0]) == 2.0  # negated (minimised) objectives work the same


def test_points_not_strictly_dominating_the_reference_add_nothing():
    assert hypervolume([], [0.0, 0.0]) == 0.0
    assert hypervolume([[1.0, 0.0], [0.0, 5.0], [-1.0, 3.0]], [0.0, 0.0]) == 0.0
    assert hypervolume([[1.0, 0.0], [2.0, 2.0]], [0.0, 0.0]) == 4.0


@pytest.mark.parametrize("m", [2, 3, 4])
def test_hypervolume_equals_the_count_of_dominated_grid_cells(m):
    rng = np.random.default_rng(m)
    for _ in range(15):
        n = int(rng.integers(1, 9))
        points = rng.integers(1, 7, size=(n, m)).astype(float)
        assert hypervolume(points, np.zeros(m)) == grid_hypervolume(points, np.zeros(m))


def test_hypervolume_agrees_with_monte_carlo_on_real_valued_points():
    rng = np.random.default_rng(0)
    for m in (2, 3):
        points = rng.random((12, m))
        samples = rng.random((200_000, m))
        inside = np.zeros(len(samples), dtype=bool)
        for p in points:
            inside |= np.all(samples <= p, axis=1)
        estimate = inside.mean()  # the unit box has volume 1
        stderr = np.sqrt(estimate * (1 - estimate) / len(samples))
        assert abs(hypervolume(points, np.zeros(m)) - estimate) < 4 * stderr


def test_pareto_mask_and_fronts_match_brute_force():
    rng = np.random.default_rng(1)
    for m in (2, 3):
        points = rng.integers(0, 6, size=(40, m)).astype(float)  # many ties and duplicates
        assert pareto_mask(points).tolist() == brute_mask(points.tolist())
        fronts = non_dominated_sort(points)
        assert sorted(i for f in fronts for i in f) == list(range(40))
        for rank, front in enumerate(fronts):
            rest = [i for f in fronts[rank:] for i in f]
            expected = [i for i, keep in zip(rest, brute_mask(points[rest].tolist())) if keep]
            assert front == sorted(expected)
            if rank:  # every point of a later front is dominated by one of the front before
                assert all(any(dominates(points[j], points[i]) for j in fronts[rank - 1]) for i in front)


def test_equal_points_do_not_dominate_each_other():
    assert pareto_mask([[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]]).tolist() == [True, True, False]
    assert non_dominated_sort([[0.0, 0.0], [1.0, 1.0], [1.0, 1.0]]) == [[1, 2], [0]]
    assert non_dominated_sort([]) == []


def test_crowding_distance():
    d = crowding_distance([[0.0, 4.0], [1.0, 3.0], [3.0, 1.0], [4.0, 0.0]])
    assert np.isinf(d[0]) and np.isinf(d[3])
    assert d[1] == pytest.approx(3 / 4 + 3 / 4) and d[2] == pytest.approx(3 / 4 + 3 / 4)
    d = crowding_distance([[0.0, 4.0], [0.5, 3.5], [3.0, 1.0], [4.0, 0.0]])
    assert d[2] > d[1]  # the lonelier point is preferred
    assert np.isinf(crowding_distance([[1.0, 2.0], [2.0, 1.0]])).all()
    flat = crowding_distance([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])  # a constant objective adds nothing
    assert flat[1] == pytest.approx(1.0)


@pytest.mark.parametrize("m", [2, 3])
def test_hypervolume_improvement_is_the_difference_of_hypervolumes(m):
    rng = np.random.default_rng(10 + m)
    points = rng.random((10, m))
    candidates = np.vstack([rng.random((30, m)) * 1.2 - 0.1, points[:3]])  # some beyond, some dominated
    ref = np.zeros(m)
    base = hypervolume(points, ref)
    expected = [hypervolume(np.vstack([points, c]), ref) - base for c in candidates]
    got = hypervolume_improvement(candidates, points, ref)
    assert got == pytest.approx(expected, abs=1e-12)
    assert (got[-3:] == 0).all() and (got >= 0).all() and (got > 0).any()
    assert hypervolume_improvement(candidates, np.zeros((0, m)), ref) == pytest.approx(
        [hypervolume([c], ref) for c in candidates])


def test_malformed_points_are_clear_errors():
    with pytest.raises(ValueError, match="shape"):
        pareto_mask([1.0, 2.0])
    with pytest.raises(ValueError, match="objectives"):
        hypervolume([[1.0, 2.0]], [0.0, 0.0, 0.0])


def test_sorting_can_stop_after_the_first_fronts():
    rng = np.random.default_rng(3)
    points = rng.random((50, 2))
    fronts = non_dominated_sort(points)
    assert non_dominated_sort(points, until=1) == fronts[:1]
    k = len(fronts[0]) + 1  # more than the first front holds: the second one too
    assert non_dominated_sort(points, until=k) == fronts[:2]
    assert non_dominated_sort(points, until=10_000) == fronts


def test_one_and_four_objectives():
    assert pareto_mask([[1.0], [3.0], [3.0], [2.0]]).tolist() == [False, True, True, False]
    assert hypervolume([[1.0], [3.0]], [0.0]) == 3.0
    rng = np.random.default_rng(4)
    points = rng.integers(0, 4, size=(30, 4)).astype(float)
    assert pareto_mask(points).tolist() == brute_mask(points.tolist())


def test_spread_takes_whole_fronts_then_evenly_spaced_members_with_the_extremes():
    from raynas.pareto import spread

    line = np.array([[float(i), 20.0 - i] for i in range(21)])  # one front of 21 evenly spaced points
    assert sorted(spread(line, 5)) == [0, 5, 10, 15, 20]
    assert sorted(spread(line, 2)) == [0, 20]
    assert sorted(spread(line, 30)) == list(range(21))
    # a front of 3 fits whole; the second front of 3 is thinned to the member farthest from the first front
    two = np.array([[0.0, 10.0], [5.0, 5.0], [10.0, 0.0], [0.0, 9.0], [4.0, 4.0], [9.0, 0.0]])
    picked = spread(two, 4)
    assert picked[:3] == [0, 1, 2] and len(picked) == 4 and picked[3] in (3, 4, 5)
    assert spread(two, 0) == [] and spread(np.empty((0, 2)), 3) == []

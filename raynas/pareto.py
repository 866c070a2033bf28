"""Pareto math for multi-objective search (pure numpy): fronts, crowding distance and hypervolume.

Every function takes ``points`` as an array of shape ``(n, m)`` (n points, m objectives) and treats every
objective as **maximised** (negate a minimised one first). A point *dominates* another when it is at least as good
in every objective and better in one; equal points do not dominate each other.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _as_points(points: Any) -> np.ndarray:
    array = np.asarray(points, dtype=float)
    if array.ndim == 1 and array.size == 0:
        return array.reshape(0, 1)
    if array.ndim != 2:
        raise ValueError(f"points must have shape (n, m): got an array of shape {array.shape}")
    return array


def pareto_mask(points: Any) -> np.ndarray:
    """A boolean array: True for the points no other point dominates (the non-dominated set, all maximised).

    ``O(n log n)`` for 2 objectives (one sort); ``O(n^2 m)`` in blocks for more.
    """
    pts = _as_points(points)
    n = len(pts)
    if n == 0:
        return np.zeros(0, dtype=bool)
    if pts.shape[1] == 1:
        return pts[:, 0] == pts[:, 0].max()
    if pts.shape[1] == 2:
        return _pareto_mask_2d(pts)
    dominated = np.zeros(n, dtype=bool)
    block = max(1, 4_000_000 // (n * pts.shape[1]))
    for lo in range(0, n, block):
        p = pts[lo:lo + block, None, :]
        ge = np.all(pts[None, :, :] >= p, axis=2)
        gt = np.any(pts[None, :, :] > p, axis=2)
        dominated[lo:lo + block] = np.any(ge & gt, axis=1)
    return ~dominated


def _pareto_mask_2d(pts: np.ndarray) -> np.ndarray:
    x, y = pts[:, 0], pts[:, 1]
    order = np.lexsort((-y, -x))  # by x descending, then y descending
    xs, ys = x[order], y[order]
    first = np.empty(len(xs), dtype=bool)
    first[0] = True
    np.not_equal(xs[1:], xs[:-1], out=first[1:])  # the first point of each run of equal x (the run's largest y)
    group = np.cumsum(first) - 1
    group_top = ys[first]
    before = np.empty(len(group_top))
    before[0] = -np.inf
    np.maximum.accumulate(group_top[:-1], out=before[1:])  # the best y among strictly larger x
    dominated = (before[group] >= ys) | (group_top[group] > ys)
    mask = np.empty(len(pts), dtype=bool)
    mask[order] = ~dominated
    return mask


def non_dominated_sort(points: Any, *, until: int | None = None) -> list[list[int]]:
    """The fronts of ``points`` as lists of indices (ascending): front 0 is the non-dominated set, front 1 the
    non-dominated set of what is left, and so on (NSGA-II's ranking, all objectives maximised).

    With ``until``, only the first fronts that hold at least ``until`` points together (all of them if fewer).
    """
    pts = _as_points(points)
    left = np.arange(len(pts))
    fronts: list[list[int]] = []
    done = 0
    while len(left) and (until is None or done < until):
        mask = pareto_mask(pts[left])
        fronts.append([int(i) for i in left[mask]])
        done += len(fronts[-1])
        left = left[~mask]
    return fronts


def crowding_distance(points: Any) -> np.ndarray:
    """NSGA-II's crowding distance of each point within ``points`` (usually one front).

    Per objective, the points are sorted; the two extremes get ``inf`` and each other point adds the gap between
    its two neighbours divided by the objective's range (an objective with a range of zero adds nothing). Larger is
    lonelier. With two points or fewer every distance is ``inf``.
    """
    pts = _as_points(points)
    n, m = pts.shape
    distance = np.zeros(n)
    if n <= 2:
        distance[:] = np.inf
        return distance
    for j in range(m):
        order = np.argsort(pts[:, j], kind="stable")
        values = pts[order, j]
        span = values[-1] - values[0]
        distance[order[0]] = distance[order[-1]] = np.inf
        if span > 0:
            distance[order[1:-1]] += (values[2:] - values[:-2]) / span
    return distance


def spread(points: Any, k: int) -> list[int]:
    """``k`` indices of ``points`` spread along the Pareto front: what stage 2 of a multi-objective search full-trains.

    Whole fronts (the non-dominated set, then the non-dominated set of what is left, ...) are taken while they fit in
    ``k``; from the front that does not fit, members join by greedy max-min distance, each objective scaled to [0, 1]
    by its range over all ``points`` (objectives in any units weigh the same): a front being thinned with nothing
    chosen yet starts from its extremes (the best member of each objective), then the member farthest from everything
    chosen so far joins. On evenly spaced points this picks evenly spaced ones, extremes included. All indices when
    there are at most ``k`` points; in the order chosen.
    """
    pts = _as_points(points)
    if k <= 0 or not len(pts):
        return []
    low, span = pts.min(axis=0), np.ptp(pts, axis=0)
    scaled = (pts - low) / np.where(span > 0, span, 1.0)
    chosen: list[int] = []
    for front in non_dominated_sort(pts, until=k):
        room = k - len(chosen)
        chosen += front if room >= len(front) else _max_min(scaled, front, chosen, room)
    return chosen


def _max_min(scaled: np.ndarray, candidates: list[int], chosen: list[int], room: int) -> list[int]:
    """``room`` of ``candidates`` by greedy max-min Euclidean distance to ``chosen`` and the picks so far (the
    extremes first when nothing is chosen); ties go to the earlier candidate."""
    picked: list[int] = []
    if not chosen:
        for j in range(scaled.shape[1]):
            best = max(candidates, key=lambda i: (scaled[i, j], -i))
            if best not in picked and len(picked) < room:
                picked.append(best)
    while len(picked) < room:
        anchors = chosen + picked
        pool = [i for i in candidates if i not in picked]
        if not anchors:
            picked.append(pool[0])
            continue
        distance = np.min(np.linalg.norm(scaled[pool][:, None, :] - scaled[anchors][None, :, :], axis=2), axis=1)
        picked.append(pool[int(np.argmax(distance))])
    return picked


def hypervolume(points: Any, reference: Any) -> float:
    """The volume dominated by ``points`` and bounded below by ``reference`` (all objectives maximised).

    Only points that strictly dominate ``reference`` (better in every objective) count; the others add nothing.
    Exact for any number of objectives: a sweep for 2 objectives (``O(n log n)``), slicing along the last objective
    for 3 or more (``O(n^(m-1) log n)``: fine for fronts of a few hundred points).
    """
    ref = np.asarray(reference, dtype=float).ravel()
    pts = _as_points(points)
    if len(pts) == 0:
        return 0.0
    if pts.shape[1] != len(ref):
        raise ValueError(f"reference has {len(ref)} objectives but the points have {pts.shape[1]}")
    pts = pts[np.all(pts > ref, axis=1)]
    if len(pts) == 0:
        return 0.0
    return float(_hypervolume(pts[pareto_mask(pts)], ref))


def _hypervolume(pts: np.ndarray, ref: np.ndarray) -> float:
    m = pts.shape[1]
    if m == 1:
        return float(pts[:, 0].max() - ref[0])
    if m == 2:
        order = np.argsort(-pts[:, 0], kind="stable")
        x, y = pts[order, 0], pts[order, 1]
        top = np.maximum.accumulate(y)  # best second objective among points at least this good on the first
        widths = x - np.append(x[1:], ref[0])
        return float(np.sum(widths * (top - ref[1])))
    # Slice along the last objective: between consecutive levels, the (m-1)-volume of the points above the slice.
    order = np.argsort(-pts[:, -1], kind="stable")
    pts = pts[order]
    levels = np.append(pts[:, -1], ref[-1])
    total = 0.0
    for i in range(len(pts)):
        height = levels[i] - levels[i + 1]
        if height > 0:
            above = pts[: i + 1, :-1]
            total += height * _hypervolume(above[pareto_mask(above)], ref[:-1])
    return total


def hypervolume_improvement(candidates: Any, points: Any, reference: Any) -> np.ndarray:
    """How much each candidate alone would add to the hypervolume of ``points`` (all maximised): one value per
    row of ``candidates``, 0 for a candidate that ``points`` dominate or that does not dominate ``reference``.

    Vectorised for 2 objectives; with 3 or more each candidate costs one :func:`hypervolume` call on the points
    clipped to its box.
    """
    cand = _as_points(candidates)
    ref = np.asarray(reference, dtype=float).ravel()
    pts = _as_points(points)
    if len(cand) == 0:
        return np.zeros(0)
    if len(pts):
        pts = pts[np.all(pts > ref, axis=1)]
    if len(pts):
        pts = pts[pareto_mask(pts)]
    if cand.shape[1] != 2:
        # Within the candidate's own box [reference, c], the front covers the boxes [reference, min(p, c)]: what
        # the candidate adds is its box's volume less theirs (clipping leaves few non-dominated points: fast).
        out = np.zeros(len(cand))
        for k, c in enumerate(cand):
            if not np.all(c > ref) or (len(pts) and np.any(np.all(pts >= c, axis=1))):
                continue
            box = float(np.prod(c - ref))
            out[k] = box - (hypervolume(np.minimum(pts, c), ref) if len(pts) else 0.0)
        return out
    # The dominated region's height is a step function of the first objective: h(x) = max y_i over x_i >= x.
    order = np.argsort(pts[:, 0], kind="stable") if len(pts) else np.zeros(0, dtype=int)
    xs, ys = pts[order, 0] if len(pts) else np.zeros(0), pts[order, 1] if len(pts) else np.zeros(0)
    heights = np.append(np.maximum.accumulate(ys[::-1])[::-1], ref[1])  # on (lo_k, hi_k]
    lows = np.append(ref[0], xs)
    highs = np.append(xs, np.inf)
    width = np.clip(np.minimum(cand[:, :1], highs[None, :]) - lows[None, :], 0.0, None)
    gain = np.clip(cand[:, 1:2] - heights[None, :], 0.0, None)
    return (width * gain).sum(axis=1)

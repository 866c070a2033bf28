"""Stage 2 of a multi-objective search: full-train a spread of the Pareto front, not the top-k of one metric.

Whole fronts (the Pareto front, then the front of what is left, ...) are taken while they fit in ``k``; from the
front that does not fit, members are added by greedy max-min distance: each objective is scaled to [0, 1] by its
range over the trials (objectives in any units weigh the same), a front being thinned starts from its extremes (the
best member of each objective), then the member farthest from everything chosen so far joins, until the set is
``k``. On a front of evenly spaced points this picks evenly spaced members, extremes included.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from raynas.config import Objective, objective_vector


def spread_order(objectives: Sequence[Objective], records: Sequence[Any], k: int) -> tuple[list[Any], str]:
    """``records`` (completed stage-1 trials, one per architecture) reordered for stage 2: first the ``k`` spread
    along the front (:func:`raynas.pareto.spread`; ordered by front, then by the first objective, best first), then
    the rest by front and crowding distance (lower-ranked trials, e.g. stage 2's controls); trials missing an
    objective last. Also a sentence saying how the set was chosen."""
    from raynas.pareto import crowding_distance, non_dominated_sort, spread

    vectors = [objective_vector(objectives, r.metrics) for r in records]
    usable = [i for i, v in enumerate(vectors) if all(np.isfinite(v))]
    unusable = [i for i in range(len(records)) if i not in set(usable)]
    points = np.array([vectors[i] for i in usable], dtype=float).reshape(len(usable), len(objectives))
    fronts = non_dominated_sort(points) if len(points) else []
    rank = {i: r for r, front in enumerate(fronts) for i in front}
    picked = set(spread(points, k))
    chosen = sorted(picked, key=lambda i: (rank[i], -points[i, 0], i))
    rest: list[int] = []
    for front in fronts:
        crowding = crowding_distance(points[front])
        rest += [front[j] for j in sorted(range(len(front)), key=lambda j: (-crowding[j], front[j]))
                 if front[j] not in picked]
    order = [usable[i] for i in chosen + rest] + unusable
    first = len(fronts[0]) if fronts else 0
    names = ", ".join(o.label() for o in objectives)
    if first >= k:
        how = f"a spread of {k} of the {first} trials on the Pareto front of {names} (max-min distance, extremes kept)"
    else:
        how = (f"the {first} trials on the Pareto front of {names}, then the next fronts to fill {k} (max-min "
               "distance within the last one)")
    return [records[i] for i in order], how

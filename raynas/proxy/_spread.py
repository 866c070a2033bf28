"""Keeping a spread of models: repeatedly drop one model of the closest pair in normalised metric space (pure)."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def prune_for_spread(points: Sequence[Sequence[float]], keep: int) -> list[int]:
    """Indices (ascending) of the ``keep`` points left after repeatedly removing one point of the closest pair.

    Each axis is min-max normalised over the points still in play. Of the closest pair, the point whose next
    nearest neighbour is closer (the more crowded one) goes, so the extremes and a spread in between stay.
    Points with a non-finite coordinate (failed trials) go first.
    """
    data = np.asarray(points, dtype=float)
    if data.ndim == 1:
        data = data[:, None]
    alive = [i for i in range(len(data)) if np.all(np.isfinite(data[i]))]
    keep = max(0, int(keep))
    while len(alive) > keep:
        if len(alive) == 1:
            alive = []
            break
        block = data[alive]
        span = np.ptp(block, axis=0)
        norm = (block - block.min(axis=0)) / np.where(span > 0, span, 1.0)
        dist = np.sqrt(((norm[:, None, :] - norm[None, :, :]) ** 2).sum(-1))
        np.fill_diagonal(dist, np.inf)
        i, j = np.unravel_index(int(np.argmin(dist)), dist.shape)
        second_i = np.sort(dist[i])[1] if len(alive) > 2 else np.inf
        second_j = np.sort(dist[j])[1] if len(alive) > 2 else np.inf
        alive.pop(int(i) if (second_i, i) <= (second_j, j) else int(j))
    return sorted(alive)

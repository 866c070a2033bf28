"""How many reference models a whole-space Kendall tau needs, measured on the bundled NAS-Bench-201 table (no Ray).

(a) The noise of a Kendall tau on n models: over --draws random sets of n cells, the central 95% range of the tau
between the 12-epoch proxy and 200-epoch training, and its width. ``raynas.proxy._stats.MIN_SPACE_REFERENCES`` is
the smallest n whose width is under ``SPACE_INTERVAL_WIDTH``; below it ``raynas proxy search`` reports "too few
reference models" instead of an estimate. (b) With reference sets chosen for spread as ``raynas proxy select-models``
does (keep n of 3n sampled), the whole-space estimate forced below the minimum: how often it is exactly 1.0, its
error and its 95% range over --seeds seeds.

    python bench/reference_models.py [--draws 2000] [--seeds 100] [--sizes 5,6,8,10,12,15,20]
    python bench/reference_models.py --smoke      # CI: every code path, tiny sizes (no figure)
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

SMOKE = {"draws": 20, "seeds": 2, "sizes": "5,10"}


def _estimates(keep: int, seeds: int) -> tuple[float, float, float, float]:
    """(share exactly 1.0, rmse, 2.5% and 97.5% quantiles) of the whole-space estimate from ``keep`` spread-selected
    reference models (the minimum lifted so that it is computed)."""
    from scipy import stats

    from raynas.benchmarks import load_table
    from raynas.proxy import DesignTarget, SelectionSettings, prune_for_spread, whole_space_tau

    data = load_table()
    proxy, full, cost = data.proxy(), data.full(), data.proxy_cost()
    ok = np.isfinite(proxy) & np.isfinite(full)
    true_tau = float(stats.kendalltau(proxy[ok], full[ok]).statistic)
    settings = SelectionSettings(initial=3 * keep, keep=keep)
    target = DesignTarget()
    values = []
    for seed in range(seeds):
        rows = [data.row_of_arch(a) for a in target.sample(settings.initial, seed)]
        points = np.column_stack([proxy[rows], cost[rows]])
        alive = list(range(len(rows)))
        for size in settings.round_sizes():
            alive = [alive[k] for k in prune_for_spread(points[alive], size)]
        refs = [k for k in alive if np.isfinite(full[rows[k]])]
        estimate = whole_space_tau(covariates=points, reference_rows=refs, proxy=proxy[[rows[k] for k in refs]],
                                   full=full[[rows[k] for k in refs]], seed=seed, min_references=3)
        values.append(estimate.tau)
    v = np.asarray(values, dtype=float)
    low, high = np.nanquantile(v, [0.025, 0.975])
    return float(np.mean(v >= 0.999)), float(np.sqrt(np.nanmean((v - true_tau) ** 2))), float(low), float(high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--sizes", default="5,6,8,10,12,15,20")
    parser.add_argument("--smoke", action="store_true", help=f"CI smoke run, sizes {SMOKE} unless given")
    if "--smoke" in sys.argv[1:]:
        parser.set_defaults(**SMOKE)
    args = parser.parse_args()
    from raynas.benchmarks import load_table
    from raynas.proxy._stats import MIN_SPACE_REFERENCES, SPACE_INTERVAL_WIDTH, tau_interval_width

    data = load_table()
    sizes = [int(s) for s in args.sizes.split(",")]
    start = time.perf_counter()
    print(f"NAS-Bench-201, 12-epoch proxy vs 200-epoch training; {args.draws} random sets per n, {args.seeds} seeds "
          f"of spread-selected sets; the minimum in raynas is {MIN_SPACE_REFERENCES} (width < {SPACE_INTERVAL_WIDTH:g})")
    print("   n  random sets: 95% range of tau (width)   spread-selected estimate: =1.0   rmse   95% range")
    for n in sizes:
        low, high, width = tau_interval_width(data.proxy(), data.full(), n, draws=args.draws, seed=n)
        ones, rmse, elow, ehigh = _estimates(n, args.seeds)
        flag = "ok" if width < SPACE_INTERVAL_WIDTH else "too few"
        print(f"{n:4d}  [{low:5.2f}, {high:5.2f}] ({width:.2f}, {flag:7s})        {ones:5.0%}  {rmse:5.3f}  "
              f"[{elow:.2f}, {ehigh:.2f}]")
    print(f"({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()

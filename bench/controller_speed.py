"""Per-proposal cost of each controller on a 10^20-size space (20 decisions x 10 options).

Each proposal is ``propose()`` plus ``observe()`` of a random reward (10% of trials observed as failures).
Baseline in the same run: drawing one random genotype with ``space.sample_genotype`` (the cheapest possible
proposal). Prints microseconds per proposal and the ratio to the baseline.

    python bench/controller_speed.py [--proposals 2000]
    python bench/controller_speed.py --smoke     # CI: 50 proposals per controller (every code path, no figure)
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import warnings

from raynas.controllers import CONTROLLERS, TrialStatus, make_controller
from raynas.space import SearchSpace, WideDecisionWarning, one_of

SMOKE = {"proposals": 50}  # --smoke: the smallest sizes that run every code path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--proposals", type=int, default=2000)
    parser.add_argument("--smoke", action="store_true", help=f"CI smoke run, sizes {SMOKE} unless given")
    if "--smoke" in sys.argv[1:]:
        parser.set_defaults(**SMOKE)
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WideDecisionWarning)
        space = SearchSpace({f"d{i}": one_of(*range(10)) for i in range(20)}, name="huge")
    assert space.size == 10**20
    rng = random.Random(0)
    start = time.perf_counter()
    for _ in range(args.proposals):
        space.sample_genotype(rng)
    baseline = (time.perf_counter() - start) / args.proposals
    print(f"space: {space.num_decisions} decisions, 10^{space.log10_size:.0f} architectures; "
          f"{args.proposals} proposals each")
    print(f"{'baseline: space.sample_genotype':34s} {baseline * 1e6:9.1f} us/proposal   1.00x")
    for name in sorted(CONTROLLERS):
        if name == "grid":
            continue  # refuses spaces this large by design
        ctrl = make_controller(name, space, seed=0, max_trials=args.proposals)
        start = time.perf_counter()
        for i in range(args.proposals):
            genotype = ctrl.propose()
            if i % 10 == 9:
                ctrl.observe(genotype, None, TrialStatus.FAILED)
            else:
                ctrl.observe(genotype, rng.random())
        per = (time.perf_counter() - start) / args.proposals
        print(f"{name:34s} {per * 1e6:9.1f} us/proposal {per / baseline:6.2f}x")


if __name__ == "__main__":
    main()

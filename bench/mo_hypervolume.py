"""Multi-objective search on NAS-Bench-201 CIFAR-10: raynas's ``mo-surrogate`` and ``nsga2`` against Optuna's
NSGA-II and TPE samplers in multi-objective mode, all driven through the same simulator.

Objectives: the 12-epoch validation accuracy (max) against the parameter count (min), and against FLOPs (min).
Every controller runs under :func:`raynas.benchmarks.simulate_multiobjective` with the same budget of simulated
proxy seconds (each evaluation charges ``12 * train_sec_per_epoch + eval_sec``) and the same seeds. Optuna runs
through ask/tell (``optuna.create_study(directions=["maximize", "maximize"], sampler=...)``, the simulator's
maximised objective vector: parameter count and FLOPs negated), one categorical parameter per decision of the
space (the six cell edges); an architecture the table lacks is told as failed. An architecture Optuna proposes
again is charged again, as a second training would be (``--free-repeats``: told its earlier values at no cost
instead, which favours Optuna).

Scores (see raynas/benchmarks/_mo_simulator.py): the hypervolume of the front each run found, by true values
(200-epoch accuracy) and by the values the search saw (12-epoch), as a fraction of the hypervolume of the table's
own front; reference point: the table's worst values (lowest accuracy, largest parameter count / FLOPs). Prints
mean +- std over seeds, the standard error, and the ratio of each mean to the best Optuna sampler's.

    python bench/mo_hypervolume.py [--seeds 300] [--budget-seconds 12000] [--pairs params flops]
    python bench/mo_hypervolume.py --smoke     # CI: 2 seeds, 3,000 s (every code path, no figure)

Needs Optuna (``pip install 'optuna>=4'``, or the ``bench`` extra): without it the Optuna samplers are skipped
with a note (the smoke run still passes).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from raynas.benchmarks import load_table, simulate_multiobjective
from raynas.controllers import TrialStatus

SMOKE = {"seeds": 2, "budget_seconds": 3000.0}
RAYNAS = ("mo-surrogate", "nsga2")
OPTUNA = ("optuna-nsga2", "optuna-tpe")


def optuna_sampler(name: str, seed: int) -> Any:
    import optuna

    if name == "optuna-nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)  # Optuna's defaults (population 50)
    if name == "optuna-nsga2-pop20":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=20)
    if name == "optuna-tpe":
        return optuna.samplers.TPESampler(seed=seed)  # multi-objective TPE (MOTPE) with two directions
    raise ValueError(f"unknown Optuna sampler {name!r}")


class OptunaController:
    """An Optuna study behind raynas's controller contract (``propose`` / ``observe``), via ask and tell."""

    def __init__(self, sampler: str, space: Any, *, seed: int, num_objectives: int, free_repeats: bool) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.study = optuna.create_study(directions=["maximize"] * num_objectives,
                                         sampler=optuna_sampler(sampler, seed))
        self.decisions = space.decisions
        self.pending: dict[tuple, list] = {}
        self.done: dict[tuple, list[float]] = {}
        self.free_repeats = free_repeats
        self.repeats = 0

    def _ask(self) -> tuple[Any, tuple]:
        trial = self.study.ask()
        genotype = tuple(d.leaf.values.index(trial.suggest_categorical(d.path, list(d.leaf.values)))
                         for d in self.decisions)
        return trial, genotype

    def propose(self) -> tuple:
        trial, genotype = self._ask()
        for _ in range(1000):
            if genotype not in self.done:
                break
            self.repeats += 1
            if not self.free_repeats:
                break
            self.study.tell(trial, self.done[genotype])  # told again at no cost
            trial, genotype = self._ask()
        self.pending.setdefault(genotype, []).append(trial)
        return genotype

    def observe(self, genotype: tuple, reward: Any, status: TrialStatus) -> None:
        import optuna

        trial = self.pending[genotype].pop(0)
        if TrialStatus(status) is TrialStatus.COMPLETED:
            self.done[genotype] = [float(v) for v in reward]
            self.study.tell(trial, self.done[genotype])
        else:
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)


def optuna_factory(sampler: str, free_repeats: bool, repeats: list[int]) -> Any:
    def build(space: Any, *, seed: int, max_trials: int, num_objectives: int) -> OptunaController:
        controller = OptunaController(sampler, space, seed=seed, num_objectives=num_objectives,
                                      free_repeats=free_repeats)
        repeats.append(0)
        original = controller.observe

        def observe(genotype: tuple, reward: Any, status: TrialStatus) -> None:
            original(genotype, reward, status)
            repeats[-1] = controller.repeats

        controller.observe = observe  # type: ignore[method-assign]
        return controller

    build.__name__ = sampler
    return build


def have_optuna() -> bool:
    try:
        import optuna  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=300)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--budget-seconds", type=float, default=12000.0)
    parser.add_argument("--pairs", nargs="+", default=["params", "flops"], help="cost columns paired with accuracy")
    parser.add_argument("--controllers", nargs="+", default=list(RAYNAS + OPTUNA),
                        help=f"raynas controllers and Optuna samplers (default {' '.join(RAYNAS + OPTUNA)}; also "
                             "random, optuna-nsga2-pop20)")
    parser.add_argument("--free-repeats", action="store_true",
                        help="an architecture Optuna proposes again is told its values at no cost")
    parser.add_argument("--json", type=Path, help="write every summary (with per-seed runs) here")
    parser.add_argument("--smoke", action="store_true", help=f"CI smoke run, sizes {SMOKE} unless given")
    if "--smoke" in sys.argv[1:]:
        parser.set_defaults(**SMOKE)
    args = parser.parse_args()
    names = list(args.controllers)
    if not have_optuna() and any(n.startswith("optuna") for n in names):
        print("note: Optuna is not installed (pip install 'optuna>=4', or the raynas 'bench' extra): skipping the "
              "Optuna samplers", flush=True)
        names = [n for n in names if not n.startswith("optuna")]
    table = load_table()
    print(f"NAS-Bench-201 CIFAR-10, budget {args.budget_seconds:g} simulated proxy s, seeds {args.first_seed}-"
          f"{args.first_seed + args.seeds - 1}; hypervolume as a fraction of the table's true front's "
          f"(reference: the table's worst values); Optuna repeats {'free' if args.free_repeats else 'charged'}",
          flush=True)
    results = []
    for pair in args.pairs:
        objectives = [("accuracy", "max"), (pair, "min")]
        summaries, repeats = {}, {}
        for name in names:
            started = time.perf_counter()
            if name.startswith("optuna"):
                repeats[name] = []
                controller: Any = optuna_factory(name, args.free_repeats, repeats[name])
            else:
                controller = name
            summaries[name] = simulate_multiobjective(table, controller=controller, objectives=objectives,
                                                      budget_seconds=args.budget_seconds, seeds=args.seeds,
                                                      first_seed=args.first_seed)
            print(f"  [{pair}] {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
        first = next(iter(summaries.values()))
        print(f"\naccuracy (max) vs {pair} (min): reference {first.reference[0]:g} % / {first.reference[1]:,.0f}; "
              f"true front {first.true_front_size} cells", flush=True)
        best = {key: max((getattr(s, key) for n, s in summaries.items() if n.startswith("optuna")), default=np.nan)
                for key in ("hypervolume_mean", "proxy_hypervolume_mean")}
        header = (f"{'controller':20s} {'HV true (200ep)':>19s} {'s.e.':>7s} {'/ best Optuna':>13s} "
                  f"{'HV seen (12ep)':>19s} {'/ best Optuna':>13s} {'evals':>6s} {'front':>6s} {'repeats':>7s}")
        print(header)
        for name, s in summaries.items():
            n = s.seeds
            rep = f"{np.mean(repeats[name]):7.1f}" if name in repeats else f"{'-':>7s}"
            print(f"{name:20s} {s.hypervolume_mean:.4f} +- {s.hypervolume_std:.4f} "
                  f"{s.hypervolume_std / np.sqrt(n):7.4f} {s.hypervolume_mean / best['hypervolume_mean']:13.4f} "
                  f"{s.proxy_hypervolume_mean:.4f} +- {s.proxy_hypervolume_std:.4f} "
                  f"{s.proxy_hypervolume_mean / best['proxy_hypervolume_mean']:13.4f} "
                  f"{s.mean_evaluations:6.1f} {s.mean_front_size:6.1f} {rep}", flush=True)
            record = s.to_dict(include_runs=True)
            record["pair"] = pair
            record["repeats"] = repeats.get(name)
            results.append(record)
    if args.json:
        args.json.write_text(json.dumps(results))


if __name__ == "__main__":
    main()

"""``raynas train``: stage 2, full training of the top-k stage-1 trials of a search."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path
from typing import Any

from raynas.cli._output import add_format_flag, experiment_words, print_json, print_next, print_table, raynas_step
from raynas.experiment import DEFAULT_WORKDIR

log = logging.getLogger(__name__)


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand."""
    parser = commands.add_parser(
        "train", help="stage 2: full-train the top-k stage-1 trials and pick the best model",
        description="Full-train the top-k distinct architectures of a stage-1 search (by reward) on all training "
                    "data, validated on the real validation set (tabular benchmark: the 200-epoch column), as Ray "
                    "Tune jobs, all in parallel or in batches. Reports the stage-1 vs full-training rank "
                    "correlation (Kendall tau with a 90% bootstrap interval under the run-to-run noise of full "
                    "training) and a verdict: agree, bias (the whole interval below 0.3 and the models not tied "
                    "within the noise) or inconclusive (e.g. a top-k tied within the noise); --controls N adds "
                    "lower-ranked stage-1 trials so that a bias can show. Picks the top-k model with the best full "
                    "accuracy. Writes stage2.json, stage2.parquet and best/ (architecture and checkpoint) in "
                    "<experiment>/stage2 and logs stage `stage2` to the search's MLflow experiment. Running it "
                    "again resumes (finished trainings are not run again).")
    parser.add_argument("experiment", help="experiment name (under --workdir) or directory")
    parser.add_argument("--workdir", default=DEFAULT_WORKDIR, help=f"where experiments live (default {DEFAULT_WORKDIR})")
    parser.add_argument("--top-k", type=int, default=10, help="distinct stage-1 architectures to full-train (default 10)")
    parser.add_argument("--batch-size", type=int,
                        help="full-train in batches of this many, one batch after the other (default: all at once)")
    parser.add_argument("--max-concurrent", type=int, help="trainings at once within a batch (default: the whole batch)")
    parser.add_argument("--cpus-per-trial", type=float, help="CPUs per training (default: the search config's)")
    parser.add_argument("--gpus-per-trial", type=float, help="GPUs per training (default: the search config's)")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default 0; also seeds the bootstrap)")
    parser.add_argument("--controls", type=int, default=0, metavar="N",
                        help="also full-train N lower-ranked stage-1 trials, spread evenly over the ranks below the "
                             "top-k, as controls: the verdict then judges the top-k and the controls together, so that "
                             "a real search bias shows even when the top-k is tied (default 0)")
    parser.add_argument("--noise-sd", type=float, metavar="SD",
                        help="the run-to-run sd of one full-training accuracy (points), when you measured it (e.g. one "
                             "model trained with 3+ seeds); the larger of it and the binomial noise of the validation "
                             "set is used (default: the binomial noise)")
    parser.add_argument("--augmentation", metavar="JSON|@FILE",
                        help="a fixed augmentation policy for full training, as JSON or @file (JSON/YAML), e.g. "
                             "'{\"policy\": \"randaugment\", \"num_ops\": 2, \"magnitude\": 0.5}' (task experiments "
                             "only; default: the task's own)")
    parser.add_argument("--init", metavar="CHECKPOINT",
                        help="start every full training from these weights (a state_dict or raynas checkpoint, e.g. "
                             "pretrained weights of the same model family) instead of a random initialisation")
    parser.add_argument("--overwrite", action="store_true", help="start stage 2 again instead of resuming it")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: the search's)")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    add_format_flag(parser)
    parser.set_defaults(handler=_run)


def parse_augmentation(text: str | None) -> dict[str, Any] | None:
    """``--augmentation``: a JSON policy, or ``@FILE`` holding one (JSON or YAML)."""
    from raynas.errors import ConfigError

    if text is None:
        return None
    source = "--augmentation"
    if text.startswith("@"):
        path = Path(text[1:]).expanduser()
        if not path.is_file():
            raise ConfigError("--augmentation", text, "JSON or @FILE naming an existing file", "check the path")
        import yaml

        source, raw = str(path), path.read_text()
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = None
    else:
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
    if not isinstance(value, dict):
        raise ConfigError("--augmentation", text if source == "--augmentation" else source,
                          "an augmentation policy mapping (JSON, or @FILE with JSON/YAML)",
                          "e.g. '{\"policy\": \"randaugment\", \"num_ops\": 2, \"magnitude\": 0.5}'")
    return value


def _run(args: argparse.Namespace) -> int:
    from raynas.experiment import find_experiment
    from raynas.stage2 import Stage2Settings, train_top_k

    settings = Stage2Settings(top_k=args.top_k, batch_size=args.batch_size, max_concurrent=args.max_concurrent,
                              cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial, seed=args.seed,
                              augmentation=parse_augmentation(args.augmentation), init=args.init,
                              mlflow=False if args.no_mlflow else None, tracking_uri=args.tracking_uri,
                              controls=args.controls, noise_sd=args.noise_sd)
    paths = find_experiment(args.experiment, args.workdir)
    result = train_top_k(paths.root, settings, overwrite=args.overwrite)
    if args.format == "json":
        print_json(result.to_dict())
    else:
        rows = [[r.rank, r.trial_id, r.stage1_reward, r.full_accuracy, r.status + ("  (control)" if r.control else "")
                 + ("  <- picked" if r.trial_id == result.picked_trial_id else "")] for r in result.rows]
        print_table(rows, ["rank", "trial", "stage-1 reward", "full accuracy", "status"])
        print()
        if result.selection:
            print(f"stage-2 set: {result.selection.get('summary')}")
        if result.note:
            print(f"note: {result.note}")
        interval = ("" if not math.isfinite(result.kendall_tau_low) else
                    f" (90% interval {_fmt(result.kendall_tau_low)} to {_fmt(result.kendall_tau_high)})")
        print(f"rank correlation (stage-1 reward vs full accuracy, top {result.correlated} models): Kendall tau "
              f"{_fmt(result.kendall_tau)}{interval}, Spearman {_fmt(result.spearman)}")
        noise = result.noise or {}
        sd = noise.get("sd")
        print("run-to-run noise of full training: "
              + (f"sd {sd:.3g} ({noise.get('source')})" if isinstance(sd, float) and math.isfinite(sd)
                 else str(noise.get("source", "unknown"))))
        flag = {True: "yes", False: "no", None: "cannot be judged"}[result.search_bias]
        note = result.search_bias_note.removeprefix(f"{result.verdict.value}: ")
        print(f"verdict: {result.verdict.value} (search bias: {flag}): {note}")
        if result.picked_trial_id is not None:
            print(f"picked model: stage-1 rank {result.picked_rank}, trial {result.picked_trial_id}, full accuracy "
                  f"{_fmt(result.picked_accuracy)}")
            print(f"architecture: {json.dumps(result.picked_arch, sort_keys=True, default=str)}")
            print(f"best model: {result.best_dir}" + (f" (checkpoint: {result.best_checkpoint})"
                                                      if result.best_checkpoint else " (no checkpoint kept)"))
        print(f"results: {result.result_path}, table: {result.table}")
        if result.picked_trial_id is not None:
            experiment = experiment_words(paths.root)
            steps = [(raynas_step("analyze", experiment), "the report, with stage 1 vs stage 2")]
            if result.best_checkpoint:
                steps.append((raynas_step("export", experiment), "the picked model as a state dict and TorchScript"))
            print_next(steps)
    for row in result.rows:
        if not row.completed and row.failure_reason:
            log.warning(f"rank {row.rank} (trial {row.trial_id}) {row.status}: {row.failure_reason}")
    if result.all_failed:
        print(f"raynas: error: {result.summary()}", file=sys.stderr)
        return 1
    return 0


def _fmt(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.4f}"

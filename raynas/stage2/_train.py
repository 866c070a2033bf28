"""``raynas train``: stage 2, full training of the top-k distinct architectures of a stage-1 search.

Stage-1 rank is noisy (a cheap proxy, a held-out slice of the training data), so a set of the best stage-1
trials is full-trained, not only the best one: on all training data, validated on the real validation set. How
their full-training accuracies rank against their stage-1 rewards (Kendall tau with a bootstrap interval, judged
against the run-to-run noise of full training: :mod:`raynas.stage2._verdict`) tells whether the search was
biased, agrees with full training, or cannot be judged (a converged search's top-k is often tied within the
noise). ``controls`` lower-ranked stage-1 trials, spread evenly over the rest of the ranking, can be full-trained
as well, so that a real bias shows even when the top-k is tied; the verdict then judges the top-k and the
controls together. The best full-trained top-k model is the result of the whole workflow.

Every full training is one Ray Tune job (:func:`raynas.tune._jobs.run_jobs`) in the stage's own trial store
(``<experiment>/stage2/trials``): job number = stage-1 rank, labels ``stage1_trial`` and ``stage1_rank``. The jobs
run all at once (as many as the cluster fits) or in batches; running the stage again resumes it (finished jobs
are not trained again). The results are ``stage2.json``, ``stage2.parquet``, ``checkpoints/rank-NN/`` (every
kept checkpoint) and ``best/`` (the picked model's architecture and checkpoint) in the stage's directory; MLflow
gets stage ``stage2`` under the search's MLflow experiment, one child run per full training.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence, TextIO

from raynas._files import write_json
from raynas._log import log_to
from raynas._parse import as_float, as_int, as_str
from raynas.errors import ConfigError, RaynasError
from raynas.stage2._verdict import (
    BIAS_TAU,
    FullTrainingNoise,
    Stage2Judgement,
    Stage2Verdict,
    full_training_noise,
    judge,
)
from raynas.trials import TrialStatus, ranked_trials, top_trials
from raynas.tune import ray_session

if TYPE_CHECKING:
    from raynas.config import SearchConfig
    from raynas.tracking import TrialRecord

log = logging.getLogger(__name__)

#: The MLflow stage (``raynas.stage`` tag) of full training.
STAGE = "stage2"
#: The stage's directory inside the experiment, by default.
DEFAULT_SUBDIR = "stage2"
#: The job group (evaluator name) of full training.
GROUP = "full"
#: The Kendall tau bar between stage-1 reward and full-training accuracy (the search is flagged as biased only when
#: the whole bootstrap interval is below it and the models are not tied within the noise: ``_verdict``).
SEARCH_BIAS_TAU = BIAS_TAU
RESULT_FILE = "stage2.json"
TABLE_FILE = "stage2.parquet"


@dataclass(frozen=True)
class Stage2Settings:
    """How stage 2 runs; validated on construction (errors name the setting and the fix).

    ``top_k``: distinct stage-1 architectures to full-train (at least 2: a rank correlation needs a set);
    ``batch_size``: jobs per batch (None: all at once); ``max_concurrent``: jobs running at once within a batch
    (None: the whole batch); ``cpus_per_trial``/``gpus_per_trial``: per job (None: the search config's);
    ``seed``: training seed of every job; ``augmentation``: a fixed augmentation policy for full training
    (task experiments only; None: the task's own); ``mlflow``: False turns MLflow off (None: the search
    config's setting); ``tracking_uri`` overrides where MLflow runs go; ``controls``: lower-ranked stage-1 trials
    to full-train as well (spread evenly over the ranks below the top-k), so that a bias shows even when the top-k
    is tied; ``noise_sd``: the run-to-run sd of one full-training accuracy, when measured (e.g. one model trained
    with several seeds; the larger of it and the binomial noise of the validation set is used).
    """

    top_k: int = 10
    batch_size: int | None = None
    max_concurrent: int | None = None
    cpus_per_trial: float | None = None
    gpus_per_trial: float | None = None
    seed: int = 0
    augmentation: Mapping[str, Any] | None = None
    #: Weights every full training starts from (``--init``: a state_dict or raynas checkpoint file).
    init: str | None = None
    mlflow: bool | None = None
    tracking_uri: str | None = None
    progress_interval_s: float = 5.0
    controls: int = 0
    noise_sd: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < 2:
            raise ConfigError("top_k", self.top_k, "an integer >= 2 (full-train a set of the best stage-1 trials)",
                              "stage-1 rank is noisy and a rank correlation needs at least 2 models: use --top-k 2 "
                              "or more (about 10 is usual)")
        if self.batch_size is not None:
            as_int("batch_size", self.batch_size, minimum=1)
        from raynas.config import check_cpus, check_gpus, check_max_concurrent, check_pair

        # the rules of raynas.config.Resources, for the values given (None: the search config's, see resources())
        if self.max_concurrent is not None:
            object.__setattr__(self, "max_concurrent", check_max_concurrent(self.max_concurrent))
        if self.cpus_per_trial is not None:
            check_cpus(self.cpus_per_trial)
        if self.gpus_per_trial is not None:
            check_gpus(self.gpus_per_trial)
        if self.cpus_per_trial is not None and self.gpus_per_trial is not None:
            check_pair(self.cpus_per_trial, self.gpus_per_trial)
        as_int("seed", self.seed, minimum=0)
        if self.augmentation is not None:
            if not isinstance(self.augmentation, Mapping):
                raise ConfigError("augmentation", self.augmentation, "a policy mapping such as {\"policy\": "
                                  "\"randaugment\", \"num_ops\": 2, \"magnitude\": 0.5}")
            object.__setattr__(self, "augmentation", dict(self.augmentation))
        if self.init is not None:
            from raynas.training import PretrainedWeights

            init = PretrainedWeights.from_value(self.init, base_dir=Path.cwd())  # a missing file fails here
            object.__setattr__(self, "init", init.checkpoint)
        if self.mlflow is not None and not isinstance(self.mlflow, bool):
            raise ConfigError("mlflow", self.mlflow, "true, false or None (the search config's setting)")
        if self.tracking_uri is not None:
            as_str("tracking_uri", self.tracking_uri)
        as_float("progress_interval_s", self.progress_interval_s, minimum=0.0)
        if isinstance(self.controls, bool) or not isinstance(self.controls, int) or self.controls < 0:
            raise ConfigError("controls", self.controls, "an integer >= 0 (lower-ranked stage-1 trials to full-train "
                              "as controls)", "e.g. --controls 3; 0 trains only the top-k")
        if self.noise_sd is not None:
            if isinstance(self.noise_sd, bool) or not isinstance(self.noise_sd, (int, float)) or \
                    not math.isfinite(self.noise_sd) or self.noise_sd <= 0:
                raise ConfigError("noise_sd", self.noise_sd, "a positive number: the sd of one full-training "
                                  "accuracy over seeds, in the accuracy's unit (points for percent)",
                                  "measure it by full-training one model with 3 or more seeds, or leave it out")
            object.__setattr__(self, "noise_sd", float(self.noise_sd))

    def resources(self, search: Any) -> Any:
        """The :class:`raynas.config.Resources` of each full training: the values given here over the search config
        ``search``'s (validated again as a whole: ``cpus_per_trial=0`` needs GPUs). When ``max_concurrent`` is None
        the result has the search's; :func:`train_top_k` then runs a whole batch at once."""
        return search.resources.with_overrides(cpus_per_trial=self.cpus_per_trial, gpus_per_trial=self.gpus_per_trial,
                                               max_concurrent=self.max_concurrent)


@dataclass(frozen=True)
class Stage2Row:
    """One full-trained stage-1 trial: its stage-1 rank and reward, and what full training gave.

    ``status`` is the full training's (completed, failed, invalid, stopped; ``missing`` when it left no record);
    ``checkpoint`` is its final checkpoint, kept in ``checkpoints/rank-NN`` (None when the training kept none, e.g.
    on the tabular benchmark); ``control``: a lower-ranked stage-1 trial trained as a control (never picked).
    """

    rank: int
    trial_id: str
    arch: Any
    stage1_reward: float
    full_accuracy: float
    full_reward: float
    status: str
    failure_reason: str | None
    checkpoint: str | None
    stage2_trial_id: str | None = None
    cost_s: float = math.nan
    control: bool = False

    @property
    def completed(self) -> bool:
        return self.status == TrialStatus.COMPLETED and math.isfinite(self.full_accuracy)


@dataclass(frozen=True)
class Stage2Result:
    """What stage 2 found: the rows in stage-1 rank order (top-k, then controls), the stage-1 vs full-training
    rank correlation over the completed top-k (``kendall_tau``, ``spearman``, ``correlated`` models; the bootstrap
    interval ``kendall_tau_low``/``kendall_tau_high``, also as ``tau_interval``), the verdict (judged over the
    top-k and the controls when any completed: ``verdict_over``, ``kendall_tau_with_controls``), the noise it was
    judged against, the picked model (best full accuracy of the top-k) and where everything is. ``judgements``
    holds the figures of each judged set (``top_k``, ``with_controls``)."""

    experiment: str
    experiment_dir: str
    directory: str
    label: str | None
    top_k: int
    available: int
    rows: tuple[Stage2Row, ...]
    kendall_tau: float
    spearman: float
    correlated: int
    picked_trial_id: str | None
    picked_arch: Any
    picked_rank: int | None
    picked_accuracy: float
    search_bias: bool | None
    search_bias_note: str
    note: str | None
    best_dir: str | None
    best_checkpoint: str | None
    table: str
    wall_seconds: float
    mlflow: dict[str, Any] = field(default_factory=dict)
    verdict: Stage2Verdict = Stage2Verdict.INCONCLUSIVE
    verdict_over: str = "top_k"
    kendall_tau_low: float = math.nan
    kendall_tau_high: float = math.nan
    noise: dict[str, Any] = field(default_factory=dict)
    judgements: dict[str, Any] = field(default_factory=dict)
    controls: int = 0
    control_beats_top_k: bool = False
    #: The top-k interval as {low, high, level} (what ``raynas analyze`` reads), and tau over top-k + controls.
    tau_interval: dict[str, Any] = field(default_factory=dict)
    kendall_tau_with_controls: float = math.nan
    #: How the set was chosen (:func:`raynas.stage2._selection.choose_stage2_set`): the rule's explanation
    #: (``method``, ``reason``, ``by_proxy``, ``by_prediction``, ``references``, ``coefficients``, ...), ``sources``
    #: of the references and a one-line ``summary``; empty for a multi-objective search (a spread of its front).
    selection: dict[str, Any] = field(default_factory=dict)

    @property
    def completed(self) -> list[Stage2Row]:
        """Rows whose full training completed."""
        return [row for row in self.rows if row.completed]

    @property
    def all_failed(self) -> bool:
        """Whether no full training completed."""
        return not self.completed

    @property
    def result_path(self) -> str:
        return str(Path(self.directory) / RESULT_FILE)

    def to_dict(self) -> dict[str, Any]:
        """What ``stage2.json`` holds (the keys ``rows``, ``kendall_tau``, ``spearman``, ``picked_trial_id``,
        ``picked_arch`` and ``search_bias`` are read by ``raynas analyze``; ``verdict`` is agree, bias or
        inconclusive)."""
        data = asdict(self)
        data["rows"] = [asdict(row) for row in self.rows]
        data["verdict"] = self.verdict.value
        return data

    def summary(self) -> str:
        """One line: how many trained, the picked model, and the verdict on stage 1 (tau, its interval, the
        noise) in one sentence."""
        done = len(self.completed)
        if not done:
            return (f"stage 2: every one of the {len(self.rows)} full trainings failed (see failure_reason in "
                    f"{self.result_path}, or `raynas trials {self.directory}`)")
        if self.picked_trial_id is None:
            picked = "no top-k model completed, nothing picked"
        else:
            picked = (f"picked stage-1 rank {self.picked_rank} (trial {self.picked_trial_id}), full accuracy "
                      f"{self.picked_accuracy:.6g}")
        controls = f" ({self.controls} as controls)" if self.controls else ""
        note = self.search_bias_note.removeprefix(f"{self.verdict.value}: ")  # the verdict is said once
        return (f"stage 2: {done} of {len(self.rows)} full trainings completed{controls}; {picked}. "
                f"Verdict {self.verdict.value}: {note}")


def control_ranks(available: int, top_k: int, controls: int) -> list[int]:
    """The stage-1 ranks (1-based, among ``available`` distinct completed trials) of ``controls`` control trials:
    spread evenly over the ranks below the top-k (the middles of ``controls`` equal slices of them; all of them
    when there are no more than ``controls``)."""
    rest = max(0, available - top_k)
    if controls <= 0 or rest == 0:
        return []
    if controls >= rest:
        return list(range(top_k + 1, available + 1))
    picks = sorted({top_k + 1 + min(rest - 1, int((j + 0.5) * rest / controls)) for j in range(controls)})
    return picks


def load_stage2(experiment_dir: str | Path, *, subdir: str = DEFAULT_SUBDIR) -> dict[str, Any]:
    """The saved ``stage2.json`` of an experiment (ConfigError naming ``raynas train`` when there is none)."""
    path = Path(experiment_dir) / subdir / RESULT_FILE
    if not path.is_file():
        raise ConfigError("stage2", str(path), "the result of a finished `raynas train` run",
                          f"run `raynas train {Path(experiment_dir).name}` first")
    return json.loads(path.read_text())


def train_top_k(experiment_dir: str | Path, settings: Stage2Settings | None = None, *,
                subdir: str = DEFAULT_SUBDIR, label: str | None = None, overwrite: bool = False,
                records: Sequence[TrialRecord] | None = None) -> Stage2Result:
    """Full-train the top-k distinct completed stage-1 trials of the experiment in ``experiment_dir``.

    Writes ``stage2.json``, ``stage2.parquet`` and ``best/`` (``architecture.json`` and, when full training kept
    one, ``checkpoint/``) into ``<experiment>/<subdir>`` and logs stage ``stage2`` to the search's MLflow
    experiment. Running it again with the same settings resumes (finished jobs are not trained again); other
    settings, or a different top-k set (the search went on), need ``overwrite``.

    ``subdir`` and ``label`` let a caller full-train snapshots of a running search (e.g. ``subdir="stage2-at-100"``,
    ``label="after 100 trials"``); ``records`` are the stage-1 trials to pick from (default: the whole trial store).
    Fewer distinct completed trials than ``top_k`` train what there is (the result's ``note`` says so); none at
    all is a RaynasError.

    Holds the experiment's lock (:func:`raynas.experiment.experiment_lock`) while it runs: refused while another
    writer (a search, a resume, another ``raynas train``) holds it; re-entered by the search's own process.
    """
    from raynas.experiment import experiment_lock

    folder = Path(experiment_dir).expanduser().resolve()
    if not folder.is_dir():  # refused below, before anything is created
        return _train_top_k(folder, settings, subdir=subdir, label=label, overwrite=overwrite, records=records)
    with experiment_lock(folder):
        return _train_top_k(folder, settings, subdir=subdir, label=label, overwrite=overwrite, records=records)


def _train_top_k(experiment_dir: Path, settings: Stage2Settings | None, *, subdir: str, label: str | None,
                 overwrite: bool, records: Sequence[TrialRecord] | None) -> Stage2Result:
    """:func:`train_top_k` once it holds the experiment's lock."""
    from raynas.config import SearchConfig
    from raynas.experiment import ExperimentPaths
    from raynas.tracking import TrialStore

    settings = settings or Stage2Settings()
    as_str("subdir", subdir, pattern=r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
    paths = ExperimentPaths(Path(experiment_dir).expanduser().resolve())
    if not paths.config.is_file():
        raise ConfigError("experiment", str(paths.root), "an experiment directory with the config.json of a search",
                          "give the name (with --workdir) or the directory of a stage-1 search")
    config = SearchConfig.from_dict(paths.read_config(), source=str(paths.config))
    stage1 = list(records) if records is not None else TrialStore(paths.trials).records()
    ranked = ranked_trials(stage1, mode=config.mode.value)
    if config.objectives:  # a multi-objective search: a spread of its Pareto front (raynas.stage2._front)
        from raynas.stage2._front import spread_order

        ranked, how = spread_order(config.objectives, ranked, settings.top_k)
        log.info(f"{STAGE}: full-training {how}")
    selection: dict[str, Any] = {}
    if not config.objectives:  # proxy rank, corrected by the fully trained models of the work folder (_selection)
        from raynas.stage2._selection import choose_stage2_set

        ranked, selection = choose_stage2_set(ranked, settings.top_k, experiment_dir=paths.root, name=config.name,
                                              mode=config.mode.value, metric_name=config.metric,
                                              exclude=paths.root / subdir)
        log.info(f"{STAGE}: stage-2 set: {selection['summary']}")
    picked, available = ranked[:settings.top_k], len(ranked)
    controls = {rank: ranked[rank - 1] for rank in control_ranks(available, settings.top_k, settings.controls)}
    if not picked:
        raise RaynasError(f"experiment {config.name!r} has no completed stage-1 trials to full-train "
                          f"({len(stage1)} trials in {paths.trials}); run or resume the search first "
                          f"(`raynas resume {config.name}`)")
    note = None
    if available < settings.top_k:
        note = (f"only {available} distinct architectures completed stage 1 (top-k is {settings.top_k}): "
                f"full-training all {available}")
        log.info(f"{STAGE}: {note}")
    if settings.controls and len(controls) < settings.controls:
        more = (f"only {len(controls)} distinct completed stage-1 trials rank below the top {settings.top_k}: "
                f"{len(controls)} controls instead of {settings.controls}")
        note = more if note is None else f"{note}; {more}"
        log.info(f"{STAGE}: {more}")
    evaluator = full_training_evaluator(config, paths.root, settings)  # bad settings fail before anything is written
    validation = validation_examples(config)
    root = paths.root / subdir
    params = _params(config, settings, picked, label, controls)
    _prepare(root, params, overwrite=overwrite)
    shown = {**params, "stage2_selection": selection["summary"]} if selection else params  # MLflow: how it was chosen
    tracking = _tracking(config, root, shown, settings, paths.root.parent)
    with ray_session(config.ray_address):
        return _train(config, settings, paths.root, root, picked, available, evaluator, tracking, label=label, note=note,
                      selection=selection,
                      controls=controls, validation=validation)


def validation_examples(config: SearchConfig) -> tuple[int | None, str]:
    """How many examples a full training's accuracy is measured on (None when unknown) and what they are: the
    task's real validation set, or a table's declared ``validation_examples``."""
    from raynas.targets import search_target

    target = search_target(config)
    if target.kind == "table":
        declared = target.declaration
        return declared.validation_examples, f"the validation set of table {declared.name!r}"
    task = getattr(target, "task", None)
    if task is None or getattr(task, "dataset", None) is None:
        return None, "the validation set"
    from raynas.data import load_dataset

    try:
        data = load_dataset(task.dataset_spec())
    except (RaynasError, OSError):  # the split (prepared before) read it: unusual, and then the noise is unknown
        return None, "the validation set"
    return int(len(data.val_y)), f"the real validation set of {data.name}"


def _params(config: SearchConfig, settings: Stage2Settings, picked: Sequence[TrialRecord], label: str | None,
            controls: Mapping[int, TrialRecord] | None = None) -> dict[str, Any]:
    """What identifies a stage-2 run (resuming needs the same): not the batching, resources or noise (controls
    only when there are some, so that earlier runs without them still resume)."""
    params = {"experiment": config.name, "label": label, "top_k": settings.top_k, "seed": settings.seed,
              "augmentation": settings.augmentation, "init": settings.init,
              "stage1_trials": [r.trial_id for r in picked]}
    if settings.controls:
        params["controls"] = settings.controls
        params["control_trials"] = {str(rank): r.trial_id for rank, r in (controls or {}).items()}
    return params


def _prepare(root: Path, params: dict[str, Any], *, overwrite: bool) -> None:
    """The stage's directory, created with its settings; the same settings resume it, others need overwrite."""
    from raynas.experiment import ExperimentPaths

    saved = root / "settings.json"
    params = json.loads(json.dumps(params, default=str))
    if root.exists() and overwrite:
        shutil.rmtree(root)
    if saved.is_file():
        before = json.loads(saved.read_text())
        if before != params:
            changed = sorted(k for k in set(before) | set(params) if before.get(k) != params.get(k))
            why = (" (the search found other top trials since)" if "stage1_trials" in changed else "")
            raise ConfigError("stage 2 settings", ", ".join(changed), f"the settings of the earlier run in {root}{why}",
                              "pass the same settings to resume it, or --overwrite to full-train the new set")
    root.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(params, indent=2, sort_keys=True))
    ExperimentPaths(root).uid()


def full_training_evaluator(config: SearchConfig, experiment_dir: Path, settings: Stage2Settings, *,
                            stream: TextIO | None = None) -> Any:
    """Full training of the search's architectures: its target's ``full`` variant on all training data, validated
    on the real validation set (with ``settings.augmentation`` when given), or the table's 200-epoch column.
    Data split warnings are logged (``"raynas"`` logger), or written to ``stream`` when given."""
    from raynas.targets import Stage, search_target

    if settings.augmentation is not None and config.search_type == "augmentation":
        raise ConfigError("augmentation", settings.augmentation, "no fixed policy for an augmentation search",
                          "stage 2 of an augmentation search full-trains its top policies: drop --augmentation")
    target = search_target(config)
    split = target.prepare(experiment_dir)
    with log_to(stream):
        for warning in getattr(split, "warnings", []):
            log.warning(f"data split warning: {warning}")
    init = None
    if settings.init is not None:
        from raynas.training import PretrainedWeights

        init = PretrainedWeights(settings.init, strict=False)  # the top-k differ: each loads the weights that fit
    evaluator = target.evaluator(variant="full", stage=Stage.STAGE2, experiment_dir=experiment_dir,
                                 device=config.device, augmentation=settings.augmentation, init=init)
    if config.search_type == "augmentation":
        from raynas.training import AugmentationEvaluator

        return AugmentationEvaluator(evaluator, config.arch)
    return evaluator


def _tracking(config: SearchConfig, root: Path, params: dict[str, Any], settings: Stage2Settings,
              workdir: Path) -> Any:
    """How the jobs log to MLflow: stage ``stage2`` of the search's MLflow experiment (None when turned off)."""
    enabled = config.mlflow.enabled if settings.mlflow is None else settings.mlflow
    if not enabled:
        return None
    from raynas.experiment import ExperimentPaths
    from raynas.tracking import SearchTracking, TrialContext, config_params, resolve_target, search_context

    context = search_context(config)
    target = resolve_target(settings.tracking_uri or config.mlflow.tracking_uri, workdir)
    return SearchTracking(target=target, experiment_name=config.name, experiment_dir=str(root),
                          experiment_uid=ExperimentPaths(root).uid(), stage=STAGE,
                          context=TrialContext(STAGE, context.task, "full", context.controller),
                          parent_params=config_params(params), parent_artifacts={"stage2_settings.json": params},
                          flush_timeout_s=config.mlflow.flush_timeout_s)


def _train(config: SearchConfig, settings: Stage2Settings, experiment_dir: Path, root: Path,
           picked: Sequence[TrialRecord], available: int, evaluator: Any, tracking: Any, *, label: str | None,
           note: str | None, controls: Mapping[int, TrialRecord] | None = None,
           validation: tuple[int | None, str] = (None, "the validation set"),
           selection: Mapping[str, Any] | None = None) -> Stage2Result:
    from raynas.tune import Job, latest_records, run_jobs

    t0 = time.time()
    controls = dict(controls or {})
    jobs = [Job(rank, record.arch, settings.seed, GROUP, {"stage1_trial": record.trial_id, "stage1_rank": str(rank)})
            for rank, record in enumerate(picked, start=1)]
    jobs += [Job(rank, record.arch, settings.seed, GROUP, {"stage1_trial": record.trial_id, "stage1_rank": str(rank),
                                                           "control": "true"})
             for rank, record in controls.items()]
    size = settings.batch_size or len(jobs)
    batches = [jobs[i:i + size] for i in range(0, len(jobs), size)]
    cpus = config.cpus_per_trial if settings.cpus_per_trial is None else settings.cpus_per_trial
    gpus = config.gpus_per_trial if settings.gpus_per_trial is None else settings.gpus_per_trial
    what = f"{STAGE} full training" + (f" ({label})" if label else "")
    kept = _keep_checkpoints(root, latest_records(root / "trials"))
    for index, batch in enumerate(batches, start=1):
        concurrent = min(len(batch), settings.max_concurrent or len(batch))
        name = what if len(batches) == 1 else f"{what}, batch {index}/{len(batches)}"
        run_jobs(batch, {GROUP: evaluator}, experiment_dir=root, metric=config.metric, cpus_per_trial=cpus,
                 gpus_per_trial=gpus, max_concurrent=concurrent, tracking=tracking, ray_address=config.ray_address,
                 progress_interval_s=settings.progress_interval_s, what=name)
        # the next run_jobs call clears Ray Tune's folder, where the checkpoints are: keep them first
        kept.update(_keep_checkpoints(root, latest_records(root / "trials")))
    records = latest_records(root / "trials")
    rows = tuple(_row(rank, stage1, records.get(rank), kept.get(rank)) for rank, stage1 in enumerate(picked, start=1))
    rows += tuple(replace(_row(rank, stage1, records.get(rank), kept.get(rank)), control=True)
                  for rank, stage1 in controls.items())
    result = _summarize(config, experiment_dir, root, rows, available, settings, label, note, time.time() - t0,
                        validation=validation)
    if selection:
        result = replace(result, selection=dict(selection))
    json_path = root / RESULT_FILE
    write_json(json_path, result.to_dict())
    artifacts: list[Path] = [json_path, Path(result.table)]
    if result.best_dir is not None:
        artifacts.append(Path(result.best_dir) / "architecture.json")
    from raynas.tracking import finish_stage as finish_tool

    reason = result.summary()
    metrics = {"kendall_tau": result.kendall_tau, "spearman": result.spearman,
               "kendall_tau_low": result.kendall_tau_low, "kendall_tau_high": result.kendall_tau_high,
               "noise_sd": float(result.noise.get("sd", math.nan)),
               "best_full_accuracy": result.picked_accuracy, "models_completed": float(len(result.completed))}
    report = finish_tool(tracking, status="failed" if result.all_failed else "completed", reason=reason,
                         metrics=metrics, artifacts=artifacts)
    if report:
        result = replace(result, mlflow=report)
        write_json(json_path, result.to_dict())
    log.info(f"{reason}; results in {root}")
    return result


def _keep_checkpoints(root: Path, records: Mapping[int, TrialRecord]) -> dict[int, str]:
    """Move the checkpoint of every completed job out of Ray Tune's folder (which the next job list clears) into
    ``checkpoints/rank-NN`` (once); returns the kept checkpoints by job number."""
    kept: dict[int, str] = {}
    for number, record in records.items():
        target = root / "checkpoints" / f"rank-{number:02d}"
        source = root / record.checkpoint if record.checkpoint else None  # relative to root (older: absolute)
        if record.status is TrialStatus.COMPLETED and not target.is_dir() and source is not None and source.is_dir():
            tmp = target.with_name(target.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(source), tmp)
            tmp.replace(target)
        if record.status is TrialStatus.COMPLETED and target.is_dir():
            kept[number] = str(target)
    return kept


def _row(rank: int, stage1: TrialRecord, record: TrialRecord | None, checkpoint: str | None) -> Stage2Row:
    from raynas.trials import cost_seconds, metric

    reward = math.nan
    if record is not None and record.status is TrialStatus.COMPLETED and record.reward is not None:
        reward = float(record.reward)
    return Stage2Row(
        rank=rank, trial_id=stage1.trial_id, arch=stage1.arch, stage1_reward=float(stage1.reward),
        full_accuracy=metric(record, "val_accuracy"), full_reward=reward,
        status="missing" if record is None else record.status,
        failure_reason=("the job left no record (interrupted? run `raynas train` again to resume)" if record is None
                        else record.failure_reason),
        checkpoint=checkpoint, stage2_trial_id=None if record is None else record.trial_id,
        cost_s=cost_seconds(record) if record is not None else math.nan)


def _summarize(config: SearchConfig, experiment_dir: Path, root: Path, rows: tuple[Stage2Row, ...], available: int,
               settings: Stage2Settings, label: str | None, note: str | None, wall: float, *,
               validation: tuple[int | None, str] = (None, "the validation set")) -> Stage2Result:
    from raynas.proxy import rank_agreement

    sign = 1.0 if config.mode.value == "max" else -1.0  # a positive tau always means the rankings agree
    top = [row for row in rows if row.completed and not row.control]
    agreement = rank_agreement([sign * r.stage1_reward for r in top], [r.full_accuracy for r in top])
    verdict = stage2_verdict(rows, mode=config.mode.value, validation_examples=validation[0], where=validation[1],
                             noise_sd=settings.noise_sd, seed=settings.seed)
    best = max(top, key=lambda r: (r.full_accuracy, -r.rank)) if top else None
    table = _write_table(root / TABLE_FILE, rows)
    best_dir, best_checkpoint = _write_best(root / "best", best, config) if best is not None else (None, None)
    judged = verdict.judgement
    return Stage2Result(
        experiment=config.name, experiment_dir=str(experiment_dir), directory=str(root), label=label,
        top_k=settings.top_k, available=available, rows=rows, kendall_tau=agreement.kendall_tau,
        spearman=agreement.spearman, correlated=agreement.n,
        picked_trial_id=None if best is None else best.trial_id, picked_arch=None if best is None else best.arch,
        picked_rank=None if best is None else best.rank,
        picked_accuracy=math.nan if best is None else best.full_accuracy, search_bias=judged.search_bias,
        search_bias_note=verdict.note, note=note, best_dir=best_dir, best_checkpoint=best_checkpoint, table=str(table),
        wall_seconds=round(wall, 3), verdict=judged.verdict, verdict_over=verdict.over,
        kendall_tau_low=verdict.top_k.tau.low, kendall_tau_high=verdict.top_k.tau.high,
        noise=verdict.noise.to_dict(), judgements={k: j.to_dict() for k, j in verdict.sets.items()},
        controls=sum(1 for r in rows if r.control), control_beats_top_k=verdict.control_beats_top_k,
        tau_interval={"low": verdict.top_k.tau.low, "high": verdict.top_k.tau.high, "level": verdict.top_k.tau.level},
        kendall_tau_with_controls=math.nan if verdict.with_controls is None else verdict.with_controls.tau.tau)


@dataclass(frozen=True)
class RowsVerdict:
    """The verdict over stage-2 rows: the judgement of the top-k and (when a control completed) of the top-k with
    the controls; ``over`` names the judged set the verdict comes from (the wider one), ``note`` the sentence
    ``raynas train`` prints."""

    top_k: Stage2Judgement
    with_controls: Stage2Judgement | None
    control_beats_top_k: bool
    note: str

    @property
    def noise(self) -> FullTrainingNoise:
        """The noise the verdict was judged against (at the mean accuracy of the judged set)."""
        return self.judgement.noise

    @property
    def over(self) -> str:
        return "top_k" if self.with_controls is None else "with_controls"

    @property
    def judgement(self) -> Stage2Judgement:
        return self.top_k if self.with_controls is None else self.with_controls

    @property
    def sets(self) -> dict[str, Stage2Judgement]:
        return {"top_k": self.top_k, **({} if self.with_controls is None else {"with_controls": self.with_controls})}


def stage2_verdict(rows: Sequence[Stage2Row], *, mode: str = "max", validation_examples: int | None = None,
                   where: str = "the validation set", noise_sd: float | None = None, seed: int = 0) -> RowsVerdict:
    """Judge stage 1 against full training over the completed ``rows`` (pure; see :mod:`raynas.stage2._verdict`):
    the noise of one full-training accuracy (binomial on ``validation_examples``, or ``noise_sd`` when larger),
    the top-k's tau interval and verdict and, when controls completed, the same over the top-k and the controls
    (the verdict then comes from the wider set). A control that beats every top-k model is said loudly."""
    sign = 1.0 if str(getattr(mode, "value", mode)) == "max" else -1.0
    done = [r for r in rows if r.completed]
    top = [r for r in done if not r.control]
    extra = [r for r in done if r.control]

    def judged(models: Sequence[Stage2Row], what: str) -> Stage2Judgement:
        noise = full_training_noise([r.full_accuracy for r in models], validation_examples=validation_examples,
                                    declared_sd=noise_sd, where=where)
        return judge([sign * r.stage1_reward for r in models], [r.full_accuracy for r in models], noise=noise,
                     seed=seed, what=what)

    top_k = judged(top, f"the top {len(top)}")
    wide = judged(top + extra, f"the top {len(top)} and {len(extra)} controls") if extra else None
    note = (wide or top_k).note
    if wide is not None:
        note += f" (over the top {len(top)} alone: {top_k.tau.text()}, {top_k.verdict.value})"
    beats = False
    if extra and top:
        best_control = max(extra, key=lambda r: r.full_accuracy)
        best_top = max(r.full_accuracy for r in top)
        if best_control.full_accuracy > best_top:
            beats = True
            margin = best_control.full_accuracy - best_top
            noise = (wide or top_k).noise
            noise_text = f", run-to-run noise sd {noise.sd:.2f}" if noise.known else ""
            note = (f"WARNING: control stage-1 rank {best_control.rank} (trial {best_control.trial_id}) reached full "
                    f"accuracy {best_control.full_accuracy:.4g}, above every top-{len(top)} model (best "
                    f"{best_top:.4g}, {margin:.2f} points lower{noise_text}): the search ranked a better model low, "
                    f"evidence that stage 1 missed something. {note}")
    return RowsVerdict(top_k, wide, beats, note)


def _write_table(path: Path, rows: Sequence[Stage2Row]) -> Path:
    import pandas as pd

    columns = [f for f in Stage2Row.__dataclass_fields__]
    frame = pd.DataFrame([{**asdict(r), "arch": json.dumps(r.arch, sort_keys=True, default=str)} for r in rows],
                         columns=columns)
    frame.to_parquet(path, index=False)
    return path


def _write_best(best_dir: Path, row: Stage2Row, config: SearchConfig) -> tuple[str, str | None]:
    """``best/architecture.json`` (the picked architecture and where it comes from) and ``best/checkpoint/``."""
    shutil.rmtree(best_dir, ignore_errors=True)
    best_dir.mkdir(parents=True)
    task = config.task_config()
    info = {"arch": row.arch, "stage1_trial_id": row.trial_id, "stage1_rank": row.rank,
            "stage1_reward": row.stage1_reward, "full_accuracy": row.full_accuracy, "full_reward": row.full_reward,
            "experiment": config.name, "task": config.task, "family": None if task is None else task.family,
            "space": config.space, "search_type": config.search_type, "fixed_arch": config.arch}
    write_json(best_dir / "architecture.json", info)
    checkpoint = None
    if row.checkpoint is not None and Path(row.checkpoint).is_dir():
        checkpoint = best_dir / "checkpoint"
        shutil.copytree(row.checkpoint, checkpoint)
        from raynas.targets import search_target
        from raynas.training import SPEC_FILE

        if (checkpoint / SPEC_FILE).is_file():  # written by the training itself (a user trainer's ctx.save_model)
            shutil.copy2(checkpoint / SPEC_FILE, best_dir / SPEC_FILE)
        else:  # how the target builds it again
            spec = search_target(config).model_spec(config.arch if config.search_type == "augmentation" else row.arch)
            if spec is not None:
                spec.write(best_dir / SPEC_FILE)
    return str(best_dir), None if checkpoint is None else str(checkpoint)


__all__ = ["DEFAULT_SUBDIR", "SEARCH_BIAS_TAU", "STAGE", "RowsVerdict", "Stage2Result", "Stage2Row", "Stage2Settings",
           "control_ranks", "load_stage2", "ranked_trials", "stage2_verdict", "top_trials", "train_top_k",
           "validation_examples"]

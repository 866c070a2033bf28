"""Building, running and restoring the Ray Tune experiment of a stage-1 search."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from raynas.config import Mode, SearchConfig
from raynas.errors import ConfigError, RaynasError
from raynas.experiment import ExperimentPaths, Replaced, experiment_lock, has_experiment, replacing
from raynas.tracking import TrialStore
from raynas.trials import TrialStatus

if TYPE_CHECKING:
    from raynas.tune._hooks import CallbackFactory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchResult:
    """How a search ended: ``status`` is completed, cancelled (failure budget), stopped (an auto-stop rule fired),
    timed_out, exhausted (the whole space was tried) or interrupted (e.g. Ctrl-C; resumable)."""

    name: str
    experiment_dir: str
    store_dir: str
    status: str
    reason: str
    trials: int
    counts: dict[str, int]
    best_reward: float | None
    best_trial_id: str | None
    best_arch: Any
    wall_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def status_line(self) -> str:
        """The one-line final status a user sees."""
        best = "none" if self.best_reward is None else f"{self.best_reward:.6g} (trial {self.best_trial_id})"
        c = self.counts
        front = self.extra.get("front")
        if front:  # a multi-objective search
            hv = front.get("hypervolume")
            best += f"; Pareto front {front['front_size']} trials, hypervolume {'-' if hv is None else f'{hv:.6g}'}"
        return (f"search {self.name!r} {self.status}: {self.reason}. {self.trials} trials "
                f"({c.get('completed', 0)} completed, {c.get('failed', 0)} failed, {c.get('invalid', 0)} invalid, "
                f"{c.get('stopped', 0)} stopped); best {'reward' if not front else 'first objective'} {best}; "
                f"trial store: {self.store_dir}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_evaluator(config: SearchConfig, experiment_dir: Path | None = None) -> Any:
    """The object that evaluates one architecture of the search (its target's ``config.variant`` evaluator)."""
    from raynas.targets import Stage, search_target

    target = search_target(config)
    if config.search_type == "augmentation" and not target.searches_augmentation:
        raise ConfigError("search_type", config.search_type, f"architecture for a {target.kind!r} target",
                          "an augmentation search needs the built-in trainer (its policies are raynas's); a trainer of "
                          "your own can vary augmentation through a variant key instead")
    experiment_dir = Path(experiment_dir or config.experiment_dir)
    split = target.prepare(experiment_dir)
    for warning in getattr(split, "warnings", []):
        log.warning("data split warning: %s", warning)
    if config.search_type == "augmentation":
        from raynas.training import AugmentationEvaluator

        return AugmentationEvaluator(target.evaluator(variant=config.variant, stage=Stage.SEARCH,
                                                      experiment_dir=experiment_dir, device=config.device),
                                     config.arch)
    return target.evaluator(variant=config.variant, stage=Stage.SEARCH, experiment_dir=experiment_dir,
                            device=config.device)


def build_scheduler(config: SearchConfig) -> Any:
    """The Ray Tune scheduler of the config, over the per-epoch reports (a class of
    :data:`raynas.config.SCHEDULER_REGISTRY`; fifo: one whose cost per step does not grow with the number of
    finished trials). The search's metric and mode, and for raynas's own schedulers the epoch count as
    ``time_attr``, are passed to a scheduler whose constructor takes them; the config's options as they are."""
    from raynas.config import SCHEDULER_REGISTRY, SCHEDULERS

    name, options = config.scheduler.name, dict(config.scheduler.options)
    cls = SCHEDULER_REGISTRY.get(name)
    common = {"metric": config.metric, "mode": config.mode.value}
    if name in SCHEDULERS:
        common["time_attr"] = "training_iteration"
    if name in ("asha", "hyperband"):
        from raynas.targets import search_target

        options.setdefault("max_t", search_target(config).max_epochs(config.variant))
    try:
        return cls(**_accepted(cls, common), **options)
    except TypeError as exc:  # an option the scheduler does not take
        raise ConfigError(f"scheduler ({name})", options, f"options {getattr(cls, '__name__', name)} takes",
                          str(exc)) from None


def _accepted(cls: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Those of ``kwargs`` the constructor of ``cls`` takes (all of them when it takes ``**kwargs``)."""
    import inspect

    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):  # no signature to read: pass everything
        return kwargs
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return kwargs
    names = {p.name for p in params}
    return {k: v for k, v in kwargs.items() if k in names}


def ensure_ray(address: str | None = None) -> bool:
    """Connect to the cluster at ``address`` / ``RAY_ADDRESS``, or else start a Ray instance of this run's own
    (never a cluster merely recorded on the machine); True when this call initialised Ray here (and should shut it
    down, or disconnect, at the end). A cluster that does not answer is one :class:`RaynasError` line within
    :data:`raynas.tune._ray_address.CONNECT_TIMEOUT_S` (10 s), not Ray's minutes of retries."""
    import ray

    from raynas.tune._ray_address import LOCAL, check_reachable, resolve_address

    if ray.is_initialized():
        return False
    source = "ray_address" if address else "RAY_ADDRESS"
    address = resolve_address(address)
    check_reachable(address, source=source)
    if address == LOCAL:  # a watchdog ends the instance's workers when this driver dies (raynas.tune._reaper)
        from raynas.tune._reaper import start_reaper
        start_reaper()
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING, configure_logging=True)
    except (ConnectionError, TimeoutError, RuntimeError, ray.exceptions.AuthenticationError) as exc:
        if address == LOCAL:
            raise
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise RaynasError(f"{source} {address!r}: no Ray cluster could be joined there ({reason}). Fix: check host "
                          f"and port (the GCS port, 6379 by default), that the cluster runs Ray {ray.__version__} as "
                          "here and, for a cluster with token authentication, set RAY_AUTH_MODE=token and its token "
                          "(RAY_AUTH_TOKEN or ~/.ray/auth_token); or remove ray_address (and unset RAY_ADDRESS) for "
                          "a local run") from None
    return True


@contextlib.contextmanager
def ray_session(address: str | None = None) -> Iterator[None]:
    """Ray started once for several Tune runs (and shut down after, when this call started it)."""
    started = ensure_ray(address)
    try:
        yield
    finally:
        if started:
            import ray

            ray.shutdown()


def check_resources(*, cpus_per_trial: float, gpus_per_trial: float, ray_address: str | None) -> None:
    """Refuse trials that can never be scheduled on a Ray instance raynas started itself.

    On a cluster (an address in the config or in ``RAY_ADDRESS``) missing GPUs or CPUs only warn: an autoscaling
    cluster adds GPU workers when trials ask for them, and its head node often has none.
    """
    import ray

    from raynas.tune._ray_address import on_cluster as joins_a_cluster

    on_cluster = joins_a_cluster(ray_address)  # the rule ensure_ray follows: no address, a new instance of our own
    available = ray.cluster_resources()
    gpus = float(available.get("GPU", 0.0))
    cpus = float(available.get("CPU", 0.0))
    if gpus_per_trial > 0 and gpus < gpus_per_trial:
        fix = "set gpus_per_trial: 0 (and cpus_per_trial) for a CPU dry run, or run on a cluster with GPUs"
        if on_cluster:
            log.warning(f"warning: gpus_per_trial={gpus_per_trial:g} but the cluster has {gpus:g} GPUs "
                        "now; trials wait until the autoscaler adds GPU workers")
        else:
            raise ConfigError("gpus_per_trial", gpus_per_trial, f"at most the GPUs Ray sees ({gpus:g} here)", fix)
    if cpus_per_trial > cpus and not on_cluster:
        raise ConfigError("cpus_per_trial", cpus_per_trial, f"at most the CPUs Ray sees ({cpus:g} here)",
                          "lower cpus_per_trial (fractions such as 0.5 are allowed)")


def run_search(config: SearchConfig, *, resume: bool = False, overwrite: bool = False,
               progress_interval_s: float = 5.0,
               callbacks: Sequence[CallbackFactory] = ()) -> SearchResult:
    """Run (or resume) a stage-1 search on Ray Tune and return how it ended.

    ``callbacks`` are what other stages plug in (e.g. :func:`raynas.stage2.inline_stage2_callbacks`): factories
    called once the experiment folder is ready, their callbacks added to the search's own (also on resume: nothing
    is restored from Ray Tune's saved state). The engine knows nothing about what they do.

    A resume rebuilds the search from the trial store (:mod:`raynas.tune._resume`): a fresh Ray Tune run in
    ``<experiment>/tune/run-<n>``, a searcher whose controller replays the stored history, trials lost with a killed
    driver run again under their own number, and callbacks that count on from the store. Every path is the
    experiment folder's (``config.experiment_dir``; :meth:`SearchConfig.located_at` pins a moved or copied one).

    Every finished trial is in the trial store (``<workdir>/<name>/trials``) as soon as it ends; the store,
    the resolved config and the final status stay on disk whatever happens. Unless the config turns it off,
    every trial is also an MLflow run (see :mod:`raynas.tracking`); ``result.extra["mlflow"]`` says what was sent.

    Check, then act: every refusal (the config, an existing experiment without ``overwrite``, the experiment's lock,
    the resources Ray sees) comes before anything on disk changes. The experiment's lock
    (:func:`raynas.experiment.experiment_lock`) is held for the whole run: a second writer is refused with who holds
    it. ``overwrite`` moves the old experiment aside (``.<name>.replaced-<time>`` beside it, under its lock: a
    running search is never replaced) and deletes it once the new search has started; a new search that fails
    before it starts puts it back.
    """
    space = config.build_space()
    controller = config.build_controller(space)
    build_scheduler(config)  # its options are checked before anything on disk changes
    paths = ExperimentPaths(config.experiment_dir)
    if resume:
        check_resumable(paths, config.name)
    elif has_experiment(paths) and not overwrite:
        raise _exists(config)
    with experiment_lock(paths) as lock:
        replace = not resume and has_experiment(paths)
        if replace and not overwrite:  # written while this process waited for the lock
            raise _exists(config)
        started = ensure_ray(config.ray_address)
        try:
            check_resources(cpus_per_trial=config.cpus_per_trial, gpus_per_trial=config.gpus_per_trial,
                            ray_address=config.ray_address)
            if not replace:
                return _search(config, space, controller, resume=resume, progress_interval_s=progress_interval_s,
                               callbacks=callbacks)
            with replacing(paths, lock) as replaced:
                return _search(config, space, controller, resume=False, progress_interval_s=progress_interval_s,
                               callbacks=[*callbacks, _discard_when_started(replaced)])
        finally:
            if started:
                import ray

                ray.shutdown()


def _exists(config: SearchConfig) -> ConfigError:
    return ConfigError("name", config.name, f"a new experiment name (an experiment already exists at "
                       f"{config.experiment_dir})", "choose another `name`, resume it with `raynas resume`, or pass "
                       "--overwrite to replace it")


def _discard_when_started(replaced: Replaced) -> CallbackFactory:
    """A callback factory: its Tune callback deletes the experiment ``--overwrite`` set aside once Ray Tune has
    set the new search up (before that, a failure puts the old one back)."""
    def make() -> Any:
        from ray.tune import Callback

        class DiscardReplaced(Callback):
            def setup(self, **info: Any) -> None:
                replaced.discard()

        return DiscardReplaced()

    return make


def _search(config: SearchConfig, space: Any, controller: Any, *, resume: bool, progress_interval_s: float,
            callbacks: Sequence[CallbackFactory]) -> SearchResult:
    """The search itself, once :func:`run_search` has checked what it can, holds the lock and has started Ray."""
    from ray import tune
    from ray.tune.stopper import CombinedStopper

    from raynas.tune._autostop import AutoStop, AutoStopStopper
    from raynas.tune._callbacks import (
        ContractStopper,
        FailureBudget,
        FailureBudgetStopper,
        ProgressPrinter,
        TrialRecorder,
        broke_the_contract,
        raise_broken_contract,
    )
    from raynas.tune._generator import RaynasSearchGenerator
    from raynas.tune._mlflow_callback import MlflowLogger
    from raynas.tune._monitor import SearchPlotter
    from raynas.tune._runs import DeadlineStopper, TrialClock
    from raynas.tune._searcher import ControllerSearcher
    from raynas.tune._trainable import run_trial

    exp_dir = config.experiment_dir
    paths = ExperimentPaths(exp_dir)
    exp_dir.mkdir(parents=True, exist_ok=True)
    paths.uid()
    evaluator = build_evaluator(config, exp_dir)
    paths.config.write_text(json.dumps(config.to_dict(), indent=2, sort_keys=True))
    if config.mlflow.enabled:
        from raynas.tracking import tracking_target

        log.info("MLflow: experiment %r at %s", config.name, tracking_target(config).uri)

    from raynas.tune._runs import begin_run

    store_end = max((r.end_time or 0.0 for r in TrialStore(paths.trials).records()), default=None) if resume else None
    begin_run(paths.runs, timeout_s=config.timeout_s, max_total_s=float(config.max_total_time_s),
              max_resumes=config.max_resumes, resume=resume, store_end=store_end, name=config.name)
    started = ensure_ray(config.ray_address)  # run_search started it: False here
    try:
        resources = {"cpu": config.cpus_per_trial, "gpu": config.gpus_per_trial}
        trainable = tune.with_resources(
            tune.with_parameters(run_trial, evaluator=evaluator, metric=config.metric,
                                 objectives=tuple(o.metric for o in config.objectives)), resources)
        t0 = time.time()
        from raynas.tune._resume import launch_ledger, plan_resume
        from raynas.tune._runs import read_runs

        ledger = launch_ledger(exp_dir)
        mode_max = config.mode is Mode.MAX
        budget = FailureBudget(config.max_failed, config.metric, str(paths.budget), str(paths.trials))
        searcher = ControllerSearcher(controller, max_trials=config.max_trials, metric=config.metric,
                                      mode=config.mode, seed=config.seed, store_dir=str(paths.trials), ledger=ledger,
                                      objectives=config.objectives)
        auto_stop = AutoStop(config.auto_stop, metric=config.metric, mode_max=mode_max,
                             ledger_path=str(paths.auto_stop), store_dir=str(paths.trials),
                             config_path=str(paths.config))
        progress = ProgressPrinter(config.max_trials, config.metric, mode_max=mode_max,
                                   interval_s=progress_interval_s, live_path=str(paths.live),
                                   objectives=config.objectives)
        # always present (a no-op when the config turns MLflow off), so a resume can turn it on
        mlflow_logger = MlflowLogger(str(exp_dir), metric=config.metric, resources=resources, mode_max=mode_max,
                                     objectives=config.objectives)
        if resume:  # rebuilt from the trial store (the truth); Ray Tune's saved state is never read
            records = TrialStore(paths.trials).records()
            searcher.resume(plan_resume(records, ledger.read(), read_runs(paths.runs), max_trials=config.max_trials,
                                        direction=config.mode, seed=config.seed, valid=_genotype_check(space),
                                        objectives=config.objectives))
            budget.set_state({"failed": 0, "counted": []})
            auto_stop.set_state({})
            progress.seed(records)
            mlflow_logger.seed(records)
        tune_callbacks = [
            budget,
            auto_stop,
            TrialRecorder(str(paths.trials), config.metric, resources),
            progress,
            SearchPlotter(str(paths.trials), str(paths.search_plot), mode_max=mode_max),
            mlflow_logger,
            TrialClock(str(paths.runs)),  # the timeout clock starts with the run's first trial
        ]
        tune_callbacks += [make() for make in callbacks]
        tune_dir = next_tune_run(paths.tune)  # each run its own: earlier runs' trial folders (checkpoints) stay
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(search_alg=RaynasSearchGenerator(searcher, max_concurrent=config.max_concurrent),
                                        num_samples=-1, scheduler=build_scheduler(config), reuse_actors=True),
            run_config=tune.RunConfig(name=tune_dir.name, storage_path=str(tune_dir.parent), verbose=0,
                                      stop=CombinedStopper(FailureBudgetStopper(budget),
                                                           AutoStopStopper(str(paths.auto_stop)),
                                                           DeadlineStopper(str(paths.runs)), ContractStopper()),
                                      callbacks=tune_callbacks,
                                      failure_config=tune.FailureConfig(max_failures=config.max_retries)),
        )
        with _tune_environment():
            tuner.fit()
        wall = time.time() - t0
    finally:
        if started:
            import ray

            ray.shutdown()
    result = summarize(config, wall_seconds=wall)
    stopped_by = [r for r in TrialStore(paths.trials).records() if broke_the_contract(r) and (r.end_time or 0) >= t0]
    if stopped_by:  # its stopper ended the run: a resume must not wait for the trials it stopped
        result = dataclasses.replace(result, status="stopped", reason=f"trial {stopped_by[0].trial_id} stopped the "
                                     f"run: {stopped_by[0].failure_reason}; fix it, then `raynas resume {config.name}`")
    if config.mlflow.enabled:
        result = _finish_tracking(config, result)
    paths.status.write_text(json.dumps(result.to_dict(), indent=2, default=str))
    from raynas.tune._runs import end_run

    end_run(paths.runs, result.status)
    raise_broken_contract(TrialStore(paths.trials).records(), since=t0,
                          again=f"continue it with `raynas resume {config.name}` (or start it over with --overwrite)")
    return result




def check_resumable(paths: ExperimentPaths, name: str) -> None:
    """Refuse to resume a folder where no search ever ran: no trial store, no Ray Tune folder, no launch ledger."""
    from raynas.tune._resume import LAUNCHES_FILE

    if not (paths.trials.is_dir() or paths.tune.is_dir() or (paths.root / LAUNCHES_FILE).is_file()):
        raise RaynasError(f"experiment {name!r} at {paths.root} has nothing to resume (no trial store, no Ray Tune "
                          "folder): start it with `raynas search --config CONFIG` (--overwrite replaces this folder)")


def next_tune_run(tune_root: Path) -> Path:
    """``<tune_root>/run-<n>``, the Ray Tune folder of a new run of a search (n: one more than the highest there)."""
    taken = [int(p.name[4:]) for p in tune_root.glob("run-*") if p.name[4:].isdigit()] if tune_root.is_dir() else []
    return tune_root / f"run-{max(taken, default=0) + 1}"


def _genotype_check(space: Any) -> Any:
    """Whether a genotype (from the launch ledger) is one of ``space``'s."""
    def valid(genotype: tuple[int, ...]) -> bool:
        try:
            space.decode(genotype)
        except Exception:  # noqa: BLE001 - a damaged ledger line: its number is proposed afresh
            return False
        return True

    return valid


def _finish_tracking(config: SearchConfig, result: SearchResult) -> SearchResult:
    """Send what the MLflow callback could not (normally nothing) and close the parent run with the status.

    Never fails the search: the results are in the trial store whatever MLflow does.
    """
    from raynas.tracking import sync_search

    try:
        plot = ExperimentPaths(config.experiment_dir).search_plot
        status = {**result.to_dict(), "artifacts": [str(plot)] if plot.is_file() else []}
        tags = None
        if config.objectives:  # the final front: parent metrics, and each trial run's raynas.on_front tag
            from raynas.tune._front import front_tracking

            front, tags = front_tracking(config.objectives, TrialStore(ExperimentPaths(config.experiment_dir).trials)
                                         .records())
            status["metrics"] = {**dict(status.get("metrics") or {}), **front}
        report = sync_search(config, status=status, trial_tags=tags)
        extra = {"mlflow": report.to_dict()}
        lines = report.lines(str(config.experiment_dir))
    except Exception as exc:  # noqa: BLE001
        extra = {"mlflow": {"error": f"{type(exc).__name__}: {exc}"}}
        lines = [f"MLflow: logging failed ({type(exc).__name__}: {exc}); the trial store has every result: "
                 f"retry with `raynas mlflow sync {config.experiment_dir}`"]
    for line in lines:
        log.info(line)
    return dataclasses.replace(result, extra={**result.extra, **extra})


@contextlib.contextmanager
def _tune_environment() -> Iterator[None]:
    """Ray Tune settings read from the environment when ``fit`` starts, set only for its duration.

    Tune's automatic per-trial CSV/JSON/TensorBoard loggers are switched off: every trial's metrics are in the
    raynas trial store already, and the loggers cost an fsync per trial result. Tune's result grid then warns
    once per trial that it found no result files; that warning is silenced for the same duration.
    """
    wanted = {"TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
              # failed and invalid trials report a status and a reason, not the metric a scheduler watches
              "TUNE_DISABLE_STRICT_METRIC_CHECKING": "1"}
    saved = {key: os.environ.get(key) for key in wanted}
    os.environ.update(wanted)
    analysis_logger = logging.getLogger("ray.tune.analysis.experiment_analysis")
    level = analysis_logger.level
    analysis_logger.setLevel(logging.ERROR)
    state_logger = logging.getLogger("ray.tune.execution.experiment_state")
    state_filter = TuneStateSaveFilter()
    state_logger.addFilter(state_filter)
    try:
        yield
    finally:
        state_logger.removeFilter(state_filter)
        analysis_logger.setLevel(level)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class TuneStateSaveFilter(logging.Filter):
    """Ray Tune's failure to copy its own experiment state into ``tune/run-<n>`` becomes one warning line.

    Ray uploads its state from a staging folder in a background thread while the next save may rewrite that folder;
    a file renamed away mid-copy then logs an error with a traceback (seen on resumes that end at once). raynas never
    reads that state (a resume rebuilds from the trial store), so the failure loses nothing and is said as such.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and "Saving experiment state" in str(record.msg):
            error = record.exc_info[1]
            record.msg = ("Ray Tune could not save its own state (%s: %s); nothing is lost: raynas resumes from the "
                          "trial store, not from that state")
            record.args = (type(error).__name__, error)
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _timed_out(config: SearchConfig, wall_seconds: float) -> bool:
    from raynas.tune._runs import deadline_reached

    runs = ExperimentPaths(config.experiment_dir).runs
    return deadline_reached(runs) if runs.is_file() else wall_seconds >= config.timeout_s * 0.999


def summarize(config: SearchConfig, *, wall_seconds: float) -> SearchResult:
    """Final status of a search, derived from its trial store (the source of truth)."""
    from raynas.tune._autostop import read_decision

    exp_dir = config.experiment_dir
    store = TrialStore(ExperimentPaths(exp_dir).trials)
    records = store.records()
    counts = {s: 0 for s in ("completed", "failed", "invalid", "stopped")}
    for r in records:
        counts[r.status] = counts.get(r.status, 0) + 1
    failures = counts["failed"] + counts["invalid"]
    completed = [r for r in records if r.status is TrialStatus.COMPLETED and r.reward is not None]
    best = None
    if completed:
        pick = max if config.mode is Mode.MAX else min
        best = pick(completed, key=lambda r: r.reward)
    if failures >= config.max_failed:
        status = "cancelled"
        reason = (f"failure budget reached: {failures} trials failed or were invalid, max_failed is "
                  f"{config.max_failed}; running trials were stopped and no new ones started")
    elif (decision := read_decision(str(ExperimentPaths(exp_dir).auto_stop))) is not None:
        status = "stopped"
        reason = f"auto stop after {len(records)} of {config.max_trials} trials: {decision['reason']}"
    elif len(records) >= config.max_trials:
        status, reason = "completed", f"all max_trials={config.max_trials} trials ran"
    elif _timed_out(config, wall_seconds):
        status = "timed_out"
        reason = (f"timeout of {config.timeout_s:g} s reached after {len(records)} of {config.max_trials} trials; "
                  f"`raynas resume {config.name}` continues it (resume policy: {config.max_resumes} resume(s) after "
                  f"a timeout, {config.max_total_time_s:g} s of search in all)")
    elif len({tuple(r.genotype) for r in records}) >= config.build_space().size:
        status = "exhausted"
        reason = f"every one of the space's {len(records)} architectures was tried"
    else:
        status = "interrupted"
        reason = (f"stopped after {len(records)} of {config.max_trials} trials; continue it with "
                  f"`raynas resume {config.name}`")
    extra: dict[str, Any] = {}
    if config.objectives:
        from raynas.config import in_metric_units, records_front

        front = records_front(config.objectives, records)[0]  # reference in the metrics' own units
        extra["front"] = {"front_size": front.size, "hypervolume": front.hypervolume,
                          "reference": None if front.reference is None else
                          list(in_metric_units(config.objectives, front.reference))}
    return SearchResult(
        name=config.name, experiment_dir=str(exp_dir), store_dir=str(store.directory), status=status, reason=reason,
        trials=len(records), counts=counts, best_reward=None if best is None else best.reward,
        best_trial_id=None if best is None else best.trial_id, best_arch=None if best is None else best.arch,
        wall_seconds=round(wall_seconds, 3), extra=extra,
    )

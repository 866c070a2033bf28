"""Running a fixed list of training jobs on Ray Tune (the proxy-design tools: baseline, reference models,
proxy candidates, repeats), with the same trial store, progress lines and MLflow logging as a search.

A job is one trial: an architecture trained by one of several named evaluators (its ``group``, e.g. a proxy
candidate). Jobs are launched in list order, up to ``max_concurrent`` at once, so interleaving the groups in
the list runs them side by side. A :class:`JobPolicy` may cancel a whole group while it runs (e.g. a proxy
candidate that already costs more than the best successful one): its queued jobs are skipped and its running
trials stopped. Running the same job list again resumes it: jobs already finished in the trial store are not
run again.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from ray.tune.search import Searcher
from ray.tune.stopper import Stopper

from raynas.tune._job import FINISHED, Job, JobPolicy, JobsResult, latest_records
from raynas.tune._outcome import classify

log = logging.getLogger(__name__)

__all__ = ["FINISHED", "Job", "JobPolicy", "JobSearcher", "JobsResult", "latest_records", "run_job", "run_jobs"]

#: Restarts of a job lost to the infrastructure (a node died); such losses never count as the model's failure.
INFRA_RETRIES = 3


class JobSearcher(Searcher):
    """Proposes the jobs of a list in order, skipping finished ones and those of cancelled groups."""

    def __init__(self, jobs: Sequence[Job], *, metric: str, policy: JobPolicy | None, done: set[int]) -> None:
        super().__init__(metric=None, mode=None)
        self.objective = metric
        self.queue = [job for job in jobs if job.number not in done]
        self.policy = policy
        self.live: dict[str, Job] = {}

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        while self.queue:
            job = self.queue.pop(0)
            if self.policy is not None and self.policy.cancelled(job.group):
                continue
            self.live[trial_id] = job
            return {"arch": job.arch, "genotype": [], "number": job.number, "seed": job.seed, "group": job.group,
                    "labels": dict(job.labels)}
        return Searcher.FINISHED

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        job = self.live.pop(trial_id, None)
        if job is None or self.policy is None:
            return
        outcome = classify(result, metric=self.objective, errored=error)
        self.policy.observe(job, outcome.status.value, dict(result or {}))

    def group_of(self, trial_id: str) -> str | None:
        job = self.live.get(trial_id)
        return None if job is None else job.group

    def save(self, checkpoint_path: str) -> None:  # resuming re-reads the trial store instead
        Path(checkpoint_path).write_bytes(b"")

    def restore(self, checkpoint_path: str) -> None:
        pass


class CancelledGroupStopper(Stopper):
    """Stops the running trials of a group its policy cancelled."""

    def __init__(self, searcher: JobSearcher) -> None:
        self.searcher = searcher

    def __call__(self, trial_id: str, result: dict) -> bool:
        group = self.searcher.group_of(trial_id)
        policy = self.searcher.policy
        return group is not None and policy is not None and policy.cancelled(group) is not None

    def stop_all(self) -> bool:
        return False


def run_job(config: dict[str, Any], *, evaluators: Mapping[str, Any], metric: str) -> None:
    """The Ray Tune trainable of a job: the group's evaluator trains the job's architecture."""
    from raynas.tune._trainable import run_trial

    run_trial(config, evaluator=evaluators[config["group"]], metric=metric)


def run_jobs(jobs: Sequence[Job], evaluators: Mapping[str, Any], *, experiment_dir: str | Path, metric: str = "reward",
             cpus_per_trial: float = 1.0, gpus_per_trial: float = 0.0, max_concurrent: int = 4,
             policy: JobPolicy | None = None, tracking: Any = None, ray_address: str | None = None,
             progress_interval_s: float = 5.0, what: str = "jobs") -> JobsResult:
    """Run every job not yet finished in ``<experiment_dir>/trials`` on Ray Tune; returns the latest records.

    Each call starts a new Ray Tune run in ``<experiment_dir>/tune/run-<n>`` (the trial store, not Tune's state,
    is what resumes a job list); the checkpoints trials keep stay in their run's folder.

    ``tracking`` (a :class:`raynas.tracking._mlflow_search.SearchTracking`, or None for no MLflow) names the
    MLflow experiment and stage; every job becomes a child run of the stage's parent run.
    """
    from ray import tune
    from ray.tune.stopper import CombinedStopper

    from raynas.tune._callbacks import (
        ContractStopper,
        ProgressPrinter,
        TrialRecorder,
        broke_the_contract,
        raise_broken_contract,
    )
    from raynas.tune._mlflow_callback import MlflowLogger
    from raynas.tune._runner import _tune_environment, check_resources, ensure_ray

    numbers = [job.number for job in jobs]
    if len(set(numbers)) != len(numbers):
        raise ValueError("job numbers must be unique")
    unknown = sorted({job.group for job in jobs} - set(evaluators))
    if unknown:
        raise ValueError(f"no evaluator for job groups {unknown}")
    root = Path(experiment_dir)
    store_dir = root / "trials"
    wanted = set(numbers)
    # a job that stopped its run (a broken trainer contract, fixed since) runs again
    done = {n for n, r in latest_records(store_dir).items()
            if r.status in FINISHED and n in wanted and not broke_the_contract(r)}
    if policy is not None:  # a resumed run knows what the earlier runs found
        by_number = {job.number: job for job in jobs}
        for number, record in sorted(latest_records(store_dir).items()):
            if number in done and number in by_number:
                policy.observe(by_number[number], record.status, record.metrics)
    todo = [job for job in jobs if job.number not in done]
    t0 = time.time()
    if todo:
        log.info(f"{what}: {len(todo)} to run ({len(done)} already done), up to {max_concurrent} at once")
        # a new Ray Tune run per call (job lists resume from the trial store, not from Tune state); earlier runs'
        # folders stay, with the checkpoints their trials kept
        tune_dir = root / "tune" / f"run-{len(list((root / 'tune').glob('run-*'))) + 1}"
        searcher = JobSearcher(jobs, metric=metric, policy=policy, done=done)
        resources = {"cpu": cpus_per_trial, "gpu": gpus_per_trial}
        callbacks: list[Any] = [TrialRecorder(str(store_dir), metric, resources),
                                ProgressPrinter(len(todo), metric, interval_s=progress_interval_s)]
        if tracking is not None:
            callbacks.append(MlflowLogger(str(root), metric=metric, resources=resources, tracking=tracking))
        started = ensure_ray(ray_address)
        try:
            check_resources(cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial, ray_address=ray_address)
            trainable = tune.with_resources(
                tune.with_parameters(run_job, evaluators=dict(evaluators), metric=metric), resources)
            tuner = tune.Tuner(
                trainable,
                tune_config=tune.TuneConfig(search_alg=searcher, num_samples=-1, max_concurrent_trials=max_concurrent,
                                            reuse_actors=True),
                run_config=tune.RunConfig(name=tune_dir.name, storage_path=str(tune_dir.parent), verbose=0,
                                          stop=CombinedStopper(CancelledGroupStopper(searcher), ContractStopper()),
                                          callbacks=callbacks,
                                          failure_config=tune.FailureConfig(max_failures=INFRA_RETRIES)),
            )
            with _tune_environment():
                tuner.fit()
        finally:
            if started:
                import ray

                ray.shutdown()
    cancelled = {}
    if policy is not None:
        cancelled = {g: r for g in sorted({job.group for job in jobs}) if (r := policy.cancelled(g)) is not None}
    records = latest_records(store_dir)
    raise_broken_contract(records.values(), since=t0, again="run the same command again")
    return JobsResult(records=records, cancelled=cancelled, wall_seconds=time.time() - t0, experiment_dir=str(root))

"""Inline stage 2: every ``every`` completed trials, full-train ``top_k`` of the best trials while the search goes on.

The set is chosen as ``raynas train`` chooses its own (:mod:`raynas.stage2._selection`): proxy rank, with half of it
by the full accuracy predicted from the models already fully trained (the proxy design's reference models, earlier
snapshots, earlier ``raynas train`` results) when that prediction beats the proxy on them; the snapshot's
``selection`` says how.

A Ray Tune callback on the driver picks the best distinct completed architectures from the trial store and
submits one Ray task per architecture (full training with the search's full-training evaluator, with the
resources of a trial). The search's trials and these tasks share the cluster. Each snapshot is written to
``<experiment>/stage2-inline/after-<N>.json`` (the same row keys as ``raynas train``'s ``stage2.json``, and the
stage-1 vs stage-2 Kendall tau) as soon as its trainings end; the search waits for the last ones at its end.
Each training is also a child run of the search's MLflow parent run (``raynas.role: inline_stage2``), sent from a
background thread so that MLflow never holds up nor fails the search; a row MLflow received has its run id
(``mlflow_run_id``), and rows without one are sent again when the search ends.
A resumed search starts a fresh callback, which continues from those files and the trial store (:meth:`setup`).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from pathlib import Path
from typing import Any, Sequence

from raynas._files import write_json
from raynas.trials import CHECKPOINT_KEY, TrialStatus, ranked_trials
from raynas.tune import SearchCallback, classify

log = logging.getLogger(__name__)

def _full_train(evaluator: Any, arch: Any, seed: int) -> dict[str, Any]:
    """One full training in a Ray task: its metrics, or the failure."""
    try:
        metrics = dict(evaluator.evaluate(arch, seed=seed))
    except Exception as exc:  # noqa: BLE001 - a failed training is a row with its reason
        return {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"[:300], "metrics": {}}
    kept = metrics.pop(CHECKPOINT_KEY, None)
    if kept:  # inline stage 2 keeps the accuracy, not the model (`raynas train` keeps the final set's)
        shutil.rmtree(kept, ignore_errors=True)
    accuracy = metrics.get("val_accuracy")
    ok = isinstance(accuracy, (int, float)) and math.isfinite(accuracy)
    return {"status": "completed" if ok else "invalid", "reason": None if ok else "no finite val_accuracy",
            "metrics": {k: v for k, v in metrics.items() if isinstance(v, (int, float, str))}}


class InlineStage2(SearchCallback):
    """Full-trains the top ``top_k`` after every ``every`` completed trials (see the module docstring)."""

    def __init__(self, *, every: int, top_k: int, experiment_dir: str, metric: str, mode_max: bool,
                 evaluator: Any, resources: dict[str, float], objectives: Sequence[Any] = ()) -> None:
        self.every = every
        self.objectives = tuple(objectives)  # a multi-objective search: a spread of its front, as `raynas train`
        self.top_k = top_k
        self.experiment_dir = experiment_dir
        self.metric = metric
        self.mode_max = mode_max
        self.evaluator = evaluator
        self.resources = dict(resources)
        self.completed = 0
        self.next_at = every
        self.snapshots: dict[int, dict[str, Any]] = {}  # trials -> {"rows": [...], "done": bool}
        self._pending: dict[Any, tuple[int, int]] = {}  # object ref -> (snapshot, row index)
        self._resubmitted = False
        self._mlflow: Any = None  # the search's SearchTracking, False when MLflow is off (resolved on first use)
        self._sender: Any = None  # a one-thread executor sending the trainings to MLflow
        self._sending: dict[Any, tuple[int, int]] = {}  # future -> (snapshot, row index)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_pending": {}, "_resubmitted": False, "_mlflow": None, "_sender": None,
                "_sending": {}}

    @property
    def directory(self) -> Path:
        return Path(self.experiment_dir) / "stage2-inline"

    def setup(self, **info: Any) -> None:
        """Continue from disk (a resumed search): the snapshots written so far (their pending trainings run again, see
        :meth:`on_step_end`) and the completed trials of the store."""
        from raynas.tracking import TrialStore

        for path in sorted(self.directory.glob("after-*.json")):
            try:
                data = json.loads(path.read_text())
                at, rows = int(data["after_trials"]), list(data["rows"])
                if not all(isinstance(r, dict) and {"rank", "arch", "status"} <= set(r) for r in rows):
                    continue
            except (OSError, ValueError, TypeError, KeyError):
                continue  # a damaged snapshot is taken again
            self.snapshots.setdefault(at, {"rows": rows, "done": bool(data.get("done")),
                                           "selection": data.get("selection") or {}})
        store = Path(self.experiment_dir) / "trials"
        if store.is_dir():
            done = sum(r.status is TrialStatus.COMPLETED for r in TrialStore(store).records())
            self.completed = max(self.completed, done)
        if self.snapshots:
            self.next_at = max(self.next_at, max(self.snapshots) + self.every)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        if classify(trial.last_result, metric=self.metric).status is TrialStatus.COMPLETED:
            self.completed += 1
        if self.completed >= self.next_at:
            self._snapshot(self.next_at)
            self.next_at += self.every

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        if not self._resubmitted:  # after a restore: trainings lost with the interrupted driver run again
            self._resubmitted = True
            running = set(self._pending.values())
            for at, snapshot in self.snapshots.items():
                lost = [i for i, row in enumerate(snapshot["rows"])
                        if row["status"] == "pending" and (at, i) not in running]
                if lost:
                    self._submit(at, lost)
        self._collect(timeout=0)
        self._sent(timeout=0)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self._collect(timeout=None)
        sending = set(getattr(self, "_sending", {}).values())
        for at, snapshot in self.snapshots.items():  # what MLflow missed (an outage, an earlier run of the search)
            for index, row in enumerate(snapshot["rows"]):
                if row["status"] != "pending" and not row.get("mlflow_run_id") and (at, index) not in sending:
                    self._send(at, index)
        tracking = self._tracking()
        self._sent(timeout=None if tracking is None else tracking.flush_timeout_s)
        if getattr(self, "_sender", None) is not None:
            self._sender.shutdown(wait=False)
            self._sender = None

    def _snapshot(self, at: int) -> None:
        from raynas.stage2._selection import choose_stage2_set
        from raynas.tracking import TrialStore

        records = TrialStore(Path(self.experiment_dir) / "trials").records()
        ranked = ranked_trials(records, mode="max" if self.mode_max else "min")
        if self.objectives:
            from raynas.stage2._front import spread_order

            ordered, how = spread_order(self.objectives, ranked, self.top_k)
            selection: dict[str, Any] = {"method": "front spread", "summary": f"full-training {how}"}
        else:
            ordered, selection = choose_stage2_set(ranked, self.top_k, experiment_dir=Path(self.experiment_dir),
                                                   name=Path(self.experiment_dir).name,
                                                   mode="max" if self.mode_max else "min", metric_name=self.metric)
        picked = ordered[:self.top_k]
        log.info(f"inline stage 2 after {at} trials: {selection['summary']}")
        rows = [{"rank": rank, "trial_id": r.trial_id, "arch": r.arch, "stage1_reward": r.reward,
                 "full_accuracy": None, "full_reward": None, "status": "pending", "failure_reason": None}
                for rank, r in enumerate(picked, start=1)]
        self.snapshots[at] = {"rows": rows, "done": not rows, "selection": selection}
        self._submit(at, list(range(len(rows))))
        self._write(at)

    def _submit(self, at: int, indices: list[int]) -> None:
        import ray

        task = ray.remote(num_cpus=self.resources.get("cpu", 1.0), num_gpus=self.resources.get("gpu", 0.0))(_full_train)
        for index in indices:
            row = self.snapshots[at]["rows"][index]
            ref = task.remote(self.evaluator, row["arch"], 1_000_003 * at + row["rank"])
            self._pending[ref] = (at, index)

    def _collect(self, timeout: float | None) -> None:
        if not self._pending:
            return
        import ray

        refs = list(self._pending)
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout)
        for ref in ready:
            at, index = self._pending.pop(ref)
            outcome = ray.get(ref)
            row = self.snapshots[at]["rows"][index]
            row["status"] = outcome["status"]
            row["failure_reason"] = outcome["reason"]
            row["full_accuracy"] = outcome["metrics"].get("val_accuracy")
            row["full_reward"] = outcome["metrics"].get("reward")
            if all(r["status"] != "pending" for r in self.snapshots[at]["rows"]):
                self.snapshots[at]["done"] = True
            self._write(at)
            self._send(at, index, outcome["metrics"])

    # --- MLflow: each training a child run of the search's parent run; MLflow never fails the search ----------
    def _tracking(self) -> Any:
        """Where the search logs to MLflow (its config.json, for this experiment folder); None when it is off."""
        if getattr(self, "_mlflow", None) is None:
            self._mlflow = False
            try:
                from dataclasses import replace

                from raynas.config import SearchConfig
                from raynas.experiment import ExperimentPaths
                from raynas.tracking import search_tracking

                paths = ExperimentPaths(Path(self.experiment_dir))
                config = SearchConfig.from_dict(paths.read_config(), source=str(paths.config))
                if config.mlflow.enabled:
                    self._mlflow = replace(search_tracking(config), experiment_dir=str(paths.root),
                                           experiment_uid=paths.uid())
            except Exception as exc:  # noqa: BLE001 - the snapshots are on disk whatever MLflow does
                log.warning(f"MLflow: inline stage-2 trainings will not be logged ({type(exc).__name__}: {exc}); "
                            f"their results are in {self.directory}")
        return self._mlflow or None

    def _send(self, at: int, index: int, metrics: dict[str, Any] | None = None) -> None:
        """Hand one finished training to the MLflow thread (nothing when MLflow is off)."""
        tracking = self._tracking()
        if tracking is None:
            return
        from raynas.tracking import limit_http_retries, log_inline_training

        if getattr(self, "_sender", None) is None:
            from concurrent.futures import ThreadPoolExecutor

            limit_http_retries()
            self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="raynas-inline-mlflow")
            self._sending = {}
        row = dict(self.snapshots[at]["rows"][index])
        future = self._sender.submit(log_inline_training, tracking, after_trials=at, row=row, metrics=dict(metrics or {}))
        self._sending[future] = (at, index)

    def _sent(self, timeout: float | None) -> None:
        """Note the MLflow run of each training sent (``mlflow_run_id`` in its row); a failure is a warning."""
        if not getattr(self, "_sending", None):
            return
        from concurrent.futures import wait

        done, _ = wait(list(self._sending), timeout=timeout)
        changed: set[int] = set()
        for future in done:
            at, index = self._sending.pop(future)
            error = future.exception()
            if error is not None:
                log.warning(f"MLflow: inline stage-2 training (after {at} trials, rank {index + 1}) not logged "
                            f"({type(error).__name__}: {str(error)[:200]}); the search goes on, the result is in "
                            f"{self.directory} and is sent again when the search ends or resumes")
                continue
            run_id = future.result()
            if run_id:
                self.snapshots[at]["rows"][index]["mlflow_run_id"] = run_id
                changed.add(at)
        for at in changed:
            self._write(at)

    def _write(self, at: int) -> None:
        from raynas.proxy import rank_agreement

        rows = self.snapshots[at]["rows"]
        done = [r for r in rows if r["status"] == TrialStatus.COMPLETED.value]
        agreement = rank_agreement([r["stage1_reward"] for r in done], [r["full_accuracy"] for r in done])
        best = max(done, key=lambda r: r["full_accuracy"], default=None)
        data = {"after_trials": at, "top_k": self.top_k, "done": self.snapshots[at]["done"], "rows": rows,
                "kendall_tau": agreement.kendall_tau, "spearman": agreement.spearman,
                "picked_trial_id": None if best is None else best["trial_id"],
                "selection": self.snapshots[at].get("selection") or {}}
        self.directory.mkdir(parents=True, exist_ok=True)
        write_json(self.directory / f"after-{at}.json", data)

    def get_state(self) -> dict[str, Any]:
        return {"completed": self.completed, "next_at": self.next_at, "snapshots": self.snapshots}

    def set_state(self, state: dict[str, Any]) -> None:
        self.completed = state["completed"]
        self.next_at = state["next_at"]
        self.snapshots = {int(k): v for k, v in state["snapshots"].items()}


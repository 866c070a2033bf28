"""``raynas run WORKFLOW.yaml``: split, baseline, proxy design, checks, estimate, search, stage 2 and analysis.

Each step is skipped when its result exists, so running the same workflow again resumes it (an interrupted
search is resumed, not restarted). Proxy-design results go to ``<workdir>/<name>-proxy``, the search to
``<workdir>/<name>`` (with ``stage2/`` and ``report/`` inside); both log to MLflow.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence, TextIO

from raynas._log import log_to
from raynas.errors import RaynasError
from raynas.trials import TrialStatus
from raynas.workflow._config import WorkflowConfig

log = logging.getLogger(__name__)


class WorkflowStopped(RaynasError):
    """A step found a reason not to go on (e.g. a failed check); its message says what to do."""


@dataclass
class WorkflowResult:
    """What each step did, and where the results are."""

    name: str
    steps: dict[str, str] = field(default_factory=dict)
    report: str | None = None
    experiment_dir: str | None = None
    workspace: str | None = None
    ui_command: str | None = None
    wall_seconds: float = 0.0


class _Workflow:
    def __init__(self, config: WorkflowConfig, stream: TextIO | None, progress_interval_s: float) -> None:
        from raynas.proxy import DesignTarget

        self.config = config
        self.stream = stream  # where its own lines go (None: the "raynas" logger's handlers)
        self.progress_interval_s = progress_interval_s
        self.tracking = config.tracking
        self.target = DesignTarget(
            task=config.task, name=f"{config.name}-proxy", workdir=str(config.root),
            resources=config.resources, mlflow=self.tracking)
        self.experiment_dir = config.root / config.name

    def say(self, text: str) -> None:
        with log_to(self.stream):
            log.info(text)

    def warn(self, text: str) -> None:
        with log_to(self.stream):
            log.warning(text)

    def table(self, rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
        """A table as progress lines (one record a line, so every line keeps the ``[raynas]`` prefix)."""
        from raynas._text import print_table

        text = io.StringIO()
        print_table(rows, headers, stream=text)
        for line in text.getvalue().splitlines():
            self.say(line)

    # --- steps ---------------------------------------------------------------------------------------------
    def split(self) -> str:
        self.target.workspace.mkdir(parents=True, exist_ok=True)
        split = self.target.target.prepare(self.target.workspace)
        if split is None:
            return "not needed (no data for raynas to split: a table, or a trainer that brings its own data)"
        for warning in split.warnings:
            self.warn(f"data split warning: {warning}")
        s = split.summary()
        return (f"stage 1: {s['stage1_train']} train / {s['stage1_val']} validation; stage 2: {s['stage2_train']} train "
                f"and the real validation set; {len(split.warnings)} warnings")

    def baseline(self) -> str:
        from raynas.proxy import baseline, baseline_path

        if _done(baseline_path(self.target)):
            return "done already"
        result = baseline(self.target, progress_interval_s=self.progress_interval_s)
        return result.summary()

    def proxy(self) -> str:
        from raynas.proxy import (
            proxy_search,
            proxy_variance,
            references_path,
            result_path,
            select_models,
            variance_path,
        )

        done = []
        if not references_path(self.target).is_file():
            select_models(self.target, self.config.selection_settings(),
                          progress_interval_s=self.progress_interval_s)
        else:
            done.append("reference models")
        if not result_path(self.target).is_file():
            result = proxy_search(self.target, self.config.proxy_search_settings(),
                                  progress_interval_s=self.progress_interval_s)
            self.say(f"proxy search: {result.summary()}")
        else:
            done.append("proxy search")
        chosen = self._chosen()
        if not variance_path(self.target).is_file() and chosen is not None:
            proxy_variance(self.target, self.config.variance_settings(),
                           progress_interval_s=self.progress_interval_s)
        elif chosen is not None:
            done.append("variance")
        what = (f"chosen proxy {chosen.name}" if chosen else "no proxy candidate passed: the task's own proxy is used "
                "(variance not measured: there is no chosen proxy to measure)")
        return what + (f" ({', '.join(done)} done already)" if done else "")

    def check(self) -> str:
        from raynas.proxy import CheckSettings, proxy_check

        search = self._search_settings()
        report = proxy_check(self.target, CheckSettings(
            max_trials=search["max_trials"], trials_to_converge=self._trials_to_converge(search),
            max_concurrent=search["max_concurrent"], gpus_per_trial=search["gpus_per_trial"]))
        self.table([[r.name, r.result.value, r.value, r.detail] for r in report.rows],
                   ["check", "result", "value", "detail"])
        if not report.passed and self.config.on_failed_check == "stop":
            raise WorkflowStopped(f"the checklist failed ({report.summary()}); fix what it names and run the workflow "
                                  "again (finished steps are skipped), or set `on_failed_check: continue`")
        return report.summary()

    def estimate(self) -> str:
        from raynas.proxy import DEFAULT_PROXY_HOURS, EstimateInputs, estimate, measured_by_proxy_search

        search = self._search_settings()
        measured = measured_by_proxy_search(self.target.workspace, fallback=self._own_proxy_name())
        inputs = EstimateInputs(
            trials_to_converge=self._trials_to_converge(search), max_trials=search["max_trials"],
            proxy_hours_per_trial=measured[0] if measured else None, full_training_hours=measured[3] if measured else None,
            max_concurrent=search["max_concurrent"], gpus_per_trial=search["gpus_per_trial"],
            cpus_per_trial=search["cpus_per_trial"], device=search["device"],
            stage2_models=self.config.top_k, source=measured[2] if measured else "")
        result = estimate(inputs)
        self.table(result.rows(), ["quantity", "value", "formula"])
        for warning in result.warnings():
            self.warn(f"estimate: {warning}")
        from raynas._json import json_safe

        self.target.workspace.mkdir(parents=True, exist_ok=True)  # when run alone (--steps estimate)
        (self.target.workspace / "estimate.json").write_text(json.dumps(json_safe(result.to_dict()), indent=2,
                                                                          default=str))
        source = ("cost measured by the proxy search" if measured
                  else f"cost not measured: a {DEFAULT_PROXY_HOURS:g}-hour placeholder per trial")
        return f"{result.summary()} ({source})"

    def search(self) -> str:
        from raynas.config import SearchConfig
        from raynas.experiment import ExperimentPaths
        from raynas.tune import run_search

        paths = ExperimentPaths(self.experiment_dir)
        status = _read(paths.status)
        if status and status.get("status") in ("completed", "stopped", "exhausted", "cancelled"):
            return f"done already: {status['status']}: {status['reason']}"
        config = SearchConfig.from_dict(self._search_settings(), source=self.config.source)
        config.validate_deep()
        resume = paths.config.is_file()
        if resume:
            config = SearchConfig.from_dict(paths.read_config(), source=str(paths.config))
        from raynas.stage2 import inline_stage2_callbacks

        result = run_search(config, resume=resume, progress_interval_s=self.progress_interval_s,
                            callbacks=inline_stage2_callbacks(config))
        self.say(result.status_line())
        if result.status in ("interrupted", "timed_out"):
            raise WorkflowStopped(f"the search ended {result.status}: run the workflow again to resume it")
        return result.status_line()

    def stage2(self) -> str:
        from raynas.stage2 import train_top_k

        if _done(self.experiment_dir / "stage2" / "stage2.json", key="kendall_tau"):
            return "done already"
        result = train_top_k(self.experiment_dir, self.config.stage2_settings())
        return result.summary()

    def analyze(self) -> str:
        from raynas.analysis import analyze

        report = analyze(self.experiment_dir, top_k=self.config.top_k)
        self.report = str(report.html)
        return f"report {report.html}"

    def export(self) -> str:
        from raynas.export import FORMATS, export_model

        if not self.target.target.has_data:
            return "not needed (table look-ups have no trained weights)"
        folder = self.experiment_dir / "export" / "best"
        if (folder / "model.json").is_file() and all((folder / FORMATS[f]).is_file() for f in self.config.export):
            return f"done already: {folder}"
        result = export_model(self.experiment_dir, formats=self.config.export, output=folder,
                              mlflow=None if self.tracking.enabled else False)
        return f"{', '.join(result.files)} of {result.source['label']} in {folder}"

    # --- helpers -------------------------------------------------------------------------------------------
    def _chosen(self) -> Any:
        from raynas.proxy import load_result, result_path

        if not result_path(self.target).is_file():
            return None
        result = load_result(self.target)
        return next((c for c in result.candidates if c.name == result.chosen), None)

    def _search_settings(self) -> dict[str, Any]:
        return self.config.search_settings(task=self._task_with_chosen_proxy() if self.config.task is not None else None)

    def _task_with_chosen_proxy(self) -> str:
        """The task file, or a copy whose proxy variant is the chosen candidate (written next to the results)."""
        import yaml

        chosen = self._chosen()
        task = self.target.task_config()
        if chosen is None or task.source is None:
            return str(task.source or self.config.task)
        data = yaml.safe_load(Path(task.source).read_text())
        variant = {k: v for k, v in chosen.settings.items() if k not in ("name", "relative_cost")}
        data["variants"] = {**data["variants"], "proxy": variant}
        data.pop("proxy_candidates", None)
        data["family"] = task.family  # an absolute path when the family was found relative to the task file
        if task.data_dir is not None:
            data["data_dir"] = task.resolve_data_dir()
        if task.dataset is not None:  # relative paths in it, made absolute
            data["dataset"] = task.dataset_spec().to_task_value()
        if task.trainer is not None:
            from raynas.references import absolute_reference

            data["trainer"] = absolute_reference("trainer", task.trainer, base_dir=Path(task.source).parent)
        if task.target is not None and ".py:" in task.target:
            from raynas.references import absolute_reference

            data["target"] = absolute_reference("target", task.target, base_dir=Path(task.source).parent)
        if task.pretrained is not None:
            from dataclasses import asdict

            data["pretrained"] = asdict(task.pretrained_weights())
        path = self.target.workspace / "task-with-chosen-proxy.yaml"
        text = (f"# {task.name} with the proxy chosen by `raynas proxy search` ({chosen.name}); written by raynas run\n"
                + yaml.safe_dump(data, sort_keys=False))
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
        return str(path)

    def _own_proxy_name(self) -> str | None:
        """The name proxy search gives the task's own proxy variant (what the search uses when no candidate
        passes); None for targets without a task."""
        from raynas.tasks import candidate_name

        if self.config.task is None:
            return None
        task = self.target.task_config()
        return candidate_name(task.variant("proxy"), task.variant("proxy"))

    def _trials_to_converge(self, search: dict[str, Any]) -> int:
        return self.config.trials_to_converge or min(3000, int(search["max_trials"]))


def run_workflow(config: WorkflowConfig, *, stream: TextIO | None = None, progress_interval_s: float = 5.0
                 ) -> WorkflowResult:
    """Run the workflow's steps in order, skipping those whose results exist; returns what each did.

    Progress lines (each step, the tools' progress, the checklist and estimate tables) are logged through the
    ``"raynas"`` logger (stderr by default), or written to ``stream`` when given.

    The whole run holds the locks of its two folders (the proxy-design workspace and the search's experiment, see
    :func:`raynas.experiment.experiment_lock`): a second writer of either is refused, naming this run; the steps,
    in this process, take the same locks again without waiting."""
    with log_to(stream), _locks(config):
        return _run_workflow(config, stream, progress_interval_s)


@contextlib.contextmanager
def _locks(config: WorkflowConfig) -> Iterator[None]:
    """The locks of the workflow's workspace (``<workdir>/<name>-proxy``) and experiment (``<workdir>/<name>``)."""
    from raynas.experiment import experiment_lock

    root = Path(config.root).expanduser().resolve()
    with experiment_lock(root / f"{config.name}-proxy"), experiment_lock(root / config.name):
        yield


def _run_workflow(config: WorkflowConfig, stream: TextIO | None, progress_interval_s: float) -> WorkflowResult:
    flow = _Workflow(config, stream, progress_interval_s)
    log.debug(f"workflow {config.name!r}: steps {', '.join(config.steps) or 'none'}; proxy design in "
              f"{flow.target.workspace}, search in {flow.experiment_dir}")
    result = WorkflowResult(config.name, experiment_dir=str(flow.experiment_dir), workspace=str(flow.target.workspace))
    t0 = time.time()
    for index, step in enumerate(config.steps, start=1):
        flow.say(f"step {index}/{len(config.steps)}: {step}")
        start = time.time()
        outcome = getattr(flow, step)()
        result.steps[step] = outcome
        flow.say(f"step {step}: {outcome} ({time.time() - start:.0f} s)")
    result.report = getattr(flow, "report", None)
    if flow.tracking.enabled:
        if flow.tracking.tracking_uri:
            result.ui_command = f"open {flow.tracking.tracking_uri}"
        else:
            from raynas._command import raynas_command, shell_path

            result.ui_command = f"{raynas_command()} ui --workdir {shell_path(config.root)}"
    result.wall_seconds = round(time.time() - t0, 1)
    return result


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _done(path: Path, key: str = "status") -> bool:
    data = _read(path)
    if data is None:
        return False
    return data.get(key) is not None and (key != "status" or data.get("status") == TrialStatus.COMPLETED.value)

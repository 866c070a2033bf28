"""The analysis report of one experiment (``raynas analyze``): HTML (self-contained) and Markdown.

Everything is derived from what the search saved: the trial store, ``config.json``, ``status.json`` and, once
stage 2 has run, ``stage2/stage2.json``.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import logging
import math
import numbers
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from raynas._plotting import pyplot as _pyplot
from raynas._plotting import save_figure
from raynas.analysis._decisions import ALPHA, TARGET_POWER, advise, decision_stats, importance_plot, options_plot
from raynas.analysis._objectives import objectives_front, objectives_plots
from raynas.analysis._pareto import COST_METRICS, pareto_fronts, pareto_plot
from raynas.errors import ConfigError, DamagedFileError
from raynas.experiment import ExperimentPaths, find_experiment, read_json
from raynas.trials import TrialStatus
from raynas.tune import search_curve, search_plot

#: Metrics shown next to the reward in the top-k table, when the trials reported them.
KEY_METRICS = ("val_accuracy", "accuracy", "test_accuracy", "latency_ms", "memory_mb", "flops", "params",
               "train_seconds")
#: Kendall tau between stage-1 reward and full-training accuracy below which the report flags search bias.
LOW_TAU = 0.3
#: Share of failed + invalid trials above which the report flags the search (workflow step 7).
HIGH_FAILURE_SHARE = 0.2
REASON_CHARS = 80
STAGE2_FILE = Path("stage2") / "stage2.json"


@dataclass(frozen=True)
class Report:
    """What :func:`analyze` wrote and found."""

    experiment: Path
    name: str
    directory: Path
    html: Path
    markdown: Path
    plots: tuple[Path, ...]
    n_trials: int
    status_counts: dict[str, int]
    best: dict[str, Any] | None
    suggestions: tuple[str, ...]
    pareto_metrics: tuple[str, ...]
    stage2: dict[str, Any] | None
    flags: tuple[str, ...] = ()
    #: A multi-objective search's front of its configured objectives (:meth:`ObjectivesFront.to_dict`), else None.
    front: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"experiment": str(self.experiment), "name": self.name, "directory": str(self.directory),
                "html": str(self.html), "markdown": str(self.markdown), "plots": [str(p) for p in self.plots],
                "n_trials": self.n_trials, "status_counts": dict(self.status_counts), "best": self.best,
                "suggestions": list(self.suggestions), "pareto_metrics": list(self.pareto_metrics),
                "stage2": self.stage2, "flags": list(self.flags), "front": self.front}


# --- document model: rendered to both HTML and Markdown ----------------------------------------------------
@dataclass(frozen=True)
class _Text:
    text: str
    kind: str = "p"  # p | flag | note


@dataclass(frozen=True)
class _Table:
    frame: Any
    css: str = ""


@dataclass(frozen=True)
class _Image:
    path: Path
    alt: str


@dataclass(frozen=True)
class _List:
    items: tuple[str, ...]


@dataclass
class _Section:
    title: str
    anchor: str
    blocks: list[Any] = field(default_factory=list)


def analyze(experiment_dir: str | Path | ExperimentPaths, *, top_k: int = 10, output: str | Path | None = None,
            permutation: bool = True, seed: int = 0) -> Report:
    """Analyse an experiment and write ``report.html`` (plots embedded) and ``report.md`` (plots as PNG files next
    to it) into ``output`` (default ``<experiment>/report``).

    ``experiment_dir`` is the experiment's directory (or its :class:`~raynas.experiment.ExperimentPaths`).
    ``permutation`` adds the random-forest permutation importance of each decision (seeded with ``seed``).
    """
    from raynas.tracking import TrialStore

    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ConfigError("--top-k", top_k, "an integer >= 1", "e.g. --top-k 10")
    if isinstance(experiment_dir, ExperimentPaths):
        paths = experiment_dir
    else:
        given = Path(experiment_dir).expanduser()
        paths = find_experiment(str(given), given.parent)
    out_dir = Path(output).expanduser() if output is not None else paths.root / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = _Context.load(paths)
    records = sorted(TrialStore(paths.trials).records(), key=lambda r: r.number)

    counts: dict[str, int] = {}
    for r in records:
        counts[r.status] = counts.get(r.status, 0) + 1
    completed = [r for r in records if r.status is TrialStatus.COMPLETED and _finite(r.reward)]
    best = _best(completed, ctx.mode_max)
    flags: list[str] = []
    plots: list[Path] = []
    sections: list[_Section] = []

    sections.append(_summary_section(ctx, paths, records, counts, best, flags))
    sections.append(_progress_section(ctx, records, out_dir, plots))
    sections.append(_top_section(ctx, completed, top_k))
    stats_section, advice = _decisions_section(ctx, records, out_dir, plots, permutation, seed)
    sections.append(stats_section)
    front = None
    if ctx.config is not None and ctx.config.objectives:
        objectives_section, front = _objectives_section(ctx, records, out_dir, plots)
        sections.append(objectives_section)
    pareto_section, pareto_metrics = _pareto_section(ctx, records, out_dir, plots)
    sections.append(pareto_section)
    sections.append(_failures_section(records))
    stage2_section, stage2 = _stage2_section(ctx, paths, records, out_dir, plots, flags)
    sections.append(stage2_section)
    sections.append(_Section("Suggestions for the next search space", "suggestions",
                             [_List(tuple(advice))] if advice else [_Text("No suggestions.", "note")]))

    title = f"raynas analysis: {ctx.name}"
    header = [f"Experiment <code>{html.escape(str(paths.root))}</code>",
              f"generated {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')}"]
    html_path = out_dir / "report.html"
    md_path = out_dir / "report.md"
    html_path.write_text(_render_html(title, header, ctx, sections, flags))
    md_path.write_text(_render_markdown(title, paths, ctx, sections, flags))
    return Report(experiment=paths.root, name=ctx.name, directory=out_dir, html=html_path, markdown=md_path,
                  plots=tuple(plots), n_trials=len(records), status_counts=counts, best=best,
                  suggestions=tuple(advice), pareto_metrics=tuple(pareto_metrics), stage2=stage2, flags=tuple(flags),
                  front=front)


# --- context: what the experiment's config says ------------------------------------------------------------
@dataclass
class _Context:
    name: str
    mode_max: bool
    metric: str
    raw: dict[str, Any]
    config: Any = None
    space: Any = None
    space_note: str = ""

    @classmethod
    def load(cls, paths: ExperimentPaths) -> "_Context":
        from raynas.config import SearchConfig

        raw: dict[str, Any] = {}
        if paths.config.is_file():
            try:
                raw = paths.read_config()
            except (OSError, ValueError):
                raw = {}
        ctx = cls(name=str(raw.get("name") or paths.root.name), mode_max=str(raw.get("mode", "max")) != "min",
                  metric=str(raw.get("metric", "reward")), raw=raw)
        if not raw:
            ctx.space_note = (f"no readable config.json in {paths.root}: the space of the search is unknown "
                              f"(`raynas doctor {paths.root}` checks the experiment's files)")
            return ctx
        try:
            ctx.config = SearchConfig.from_dict(raw)
        except Exception as exc:  # noqa: BLE001 - the report still shows what the store holds
            ctx.space_note = f"config.json could not be loaded ({exc}): the space of the search is unknown"
            return ctx
        ctx.mode_max = ctx.config.mode.value == "max"
        ctx.metric = ctx.config.metric
        try:
            ctx.space = ctx.config.build_space()
        except Exception as exc:  # noqa: BLE001
            ctx.space_note = f"the search space could not be built ({exc})"
        return ctx

    @property
    def better(self) -> str:
        return "higher" if self.mode_max else "lower"


# --- sections ------------------------------------------------------------------------------------------------
def _summary_section(ctx: _Context, paths: ExperimentPaths, records: Sequence[Any], counts: dict[str, int],
                     best: dict[str, Any] | None, flags: list[str]) -> _Section:
    import pandas as pd

    n = len(records)
    bad = sum(counts.get(s, 0) for s in TrialStatus if s.counts_as_failure())
    rows = [("trials", n)]
    rows += [(status.value, counts.get(status, 0)) for status in TrialStatus]
    if n:
        rows.append(("failed + invalid share", f"{bad / n:.1%}"))
    rows.append(("metric", f"{ctx.metric} ({ctx.better} is better)"))
    if best is not None:
        rows.append(("best reward", f"{_fmt(best['reward'])} (trial #{best['number']}, {best['trial_id']})"))
    if ctx.config is not None:
        c = ctx.config
        space = c.space if c.task is None else f"task {c.task}"
        rows.append(("space", space))
        rows.append(("controller", c.controller.name))
        rows.append(("max_trials / max_concurrent / max_failed", f"{c.max_trials} / {c.max_concurrent} / {c.max_failed}"))
    if ctx.space is not None:
        rows.append(("decisions / space size", f"{ctx.space.num_decisions} / {_size(ctx.space.size)}"))
    status = _read_json(paths.status) if paths.status.is_file() else None
    if isinstance(status, dict) and status.get("status"):
        rows.insert(0, ("search ended", f"{status['status']}: {status.get('reason') or ''}".rstrip(": ")))
    section = _Section("Summary", "summary", [_Table(pd.DataFrame(rows, columns=["", "value"]), "kv")])
    if n and bad / n > HIGH_FAILURE_SHARE:
        flag = (f"{bad / n:.0%} of the trials failed or were invalid (more than {HIGH_FAILURE_SHARE:.0%}): fix the "
                "causes below before searching further.")
        flags.append(flag)
        section.blocks.append(_Text(flag, "flag"))
    if not n:
        section.blocks.append(_Text("The trial store is empty: no trial has finished yet.", "note"))
    return section


def _progress_section(ctx: _Context, records: Sequence[Any], out_dir: Path, plots: list[Path]) -> _Section:
    section = _Section("Search progress", "progress")
    path = search_plot(records, out_dir / "search.png", mode_max=ctx.mode_max, title=f"Search progress: {ctx.name}")
    plots.append(path)
    section.blocks.append(_Image(path, "reward per trial, running best and rolling mean"))
    curve = search_curve(records, mode_max=ctx.mode_max)
    done = curve[curve["status"] == TrialStatus.COMPLETED.value].dropna(subset=["reward"])
    if len(done) >= 2:
        values = done["reward"]
        best_value = values.max() if ctx.mode_max else values.min()
        first_best = int(done.loc[values == best_value, "number"].iloc[0])
        last = int(curve["number"].iloc[-1])
        window = max(10, len(done) // 20)
        text = (f"The running best ({_fmt(best_value)}) was reached at trial #{first_best}; "
                f"{last - first_best} trials were launched after it.")
        if len(done) >= 2 * window:
            head, tail = values.iloc[:window], values.iloc[-window:]
            text += (f" Over the first {window} completed trials the reward averaged {_fmt(head.mean())} "
                     f"(std {_fmt(head.std())}); over the last {window}, {_fmt(tail.mean())} (std {_fmt(tail.std())}). "
                     "A converging search raises the mean and narrows the spread.")
        section.blocks.append(_Text(text))
    section.blocks.append(_Text("Dots: completed trials; red line: running best; green: rolling mean ± one standard "
                                "deviation; red x along the bottom: failed or invalid trials; orange triangles: stopped "
                                "trials.", "note"))
    return section


def _top_section(ctx: _Context, completed: Sequence[Any], top_k: int) -> _Section:
    import pandas as pd

    section = _Section(f"Top {top_k} trials", "top")
    if not completed:
        section.blocks.append(_Text("No completed trial yet.", "note"))
        return section
    ordered = sorted(completed, key=lambda r: ((-r.reward if ctx.mode_max else r.reward), r.number))[:top_k]
    shown = [m for m in KEY_METRICS if m != ctx.metric and any(_finite((r.metrics or {}).get(m)) for r in ordered)
             and not all((r.metrics or {}).get(m) == r.reward for r in ordered)]  # a copy of the reward adds nothing
    rows = []
    for rank, r in enumerate(ordered, start=1):
        row = {"rank": rank, "#": r.number, "trial id": r.trial_id, "reward": r.reward}
        for m in shown:
            value = (r.metrics or {}).get(m)
            row[m] = float(value) if _finite(value) else math.nan
        row["arch"] = json.dumps(r.arch, separators=(",", ":"))
        rows.append(row)
    section.blocks.append(_Table(pd.DataFrame(rows), "topk"))
    return section


def _decisions_section(ctx: _Context, records: Sequence[Any], out_dir: Path, plots: list[Path], permutation: bool,
                       seed: int) -> tuple[_Section, list[str]]:
    import pandas as pd

    section = _Section("Decisions: which options win, which decisions matter", "decisions")
    if ctx.space is None:
        section.blocks.append(_Text(f"Per-decision statistics need the search space: {ctx.space_note}.", "note"))
        return section, []
    stats = decision_stats(records, ctx.space, mode_max=ctx.mode_max, permutation=permutation, seed=seed)
    verdicts = advise(stats)
    advice = verdicts.sentences
    if stats.n_completed == 0:
        section.blocks.append(_Text("No completed trial yet.", "note"))
        return section, advice
    section.blocks.append(_Text(
        f"Over {stats.n_completed} completed trials. The top decile is the {stats.top_trials} trials with reward "
        f"{'at least' if ctx.mode_max else 'at most'} {_fmt(stats.top_threshold)}. Eta squared is the share of the "
        "reward variance explained by a decision's options (chance: what a decision that does not matter gets with "
        "this many trials and options); the permutation importance is how much a random forest's held-out R² drops "
        "when the decision is shuffled. Conditional decisions count only the trials where they were active."))
    path = importance_plot(stats, out_dir / "importance.png")
    plots.append(path)
    section.blocks.append(_Image(path, "decision importance"))
    imp = stats.importance.sort_values("eta_squared", ascending=False, na_position="last")
    table = pd.DataFrame({"decision": imp["path"], "trials": imp["n"], "options tried": imp["options_tried"],
                          "eta squared": imp["eta_squared"], "chance": imp["chance"], "ANOVA p": imp["p_value"]})
    if imp["permutation"].notna().any():
        table["permutation importance"] = imp["permutation"]
    section.blocks.append(_Table(table.reset_index(drop=True)))
    path = options_plot(stats, out_dir / "options.png")
    plots.append(path)
    section.blocks.append(_Image(path, "mean reward per option"))
    o = stats.options
    verdict = {(v.decision, v.option): v.verdict.value for v in verdicts.options}
    ci = [f"{_fmt(lo)} .. {_fmt(hi)}" if _finite(lo) else "" for lo, hi in zip(o["ci_low"], o["ci_high"])]
    options = pd.DataFrame({"decision": o["path"], "option": o["label"], "n": o["n"], "mean": o["mean"], "std": o["std"],
                            f"{stats.confidence:.0%} CI": ci, "in top decile": o["top_count"],
                            "share of top decile": [f"{v:.0%}" if _finite(v) else "" for v in o["top_share"]],
                            "top rate": [f"{v:.0%}" if _finite(v) else "" for v in o["top_rate"]],
                            "verdict": [verdict.get((int(d), int(i)), "") for d, i in zip(o["decision"], o["option"])]})
    section.blocks.append(_Text("Per option: trials (n), mean and standard deviation of the reward, its "
                                f"{stats.confidence:.0%} t confidence interval, how many of its trials are in the top "
                                "decile, its share of the top decile and its top rate (in top decile / n; about 10% for "
                                "an option that does not matter), and its verdict.", "note"))
    section.blocks.append(_Text(
        "How the verdicts are made (one per option, so the suggestions cannot contradict each other): an option with "
        "at least 5 trials is tested on how often it reached the top decile against what an option that does not "
        "matter gets by chance (hypergeometric test, p-values adjusted with Benjamini-Hochberg over all the options "
        f"tested): 'keep' when significantly more often (adjusted p < {ALPHA:g}), 'drop candidate' when significantly "
        "less often, 'no evidence' otherwise (too few trials, or not significant: inconclusive). A decision 'matters' "
        f"when its eta squared is at least 0.05 with an adjusted ANOVA p < {ALPHA:g}; its best option is its kept "
        "option with the highest top rate, or inconclusive when none is kept. A decision 'barely matters' only when "
        f"the test had at least {TARGET_POWER:.0%} power to find an eta squared of 0.05 and did not; otherwise the "
        "data cannot tell (inconclusive).", "note"))
    section.blocks.append(_Table(options))
    return section, advice


def _objectives_section(ctx: _Context, records: Sequence[Any], out_dir: Path,
                        plots: list[Path]) -> tuple[_Section, dict[str, Any]]:
    """A multi-objective search: the front of its configured objectives, its hypervolume and reference point; a plot
    for 2 objectives, one per pair for more, and the table of the front's trials."""
    import pandas as pd

    from raynas.config import REFERENCE_TRIALS

    objectives = ctx.config.objectives
    names = ", ".join(o.label() for o in objectives)
    section = _Section(f"Pareto front of the objectives: {names}", "objectives")
    front = objectives_front(objectives, records)
    best = front.front
    if front.hypervolume is None:
        hv = (f"no hypervolume yet: its reference point is fixed by the first {REFERENCE_TRIALS} completed trials "
              f"({len(front.points)} completed)")
    else:
        reference = ", ".join(f"{o.metric} {_fmt(v)}" for o, v in zip(objectives, front.reference))
        configured = all(o.reference is not None for o in objectives)
        rule = ("the config's `reference` values" if configured else f"the configured references, else the worst value "
                f"of the first {REFERENCE_TRIALS} completed trials less a tenth of their range")
        hv = f"hypervolume {front.hypervolume:.6g} against the reference point ({reference}: {rule})"
    section.blocks.append(_Text(f"{len(best)} of {len(front.points)} completed trials are on the front (no other trial "
                                f"is at least as good in every objective and better in one); {hv}.", "p"))
    for path in objectives_plots(front, out_dir):
        plots.append(path)
        section.blocks.append(_Image(path, path.stem.replace("-", " ")))
    table = pd.DataFrame({"#": best["number"], "trial id": best["trial_id"],
                          **{o.label(): best[o.metric] for o in objectives}})
    section.blocks.append(_Table(table))
    return section, front.to_dict()


def _pareto_section(ctx: _Context, records: Sequence[Any], out_dir: Path,
                    plots: list[Path]) -> tuple[_Section, list[str]]:
    import pandas as pd

    section = _Section("Pareto fronts: reward vs cost", "pareto")
    fronts = pareto_fronts(records, mode_max=ctx.mode_max)
    if not fronts:
        measured = sorted({k for r in records if r.status is TrialStatus.COMPLETED for k, v in (r.metrics or {}).items()
                           if _finite(v)} - {ctx.metric})
        section.blocks.append(_Text(
            f"No cost metric ({', '.join(COST_METRICS)}) was measured by the completed trials, so there is no Pareto "
            f"front (measured: {', '.join(measured) or 'nothing'}). Tabular benchmark trials report no model cost; "
            "searches of a task measure params and FLOPs, and latency and memory when the task sets targets.", "note"))
        return section, []
    for name, front in fronts.items():
        path = pareto_plot(front, out_dir / f"pareto-{name}.png")
        plots.append(path)
        section.blocks.append(_Text(f"{name}: {len(front.front)} of {len(front.points)} trials are on the front "
                                    f"(no other trial is both cheaper and better).", "h3"))
        section.blocks.append(_Image(path, f"reward vs {name}"))
        best = front.front
        table = pd.DataFrame({"#": best["number"], "trial id": best["trial_id"], name: best["cost"],
                              "reward": best["reward"]})
        section.blocks.append(_Table(table))
    return section, list(fronts)


def _failures_section(records: Sequence[Any]) -> _Section:
    import pandas as pd

    section = _Section("Failures", "failures")
    groups: dict[tuple[str, str], list[int]] = {}
    for r in records:
        if r.status is TrialStatus.COMPLETED:
            continue
        reason = re.sub(r"\s+", " ", str(r.failure_reason or "(no reason recorded)")).strip()
        if len(reason) > REASON_CHARS:
            reason = reason[:REASON_CHARS - 1] + "…"
        groups.setdefault((r.status, reason), []).append(r.number)
    if not groups:
        section.blocks.append(_Text("No trial failed, was invalid or was stopped.", "note"))
        return section
    rows = [{"status": status, "reason (first 80 characters)": reason, "trials": len(numbers),
             "examples": ", ".join(f"#{n}" for n in numbers[:5]) + (" …" if len(numbers) > 5 else "")}
            for (status, reason), numbers in groups.items()]
    frame = pd.DataFrame(rows).sort_values(["trials", "status"], ascending=[False, True], kind="stable")
    section.blocks.append(_Table(frame.reset_index(drop=True)))
    return section


def _stage2_section(ctx: _Context, paths: ExperimentPaths, records: Sequence[Any], out_dir: Path, plots: list[Path],
                    flags: list[str]) -> tuple[_Section, dict[str, Any] | None]:
    """Stage 1 vs stage 2 from ``stage2.json``: the table (rank, stage-1 reward, full accuracy, control or not),
    Kendall tau with its interval and the noise it was judged against, and stage 2's verdict. Files written before
    stage 2 gave a noise-aware ``verdict`` are read through ``search_bias`` (else Kendall tau < ``LOW_TAU``)."""
    import pandas as pd

    section = _Section("Stage 1 vs stage 2", "stage2")
    file = paths.root / STAGE2_FILE
    if not file.is_file():
        section.blocks.append(_Text(f"Stage 2 (full training of the top stage-1 trials) has not run yet: "
                                    f"`raynas train {ctx.name}`.", "note"))
        return section, None
    try:
        data = json.loads(file.read_text())
        rows = [r for r in (data.get("rows") or []) if isinstance(r, dict)]
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        section.blocks.append(_Text(f"{file} could not be read: {exc}", "flag"))
        return section, None
    tau, rho, picked = _num(data.get("kendall_tau")), _num(data.get("spearman")), data.get("picked_trial_id")
    tau_controls = _num(data.get("kendall_tau_with_controls"))
    interval = _interval(data.get("tau_interval"))
    noise = data.get("noise") if isinstance(data.get("noise"), dict) else None
    verdict, judged_by_noise = _stage2_verdict(data, tau)
    number_of = {r.trial_id: r.number for r in records}
    frame = pd.DataFrame({
        "#": [number_of.get(r.get("trial_id")) for r in rows],
        "rank": [r.get("rank") for r in rows],
        "trial_id": [r.get("trial_id") for r in rows],
        "stage-1 reward": pd.to_numeric(pd.Series([r.get("stage1_reward") for r in rows], dtype=object),
                                        errors="coerce"),
        "full accuracy": pd.to_numeric(pd.Series([r.get("full_accuracy") for r in rows], dtype=object),
                                       errors="coerce"),
        "control": ["yes" if r.get("control") is True else "no" for r in rows],
        "status": [r.get("status") for r in rows],
        "picked": ["yes" if picked is not None and r.get("trial_id") == picked else "" for r in rows]})
    if not any("rank" in r for r in rows):
        frame = frame.drop(columns=["rank"])
    controls = int((frame["control"] == "yes").sum())
    trained = f"{len(frame)} stage-1 trials were fully trained"
    if controls:
        trained += f" ({len(frame) - controls} from the top of stage 1 and {controls} controls from lower ranks)"
    text = f"{trained}. Kendall tau between stage-1 reward and full-training accuracy: {_fmt(tau)}"
    if interval is not None:
        text += f" ({interval[2]} interval {_fmt(interval[0])} to {_fmt(interval[1])})"
    if tau_controls is not None:
        text += f"; with the controls: {_fmt(tau_controls)}"
    text += f"; Spearman: {_fmt(rho)}."
    if noise is not None:
        sd = _num(noise.get("sd"))
        source = noise.get("source")
        text += (f" Run-to-run noise of one full-training accuracy: {'sd ' + _fmt(sd) if sd is not None else 'unknown'}"
                 + (f" ({source})" if isinstance(source, str) and source.strip() else "") + ".")
    if picked:
        picked_rows = frame[frame["trial_id"] == picked]
        acc = f" (full accuracy {_fmt(picked_rows['full accuracy'].iloc[0])})" if len(picked_rows) else ""
        text += f" Picked: trial {picked}{acc}."
    note = data.get("search_bias_note")
    if isinstance(note, str) and note.strip():
        text += f" Stage 2 says: {note.strip()}"
    section.blocks.append(_Text(text))
    old = "" if judged_by_noise else (" (this stage2.json has no noise-aware verdict: it was judged by Kendall tau "
                                      "alone; a newer `raynas train` judges it against the run-to-run noise)")
    if verdict == "bias":
        figures = f"Kendall tau {_fmt(tau)}" + (f", {interval[2]} interval {_fmt(interval[0])} to {_fmt(interval[1])}"
                                                if interval is not None else "")
        flag = (f"Possible search bias ({figures}): the stage-1 ranking does not predict full training{old}. Check the "
                "proxy task (`raynas proxy search`, tau >= 0.65 is the usual bar) and that the stage-1 validation split "
                "looks like the real validation set.")
        flags.append(flag)
        section.blocks.append(_Text(flag, "flag"))
    elif verdict == "agree":
        section.blocks.append(_Text(f"Verdict: the stage-1 ranking agrees with full training{old}.", "note"))
    elif tau is None and not judged_by_noise:
        section.blocks.append(_Text("No Kendall tau was recorded (too few completed full trainings).", "note"))
    else:
        section.blocks.append(_Text("Verdict: inconclusive. The data cannot tell whether the stage-1 ranking predicts "
                                    "full training (see stage 2's note above); full-train more models, or models from "
                                    "lower stage-1 ranks as controls, to judge.", "note"))
    both = frame.dropna(subset=["stage-1 reward", "full accuracy"])
    if len(both) >= 2:
        path = _stage2_plot(both, out_dir / "stage2.png", tau)
        plots.append(path)
        section.blocks.append(_Image(path, "stage-1 reward vs full-training accuracy"))
    section.blocks.append(_Table(frame))
    return section, {"file": str(file), "kendall_tau": tau, "spearman": rho, "picked_trial_id": picked,
                     "rows": len(frame), "low_tau": tau is not None and tau < LOW_TAU, "verdict": verdict,
                     "search_bias": {"bias": True, "agree": False}.get(verdict),
                     "tau_interval": None if interval is None else [interval[0], interval[1]],
                     "kendall_tau_with_controls": tau_controls, "controls": controls,
                     "noise": noise}


def _stage2_verdict(data: dict[str, Any], tau: float | None) -> tuple[str, bool]:
    """Stage 2's verdict ("agree", "bias" or "inconclusive") and whether it came from the noise-aware ``verdict``
    key; older files: ``search_bias`` (True / False / None), else Kendall tau against ``LOW_TAU``."""
    verdict = data.get("verdict")
    if isinstance(verdict, str) and verdict in ("agree", "bias", "inconclusive"):
        return verdict, True
    bias = data.get("search_bias")
    if isinstance(bias, bool):
        return ("bias" if bias else "agree"), False
    if "search_bias" in data or tau is None:
        return "inconclusive", False
    return ("bias" if tau < LOW_TAU else "agree"), False


def _interval(value: Any) -> tuple[float, float, str] | None:
    """``tau_interval`` as (low, high, "90%"-style level or "bootstrap"): a [low, high] list or a dict with
    ``low``, ``high`` and optionally ``level``; None when absent or not finite."""
    level = None
    if isinstance(value, dict):
        level = _num(value.get("level"))
        value = [value.get("low"), value.get("high")]
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return None
    low, high = _num(value[0]), _num(value[1])
    if low is None or high is None:
        return None
    return low, high, (f"{level:.0%}" if level is not None and 0 < level < 1 else "bootstrap")


def _stage2_plot(frame: Any, path: Path, tau: float | None) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    picked = frame["picked"] == "yes"
    control = frame["control"] == "yes"
    top = ~control
    ax.scatter(frame.loc[top, "stage-1 reward"], frame.loc[top, "full accuracy"], c="#1f77b4",
               label="fully trained (stage-1 top)")
    if control.any():
        ax.scatter(frame.loc[control, "stage-1 reward"], frame.loc[control, "full accuracy"], facecolors="none",
                   edgecolors="#ff7f0e", label="control (lower stage-1 rank)")
    if picked.any():
        ax.scatter(frame.loc[picked, "stage-1 reward"], frame.loc[picked, "full accuracy"], c="#d62728", s=60,
                   label="picked", zorder=3)
    for number, x, y in zip(frame["#"], frame["stage-1 reward"], frame["full accuracy"]):
        if _finite(number):
            ax.annotate(f"#{int(number)}", (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("stage-1 reward (proxy)")
    ax.set_ylabel("full-training accuracy")
    ax.set_title(f"Stage 1 vs stage 2 (Kendall tau {_fmt(tau)})")
    ax.grid(True, alpha=0.25)
    ax.legend(loc="best", fontsize=8)
    return save_figure(fig, path)


# --- rendering -------------------------------------------------------------------------------------------------
CSS = """
body { font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; color: #222; margin: 0;
       background: #f6f7f9; line-height: 1.45; font-size: 15px; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 32px 64px; background: #fff; min-height: 100vh;
       box-shadow: 0 0 12px rgba(0,0,0,0.06); }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 20px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid #e3e6ea; }
h3 { font-size: 16px; margin: 22px 0 6px; }
.meta { color: #666; font-size: 13px; }
nav { font-size: 13px; margin: 12px 0 4px; }
nav a { color: #1f5fa8; margin-right: 14px; text-decoration: none; }
img { max-width: 100%; height: auto; display: block; margin: 10px 0; border: 1px solid #eee; }
table { border-collapse: collapse; margin: 10px 0 18px; font-size: 13px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e6e8eb; text-align: left; vertical-align: top; }
th { background: #f0f2f5; font-weight: 600; }
tr:nth-child(even) td { background: #fafbfc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.topk td:last-child { font-family: SFMono-Regular, Menlo, Consolas, monospace; font-size: 11.5px;
                           overflow-wrap: anywhere; max-width: 520px; }
table.kv th:first-child, table.kv td:first-child { color: #555; }
p.note { color: #666; font-size: 13px; }
.flag { background: #fff4e5; border-left: 4px solid #f0883e; padding: 8px 12px; margin: 10px 0; }
code { background: #f0f2f5; padding: 1px 4px; border-radius: 3px; font-size: 90%; }
ul.advice li { margin: 6px 0; }
"""


def _render_html(title: str, header: Sequence[str], ctx: _Context, sections: Sequence[_Section],
                 flags: Sequence[str]) -> str:
    parts = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
             f"<title>{html.escape(title)}</title>", f"<style>{CSS}</style></head><body><main>",
             f"<h1>{html.escape(title)}</h1>", f"<div class=\"meta\">{' &middot; '.join(header)}</div>",
             "<nav>" + "".join(f"<a href=\"#{s.anchor}\">{html.escape(s.title)}</a>" for s in sections) + "</nav>"]
    for flag in flags:
        parts.append(f"<div class=\"flag\">{_inline_html(flag)}</div>")
    for section in sections:
        parts.append(f"<h2 id=\"{section.anchor}\">{html.escape(section.title)}</h2>")
        for block in section.blocks:
            parts.append(_block_html(block))
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _block_html(block: Any) -> str:
    if isinstance(block, _Text):
        if block.kind == "flag":
            return f"<div class=\"flag\">{_inline_html(block.text)}</div>"
        if block.kind == "h3":
            return f"<h3>{_inline_html(block.text)}</h3>"
        css = " class=\"note\"" if block.kind == "note" else ""
        return f"<p{css}>{_inline_html(block.text)}</p>"
    if isinstance(block, _Image):
        data = base64.b64encode(Path(block.path).read_bytes()).decode("ascii")
        return f"<img src=\"data:image/png;base64,{data}\" alt=\"{html.escape(block.alt)}\">"
    if isinstance(block, _List):
        return "<ul class=\"advice\">" + "".join(f"<li>{_inline_html(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, _Table):
        return _table_html(block)
    raise TypeError(block)  # pragma: no cover


def _table_html(table: _Table) -> str:
    frame = _display(table.frame)
    classes = ["data"] + ([table.css] if table.css else [])
    text = frame.to_html(index=False, border=0, classes=classes, na_rep="", escape=True, justify="left",
                         header=table.css != "kv")
    if table.css == "topk":  # let long architecture JSON wrap after its commas (copying it keeps it intact)
        text = text.replace(',"', ',<wbr>"')
    return text


def _inline_html(text: str) -> str:
    """Escaped text with `code` spans."""
    escaped = html.escape(text)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)


def _display(frame: Any) -> Any:
    """Numbers formatted for reading (4 significant digits; integers as such)."""
    import pandas as pd

    out = frame.copy()
    for col in out.columns:
        series = out[col]
        if pd.api.types.is_bool_dtype(series):
            continue
        if pd.api.types.is_float_dtype(series):
            out[col] = [_fmt(v) if _finite(v) else "" for v in series]
        elif series.dtype == object:
            out[col] = [_fmt(v) if isinstance(v, float) else ("" if v is None else v) for v in series]
    return out


def _render_markdown(title: str, paths: ExperimentPaths, ctx: _Context, sections: Sequence[_Section],
                     flags: Sequence[str]) -> str:
    lines = [f"# {title}", "", f"Experiment `{paths.root}`, generated {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')}.",
             ""]
    for flag in flags:
        lines += [f"> **Warning:** {flag}", ""]
    for section in sections:
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            lines += _block_markdown(block) + [""]
    return "\n".join(lines).rstrip() + "\n"


def _block_markdown(block: Any) -> list[str]:
    if isinstance(block, _Text):
        if block.kind == "flag":
            return [f"> **Warning:** {block.text}"]
        if block.kind == "h3":
            return [f"### {block.text}"]
        return [f"*{block.text}*" if block.kind == "note" and "*" not in block.text else block.text]
    if isinstance(block, _Image):
        return [f"![{block.alt}]({Path(block.path).name})"]
    if isinstance(block, _List):
        return [f"- {item}" for item in block.items]
    if isinstance(block, _Table):
        return _table_markdown(_display(block.frame), header=block.css != "kv")
    raise TypeError(block)  # pragma: no cover


def _table_markdown(frame: Any, *, header: bool = True) -> list[str]:
    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    columns = [cell(c) for c in frame.columns] if header else [""] * len(frame.columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join(" --- " for _ in columns) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return lines


# --- small helpers -------------------------------------------------------------------------------------------
def _best(completed: Sequence[Any], mode_max: bool) -> dict[str, Any] | None:
    if not completed:
        return None
    best = sorted(completed, key=lambda r: ((-r.reward if mode_max else r.reward), r.number))[0]
    return {"number": best.number, "trial_id": best.trial_id, "reward": best.reward, "arch": best.arch}


def _finite(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):  # numpy numbers included
        return False
    return math.isfinite(float(value))


def _num(value: Any) -> float | None:
    return float(value) if _finite(value) else None


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return str(value)
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(v):
        return "n/a"
    if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-3):
        return f"{v:.3e}"
    return f"{v:.4g}"


def _size(size: int) -> str:
    return f"{size:,}" if size < 10**9 else f"~10^{math.log10(size):.1f}"


def _read_json(path: Path) -> Any:
    """A JSON file of the experiment (None when it is missing; a damaged one is skipped with a warning naming it
    and ``raynas doctor``: the report is derived from the trial store)."""
    try:
        return read_json(path, expect=dict)
    except DamagedFileError as exc:
        if exc.problem != "missing":
            logging.getLogger(__name__).warning("%s; the report leaves it out", exc)
        return None

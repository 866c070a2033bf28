"""Getting the model out: :func:`load_model` (the built module, weights loaded) and :func:`export_model` (a state
dict, TorchScript or ONNX file with ``architecture.json``, ``model.json`` and ``MODEL_CARD.md`` beside it).

Torch is imported only when a model is loaded; onnx/onnxscript/onnxruntime only for the ONNX format (the
``export`` extra: ``pip install 'raynas[export]'``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import math
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from raynas._files import atomic_path, write_json
from raynas._json import json_safe
from raynas.errors import ConfigError, RaynasError
from raynas.experiment import DEFAULT_WORKDIR, ExperimentPaths
from raynas.export._locate import STATE_DICT_FILE, ModelSource, locate_model

log = logging.getLogger(__name__)

#: Export format -> file written in the output directory.
FORMATS: Mapping[str, str] = {"state_dict": STATE_DICT_FILE, "torchscript": "model.torchscript", "onnx": "model.onnx"}
EXTRA_HINT = "pip install 'raynas[export]'"
ONNX_INPUT, ONNX_OUTPUT = "input", "logits"
#: The batch the exported files are checked on against the PyTorch module (random inputs in [0, 1]).
CHECK_BATCH = 4
#: Largest difference of logits accepted between an exported file and the PyTorch module on the check batch.
CHECK_TOLERANCE = 1e-3


@dataclass(frozen=True)
class ExportResult:
    """What ``raynas export`` wrote: ``files`` (format -> path), the checks of each file against the PyTorch module
    (``checks``: format -> largest absolute difference of logits, None when not checked), the model it came from,
    and what MLflow got (``mlflow``: run id, model URI, or a note why nothing was logged)."""

    output: str
    files: dict[str, str]
    architecture: str
    model_spec: str
    model_card: str
    source: dict[str, Any]
    checks: dict[str, float | None]
    notes: list[str] = field(default_factory=list)
    mlflow: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_formats(value: str | Sequence[str]) -> list[str]:
    """``state_dict``, ``torchscript``, ``onnx``, a comma-separated list of them, or ``all``."""
    items = [value] if isinstance(value, str) else list(value)
    names = [part.strip() for item in items for part in str(item).split(",") if part.strip()]
    if names == ["all"]:
        return list(FORMATS)
    bad = [n for n in names if n not in FORMATS]
    if bad or not names:
        from raynas.errors import suggest

        raise ConfigError("--format", ",".join(bad) if bad else value,
                          f"one of {', '.join(FORMATS)} (or several, comma-separated, or all)"
                          f"{suggest(bad[0], FORMATS) if bad else ''}",
                          "e.g. --format torchscript or --format state_dict,onnx")
    return list(dict.fromkeys(names))


def load_model(experiment: str | Path, trial: str | None = None, *, workdir: str | Path = DEFAULT_WORKDIR,
               device: str = "cpu") -> Any:
    """The trained ``torch.nn.Module`` of an experiment, weights loaded, in eval mode.

    ``experiment``: a name under ``workdir``, an experiment directory, or a directory written by ``raynas export``
    (its ``state_dict.pt`` and ``model.json``). Without ``trial`` the stage-2 pick; else that trial (a stage-1 id
    as ``raynas train`` shows it, or a stage-2 id) when it kept a checkpoint.
    """
    exported = Path(experiment).expanduser()
    if trial is None and (exported / "model.json").is_file() and (exported / STATE_DICT_FILE).is_file():
        return _load_exported(exported, device)
    return _build(locate_model(experiment, trial, workdir=workdir), device)


def _build(source: ModelSource, device: str = "cpu") -> Any:
    import torch

    model = source.spec.build()
    saved = torch.load(source.checkpoint, map_location=device, weights_only=True)
    state = saved["model"] if isinstance(saved, dict) and "model" in saved else saved
    _load_state(model, state, source.checkpoint)
    return model.to(device).eval()


def _load_state(model: Any, state: Any, where: str) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise RaynasError(f"the weights in {where} do not fit the architecture built from its model spec "
                          f"({first[1].strip() if len(first) > 1 else first[0]}); was the family's build() changed "
                          "since it was trained?") from None


def _load_exported(folder: Path, device: str) -> Any:
    import torch

    from raynas.training import ModelSpec

    spec = ModelSpec.read(folder / "model.json")
    model = spec.build()
    _load_state(model, torch.load(folder / STATE_DICT_FILE, map_location=device, weights_only=True),
                str(folder / STATE_DICT_FILE))
    return model.to(device).eval()


def export_model(experiment: str | Path, *, trial: str | None = None, formats: str | Sequence[str] = "state_dict",
                 output: str | Path | None = None, workdir: str | Path = DEFAULT_WORKDIR, mlflow: bool | None = None,
                 tracking_uri: str | None = None) -> ExportResult:
    """Write the model of ``experiment`` (the stage-2 pick, or ``trial``) in ``formats`` into ``output`` (default
    ``<experiment>/export/best`` or ``<experiment>/export/trial-<id>``), with ``architecture.json``, ``model.json``
    and ``MODEL_CARD.md``; check each file against the PyTorch module; log it to the MLflow run it came from
    (``mlflow`` None: when the search config has MLflow on)."""
    names = parse_formats(formats)  # a bad format fails before anything is loaded
    if "onnx" in names:
        _require_onnx()
    source = locate_model(experiment, trial, workdir=workdir)
    folder = Path(output).expanduser() if output is not None else (
        Path(source.experiment_dir) / "export" / ("best" if trial is None else f"trial-{source.trial_id}"))
    if folder.exists() and not folder.is_dir():
        raise ConfigError("--output", str(folder), "a directory", "give a directory path with -o")
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    model = _build(source)
    example = _example(source.spec.input_shape)
    files: dict[str, str] = {}
    checks: dict[str, float | None] = {}
    notes: list[str] = []
    scripted = None
    for name in names:
        path = folder / FORMATS[name]
        if name == "state_dict":
            _save_state_dict(model, path)
            checks[name] = _check(model, _load_exported_from(path, source), example)
        elif name == "torchscript":
            scripted, how = _to_torchscript(model, example)
            scripted.save(str(path))
            notes.append(f"torchscript: made with torch.jit.{how}")
            checks[name] = _check(model, _jit_load(path), example)
        else:
            _to_onnx(model, example, path)
            checks[name] = _check_onnx(model, path, example, notes)
        files[name] = str(path)
        log.info(f"export: {name} -> {path}")
    for name, diff in checks.items():
        if diff is not None and not diff <= CHECK_TOLERANCE:
            raise RaynasError(f"the {name} export of {source.label} gives other outputs than the PyTorch model (largest "
                              f"difference {diff:.3g} > {CHECK_TOLERANCE}); it is not safe to use")
    spec_path = source.spec.write(folder / "model.json")
    arch_path = folder / "architecture.json"
    _write_json(arch_path, _architecture(source))
    existing = {n: str(folder / f) for n, f in FORMATS.items() if (folder / f).is_file()}
    card = folder / "MODEL_CARD.md"
    card.write_text(model_card(source, folder, existing, checks))
    result = ExportResult(output=str(folder), files=files, architecture=str(arch_path), model_spec=str(spec_path),
                          model_card=str(card), source=json_safe(source.summary()), checks=checks, notes=notes)
    from raynas.export._mlflow import log_export

    def torchscript() -> Any:
        return scripted if scripted is not None else _to_torchscript(model, example)[0]

    report = log_export(source, folder, make_model=torchscript, example=example, enabled=mlflow, tracking_uri=tracking_uri)
    return ExportResult(**{**asdict(result), "mlflow": report})


# --- formats ---------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Hide the exporters' deprecation warnings and their log lines about optional packages (torchvision ops)."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _example(input_shape: Sequence[int]) -> Any:
    import torch

    generator = torch.Generator().manual_seed(0)
    return torch.rand(CHECK_BATCH, *input_shape, generator=generator)


def _save_state_dict(model: Any, path: Path) -> None:
    import torch

    with atomic_path(path) as tmp:
        torch.save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, tmp)


def _load_exported_from(path: Path, source: ModelSource) -> Any:
    import torch

    model = source.spec.build()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def _to_torchscript(model: Any, example: Any) -> tuple[Any, str]:
    """``torch.jit.script`` (keeps control flow), else ``torch.jit.trace`` on an example batch."""
    import torch

    with _quiet():
        try:
            return torch.jit.script(model), "script"
        except Exception:  # noqa: BLE001 - families may use Python that TorchScript cannot compile
            with torch.no_grad():
                return torch.jit.trace(model, example, check_trace=False), "trace"


def _jit_load(path: Path) -> Any:
    import torch

    with _quiet():
        return torch.jit.load(str(path), map_location="cpu")


def _require_onnx() -> None:
    """The packages the ONNX format needs, with one clear error naming the extra when one is missing."""
    import importlib.util

    missing = [m for m in ("onnx", "onnxscript") if importlib.util.find_spec(m) is None]
    if missing:
        raise RaynasError(f"--format onnx needs {' and '.join(missing)}, which are not installed: {EXTRA_HINT} "
                          "(onnx, onnxscript and onnxruntime)")


def _to_onnx(model: Any, example: Any, path: Path) -> None:
    """torch.export-based ONNX export (the default exporter of PyTorch 2.9+), with a dynamic batch dimension."""
    import inspect

    import torch

    with atomic_path(path) as tmp, _quiet(), torch.no_grad():
        if "dynamo" in inspect.signature(torch.onnx.export).parameters:
            torch.onnx.export(model, (example,), str(tmp), input_names=[ONNX_INPUT], output_names=[ONNX_OUTPUT],
                              dynamic_shapes=({0: "batch"},), dynamo=True, external_data=False, verbose=False)
        else:  # PyTorch before 2.5: the TorchScript-based exporter
            torch.onnx.export(model, (example,), str(tmp), input_names=[ONNX_INPUT], output_names=[ONNX_OUTPUT],
                              dynamic_axes={ONNX_INPUT: {0: "batch"}, ONNX_OUTPUT: {0: "batch"}})


def _check(model: Any, other: Any, example: Any) -> float:
    import torch

    with torch.no_grad():
        return float((model(example) - other(example)).abs().max())


def _check_onnx(model: Any, path: Path, example: Any, notes: list[str]) -> float | None:
    import importlib.util

    import torch

    if importlib.util.find_spec("onnxruntime") is None:
        notes.append(f"onnx: not checked with ONNX Runtime (not installed: {EXTRA_HINT})")
        return None
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits = session.run(None, {session.get_inputs()[0].name: example.numpy()})[0]
    with torch.no_grad():
        return float((model(example) - torch.as_tensor(logits)).abs().max())


# --- what goes beside the model -------------------------------------------------------------------------------
def _write_json(path: Path, data: Any) -> None:
    write_json(path, data)


def _architecture(source: ModelSource) -> dict[str, Any]:
    spec = source.spec
    return {"arch": source.arch, "family": spec.family, "family_source": spec.family_source,
            "build_kwargs": dict(spec.build_kwargs), "input_shape": list(spec.input_shape),
            "augmentation_policy": source.policy, "experiment": source.experiment, "stage": source.stage,
            "trial_id": source.trial_id, "stage2_trial_id": source.stage2_trial_id, "picked": source.picked,
            "metrics": dict(source.metrics)}


def _split_summary(experiment_dir: str) -> dict[str, Any] | None:
    path = Path(experiment_dir) / "split.parquet"
    if not path.is_file():
        return None
    from raynas.data import DataSplit

    try:
        split = DataSplit.load(path)
    except RaynasError:
        return None
    return {"dataset": split.dataset, "fingerprint": split.fingerprint, "data_fingerprint": split.data_fingerprint,
            "seed": split.seed, "validation_fraction": split.validation_fraction,
            "stage1_train": int(len(split.stage1_train)), "stage1_val": int(len(split.stage1_val)),
            "stage2_train": int(split.num_train)}


def _fmt(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value).lower()
    if isinstance(value, float):
        return "-" if not math.isfinite(value) else f"{value:.{digits}f}".rstrip("0").rstrip(".")
    if isinstance(value, int) and abs(value) >= 10_000:
        return f"{value:,}"
    return str(value)


def model_card(source: ModelSource, folder: Path, files: Mapping[str, str], checks: Mapping[str, float | None]) -> str:
    """``MODEL_CARD.md``: what the model is, how well it did, the data it was trained on and how to load it."""
    paths = ExperimentPaths(Path(source.experiment_dir))
    config = paths.read_config()
    spec = source.spec
    metrics = dict(source.metrics)
    shape = "x".join(str(n) for n in spec.input_shape)
    what = source.label[0].upper() + source.label[1:]
    lines = [f"# Model card: {source.experiment} / {source.trial_id or source.stage2_trial_id}", "",
             f"{what} of the raynas experiment `{source.experiment}` ({source.experiment_dir}), a `{spec.family}` "
             f"model trained on `{spec.dataset}` ({spec.variant} training variant). Exported "
             f"{_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.", "",
             "## Metrics", "", "| metric | value |", "| --- | --- |"]
    names = {"val_accuracy": "validation accuracy (%, the real validation set)" if spec.variant == "full"
             else "validation accuracy (%, the stage-1 validation split)",
             "stage1_reward": "stage-1 (proxy) reward", "stage1_rank": "stage-1 rank", "full_reward": "full-training reward",
             "params": "parameters", "flops": "FLOPs per example", "epoch": "epochs trained", "latency_ms": "latency (ms)",
             "memory_mb": "memory (MB)", "train_seconds": "training time (s)", "reward": "reward"}
    for key, label in names.items():
        if key in metrics:
            lines.append(f"| {label} | {_fmt(metrics[key])} |")
    stage2 = dict(source.stage2)
    if stage2.get("kendall_tau") is not None:
        lines.append(f"| stage-1 vs stage-2 Kendall tau ({stage2.get('correlated')} models) | "
                     f"{_fmt(stage2['kendall_tau'])} |")
    if stage2.get("search_bias_note"):
        lines += ["", f"Search bias check: {stage2['search_bias_note']}."]
    lines += ["", "## Model", "", f"- family: `{spec.family}` ({spec.family_source})",
              f"- architecture: `{json.dumps(source.arch, sort_keys=True, default=str)}`",
              f"- build arguments: `{json.dumps(dict(spec.build_kwargs), sort_keys=True)}`",
              f"- input: float32 tensor of shape (N, {', '.join(str(n) for n in spec.input_shape)}) ({shape}), values "
              f"as `raynas.data.load_dataset` gives the `{spec.dataset}` examples (the bundled image datasets: scaled "
              "to [0, 1])" + (f", resized by {spec.resolution_mult} (bilinear)" if spec.resolution_mult != 1.0 else ""),
              f"- output: logits of shape (N, {spec.num_classes}); the predicted class is their argmax"]
    if source.policy is not None:
        lines.append(f"- augmentation policy trained with: `{json.dumps(source.policy, sort_keys=True, default=str)}`")
    split = _split_summary(source.experiment_dir)
    lines += ["", "## Data", ""]
    if split is not None:
        lines += [f"- dataset: `{split['dataset']}`, data fingerprint `{split['data_fingerprint']}`",
                  f"- split fingerprint `{split['fingerprint']}` (seed {split['seed']}, stage-1 validation fraction "
                  f"{split['validation_fraction']}): stage 1 trained on {split['stage1_train']} and validated on "
                  f"{split['stage1_val']} examples; stage 2 trained on all {split['stage2_train']} training examples "
                  "and validated on the real validation set"]
    else:
        lines.append(f"- dataset: `{spec.dataset}` (no split file in the experiment)")
    controller = config.get("controller") or {}
    lines += ["", "## Search", "",
              f"- task: `{config.get('task')}`" + (f", search type {config.get('search_type')}"
                                                     if config.get("search_type") != "architecture" else ""),
              f"- controller: `{controller.get('name') if isinstance(controller, dict) else controller}`, "
              f"max_trials {config.get('max_trials')}, max_concurrent {config.get('max_concurrent')}, metric "
              f"`{config.get('metric')}` ({config.get('mode')}), seed {config.get('seed')}"]
    status = paths.status
    if status.is_file():
        try:
            ended = json.loads(status.read_text())
            best = ended.get("best_reward")
            lines.append(f"- how the search ended: {ended.get('status')} after {ended.get('trials')} trials"
                         + (f", best stage-1 reward {_fmt(best)}" if isinstance(best, (int, float)) else ""))
        except (ValueError, AttributeError):
            pass
    if stage2.get("top_k"):
        lines.append(f"- stage 2: the top {stage2['top_k']} distinct stage-1 architectures full-trained; this model's "
                     f"stage-1 rank {metrics.get('stage1_rank', '-')}")
    lines += ["", "## Files", ""]
    for name, path in files.items():
        diff = checks.get(name)
        checked = f" (checked: largest logit difference to the PyTorch model {diff:.2g})" if diff is not None else ""
        lines.append(f"- `{Path(path).name}`: {name}{checked}")
    lines += ["- `architecture.json`: the architecture and where it comes from",
              "- `model.json`: the family and build arguments (what `raynas.load_model` rebuilds it from)"]
    lines += ["", "## Load it", "", f"From this folder ({folder}):", ""]
    shape_text = ", ".join(str(n) for n in spec.input_shape)
    if "state_dict" in files:
        lines += ["PyTorch (needs raynas, which rebuilds the model from `model.json` with the family's file):", "",
                  "```python", "import raynas", "model = raynas.load_model(\".\")  # torch.nn.Module in eval mode",
                  f"logits = model(x)  # x: float32 tensor (N, {shape_text})", "```", ""]
    if "torchscript" in files:
        lines += ["TorchScript (needs only torch):", "", "```python", "import torch",
                  f"model = torch.jit.load({Path(files['torchscript']).name!r})", "logits = model(x)", "```", ""]
    if "onnx" in files:
        lines += ["ONNX Runtime (needs only onnxruntime and numpy):", "", "```python", "import onnxruntime",
                  f"session = onnxruntime.InferenceSession({Path(files['onnx']).name!r})",
                  f"logits = session.run(None, {{{ONNX_INPUT!r}: x}})[0]  # x: numpy float32 (N, {shape_text})", "```", ""]
    trial = "" if source.picked else f", trial={source.trial_id or source.stage2_trial_id!r}"
    lines += [f"From the experiment itself: `raynas.load_model({source.experiment_dir!r}{trial})`.", ""]
    return "\n".join(lines)

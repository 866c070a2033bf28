"""Model families: a search space plus a builder ``arch -> torch.nn.Module``, found by name.

A family is a Python file in a ``search_spaces/`` folder (the current directory's, or the one next to the raynas
source tree) or an importable module, defining ``SPACE`` (a SearchSpace), ``build(arch, *, in_channels,
num_classes, image_size, width_mult=1.0, depth_mult=1.0)`` and optionally ``NAME`` (default: the file name).
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Sequence

from raynas.errors import ConfigError, UnknownNameError
from raynas.space import SearchSpace

#: Decision names that are training hyperparameters or augmentation, not architecture.
NON_ARCHITECTURE_KEYS = frozenset({
    "lr", "learning_rate", "batch_size", "weight_decay", "momentum", "optimizer", "epochs", "steps",
    "warmup", "label_smoothing", "augmentation", "augment", "randaugment", "autoaugment", "mixup", "cutmix",
    "cutout", "magnitude", "num_ops",
})


@dataclass(frozen=True)
class ModelFamily:
    """A registered model family."""

    name: str
    space: SearchSpace
    build: Callable[..., Any]
    source: str
    #: The family's ``BASELINE`` architecture (what ``raynas baseline`` full-trains), if it defines one.
    baseline: Any = None


def default_search_dirs() -> list[Path]:
    """``./search_spaces`` and the ``search_spaces`` folder beside the raynas package (a source checkout)."""
    here = Path.cwd() / "search_spaces"
    beside = Path(__file__).resolve().parents[1] / "search_spaces"
    return list(dict.fromkeys(p.resolve() for p in (here, beside) if p.is_dir()))


def discover_families(search_dirs: Sequence[Path] | None = None) -> dict[str, Path]:
    """Family name -> file, for every ``*.py`` (not starting with ``_``) in the search folders."""
    found: dict[str, Path] = {}
    for folder in search_dirs if search_dirs is not None else default_search_dirs():
        for path in sorted(Path(folder).glob("*.py")):
            if not path.name.startswith("_"):
                found.setdefault(path.stem, path)
    return found


def _import_file(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"raynas_family_{path.stem}", path)
    if spec is None or spec.loader is None:  # pragma: no cover - only for unreadable files
        raise ConfigError("family", str(path), "an importable Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_family(name: str, *, search_dirs: Sequence[Path] | None = None) -> ModelFamily:
    """The family called ``name`` (a file in a search folder), a path to such a file, or an importable module."""
    files = discover_families(search_dirs)
    if name.endswith(".py") and Path(name).is_file():
        module, source = _import_file(Path(name)), str(Path(name).resolve())
    elif name in files:
        module, source = _import_file(files[name]), str(files[name])
    elif "." in name:
        try:
            module, source = importlib.import_module(name), name
        except ImportError as exc:
            raise ConfigError("family", name, "a family file name or an importable module", str(exc)) from None
    else:
        raise UnknownNameError("model family", name, files,
                               "Add a file to search_spaces/ or give an importable module (pkg.module).")
    space, build = getattr(module, "SPACE", None), getattr(module, "build", None)
    if not isinstance(space, SearchSpace) or not callable(build):
        raise ConfigError("family", name, "a module defining SPACE (a SearchSpace) and build(arch, ...)",
                          f"fix {source}")
    check_architecture_only(space)
    baseline = getattr(module, "BASELINE", None)
    if baseline is not None:
        space.encode(baseline)  # SpaceError naming the bad decision
    return ModelFamily(getattr(module, "NAME", name), space, build, source, baseline)


def check_architecture_only(space: SearchSpace) -> None:
    """Refuse training hyperparameters or augmentation settings inside an architecture search space."""
    for decision in space.decisions:
        last = decision.path.replace("[", ".").split(".")[-1].split("@")[0].lower()
        if last in NON_ARCHITECTURE_KEYS:
            raise ConfigError(
                f"space {space.name!r}: decision {decision.path!r}", last,
                "architecture decisions only",
                "training hyperparameters and augmentation stay fixed during an architecture search (set them in "
                "the task's recipe); search augmentation separately, on a fixed architecture",
            )

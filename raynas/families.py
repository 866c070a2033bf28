"""Model families: a search space plus a builder ``arch -> torch.nn.Module``, found by name.

A family is a Python file or an importable module (``pkg.module``) defining ``SPACE`` (a SearchSpace),
``build(arch, *, in_channels, num_classes, image_size, width_mult=1.0, depth_mult=1.0)`` and optionally ``NAME``
(default: the file name). A task names it by path (``./my_space.py``: relative to the task file) or by name: a
file in ``./search_spaces``, in a ``search_spaces/`` folder beside the task file, or bundled with raynas (the
order is in :mod:`raynas._lookup`).
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Sequence

from raynas._lookup import FAMILY_FOLDER, bundled_dir, describe, explicit_path, is_path, lookup_dirs, not_found_fix
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


def default_search_dirs(relative_to: str | Path | None = None) -> list[Path]:
    """The folders family names are looked up in, in order: ``./search_spaces``, the ``search_spaces/`` beside
    the config file ``relative_to`` (a task file), then the families bundled with raynas."""
    return lookup_dirs(FAMILY_FOLDER, relative_to)


def discover_families(search_dirs: Sequence[Path] | None = None, *,
                      relative_to: str | Path | None = None) -> dict[str, Path]:
    """Family name -> file, for every ``*.py`` (not starting with ``_``) in the search folders (the first folder
    that has a name wins). Names come from file names: nothing is imported (see :func:`load_family`)."""
    found: dict[str, Path] = {}
    for folder in search_dirs if search_dirs is not None else default_search_dirs(relative_to):
        for path in sorted(Path(folder).glob("*.py")):
            if not path.name.startswith("_"):
                found.setdefault(path.stem, path.resolve())
    return found


def is_bundled(path: Path) -> bool:
    """Whether the family file ``path`` is one installed with raynas (its own code), not one found in a folder of the
    user's (``./search_spaces``, beside a task file): code that only runs when a search, a task or
    ``raynas space info`` names that family, never by merely listing what is there."""
    bundled = bundled_dir(FAMILY_FOLDER)
    return bundled is not None and Path(path).resolve().parent == bundled


def find_family(name: str, *, search_dirs: Sequence[Path] | None = None,
                relative_to: str | Path | None = None) -> Path | str:
    """Where the family ``name`` is, without importing it: the absolute path of its file, or the module name.

    ``relative_to`` is the config file naming the family (a task file): a relative path is resolved against its
    folder, and the ``search_spaces/`` beside it is searched.
    """
    if is_path(name, (".py",)):
        path = explicit_path(name, relative_to)
        if not path.is_file():
            raise ConfigError("family", name, "an existing model family file (.py)", not_found_fix(name, relative_to))
        return path
    files = discover_families(search_dirs, relative_to=relative_to)
    if name in files:
        return files[name]
    if "." in name:
        return name
    dirs = list(search_dirs) if search_dirs is not None else default_search_dirs(relative_to)
    raise UnknownNameError("model family", name, files,
                           f"Add a file to search_spaces/, give a path to one (./my_space.py, relative to the task "
                           f"file) or an importable module (pkg.module); looked in {describe(dirs)}.")


def _import_file(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"raynas_family_{path.stem}", path)
    if spec is None or spec.loader is None:  # pragma: no cover - only for unreadable files
        raise ConfigError("family", str(path), "an importable Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_family(name: str, *, search_dirs: Sequence[Path] | None = None,
                relative_to: str | Path | None = None) -> ModelFamily:
    """The family ``name``: a family file's name, a path to one, or an importable module (see :func:`find_family`;
    pass a task's ``source`` as ``relative_to``). Its ``source`` is an absolute path (or the module name), what
    workers in other folders load."""
    where = find_family(name, search_dirs=search_dirs, relative_to=relative_to)
    if isinstance(where, Path):
        module, source, default_name = _import_file(where), str(where), where.stem
    else:
        try:
            module, source, default_name = importlib.import_module(where), where, where
        except ImportError as exc:
            raise ConfigError("family", name, "a family file name or an importable module", str(exc)) from None
    space, build = getattr(module, "SPACE", None), getattr(module, "build", None)
    if not isinstance(space, SearchSpace) or not callable(build):
        raise ConfigError("family", name, "a module defining SPACE (a SearchSpace) and build(arch, ...)",
                          f"fix {source}")
    check_architecture_only(space)
    baseline = getattr(module, "BASELINE", None)
    if baseline is not None:
        space.encode(baseline)  # SpaceError naming the bad decision
    return ModelFamily(getattr(module, "NAME", default_name), space, build, source, baseline)


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

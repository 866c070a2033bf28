"""Tasks (``proxy_tasks/*.yaml``): dataset, model family, fixed training recipe, and proxy/full variants."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from raynas._parse import as_float, as_int, as_mapping, as_str, reject_unknown
from raynas.errors import ConfigError
from raynas.rewards import RewardTargets
from raynas.tasks._variant import VARIANTS, Variant, variant_from_dict
from raynas.training import TrainingRecipe


@dataclass(frozen=True)
class TaskConfig:
    """A training task; the ``proxy`` variant is the cheap stage-1 version of the ``full`` one."""

    name: str
    dataset: Any
    family: str
    recipe: TrainingRecipe
    variants: Mapping[str, Variant]
    #: A user trainer, ``module:function`` or ``./file.py:function`` (relative to the task file); None: the
    #: built-in trainer with ``recipe``. See :mod:`raynas.targets` for what the function receives.
    trainer: str | None = None
    #: Weights for the part of every model the search does not change (see :mod:`raynas.training._pretrained`).
    pretrained: Any = None
    #: A target kind of one's own (``module:Class`` or a ``raynas.targets`` entry point): what trains the task's trials
    #: (None: ``user`` when ``trainer`` is set, else ``builtin``). See :mod:`raynas.trials`.
    target: str | None = None
    data_dir: str | None = None
    validation_fraction: float = 0.1
    split_seed: int = 0
    targets: RewardTargets = field(default_factory=RewardTargets)
    augmentation: Mapping[str, Any] | None = None
    #: The architecture full-trained by ``raynas baseline`` (None: the family's ``BASELINE``, if any).
    baseline: Any = None
    #: Proxy variants ``raynas proxy search`` tries (see :mod:`raynas.tasks`); None: generated.
    proxy_candidates: Any = None
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        missing = [v for v in VARIANTS if v not in self.variants]
        if missing:
            raise ConfigError("variants", sorted(self.variants), "both a 'proxy' and a 'full' variant",
                              f"add {', '.join(missing)}", source=self.source)
        if self.augmentation is not None:
            from raynas.augment import augmentation_space

            kind = self.augmentation.get("policy") if isinstance(self.augmentation, Mapping) else None
            if kind not in ("randaugment", "autoaugment"):
                raise ConfigError("augmentation.policy", kind, "randaugment or autoaugment", source=self.source)
            augmentation_space(kind).encode(dict(self.augmentation))  # SpaceError naming a bad value
        bigger = self.variants["proxy"].larger_than(self.variants["full"])
        if bigger:
            raise ConfigError("variants.proxy", ", ".join(bigger), "a proxy no larger than the full variant",
                              "the proxy must be a cheaper version of full training: lower those settings",
                              source=self.source)
        if self.proxy_candidates is not None:
            from raynas.tasks._candidates import task_candidates

            task_candidates(self)  # a bad candidate fails when the task is loaded
        if self.dataset is not None:
            try:
                self.dataset_spec()  # an unknown kind, a bad option or a missing path fails when the task is loaded
            except ConfigError as exc:
                raise ConfigError(exc.field, exc.value, exc.expected, exc.fix, source=exc.source or self.source) from None
        if self.pretrained is not None:
            try:
                self.pretrained_weights()  # a missing checkpoint or a bad option fails when the task is loaded
            except ConfigError as exc:
                raise ConfigError(exc.field, exc.value, exc.expected, exc.fix, source=self.source) from None

    def variant(self, name: str) -> Variant:
        if name not in self.variants:
            raise ConfigError("variant", name, "'proxy' or 'full'")
        return self.variants[name]

    def recipe_for(self, variant: str) -> TrainingRecipe:
        from dataclasses import replace

        return replace(self.recipe, epochs=self.variant(variant).epochs)

    def resolve_data_dir(self) -> str | None:
        """``data_dir`` relative to the task file's folder when it is not absolute."""
        if self.data_dir is None or self.source is None or Path(self.data_dir).is_absolute():
            return self.data_dir
        return str((Path(self.source).parent / self.data_dir).resolve())

    def pretrained_weights(self) -> Any:
        """``pretrained:`` as checked :class:`raynas.training.PretrainedWeights` (None when the task names none)."""
        from raynas.training import PretrainedWeights

        return PretrainedWeights.from_value(self.pretrained, base_dir=Path(self.source).parent if self.source else None)

    def dataset_spec(self) -> Any:
        """``dataset:`` (a name like ``digits`` or a mapping with ``kind:``) as a checked :class:`raynas.data.DatasetSpec`;
        relative paths in it resolve against the task file's folder."""
        from raynas.data import dataset_spec

        return dataset_spec(self.dataset, base_dir=Path(self.source).parent if self.source else None,
                            data_dir=self.resolve_data_dir())


def task_from_dict(data: Any, *, source: str | None = None) -> TaskConfig:
    try:
        data = as_mapping("task", data)
        known = ["name", "dataset", "family", "recipe", "variants", "data_dir", "validation_fraction", "split_seed",
                 "targets", "augmentation", "baseline", "proxy_candidates", "trainer", "pretrained", "target"]
        reject_unknown(data, known, source=source)
        trainer = data.get("trainer")
        if trainer is not None:
            as_str("trainer", trainer)
        # a user trainer brings its own data (the dataset, when named, gives the two-stage split)
        for key in ("name", "family") if trainer is not None else ("name", "dataset", "family"):
            if key not in data:
                raise ConfigError(key, None, "a value", f"add `{key}:` to the task file")
            if key != "dataset":  # a name or a mapping with `kind:`: the dataset registry checks it
                as_str(key, data[key])
        recipe_data = as_mapping("recipe", data.get("recipe"))
        reject_unknown(recipe_data, [f.name for f in fields(TrainingRecipe)], section="recipe")
        variants = {}
        for name, value in as_mapping("variants", data.get("variants")).items():
            variants[name] = variant_from_dict(f"variants.{name}", value, user_keys=trainer is not None)
        reject_unknown(variants, VARIANTS, section="variants")
        targets_data = as_mapping("targets", data.get("targets"))
        reject_unknown(targets_data, [f.name for f in fields(RewardTargets)], section="targets")
        return TaskConfig(
            name=data["name"], dataset=data.get("dataset"), family=data["family"], recipe=TrainingRecipe(**recipe_data),
            variants=variants, trainer=trainer, pretrained=data.get("pretrained"),
            target=None if data.get("target") is None else as_str("target", data["target"]), data_dir=data.get("data_dir"),
            validation_fraction=as_float("validation_fraction", data.get("validation_fraction", 0.1)),
            split_seed=as_int("split_seed", data.get("split_seed", 0), minimum=0),
            targets=RewardTargets(**targets_data), augmentation=data.get("augmentation"), baseline=data.get("baseline"),
            proxy_candidates=data.get("proxy_candidates"), source=source,
        )
    except ConfigError as exc:
        if source and not exc.source:
            raise ConfigError(exc.field, exc.value, exc.expected, exc.fix, source=source) from None
        raise


def find_task(ref: str | Path, *, relative_to: str | Path | None = None) -> Path:
    """The absolute path of the task ``ref``: a YAML path (relative to the folder of the config file
    ``relative_to``; the current directory if None) or a name looked up in ``./proxy_tasks``, the ``proxy_tasks/``
    beside ``relative_to``, then the tasks bundled with raynas (see :mod:`raynas._lookup`)."""
    from raynas._lookup import TASK_FOLDER, describe, explicit_path, is_path, lookup_dirs, not_found_fix
    from raynas.errors import suggest

    ref = str(ref)
    if is_path(ref, (".yaml", ".yml")):
        path = explicit_path(ref, relative_to)
        if not path.is_file():
            raise ConfigError("task", ref, "an existing task YAML file (or the name of one in proxy_tasks/)",
                              not_found_fix(ref, relative_to))
        return path
    dirs = lookup_dirs(TASK_FOLDER, relative_to)
    for folder in dirs:
        for suffix in (".yaml", ".yml"):
            if (folder / f"{ref}{suffix}").is_file():
                return (folder / f"{ref}{suffix}").resolve()
    known = sorted({p.stem for folder in dirs for p in [*folder.glob("*.yaml"), *folder.glob("*.yml")]})
    raise ConfigError("task", ref, "an existing task YAML file or the name of a task in a proxy_tasks/ folder "
                      f"(known: {', '.join(known) or 'none'}){suggest(ref, known)}",
                      f"give a path to the YAML file or add {ref}.yaml to proxy_tasks/; looked in {describe(dirs)}")


def load_task(path: str | Path, *, relative_to: str | Path | None = None) -> TaskConfig:
    """Read a task YAML file (``proxy_tasks/NAME.yaml``); a bare name is looked up (see :func:`find_task`)."""
    import yaml

    path = find_task(path, relative_to=relative_to)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError("YAML", "malformed", "valid YAML", str(exc).splitlines()[0], source=str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError("YAML", "not UTF-8 text", "a UTF-8 YAML file (a task file)",
                          "is it a binary file? give the task's YAML file", source=str(path)) from None
    except RecursionError:
        raise ConfigError("YAML", "nested too deeply for the YAML reader", "settings nested a few levels deep",
                          "flatten the file", source=str(path)) from None
    if data is None:
        raise ConfigError("FILE", "empty", "a task file with settings; the file is empty (nothing but blank lines, "
                          "comments or null)", "start from a task in proxy_tasks/ (e.g. mnist1d.yaml) and check the "
                          "file with `raynas validate FILE`", source=str(path))
    return _pin_family(task_from_dict(data, source=str(path)))


def _pin_family(task: TaskConfig) -> TaskConfig:
    """The task with its ``family`` as an absolute path when it is a path (relative to the task file) or a name
    found in a user's folder (``./search_spaces`` or beside the task file): the same family is then found from any
    directory (workers, stage 2, resume, export). Bundled families and modules keep their name."""
    from dataclasses import replace

    from raynas._lookup import explicit_path, is_path
    from raynas.errors import RaynasError
    from raynas.families import find_family

    if is_path(task.family, (".py",)):
        pinned = str(explicit_path(task.family, task.source))  # when missing, the error names where it was expected
        return task if pinned == task.family else replace(task, family=pinned)
    from raynas._lookup import FAMILY_FOLDER, bundled_dir

    try:
        here = find_family(task.family, relative_to=task.source)
    except RaynasError:
        return task  # reported, with the names known, when the family is loaded
    bundled = bundled_dir(FAMILY_FOLDER)
    if not isinstance(here, Path) or (bundled is not None and here.parent == bundled.resolve()):
        return task
    # found in a user's folder (./search_spaces or beside the task): the same file from any directory, later too
    return replace(task, family=str(here))

"""Tasks (``proxy_tasks/*.yaml``): dataset, model family, fixed training recipe, and proxy/full variants."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from raynas.config._parse import as_float, as_int, as_mapping, as_str, reject_unknown
from raynas.errors import ConfigError
from raynas.rewards import RewardTargets
from raynas.training import TrainingRecipe

VARIANTS = ("proxy", "full")


@dataclass(frozen=True)
class Variant:
    """How much of the full training a variant runs: epochs, data share and model/input scale."""

    epochs: int
    data_fraction: float = 1.0
    width_mult: float = 1.0
    depth_mult: float = 1.0
    resolution_mult: float = 1.0

    def __post_init__(self) -> None:
        as_int("epochs", self.epochs, minimum=1)
        for name in ("data_fraction", "width_mult", "depth_mult", "resolution_mult"):
            value = as_float(name, getattr(self, name))
            if not 0 < value <= (1.0 if name == "data_fraction" else 8.0):
                raise ConfigError(name, value, "a positive scale (data_fraction at most 1)")

    def larger_than(self, other: "Variant") -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) > getattr(other, f.name)]


@dataclass(frozen=True)
class TaskConfig:
    """A training task; the ``proxy`` variant is the cheap stage-1 version of the ``full`` one."""

    name: str
    dataset: str
    family: str
    recipe: TrainingRecipe
    variants: Mapping[str, Variant]
    data_dir: str | None = None
    validation_fraction: float = 0.1
    split_seed: int = 0
    targets: RewardTargets = field(default_factory=RewardTargets)
    augmentation: Mapping[str, Any] | None = None
    #: The architecture full-trained by ``raynas baseline`` (None: the family's ``BASELINE``, if any).
    baseline: Any = None
    #: Proxy variants ``raynas proxy search`` tries (see :mod:`raynas.proxy._candidates`); None: generated.
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
            from raynas.proxy._candidates import task_candidates

            task_candidates(self)  # a bad candidate fails when the task is loaded

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


def task_from_dict(data: Any, *, source: str | None = None) -> TaskConfig:
    try:
        data = as_mapping("task", data)
        known = ["name", "dataset", "family", "recipe", "variants", "data_dir", "validation_fraction", "split_seed",
                 "targets", "augmentation", "baseline", "proxy_candidates"]
        reject_unknown(data, known, source=source)
        for key in ("name", "dataset", "family"):
            if key not in data:
                raise ConfigError(key, None, "a value", f"add `{key}:` to the task file")
            as_str(key, data[key])
        recipe_data = as_mapping("recipe", data.get("recipe"))
        reject_unknown(recipe_data, [f.name for f in fields(TrainingRecipe)], section="recipe")
        variants = {}
        for name, value in as_mapping("variants", data.get("variants")).items():
            reject_unknown(as_mapping(f"variants.{name}", value), [f.name for f in fields(Variant)],
                           section=f"variants.{name}")
            if "epochs" not in value:
                raise ConfigError(f"variants.{name}.epochs", None, "the number of training epochs")
            variants[name] = Variant(**value)
        reject_unknown(variants, VARIANTS, section="variants")
        targets_data = as_mapping("targets", data.get("targets"))
        reject_unknown(targets_data, [f.name for f in fields(RewardTargets)], section="targets")
        return TaskConfig(
            name=data["name"], dataset=data["dataset"], family=data["family"], recipe=TrainingRecipe(**recipe_data),
            variants=variants, data_dir=data.get("data_dir"),
            validation_fraction=as_float("validation_fraction", data.get("validation_fraction", 0.1)),
            split_seed=as_int("split_seed", data.get("split_seed", 0), minimum=0),
            targets=RewardTargets(**targets_data), augmentation=data.get("augmentation"), baseline=data.get("baseline"),
            proxy_candidates=data.get("proxy_candidates"), source=source,
        )
    except ConfigError as exc:
        if source and not exc.source:
            raise ConfigError(exc.field, exc.value, exc.expected, exc.fix, source=source) from None
        raise


def load_task(path: str | Path) -> TaskConfig:
    """Read a task YAML file (``proxy_tasks/NAME.yaml``); a bare name is looked up in ``proxy_tasks/``."""
    import yaml

    path = Path(path)
    if not path.suffix and not path.exists():
        for folder in (Path.cwd() / "proxy_tasks", Path(__file__).resolve().parents[1] / "proxy_tasks"):
            if (folder / f"{path}.yaml").is_file():
                path = folder / f"{path}.yaml"
                break
    if not path.is_file():
        raise ConfigError("task", str(path), "an existing task YAML file (or the name of one in proxy_tasks/)")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError("YAML", "malformed", "valid YAML", str(exc).splitlines()[0], source=str(path)) from None
    return task_from_dict(data, source=str(path.resolve()))

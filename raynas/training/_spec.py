"""What it takes to build a trained model again: its family, architecture, build arguments and input shape.

Written beside checkpoints (``model.json``) so a model can be rebuilt and exported without loading its data again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from raynas._files import atomic_write
from raynas.errors import ConfigError

if TYPE_CHECKING:
    from raynas.tasks import TaskConfig

#: ``model.json``: the spec of the checkpoint next to it.
SPEC_FILE = "model.json"
BUILD_KEYS = ("in_channels", "num_classes", "image_size", "width_mult", "depth_mult")


@dataclass(frozen=True)
class ModelSpec:
    """How to build a model of a task's family again (``family.build(arch, **build_kwargs)``).

    ``family`` is the name the task gives, ``family_source`` where it was found (a file path or a module);
    ``input_shape`` is one input (C, H, W) as the model takes it: images float32 in [0, 1], resized by
    ``resolution_mult`` (bilinear) when that is not 1.
    """

    family: str
    family_source: str
    arch: Any
    build_kwargs: Mapping[str, Any]
    input_shape: tuple[int, ...]
    dataset: str
    num_classes: int
    variant: str = "full"
    resolution_mult: float = 1.0
    task: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [k for k in BUILD_KEYS if k not in self.build_kwargs]
        if missing and not self.extra.get("trainer"):  # a user trainer's build takes its own arguments
            raise ConfigError("build_kwargs", dict(self.build_kwargs), f"the build arguments {', '.join(BUILD_KEYS)}",
                              f"add {', '.join(missing)}")
        object.__setattr__(self, "build_kwargs", dict(self.build_kwargs))
        object.__setattr__(self, "input_shape", tuple(int(n) for n in self.input_shape))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["input_shape"] = list(self.input_shape)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str | None = None) -> "ModelSpec":
        known = {f for f in cls.__dataclass_fields__}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as exc:
            raise ConfigError("model spec", source or dict(data), "family, family_source, arch, build_kwargs, "
                              "input_shape, dataset and num_classes", str(exc)) from None

    def write(self, path: str | Path) -> Path:
        return atomic_write(path, json.dumps(self.to_dict(), indent=2, sort_keys=True, default=str))

    @classmethod
    def read(cls, path: str | Path) -> "ModelSpec":
        return cls.from_dict(json.loads(Path(path).read_text()), source=str(path))

    def load_family(self) -> Any:
        """The model family: from ``family_source`` when that file or module is still there, else by name."""
        from raynas.families import load_family

        source = self.family_source
        if source.endswith(".py") and Path(source).is_file():
            return load_family(source)
        if not source.endswith(".py") and source != self.family:
            try:
                return load_family(source)
            except ConfigError:
                pass
        return load_family(self.family)

    def build(self) -> Any:
        """A freshly initialised ``torch.nn.Module`` of this architecture."""
        kwargs = dict(self.build_kwargs)
        if isinstance(kwargs.get("input_shape"), list):  # a tuple before the JSON round trip
            kwargs["input_shape"] = tuple(kwargs["input_shape"])
        return self.load_family().build(self.arch, **kwargs)


def model_spec(task: TaskConfig, arch: Any, variant: str = "full") -> ModelSpec:
    """The spec of ``arch`` trained on ``task``'s ``variant`` (``full``: stage 2), as the built-in trainer builds it.

    The input shape and the number of classes come from the task's dataset (loaded once per process).
    """
    from raynas.families import load_family
    from raynas.training._evaluator import _dataset
    from raynas.training._shapes import family_input_kwargs, scaled_input_shape

    spec = task.variant(variant)
    family = load_family(task.family)
    data = _dataset(task.dataset_spec())  # what TrainingEvaluator.evaluate builds the model from
    shape = scaled_input_shape(tuple(data.input_shape), spec.resolution_mult)
    build_kwargs = {**family_input_kwargs(family.build, shape), "num_classes": int(data.num_classes),
                    "width_mult": float(spec.width_mult), "depth_mult": float(spec.depth_mult)}
    return ModelSpec(family=task.family, family_source=family.source, arch=arch,
                     build_kwargs=build_kwargs, input_shape=shape, dataset=str(getattr(data, "name", task.dataset)),
                     num_classes=int(data.num_classes), variant=variant, resolution_mult=float(spec.resolution_mult),
                     task=task.source or task.name)

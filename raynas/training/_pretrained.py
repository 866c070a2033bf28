"""Pretrained weights for the part of every model that the search does not change (e.g. a backbone when only the
head is searched), and the starting weights of stage 2 (``raynas train --init CHECKPOINT``).

A task names them with ``pretrained: {checkpoint: ./backbone.pt, prefix: backbone., freeze: false}``: the
checkpoint holds that part's ``state_dict`` (or a raynas checkpoint, ``{"model": state_dict, ...}``) and ``prefix``
is where the part sits in every model of the family. A checkpoint that does not fit is refused with the keys and
shapes that differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from raynas._parse import as_bool, as_mapping, as_str, reject_unknown
from raynas.errors import ConfigError, RunStoppingError


@dataclass(frozen=True)
class PretrainedWeights:
    """A checkpoint to load into every built model: ``prefix`` + each of its keys must be a parameter or buffer of
    the model with the same shape. ``freeze`` stops those weights from training; ``strict`` False loads the keys
    that fit and skips the others (stage 2's ``--init`` of a whole model from a related one)."""

    checkpoint: str
    prefix: str = ""
    freeze: bool = False
    strict: bool = True

    def __post_init__(self) -> None:
        as_str("pretrained.checkpoint", self.checkpoint)
        if not isinstance(self.prefix, str):  # "" (the default) loads a whole model's weights
            raise ConfigError("pretrained.prefix", self.prefix, "a string, e.g. backbone. (empty: the whole model)")
        as_bool("pretrained.freeze", self.freeze)
        as_bool("pretrained.strict", self.strict)
        if not Path(self.checkpoint).is_file():
            raise ConfigError("pretrained.checkpoint", self.checkpoint, "an existing checkpoint file (torch.save)",
                              "check the path; relative paths start at the folder of the task file")

    @classmethod
    def from_value(cls, value: Any, *, base_dir: str | Path | None) -> "PretrainedWeights | None":
        """The task's ``pretrained:`` value (a path, or a mapping), with a relative path made absolute."""
        if value is None:
            return None
        data: Mapping[str, Any] = {"checkpoint": value} if isinstance(value, str) else as_mapping("pretrained", value)
        reject_unknown(data, ["checkpoint", "prefix", "freeze", "strict"], section="pretrained")
        if "checkpoint" not in data:
            raise ConfigError("pretrained.checkpoint", None, "the checkpoint file to load",
                              "add `checkpoint: path/to/weights.pt`")
        path = Path(str(data["checkpoint"])).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        return cls(**{**data, "checkpoint": str(path.resolve())})

    def load_into(self, model: Any) -> list[str]:
        """Copy the checkpoint's weights into ``model``; returns the model keys it set. ConfigError when the
        checkpoint does not fit (missing keys, other shapes)."""
        import torch

        state = torch.load(self.checkpoint, map_location="cpu", weights_only=False)
        if isinstance(state, Mapping) and "model" in state and isinstance(state["model"], Mapping):
            state = state["model"]
        if not isinstance(state, Mapping) or not state:
            raise RunStoppingError("pretrained.checkpoint", self.checkpoint, "a state_dict (a mapping of tensors)",
                              "save it with torch.save(module.state_dict(), path)")
        own = model.state_dict()
        missing = [k for k in state if self.prefix + k not in own]
        shapes = [f"{self.prefix + k}: checkpoint {tuple(v.shape)} vs model {tuple(own[self.prefix + k].shape)}"
                  for k, v in state.items() if self.prefix + k in own and hasattr(v, "shape")
                  and tuple(v.shape) != tuple(own[self.prefix + k].shape)]
        if self.strict and (missing or shapes):
            problems = ([f"{len(missing)} keys the model lacks, e.g. {', '.join(self.prefix + k for k in missing[:3])}"]
                        if missing else []) + ([f"{len(shapes)} other shapes, e.g. {'; '.join(shapes[:2])}"]
                                               if shapes else [])
            raise RunStoppingError("pretrained.checkpoint", self.checkpoint,
                              f"weights that fit the models' part at prefix {self.prefix!r}",
                              f"{' and '.join(problems)}; set `prefix:` to where that part sits in the model "
                              f"(its keys start with e.g. {next(iter(own), '?')!r}) or use a checkpoint of that part")
        loaded = {self.prefix + k: v for k, v in state.items() if self.prefix + k in own
                  and tuple(getattr(v, "shape", ())) == tuple(own[self.prefix + k].shape)}
        if not loaded:
            raise RunStoppingError("pretrained.checkpoint", self.checkpoint, "weights of which some fit the model",
                                   f"none of its {len(state)} keys match the model's (e.g. {next(iter(own), '?')!r}) "
                                   "with the same shape: use a checkpoint of this model family")
        own.update(loaded)
        model.load_state_dict(own)
        if self.freeze:
            for name, parameter in model.named_parameters():
                if name in loaded:
                    parameter.requires_grad_(False)
        return sorted(loaded)

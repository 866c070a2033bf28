"""Rewards that combine accuracy with latency and memory targets (MnasNet style). Pure Python."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from raynas._parse import as_float, as_int, as_str
from raynas.errors import ConfigError


@dataclass(frozen=True)
class RewardTargets:
    """``reward = acc * (target_latency / latency)^w * (target_memory / memory)^w``.

    ``mode="hard"`` caps each factor at 1 (being faster or smaller than the target earns nothing), ``"soft"``
    does not. A target left out contributes no factor. Latency is measured on ``device`` at ``batch_size``.
    """

    latency_ms: float | None = None
    memory_mb: float | None = None
    weight: float = 0.07
    mode: str = "soft"
    device: str = "cpu"
    batch_size: int = 1

    def __post_init__(self) -> None:
        for name in ("latency_ms", "memory_mb"):
            value = getattr(self, name)
            if value is not None and not as_float(f"targets.{name}", value) > 0:
                raise ConfigError(f"targets.{name}", value, "a positive number")
        as_float("targets.weight", self.weight, minimum=0.0)
        if as_str("targets.mode", self.mode) not in ("hard", "soft"):
            raise ConfigError("targets.mode", self.mode, "'hard' (factors capped at 1) or 'soft'")
        as_int("targets.batch_size", self.batch_size, minimum=1)

    @property
    def active(self) -> bool:
        return self.latency_ms is not None or self.memory_mb is not None


def compute_reward(accuracy: float, *, targets: RewardTargets, latency_ms: float | None = None,
                   memory_mb: float | None = None) -> dict[str, Any]:
    """The reward and each of its terms (every term is reported next to the reward)."""

    def factor(target: float | None, measured: float | None) -> float:
        if target is None:
            return 1.0
        if measured is None or not measured > 0:
            raise ConfigError("measurement", measured, "a positive measurement for a target that is set")
        value = (target / measured) ** targets.weight
        return min(1.0, value) if targets.mode == "hard" else value

    latency_factor = factor(targets.latency_ms, latency_ms)
    memory_factor = factor(targets.memory_mb, memory_mb)
    reward = accuracy * latency_factor * memory_factor
    if not math.isfinite(reward):
        reward = math.nan
    return {"reward": reward, "accuracy": accuracy, "latency_factor": latency_factor, "memory_factor": memory_factor}

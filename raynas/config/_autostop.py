"""The ``auto_stop:`` section of a search config: when a search stops on its own before ``max_trials``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from raynas._parse import as_bool, as_float, as_int, as_mapping, reject_unknown
from raynas.errors import ConfigError


@dataclass(frozen=True)
class AutoStopConfig:
    """Rules that end a search early; each can be turned off (``auto_stop: false`` turns off all).

    - **converged**: once ``min_trials`` have ended, the rolling standard deviation of the reward over the last
      ``window`` completed trials is below ``spread_ratio`` times that of the first ``early_trials`` (the random
      exploration), and the running best has not improved for ``patience`` trials.
    - **too many invalid**: more than ``max_invalid_fraction`` of the trials so far gave no valid reward --
      failed (exception, out of memory, lost process) or invalid (NaN/Inf) -- after ``invalid_min_trials``;
      trials stopped early are not counted.
    - **no convergence**: after ``no_convergence_after`` trials the search shows no sign of converging: the
      rolling spread is still above ``no_sign_ratio`` of the early spread and the rolling mean has not risen
      by half an early standard deviation.
    """

    converged: bool = True
    window: int = 50
    early_trials: int = 100
    spread_ratio: float = 0.5
    patience: int = 100
    min_trials: int = 200
    max_invalid_fraction: float | None = 0.2
    invalid_min_trials: int = 50
    no_convergence_after: int | None = 500
    no_sign_ratio: float = 0.8

    def __post_init__(self) -> None:
        as_bool("auto_stop.converged", self.converged)
        for name in ("window", "early_trials", "patience", "min_trials", "invalid_min_trials"):
            as_int(f"auto_stop.{name}", getattr(self, name), minimum=1)
        for name in ("spread_ratio", "no_sign_ratio"):
            value = as_float(f"auto_stop.{name}", getattr(self, name))
            if not 0 < value <= 1:
                raise ConfigError(f"auto_stop.{name}", value, "a ratio in (0, 1]")
        if self.max_invalid_fraction is not None:
            value = as_float("auto_stop.max_invalid_fraction", self.max_invalid_fraction)
            if not 0 < value < 1:
                raise ConfigError("auto_stop.max_invalid_fraction", value, "a fraction in (0, 1), or null to turn it off")
        if self.no_convergence_after is not None:
            as_int("auto_stop.no_convergence_after", self.no_convergence_after, minimum=1)
            if self.no_convergence_after <= self.early_trials:
                raise ConfigError("auto_stop.no_convergence_after", self.no_convergence_after,
                                  f"more than early_trials ({self.early_trials})",
                                  "convergence is judged against the early exploration phase")

    @property
    def enabled(self) -> bool:
        return self.converged or self.max_invalid_fraction is not None or self.no_convergence_after is not None

    @classmethod
    def off(cls) -> "AutoStopConfig":
        return cls(converged=False, max_invalid_fraction=None, no_convergence_after=None)

    @classmethod
    def from_value(cls, value: Any) -> "AutoStopConfig":
        """``auto_stop:`` as a mapping of settings, ``false`` (all rules off) or ``true``/absent (defaults)."""
        if value is None or value is True:
            return cls()
        if value is False:
            return cls.off()
        data = dict(as_mapping("auto_stop", value))
        reject_unknown(data, [f.name for f in fields(cls)], section="auto_stop")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


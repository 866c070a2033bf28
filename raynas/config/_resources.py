"""What each trial (or job) holds and how many run at once: the one resources type of raynas.

Search configs, workflow files, the proxy-design tools and stage 2 all describe resources with the same flat keys
(``cpus_per_trial``, ``gpus_per_trial``, ``max_concurrent``, ``device``) and all validate them here, so a value is
accepted or refused the same way everywhere. The rules are the ones Ray accepts:

- ``cpus_per_trial`` and ``gpus_per_trial`` are finite numbers >= 0; a non-zero amount is at least 0.0001 (Ray's
  resource precision);
- ``gpus_per_trial`` above 1 is a whole number: Ray shares a single GPU between trials (0.25, 0.5) but never hands
  out one and a half GPUs (1.5 would wait forever);
- ``cpus_per_trial`` may be any fraction (0.5, 1.5): Ray counts CPUs as a divisible quantity;
- a trial holds something: ``cpus_per_trial: 0`` only with ``gpus_per_trial`` above 0 (Ray refuses a placement
  group bundle whose resources are all 0);
- ``max_concurrent`` is a whole number >= 1;
- ``device`` is ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from raynas.errors import ConfigError

#: The smallest non-zero resource amount Ray schedules (``ray_option_utils``: precision 0.0001).
RESOURCE_PRECISION = 1e-4
DEVICES = ("auto", "cpu", "cuda")


def _number(field: str, value: Any, what: str, fix: str, *, source: str | None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(field, value, f"a finite number >= 0 ({what})", fix, source=source)
    if 0 < value < RESOURCE_PRECISION:
        raise ConfigError(field, value, f"0 or at least {RESOURCE_PRECISION:g} (Ray's smallest resource amount)",
                          f"use e.g. {field}: 0.01", source=source)
    return float(value)


def check_cpus(value: Any, *, field: str = "cpus_per_trial", source: str | None = None) -> float:
    """``cpus_per_trial`` as a float (fractions allowed); ConfigError naming ``field`` otherwise."""
    return _number(field, value, "CPUs per trial; fractions such as 0.5 are allowed", "e.g. cpus_per_trial: 1",
                   source=source)


def check_gpus(value: Any, *, field: str = "gpus_per_trial", source: str | None = None) -> float:
    """``gpus_per_trial`` as a float: a fraction below 1 (shared GPU) or a whole number."""
    gpus = _number(field, value, "GPUs per trial; 0 for CPU trials", "e.g. gpus_per_trial: 1 (0 for a CPU search)",
                   source=source)
    if gpus > 1 and not gpus.is_integer():
        raise ConfigError(field, value, "a fraction below 1 or a whole number",
                          "Ray only shares single GPUs: use e.g. 0.25, 0.5, 1 or 2", source=source)
    return gpus


def check_max_concurrent(value: Any, *, field: str = "max_concurrent", source: str | None = None) -> int:
    """``max_concurrent`` as an int >= 1 (2.0 is 2; 2.5 and true are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not float(value).is_integer() or value < 1:
        raise ConfigError(field, value, "an integer >= 1 (trials run in parallel)", f"set {field}: 1 or more",
                          source=source)
    return int(value)


def check_device(value: Any, *, field: str = "device", source: str | None = None) -> str:
    """``device``: auto, cpu, cuda or cuda:N."""
    if not isinstance(value, str) or (value not in DEVICES and not re.fullmatch(r"cuda:\d+", value)):
        raise ConfigError(field, value, "auto, cpu, cuda or cuda:N",
                          "auto trains on a GPU when the trial holds one, else on the CPU", source=source)
    return value


def check_pair(cpus: float, gpus: float, *, field: str = "cpus_per_trial", source: str | None = None) -> None:
    """A trial must hold something: CPUs, GPUs or both."""
    if cpus == 0 and gpus == 0:
        raise ConfigError(field, 0, "a positive number when gpus_per_trial is 0",
                          "give each trial some CPU, e.g. cpus_per_trial: 1 (Ray refuses a trial that holds nothing)",
                          source=source)


@dataclass(frozen=True)
class Resources:
    """What each trial (or job) holds and how many run at once; validated on construction (see the module docstring
    for the rules). ``cpus_per_trial`` and ``gpus_per_trial`` become floats, ``max_concurrent`` an int."""

    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_concurrent: int = 4
    device: str = "auto"

    def __post_init__(self) -> None:
        cpus = check_cpus(self.cpus_per_trial)
        gpus = check_gpus(self.gpus_per_trial)
        check_pair(cpus, gpus)
        object.__setattr__(self, "cpus_per_trial", cpus)
        object.__setattr__(self, "gpus_per_trial", gpus)
        object.__setattr__(self, "max_concurrent", check_max_concurrent(self.max_concurrent))
        check_device(self.device)

    def with_overrides(self, *, cpus_per_trial: float | None = None, gpus_per_trial: float | None = None,
                       max_concurrent: int | None = None, device: str | None = None) -> "Resources":
        """These resources with the given (non-None) values replaced, validated again as a whole."""
        return Resources(
            cpus_per_trial=self.cpus_per_trial if cpus_per_trial is None else cpus_per_trial,
            gpus_per_trial=self.gpus_per_trial if gpus_per_trial is None else gpus_per_trial,
            max_concurrent=self.max_concurrent if max_concurrent is None else max_concurrent,
            device=self.device if device is None else device)

    def to_dict(self) -> dict[str, Any]:
        """The flat keys a config file uses."""
        return {"cpus_per_trial": self.cpus_per_trial, "gpus_per_trial": self.gpus_per_trial,
                "max_concurrent": self.max_concurrent, "device": self.device}

"""The ``mlflow:`` section of a search config: where runs are tracked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from raynas._parse import as_bool, as_duration, as_mapping, as_str, reject_unknown
from raynas.errors import ConfigError

#: Tracking URI schemes MLflow understands that raynas has been used with.
KNOWN_SCHEMES = ("sqlite", "http", "https", "file", "postgresql", "mysql", "databricks")


@dataclass(frozen=True)
class TrackingConfig:
    """MLflow tracking of a search.

    ``tracking_uri`` None means: ``MLFLOW_TRACKING_URI`` when set, else the embedded SQLite store inside the
    work directory (``<workdir>/mlflow.db``, artifacts in ``<workdir>/mlartifacts``). At the end of a search
    everything pending is sent; ``flush_timeout_s`` is how long an unreachable tracking server is waited for
    before the records it could not receive are reported (they stay in the trial store; ``raynas mlflow sync``
    replays them).
    """

    enabled: bool = True
    tracking_uri: str | None = None
    flush_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        as_bool("mlflow.enabled", self.enabled)
        if self.tracking_uri is not None:
            uri = as_str("mlflow.tracking_uri", self.tracking_uri)
            scheme = uri.split(":", 1)[0].split("+", 1)[0] if ":" in uri else ""
            if scheme not in KNOWN_SCHEMES:
                raise ConfigError("mlflow.tracking_uri", uri, f"a tracking URI with scheme {', '.join(KNOWN_SCHEMES)}",
                                  "e.g. http://head-node:5000 or sqlite:////abs/path/mlflow.db")
        if self.flush_timeout_s < 0:
            raise ConfigError("mlflow.flush_timeout", self.flush_timeout_s, "a duration >= 0")

    def to_dict(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "tracking_uri": self.tracking_uri, "flush_timeout": self.flush_timeout_s}

    @classmethod
    def from_value(cls, value: Any) -> "TrackingConfig":
        """From the YAML value: a mapping, ``false`` (off) or a tracking URI string."""
        if value is None:
            return cls()
        if isinstance(value, bool):
            return cls(enabled=value)
        if isinstance(value, str):
            return cls(tracking_uri=value)
        data = as_mapping("mlflow", value)
        reject_unknown(data, ("enabled", "tracking_uri", "flush_timeout"), section="mlflow")
        kwargs: dict[str, Any] = {}
        if "enabled" in data:
            kwargs["enabled"] = data["enabled"]
        if data.get("tracking_uri") is not None:
            kwargs["tracking_uri"] = data["tracking_uri"]
        if "flush_timeout" in data:
            timeout = data["flush_timeout"]
            kwargs["flush_timeout_s"] = 0.0 if timeout == 0 else as_duration("mlflow.flush_timeout", timeout)
        return cls(**kwargs)

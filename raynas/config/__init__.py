"""Configuration dataclasses (frozen, validated on construction) and their YAML loaders."""

from raynas.config._search import SCHEDULERS, ControllerConfig, Mode, SchedulerConfig, SearchConfig, load_search_config
from raynas.config._tracking import TrackingConfig

__all__ = ["SCHEDULERS", "ControllerConfig", "Mode", "SchedulerConfig", "SearchConfig", "TrackingConfig",
           "load_search_config"]

"""Configuration dataclasses (frozen, validated on construction) and their YAML loaders."""

from raynas.config._search import SCHEDULERS, ControllerConfig, Mode, SchedulerConfig, SearchConfig, load_search_config

__all__ = ["SCHEDULERS", "ControllerConfig", "Mode", "SchedulerConfig", "SearchConfig", "load_search_config"]

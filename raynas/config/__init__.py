"""Configuration dataclasses (frozen, validated on construction) and their YAML loaders."""

from raynas.config._autostop import AutoStopConfig
from raynas.config._resources import Resources, check_cpus, check_gpus, check_max_concurrent, check_pair
from raynas.config._search import (
    NAME_PATTERN,
    SCHEDULER_REGISTRY,
    SCHEDULERS,
    ControllerConfig,
    Mode,
    SchedulerConfig,
    SearchConfig,
    load_search_config,
)
from raynas.config._tracking import TrackingConfig

__all__ = ["AutoStopConfig", "ControllerConfig", "Mode", "NAME_PATTERN", "Resources", "SCHEDULER_REGISTRY", "SCHEDULERS",
           "SchedulerConfig", "SearchConfig", "TrackingConfig", "check_cpus", "check_gpus", "check_max_concurrent",
           "check_pair", "load_search_config"]

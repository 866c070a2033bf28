"""Configuration dataclasses (frozen, validated on construction) and their YAML loaders."""

from raynas.config._autostop import AutoStopConfig
from raynas.config._objectives import (
    DEFAULT_MO_CONTROLLER,
    REFERENCE_TRIALS,
    FrontSummary,
    Mode,
    Objective,
    completed_in_order,
    front_summary,
    in_metric_units,
    objective_vector,
    parse_objectives,
    records_front,
    reference_point,
)
from raynas.config._resources import Resources, check_cpus, check_gpus, check_max_concurrent, check_pair
from raynas.config._search import (
    BUILTIN_TRAINER_METRICS,
    MAX_NAME_LENGTH,
    NAME_PATTERN,
    SCHEDULER_REGISTRY,
    SCHEDULERS,
    ControllerConfig,
    SchedulerConfig,
    SearchConfig,
    check_name,
    load_search_config,
)
from raynas.config._tracking import TrackingConfig
from raynas.config._yaml import EXAMPLES, empty_file_error, parse_yaml_text, read_yaml_file

__all__ = ["AutoStopConfig", "BUILTIN_TRAINER_METRICS", "ControllerConfig", "DEFAULT_MO_CONTROLLER", "EXAMPLES",
           "FrontSummary", "MAX_NAME_LENGTH", "Mode", "NAME_PATTERN", "Objective", "REFERENCE_TRIALS",
           "Resources", "SCHEDULER_REGISTRY", "SCHEDULERS", "completed_in_order", "front_summary", "in_metric_units",
           "objective_vector", "parse_objectives", "records_front", "reference_point",
           "SchedulerConfig", "SearchConfig", "TrackingConfig", "check_cpus", "check_gpus", "check_max_concurrent",
           "check_name", "check_pair", "empty_file_error", "load_search_config", "parse_yaml_text", "read_yaml_file"]

"""Configuration dataclasses (frozen, validated on construction) and their YAML loaders."""

from raynas.config._search import ControllerConfig, Mode, SearchConfig, load_search_config

__all__ = ["ControllerConfig", "Mode", "SearchConfig", "load_search_config"]

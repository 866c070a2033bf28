"""The search algorithm Ray Tune drives: its ``SearchGenerator`` around the raynas searcher.

A resume never restores Ray Tune's state: it starts a fresh Ray Tune run whose searcher was rebuilt from the trial
store (:mod:`raynas.tune._resume`). A trial that runs again after a resume (lost with a killed driver, or stopped by
a Ctrl-C) keeps its trial id, so that its new record replaces the old one in the trial store and MLflow continues
its run: the generator asks the raynas searcher which trial id the next trial gets.
"""

from __future__ import annotations

import copy
from typing import Any

from ray.tune.search import ConcurrencyLimiter, Searcher, SearchGenerator


class RaynasSearchGenerator(SearchGenerator):
    """Ray Tune's ``SearchGenerator`` over ``ConcurrencyLimiter(searcher, max_concurrent)`` whose trials take the
    trial id the raynas searcher asks for (:meth:`raynas.tune.ControllerSearcher.next_trial_id`)."""

    def __init__(self, searcher: Any, *, max_concurrent: int) -> None:
        super().__init__(ConcurrencyLimiter(searcher, max_concurrent=max_concurrent))
        self.raynas_searcher = searcher

    def create_trial_if_possible(self, experiment_spec: dict) -> Any:
        """Ray Tune's own (ray 2.60), with the trial id chosen by the raynas searcher when it runs a trial again."""
        from ray.tune.experiment import Trial
        from ray.tune.experiment.config_parser import _create_trial_from_spec
        from ray.tune.search.variant_generator import _resolve_nested_dict, format_vars
        from ray.tune.utils.util import flatten_dict, merge_dicts

        trial_id = self.raynas_searcher.next_trial_id() or Trial.generate_id()
        suggested_config = self.searcher.suggest(trial_id)
        if suggested_config == Searcher.FINISHED:
            self._finished = True
            return None
        if suggested_config is None:
            return None
        spec = copy.deepcopy(experiment_spec)
        spec["config"] = merge_dicts(spec["config"], copy.deepcopy(suggested_config))
        flattened_config = _resolve_nested_dict(spec["config"])
        self._counter += 1
        tag = "{0}_{1}".format(str(self._counter), format_vars(flattened_config))
        return _create_trial_from_spec(spec, self._parser, evaluated_params=flatten_dict(suggested_config),
                                       experiment_tag=tag, trial_id=trial_id)

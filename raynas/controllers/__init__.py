"""Controllers decide what to try next (pure Python: no Ray, no torch).

Every controller follows the same contract (:class:`Controller`): ``propose()`` a genotype,
``observe(genotype, reward, status)`` its outcome, ``state_dict()`` / ``load_state_dict()`` to resume, and
``replay(history)`` (a sequence of :class:`PastTrial`) to catch up with what happened after the last save.
"""

from raynas.controllers._base import Controller, Observation, PastTrial, TrialStatus
from raynas.controllers._evolution import RegularizedEvolution
from raynas.controllers._grid import GridController
from raynas.controllers._mo_surrogate import MultiObjectiveSurrogate
from raynas.controllers._multi import MultiObjectiveController
from raynas.controllers._nsga2 import NSGA2
from raynas.controllers._policy_gradient import PolicyGradient, default_exploration_trials
from raynas.controllers._random import RandomController
from raynas.controllers._registry import (
    CONTROLLER_REGISTRY,
    CONTROLLERS,
    DEFAULT_CONTROLLER,
    controller_class,
    controller_names,
    controller_options,
    make_controller,
)
from raynas.controllers._surrogate import SurrogateSearch

__all__ = ["CONTROLLERS", "CONTROLLER_REGISTRY", "Controller", "DEFAULT_CONTROLLER", "GridController",
           "MultiObjectiveController", "MultiObjectiveSurrogate", "NSGA2", "Observation", "PastTrial", "PolicyGradient",
           "RandomController", "RegularizedEvolution", "SurrogateSearch", "TrialStatus",
           "controller_class", "controller_names", "controller_options", "default_exploration_trials",
           "make_controller"]

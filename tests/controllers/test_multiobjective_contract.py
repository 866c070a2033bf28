"""The multi-objective controller contract: tuple rewards, Pareto fronts, and the refusal of single-objective ones."""

from __future__ import annotations

import pytest

from raynas.controllers import CONTROLLERS, make_controller
from raynas.errors import ConfigError
from raynas.space import SearchSpace, int_range, one_of

SINGLE = sorted(name for name, cls in CONTROLLERS.items() if not cls.multi_objective)


def small_space() -> SearchSpace:
    return SearchSpace({"a": one_of(*range(4)), "b": one_of("x", "y", "z"), "c": int_range(1, 5)}, name="small")


@pytest.mark.parametrize("name", SINGLE)
def test_single_objective_controllers_refuse_several_objectives_naming_the_multi_objective_ones(name):
    with pytest.raises(ConfigError, match=r"nsga2.*|mo-surrogate") as info:
        make_controller(name, small_space(), num_objectives=2)
    assert "nsga2" in str(info.value) and "mo-surrogate" in str(info.value) and name in str(info.value)
    assert make_controller(name, small_space(), num_objectives=1).num_objectives == 1


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "2"])
def test_a_malformed_number_of_objectives_is_a_clear_error(value):
    with pytest.raises(ConfigError, match="num_objectives"):
        make_controller("random", small_space(), num_objectives=value)

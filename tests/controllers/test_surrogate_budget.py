"""The default controller's exploration follows the budget (max_trials), never a table of budgets."""

from __future__ import annotations

import pytest

from raynas.controllers import make_controller
from raynas.errors import ConfigError
from raynas.space import SearchSpace, one_of

SPACE = SearchSpace({f"d{i}": one_of(list(range(5))) for i in range(6)})  # 30 one-hot features


@pytest.mark.parametrize(("max_trials", "expected"), [(None, 3.0), (60, 3.0), (120, 3.0), (240, 6.0), (480, 12.0)])
def test_exploration_is_derived_from_max_trials(max_trials, expected):
    """Up to 4 trials per one-hot feature (120 here) the base weight 3.0; beyond, in proportion to the budget."""
    ctrl = make_controller("surrogate", SPACE, seed=0, max_trials=max_trials)
    assert ctrl.exploration == pytest.approx(expected)


def test_an_explicit_exploration_wins_and_is_still_checked():
    assert make_controller("surrogate", SPACE, seed=0, max_trials=480, options={"exploration": 1.5}).exploration == 1.5
    assert make_controller("surrogate", SPACE, seed=0, max_trials=480, options={"exploration": 0}).exploration == 0.0
    with pytest.raises(ConfigError, match="exploration"):
        make_controller("surrogate", SPACE, seed=0, options={"exploration": -1.0})

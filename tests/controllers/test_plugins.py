"""Controllers, schedulers and target kinds added without editing raynas: ``module:Name`` or an entry point."""

from __future__ import annotations

import pytest

from raynas.config import SearchConfig
from raynas.controllers import make_controller
from raynas.errors import ConfigError, UnknownNameError
from raynas.space import SearchSpace, one_of

USER_CONTROLLER = '''
import random
from raynas.controllers import RandomController


class AlwaysFirst(RandomController):
    """Proposes the first option of every decision (a user's controller)."""

    name = "always_first"

    def __init__(self, space, *, seed=0, max_trials=None, bias=1.0):
        super().__init__(space, seed=seed, max_trials=max_trials)
        self.bias = bias

    def propose(self):
        return tuple(0 for _ in self.space.decisions)


class NotAController:
    pass
'''


@pytest.fixture()
def user_module(tmp_path, monkeypatch):
    (tmp_path / "my_controllers.py").write_text(USER_CONTROLLER)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_a_users_controller_class_is_found_by_module_and_name(user_module):
    space = SearchSpace({"a": one_of(1, 2, 3), "b": one_of("x", "y")}, name="s")
    controller = make_controller("my_controllers:AlwaysFirst", space, seed=0, options={"bias": 0.5})
    assert controller.propose() == (0, 0) and controller.bias == 0.5
    config = SearchConfig.from_dict({"controller": {"name": "my_controllers:AlwaysFirst", "bias": 2.0}})
    assert config.controller.options == {"bias": 2.0}
    with pytest.raises(ConfigError, match="controller.nope"):
        SearchConfig.from_dict({"controller": {"name": "my_controllers:AlwaysFirst", "nope": 1}})


def test_a_class_that_is_not_a_controller_or_an_unknown_name_is_refused(user_module):
    with pytest.raises(ConfigError, match="a subclass of raynas.controllers.Controller"):
        SearchConfig.from_dict({"controller": {"name": "my_controllers:NotAController"}})
    with pytest.raises(UnknownNameError, match="did you mean 'surrogate'"):
        SearchConfig.from_dict({"controller": {"name": "surogate"}})


def test_ray_tune_schedulers_by_their_own_names_and_user_classes():
    from raynas.tune import build_scheduler

    config = SearchConfig.from_dict({"scheduler": {"name": "async_hyperband", "grace_period": 2}})
    scheduler = build_scheduler(config)
    assert type(scheduler).__name__ == "AsyncHyperBandScheduler"
    config = SearchConfig.from_dict({"scheduler": {"name": "ray.tune.schedulers:MedianStoppingRule"}})
    assert type(build_scheduler(config)).__name__ == "MedianStoppingRule"
    with pytest.raises(UnknownNameError, match="unknown scheduler 'ashaa'"):
        SearchConfig.from_dict({"scheduler": {"name": "ashaa"}})


def test_target_kinds_resolve_by_name_and_module():
    from raynas.targets import TARGET_KINDS, TableTarget, target_class

    assert target_class("table") is TableTarget
    assert target_class("raynas.targets._table:TableTarget") is TableTarget
    assert set(TARGET_KINDS) == {"builtin", "user", "table"}
    with pytest.raises(UnknownNameError, match="unknown target kind"):
        target_class("nope")


USER_TARGET = '''
from raynas.targets._builtin import BuiltinTrainerTarget


class Lookup:
    def evaluate(self, arch, *, seed, report=None):
        accuracy = 50.0 + arch["width"]
        return {"val_accuracy": accuracy, "reward": accuracy, "train_seconds": 0.0}


class LookupTarget(BuiltinTrainerTarget):
    """A user's own target kind: trials read a formula instead of training."""

    kind = "lookup"

    def evaluator(self, **kwargs):
        return Lookup()
'''


def test_a_task_names_a_target_kind_of_its_own(tmp_path, monkeypatch):
    from raynas.targets import Stage, task_target

    (tmp_path / "my_targets.py").write_text(USER_TARGET)
    (tmp_path / "fam.py").write_text("from raynas.space import SearchSpace, one_of\n"
                                     "SPACE = SearchSpace({'width': one_of(1, 2, 3)}, name='fam')\n"
                                     "def build(arch, **kwargs):\n    raise NotImplementedError\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    task = tmp_path / "task.yaml"
    task.write_text("name: t\ndataset: digits\nfamily: ./fam.py\ntarget: my_targets:LookupTarget\n"
                    "variants:\n  full: {epochs: 2}\n  proxy: {epochs: 1}\n")
    target = task_target(task)
    assert target.kind == "lookup" and target.space().size == 3
    evaluator = target.evaluator(variant="proxy", stage=Stage.SEARCH, experiment_dir=tmp_path / "exp")
    assert evaluator.evaluate({"width": 3}, seed=0)["reward"] == 53.0
    task.write_text(task.read_text().replace("my_targets:LookupTarget", "my_targets:Lookup"))
    with pytest.raises(ConfigError, match="a subclass of raynas.targets.Target"):
        task_target(task)

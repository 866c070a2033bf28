"""The one plug-in registry type (raynas.plugins.Registry) and the five registries built on it."""

from __future__ import annotations

import contextlib
import sys
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, Iterator

import pytest

import raynas.plugins
from raynas.errors import ConfigError, UnknownNameError
from raynas.plugins import Registry

GROUP = "raynas.test_things"

THINGS_PY = textwrap.dedent('''
    class Ring:
        """A plug-in defined in a user's module."""


    class Square:
        pass
''')


@pytest.fixture()
def things(tmp_path, monkeypatch) -> Path:
    """A user module ``raynas_test_things`` (not imported yet) on sys.path."""
    (tmp_path / "raynas_test_things.py").write_text(THINGS_PY)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "raynas_test_things", raising=False)
    yield tmp_path
    sys.modules.pop("raynas_test_things", None)


def write_dist(folder: Path, entry_points: str, name: str = "raynas_test_dist") -> None:
    """A tiny installed distribution (dist-info with entry_points.txt) in ``folder``."""
    info = folder / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


@contextlib.contextmanager
def registered(registry: Registry, name: str, obj: Any) -> Iterator[Any]:
    registry.register(name, obj)
    try:
        yield obj
    finally:
        registry.unregister(name)


# --- the Registry contract ----------------------------------------------------------------------------------
def test_built_ins_are_imported_on_get_and_not_before(things):
    registry = Registry("thing", group=GROUP, builtins={"ring": "raynas_test_things:Ring"})
    assert registry.names() == ["ring"] and "ring" in registry and "square" not in registry
    assert registry.builtins == {"ring": "raynas_test_things:Ring"}
    assert "raynas_test_things" not in sys.modules  # listing and membership import nothing
    ring = registry.get("ring")
    assert ring.__name__ == "Ring" and ring.__module__ == "raynas_test_things"
    assert "raynas_test_things" in sys.modules


def test_a_built_in_that_cannot_be_imported_is_a_config_error_naming_it():
    registry = Registry("thing", group=GROUP, builtins={"gone": "raynas_no_such_module_x:Thing"})
    with pytest.raises(ConfigError, match="raynas_no_such_module_x:Thing") as info:
        registry.get("gone")
    assert info.value.field == "thing" and "ModuleNotFoundError" in str(info.value)


def test_the_register_decorator_adds_names_and_refuses_taken_ones():
    registry = Registry("thing", group=GROUP, builtins={"ring": object})

    @registry.register("mine")
    def make() -> str:
        return "made"

    assert registry.get("mine") is make and make() == "made"  # the decorator returns the object
    assert registry.names() == ["mine", "ring"] and dict(registry.registered) == {"mine": make}

    @registry.register()
    class Named:
        name = "by_attribute"

    assert registry.get("by_attribute") is Named
    with pytest.raises(ConfigError, match="'ring' is a built-in"):
        registry.register("ring", object())
    with pytest.raises(ConfigError, match="pass replace=True"):
        registry.register("mine", object())
    other = registry.register("mine", len, replace=True)
    assert other is len and registry.get("mine") is len
    with pytest.raises(ConfigError, match="without ':'"):
        registry.register("pkg:thing", object())
    registry.unregister("mine")
    with pytest.raises(UnknownNameError, match="unknown thing 'mine'"):
        registry.get("mine")
    with pytest.raises(UnknownNameError):
        registry.unregister("mine")


def test_the_check_hook_runs_on_register_and_on_get(things):
    def check(name: str, obj: object) -> None:
        if not (isinstance(obj, type) and obj.__name__ == "Ring"):
            raise ConfigError("thing", name, "a Ring")

    registry = Registry("thing", group=GROUP, check=check, builtins={"square": "raynas_test_things:Square"})
    with pytest.raises(ConfigError, match="expected a Ring"):
        registry.register("bad", int)
    assert "bad" not in registry
    with pytest.raises(ConfigError, match="thing: got 'square'"):
        registry.get("square")
    assert registry.get("raynas_test_things:Ring").__name__ == "Ring"


def test_an_entry_point_of_an_installed_package_is_found(things, monkeypatch):
    write_dist(things, f"""
        [{GROUP}]
        ring = raynas_test_things:Ring
        broken = raynas_test_things:NoSuchName
        [some.other.group]
        square = raynas_test_things:Square
    """)
    registry = Registry("thing", group=GROUP)
    assert registry.names() == ["broken", "ring"] and "ring" in registry and "square" not in registry
    assert "raynas_test_things" not in sys.modules
    assert registry.get("ring").__name__ == "Ring"
    with pytest.raises(ConfigError, match="an importable 'raynas.test_things' entry point") as info:
        registry.get("broken")
    assert "AttributeError" in str(info.value)


def test_an_unknown_name_names_the_closest_one_and_the_fix(monkeypatch):
    registry = Registry("thing", group=GROUP, builtins={"ring": object, "square": object})
    with pytest.raises(UnknownNameError) as info:
        registry.get("rnig")
    text = str(info.value)
    assert text.startswith("unknown thing 'rnig' (did you mean 'ring'?); known: ring, square.")
    assert "module:Name" in text and f"{GROUP!r} entry point" in text
    assert info.value.known == ["ring", "square"]
    custom = Registry("thing", group=GROUP, builtins={"ring": object}, fix="Set `thing:` to one of them.")
    with pytest.raises(UnknownNameError, match=r"known: ring\. Set `thing:` to one of them\.$"):
        custom.get("x")
    with pytest.raises(UnknownNameError, match="unknown thing '7'"):
        registry.get(7)  # type: ignore[arg-type]


def test_module_attr_and_file_references_relative_to_a_base_dir(things, tmp_path):
    registry = Registry("thing", group=GROUP)
    assert registry.get("raynas_test_things:Square").__name__ == "Square"
    sub = tmp_path / "configs"
    sub.mkdir()
    (sub / "local_things.py").write_text("class Local:\n    pass\n")
    assert registry.get("./local_things.py:Local", base_dir=sub).__name__ == "Local"
    with pytest.raises(ConfigError, match="an existing Python file"):
        registry.get("./local_things.py:Local", base_dir=tmp_path)  # looked for beside the other config
    with pytest.raises(ConfigError, match="a name defined in raynas_test_things") as info:
        registry.get("raynas_test_things:Circle", field="shape.kind")
    assert info.value.field == "shape.kind"


def test_the_old_function_interface_still_works(monkeypatch):
    installed = [EntryPoint(name="ep", value="builtins:len", group=GROUP)]
    monkeypatch.setattr(raynas.plugins, "entry_points", lambda group: installed if group == GROUP else [])
    table = {"abs": "builtins:abs", "obj": 3}
    assert raynas.plugins.plugin_names(table, group=GROUP) == ["abs", "ep", "obj"]
    assert raynas.plugins.load_plugin("thing", "abs", table, group=GROUP) is abs
    assert raynas.plugins.load_plugin("thing", "obj", table, group=GROUP) == 3
    assert raynas.plugins.load_plugin("thing", "ep", table, group=GROUP) is len
    with pytest.raises(UnknownNameError, match="did you mean 'abs'"):
        raynas.plugins.load_plugin("thing", "ab", table, group=GROUP)


# --- the five registries ------------------------------------------------------------------------------------
def test_every_built_in_controller_resolves_and_plug_ins_come_from_all_sources(things):
    from raynas.controllers import (
        CONTROLLER_REGISTRY,
        CONTROLLERS,
        Controller,
        RandomController,
        controller_names,
        make_controller,
    )
    from raynas.space import SearchSpace, one_of

    assert CONTROLLER_REGISTRY.group == "raynas.controllers" and CONTROLLERS == CONTROLLER_REGISTRY.builtins
    for name in CONTROLLERS:
        assert issubclass(CONTROLLER_REGISTRY.get(name), Controller)

    class Mine(RandomController):
        name = "mine"

    space = SearchSpace({"a": one_of(1, 2)}, name="s")
    with registered(CONTROLLER_REGISTRY, "mine", Mine):
        assert "mine" in controller_names() and isinstance(make_controller("mine", space), Mine)
    assert "mine" not in controller_names()
    with pytest.raises(ConfigError, match="a subclass of raynas.controllers.Controller"):
        CONTROLLER_REGISTRY.register("not_one", int)
    write_dist(things, """
        [raynas.controllers]
        ring_ctl = raynas_test_things:Ring
    """)
    assert "ring_ctl" in controller_names()
    with pytest.raises(ConfigError, match="a subclass of raynas.controllers.Controller"):
        make_controller("ring_ctl", space)


def test_every_built_in_scheduler_resolves_and_configs_accept_registered_ones():
    pytest.importorskip("ray.tune")
    from ray.tune.schedulers import SCHEDULER_IMPORT, TrialScheduler

    from raynas.config import SCHEDULER_REGISTRY, SCHEDULERS, SearchConfig
    from raynas.tune import build_scheduler

    assert set(SCHEDULERS) | set(SCHEDULER_IMPORT) == set(SCHEDULER_REGISTRY.builtins)  # Ray's names, and ours
    for name in SCHEDULER_REGISTRY.builtins:
        assert issubclass(SCHEDULER_REGISTRY.get(name), TrialScheduler), name

    class Patient(TrialScheduler):
        def __init__(self, metric=None, patience=1):
            super().__init__()
            self.watched, self.patience = metric, patience

    with registered(SCHEDULER_REGISTRY, "patient", Patient):
        config = SearchConfig.from_dict({"metric": "acc", "scheduler": {"name": "patient", "patience": 3}})
        scheduler = build_scheduler(config)
        assert type(scheduler) is Patient and (scheduler.watched, scheduler.patience) == ("acc", 3)  # no mode taken
        config = SearchConfig.from_dict({"scheduler": {"name": "patient", "patinece": 3}})
        with pytest.raises(ConfigError, match=r"scheduler \(patient\)"):
            build_scheduler(config)
    with pytest.raises(UnknownNameError, match="unknown scheduler 'patient'"):
        SearchConfig.from_dict({"scheduler": {"name": "patient"}})


def test_every_built_in_dataset_kind_resolves_and_a_registered_loader_is_used():
    import numpy as np

    from raynas.data import DATASET_KINDS, DATASET_REGISTRY, ArrayDataset, dataset_kinds, load_dataset

    assert DATASET_REGISTRY.group == "raynas.datasets" and DATASET_KINDS == DATASET_REGISTRY.builtins
    for kind in DATASET_KINDS:
        assert callable(DATASET_REGISTRY.get(kind))

    def blobs(spec):
        x = np.zeros((6, 2), dtype=np.float32)
        y = np.arange(6) % 2
        return ArrayDataset("blobs", x, y, x, y, 2)

    with registered(DATASET_REGISTRY, "blobs", blobs):
        assert "blobs" in dataset_kinds() and load_dataset({"kind": "blobs"}).name == "blobs"
    with pytest.raises(ConfigError, match="expected a known dataset kind"):
        load_dataset({"kind": "blobs"})
    with pytest.raises(ConfigError, match="a loader function"):
        DATASET_REGISTRY.register("seven", 7)


def test_every_bundled_table_resolves_and_tables_are_plug_ins(tmp_path):
    from raynas.benchmarks import BUNDLED_TABLES, TABLE_REGISTRY, TableDeclaration, load_declaration

    assert TABLE_REGISTRY.group == "raynas.benchmarks" and set(TABLE_REGISTRY.builtins) == set(BUNDLED_TABLES)
    for name in BUNDLED_TABLES:
        declared = load_declaration(name)
        assert isinstance(declared, TableDeclaration) and declared.bundled and declared.name == name
    (tmp_path / "toy.yaml").write_text(textwrap.dedent("""
        name: toy
        table: toy.csv
        space: {depth: {$one_of: [2, 3]}}
        arch: {columns: [depth]}
        proxy: p
        full: f
        proxy_cost: pc
        full_cost: fc
    """))
    with registered(TABLE_REGISTRY, "toy-bench", tmp_path / "toy.yaml"):
        declared = load_declaration("toy-bench")
        assert declared.name == "toy" and declared.table == str(tmp_path.resolve() / "toy.csv")
    with registered(TABLE_REGISTRY, "toy-lazy", lambda: load_declaration(tmp_path / "toy.yaml")):
        assert load_declaration("toy-lazy").name == "toy"
    with registered(TABLE_REGISTRY, "nowhere", tmp_path / "missing.yaml"):
        with pytest.raises(ConfigError, match="an existing declaration or table file"):
            load_declaration("nowhere")
    with pytest.raises(UnknownNameError, match=r"unknown benchmark table 'nasbench210' \(did you mean 'nasbench201'"):
        load_declaration("nasbench210")
    with pytest.raises(ConfigError, match="a benchmark table plug-in"):
        TABLE_REGISTRY.register("number", 3)


def test_every_built_in_target_kind_resolves_and_a_registered_kind_is_found():
    from raynas.targets import TARGET_KINDS, TARGET_REGISTRY, TableTarget, Target, target_class

    assert TARGET_REGISTRY.group == "raynas.targets" and TARGET_KINDS == TARGET_REGISTRY.builtins
    for kind in TARGET_KINDS:
        assert issubclass(target_class(kind), Target)

    class Mine(TableTarget):
        kind = "mine"

    with registered(TARGET_REGISTRY, "mine", Mine):
        assert target_class("mine") is Mine
    with pytest.raises(UnknownNameError, match="unknown target kind 'mine'"):
        target_class("mine")
    with pytest.raises(ConfigError, match="a subclass of raynas.targets.Target"):
        TARGET_REGISTRY.register("str", str)

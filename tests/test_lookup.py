"""Where families (search_spaces/) and tasks (proxy_tasks/) are found: an explicit path (relative to the config file
naming it), ./search_spaces and ./proxy_tasks, the folders beside the config file, then the bundled package data."""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import pytest
import yaml

from raynas._lookup import bundled_dir
from raynas.config import load_search_config
from raynas.errors import ConfigError, UnknownNameError
from raynas.families import discover_families, find_family, load_family
from raynas.tasks import find_task, load_task
from raynas.workflow import load_workflow

BUNDLED_FAMILIES = {"mlp", "mnasnet", "nasbench201_cell", "small_cnn"}
FAMILY = ("from raynas.space import SearchSpace, one_of\n"
          "NAME_SEEN = {name!r}\n"
          "SPACE = SearchSpace({{'width': one_of(4, 8)}}, name={name!r})\n"
          "def build(arch, **kwargs):\n    raise NotImplementedError\n")


def _digits(**changes) -> str:
    data = yaml.safe_load((bundled_dir("proxy_tasks") / "digits.yaml").read_text())
    return yaml.safe_dump({**data, **changes})


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """An empty current directory (no search_spaces/ or proxy_tasks/ in it)."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def test_bundled_families_and_tasks_are_package_data():
    families, tasks = bundled_dir("search_spaces"), bundled_dir("proxy_tasks")
    assert families == Path(str(resources.files("raynas.search_spaces"))).resolve()
    assert tasks == Path(str(resources.files("raynas.proxy_tasks"))).resolve()
    assert {p.stem for p in families.glob("*.py")} >= BUNDLED_FAMILIES
    assert {"digits.yaml", "cifar10.yaml"} <= {p.name for p in tasks.glob("*.yaml")}


def test_from_an_empty_directory_names_find_the_bundled_families_and_tasks(elsewhere):
    assert set(discover_families()) >= BUNDLED_FAMILIES
    assert find_task("digits") == bundled_dir("proxy_tasks") / "digits.yaml"
    task = load_task("digits")
    assert Path(task.source) == bundled_dir("proxy_tasks") / "digits.yaml"
    assert task.family == "small_cnn"  # found from anywhere: the name is kept
    family = load_family(task.family)
    assert family.name == "small_cnn" and Path(family.source) == bundled_dir("search_spaces") / "small_cnn.py"
    from raynas.registry import space_names

    assert BUNDLED_FAMILIES <= set(space_names())


def test_the_current_directory_adds_to_the_bundled_ones_and_comes_first(elsewhere):
    _write(elsewhere / "search_spaces" / "tiny.py", FAMILY.format(name="tiny"))
    _write(elsewhere / "search_spaces" / "small_cnn.py", FAMILY.format(name="local_small_cnn"))
    _write(elsewhere / "proxy_tasks" / "mine.yaml", _digits(name="mine", family="tiny"))
    found = discover_families()
    assert set(found) >= BUNDLED_FAMILIES | {"tiny"}
    assert found["small_cnn"] == (elsewhere / "search_spaces" / "small_cnn.py").resolve()  # cwd before bundled
    assert load_task("mine").source == str((elsewhere / "proxy_tasks" / "mine.yaml").resolve())
    assert load_task("digits").source == str(bundled_dir("proxy_tasks") / "digits.yaml")  # still there
    assert load_family("tiny").space.name == "tiny"


def test_a_family_path_in_a_task_is_relative_to_the_task_file(tmp_path, elsewhere, monkeypatch):
    project = tmp_path / "project"
    _write(project / "tasks" / "models" / "net.py", FAMILY.format(name="net"))
    task_file = _write(project / "tasks" / "t.yaml", _digits(name="t", family="./models/net.py"))
    task = load_task(task_file)
    assert task.family == str((project / "tasks" / "models" / "net.py").resolve())  # pinned: found from anywhere
    monkeypatch.chdir(tmp_path)  # a Ray worker's current directory differs
    family = load_family(task.family)
    assert family.name == "net" and Path(family.source).is_absolute()
    # a missing file is reported where it was expected
    missing = load_task(_write(project / "tasks" / "bad.yaml", _digits(name="bad", family="./nope.py")))
    with pytest.raises(ConfigError, match=r"family.*nope\.py.*existing model family file"):
        load_family(missing.family)


def test_a_family_name_is_found_beside_the_task_file_after_the_current_directory(tmp_path, elsewhere):
    project = tmp_path / "project"
    _write(project / "search_spaces" / "mynet.py", FAMILY.format(name="mynet"))  # the usual project layout
    task = load_task(_write(project / "proxy_tasks" / "t.yaml", _digits(name="t", family="mynet")))
    assert task.family == str((project / "search_spaces" / "mynet.py").resolve())
    assert load_family(task.family).name == "mynet"
    _write(project / "other" / "search_spaces" / "solo.py", FAMILY.format(name="solo"))  # beside the task file
    other = load_task(_write(project / "other" / "t.yaml", _digits(name="t", family="solo")))
    assert other.family == str((project / "other" / "search_spaces" / "solo.py").resolve())
    assert find_family("mynet", relative_to=project / "proxy_tasks" / "t.yaml") == (
        project / "search_spaces" / "mynet.py").resolve()
    # ./search_spaces comes before the folder beside the task file; what was found is pinned to its file, so a later
    # stage started in another directory builds the same family
    _write(elsewhere / "search_spaces" / "mynet.py", FAMILY.format(name="mynet_cwd"))
    assert load_task(project / "proxy_tasks" / "t.yaml").family == str((elsewhere / "search_spaces" / "mynet.py").resolve())
    assert load_family("mynet").space.name == "mynet_cwd"


def test_an_unknown_family_or_task_lists_the_known_ones(elsewhere):
    with pytest.raises(UnknownNameError, match=r"model family 'small_cn' \(did you mean 'small_cnn'\?\).*known: mlp"):
        load_family("small_cn")
    with pytest.raises(ConfigError, match=r"task: got 'digit'.*known: cifar10, digits.*did you mean 'digits'"):
        load_task("digit")
    with pytest.raises(ConfigError, match=r"existing task YAML file"):
        load_task("nowhere/task.yaml")


def test_an_importable_module_is_still_a_family(tmp_path, elsewhere, monkeypatch):
    _write(tmp_path / "modpkg" / "__init__.py", "")
    _write(tmp_path / "modpkg" / "fam.py", FAMILY.format(name="fam"))
    monkeypatch.syspath_prepend(str(tmp_path))
    task = load_task(_write(tmp_path / "t.yaml", _digits(name="t", family="modpkg.fam")))
    assert task.family == "modpkg.fam"
    assert load_family(task.family).source == "modpkg.fam"
    sys.modules.pop("modpkg.fam", None)
    sys.modules.pop("modpkg", None)


def test_a_workflow_names_its_task_relative_to_its_own_folder(tmp_path, elsewhere):
    flows = tmp_path / "flows"
    _write(flows / "tasks" / "t.yaml", _digits(name="t"))
    _write(flows / "proxy_tasks" / "beside.yaml", _digits(name="beside"))
    by_path = load_workflow(_write(flows / "a.yaml", "name: a\ntask: ./tasks/t.yaml\n"))
    assert by_path.task == str((flows / "tasks" / "t.yaml").resolve())
    by_name = load_workflow(_write(flows / "b.yaml", "name: b\ntask: beside\n"))
    assert by_name.task == str((flows / "proxy_tasks" / "beside.yaml").resolve())
    bundled = load_workflow(_write(flows / "c.yaml", "name: c\ntask: digits\n"))
    assert bundled.task == str(bundled_dir("proxy_tasks") / "digits.yaml")
    # ./proxy_tasks comes before the folder beside the workflow
    _write(elsewhere / "proxy_tasks" / "beside.yaml", _digits(name="beside"))
    assert load_workflow(flows / "b.yaml").task == str((elsewhere / "proxy_tasks" / "beside.yaml").resolve())
    with pytest.raises(ConfigError, match=r"d\.yaml: task: got 'missing'.*known: beside, cifar10, digits"):
        load_workflow(_write(flows / "d.yaml", "name: d\ntask: missing\n"))
    _write(elsewhere / "here.yaml", _digits(name="here"))
    with pytest.raises(ConfigError, match=r"e\.yaml: task: got 'here\.yaml'.*not the current directory.*exists"):
        load_workflow(_write(flows / "e.yaml", "name: e\ntask: here.yaml\n"))


def test_a_search_config_names_its_task_relative_to_its_own_folder(tmp_path, elsewhere):
    project = tmp_path / "project"
    _write(project / "search_spaces" / "mynet.py", FAMILY.format(name="mynet"))
    task_file = _write(project / "proxy_tasks" / "t.yaml", _digits(name="t", family="mynet"))
    config = load_search_config(_write(project / "configs" / "s.yaml",
                                       "name: s\ntask: ../proxy_tasks/t.yaml\ngpus_per_trial: 0\n"))
    assert config.task == str(task_file.resolve())
    assert config.build_space().name == "mynet"
    by_name = load_search_config(_write(project / "s.yaml", "name: s\ntask: t\ngpus_per_trial: 0\n"))
    assert by_name.task == str(task_file.resolve())
    with pytest.raises(ConfigError, match=r"bad\.yaml: task: got '\./t\.yaml'"):
        load_search_config(_write(project / "configs" / "bad.yaml", "name: s\ntask: ./t.yaml\n"))

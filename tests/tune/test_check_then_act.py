"""Check, then act: every refusal of a search (resources, config, an existing experiment, the lock) comes before
anything on disk changes; --overwrite moves the old experiment aside and deletes it only once the new search has
started; two writers of one experiment never run at once (real processes)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from raynas._lock import LockedError, read_holder
from raynas.config import SearchConfig
from raynas.errors import ConfigError
from raynas.experiment import LOCK_FILE, ExperimentPaths
from raynas.tracking import TrialStore
from raynas.tune import run_search

pytestmark = pytest.mark.ray


def _settings(tmp_path: Path, **overrides) -> dict:
    base = {"name": "exp", "workdir": str(tmp_path / "work"), "max_trials": 4, "max_concurrent": 2,
            "gpus_per_trial": 0, "cpus_per_trial": 0.5, "seed": 3, "controller": {"name": "random"},
            "mlflow": {"enabled": False}}
    base.update(overrides)
    return base


def _config(tmp_path: Path, **overrides) -> SearchConfig:
    return SearchConfig.from_dict(_settings(tmp_path, **overrides))


def _files(root: Path) -> dict[str, str]:
    """Every file under ``root`` with the hash of its bytes."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _siblings(root: Path) -> list[str]:
    return sorted(p.name for p in root.parent.iterdir())


@pytest.fixture(scope="module")
def finished(ray_cluster, tmp_path_factory) -> Path:
    """A finished 4-trial search, run once for this module."""
    saved = os.environ.pop("RAY_ADDRESS", None)
    try:
        config = _config(tmp_path_factory.mktemp("finished"))
        assert run_search(config).status == "completed"
    finally:
        if saved is not None:
            os.environ["RAY_ADDRESS"] = saved
    return config.experiment_dir


@pytest.fixture
def done(finished, tmp_path, monkeypatch) -> SearchConfig:
    """A copy of the finished search, as this test's experiment ``exp`` (its files are what the refusals below
    must leave as they are)."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    config = _config(tmp_path)
    shutil.copytree(finished, config.experiment_dir)
    return config


def test_overwrite_refused_for_resources_leaves_the_old_experiment_byte_identical(done, tmp_path):
    root = done.experiment_dir
    before = _files(root)
    with pytest.raises(ConfigError, match="gpus_per_trial"):
        run_search(_config(tmp_path, gpus_per_trial=1), overwrite=True)
    assert _files(root) == before and _siblings(root) == ["exp"]  # nothing set aside, no lock left


def test_overwrite_refused_while_another_writer_holds_the_lock(done, tmp_path):
    root = done.experiment_dir
    holder = subprocess.Popen([sys.executable, "-c", "import sys\nfrom raynas.experiment import experiment_lock\n"
                               "with experiment_lock(sys.argv[1], command='raynas resume exp'):\n"
                               "    print('held', flush=True)\n    sys.stdin.read()\n", str(root)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = _files(root)
        with pytest.raises(LockedError, match=f"pid {holder.pid} .*raynas resume exp"):
            run_search(_config(tmp_path, max_trials=2), overwrite=True)
        with pytest.raises(LockedError):
            run_search(done, resume=True)
        assert _files(root) == before and _siblings(root) == ["exp"]
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def test_a_refused_new_search_leaves_no_folder_and_the_corrected_one_then_starts(ray_cluster, tmp_path, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    config = _config(tmp_path, gpus_per_trial=1)
    with pytest.raises(ConfigError, match="gpus_per_trial"):
        run_search(config)
    assert not config.experiment_dir.exists() and not (tmp_path / "work").exists()
    with pytest.raises(ConfigError, match="scheduler"):  # a bad scheduler option is refused before disk, too
        run_search(_config(tmp_path, scheduler={"name": "asha", "options": {"no_such_option": 1}}))
    assert not (tmp_path / "work").exists()
    assert run_search(_config(tmp_path, max_trials=2)).status == "completed"


def test_overwrite_deletes_the_old_experiment_only_once_the_new_search_started(done, tmp_path, monkeypatch):
    root = done.experiment_dir
    old_uid = ExperimentPaths(root).uid_file.read_text()
    seen = {}

    from raynas.tune import _runner

    real = _runner.build_evaluator

    def spy(config, experiment_dir=None):  # the new search is being set up: the old one is aside, not deleted
        seen["aside"] = [p.name for p in root.parent.iterdir() if p.name.startswith(".exp.replaced-")]
        seen["lock"] = read_holder(root / LOCK_FILE)
        return real(config, experiment_dir)

    monkeypatch.setattr(_runner, "build_evaluator", spy)
    result = run_search(_config(tmp_path, max_trials=2, seed=9), overwrite=True)
    assert result.status == "completed" and result.trials == 2
    assert len(seen["aside"]) == 1 and seen["lock"] is not None and seen["lock"].pid == os.getpid()
    assert _siblings(root) == ["exp"] and ExperimentPaths(root).uid_file.read_text() != old_uid
    assert sorted(r.number for r in TrialStore(ExperimentPaths(root).trials).records()) == [1, 2]


def test_overwrite_puts_the_old_experiment_back_when_the_new_search_fails_before_it_starts(done, tmp_path,
                                                                                         monkeypatch):
    root = done.experiment_dir
    before = _files(root)

    def broken(config, experiment_dir=None):
        (Path(experiment_dir) / "half-written").write_text("x")
        raise RuntimeError("the data split failed")

    monkeypatch.setattr("raynas.tune._runner.build_evaluator", broken)
    with pytest.raises(RuntimeError, match="data split"):
        run_search(_config(tmp_path, seed=9), overwrite=True)
    assert _files(root) == before and _siblings(root) == ["exp"]


def _cli(*args: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "RAY_AIR_NEW_OUTPUT": "0"}
    env.pop("RAY_ADDRESS", None)
    return subprocess.Popen([sys.executable, "-m", "raynas", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_two_resumes_at_once_one_runs_the_other_and_an_overwrite_are_refused(done, tmp_path):
    """Real processes: `raynas resume` twice at once on one interrupted search, and `raynas search --overwrite`
    of its name while it runs. One writer runs; the others exit 2 naming it; every number is stored once."""
    paths = ExperimentPaths(done.experiment_dir)
    saved = json.loads(paths.config.read_text())
    paths.config.write_text(json.dumps({**saved, "max_trials": 8}))  # now 4 of 8: an interrupted search
    resumes = [_cli("resume", str(paths.root), "--no-mlflow", cwd=tmp_path) for _ in range(2)]
    deadline = time.monotonic() + 120
    while not paths.lock.is_file() and time.monotonic() < deadline and all(p.poll() is None for p in resumes):
        time.sleep(0.05)
    holder = read_holder(paths.lock)
    assert holder is not None and holder.pid in {p.pid for p in resumes}
    yaml_path = tmp_path / "search.yaml"
    yaml_path.write_text(yaml.safe_dump(_settings(tmp_path, max_trials=8)))
    overwrite = _cli("search", "--config", str(yaml_path), "--overwrite", "--no-mlflow", cwd=tmp_path)
    ended = [(p.pid, p.wait(timeout=240), *p.communicate()) for p in [*resumes, overwrite]]
    codes = {pid: code for pid, code, _, _ in ended}
    assert codes[holder.pid] == 0, ended
    refused = [(pid, err) for pid, code, _, err in ended if pid != holder.pid]
    for pid, err in refused:
        errors = [line for line in err.splitlines() if line.startswith("raynas: error:")]
        assert codes[pid] == 2 and len(errors) == 1 and "Traceback" not in err, ended
        assert f"locked by another writer, pid {holder.pid} on host {holder.host}" in errors[0]
        assert "raynas resume" in errors[0] and "wait until it ends" in errors[0]
    numbers = sorted(r.number for r in TrialStore(paths.trials).records())
    assert numbers == list(range(1, 9))
    assert json.loads(paths.status.read_text())["status"] == "completed"
    assert not paths.lock.exists() and _siblings(paths.root) == ["exp"]


def test_a_workflow_holds_its_locks_for_the_whole_run_and_its_steps_take_them_again(ray_cluster, tmp_path,
                                                                                      monkeypatch):
    """`raynas run`: one lock on the experiment and one on the proxy workspace for the whole run; the search and
    stage 2 steps (same process) enter them again without deadlock; another process is refused meanwhile."""
    from raynas.workflow import _run as workflow_run
    from raynas.workflow import load_workflow, run_workflow

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    work = tmp_path / "work"
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump({"name": "flow", "workdir": str(work), "steps": ["search", "stage2"],
                                    "max_concurrent": 2, "cpus_per_trial": 0.5, "mlflow": False, "top_k": 2,
                                    "search": {"max_trials": 3, "controller": "random"}}))
    seen = {}
    stage2 = workflow_run._Workflow.stage2

    def watched(self):
        seen["locks"] = [read_holder(work / "flow" / LOCK_FILE), read_holder(work / "flow-proxy" / LOCK_FILE)]
        seen["other"] = subprocess.run(
            [sys.executable, "-c", "import sys\nfrom raynas.experiment import experiment_lock\n"
             "with experiment_lock(sys.argv[1]):\n    pass\n", str(work / "flow")], capture_output=True, text=True)
        return stage2(self)

    monkeypatch.setattr(workflow_run._Workflow, "stage2", watched)
    result = run_workflow(load_workflow(str(path)))
    assert "completed" in result.steps["search"] and "stage2" in result.steps
    assert all(h is not None and h.pid == os.getpid() for h in seen["locks"]), seen
    assert seen["other"].returncode != 0 and f"pid {os.getpid()}" in seen["other"].stderr
    assert "locked by another writer" in seen["other"].stderr
    assert not (work / "flow" / LOCK_FILE).exists() and not (work / "flow-proxy").exists()

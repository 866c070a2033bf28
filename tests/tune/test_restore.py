"""Searcher and failure-budget state survive a save/restore; a killed search resumes to completion."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from raynas.config import SearchConfig
from raynas.tracking import TrialStore
from tests.mlflow_helpers import assert_one_mlflow_run_per_trial


def _searcher(seed: int = 0):
    from raynas.tune import ControllerSearcher

    config = SearchConfig.from_dict({"max_trials": 50, "seed": seed})
    space = config.build_space()
    return ControllerSearcher(config.build_controller(space), max_trials=50, metric="reward", mode="max", seed=seed)


def test_the_searcher_saves_nothing_for_ray_tune_and_never_unpickles(tmp_path):
    """Resume rebuilds the searcher from the trial store (issue 16): Ray Tune's searcher checkpoint is not written,
    and a file planted where Tune would look for one is never read (anyone who can write the folder could make an
    unpickling resume run code)."""
    searcher = _searcher()
    for i in range(5):
        searcher.suggest(f"t{i}")
    searcher.save_to_dir(str(tmp_path), session_str="s")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "searcher-state-s.pkl").write_bytes(b"\x80\x04cos\nsystem\n(S'touch planted'\ntR.")
    state = searcher.get_state()
    searcher.restore_from_dir(str(tmp_path))
    assert searcher.get_state() == state and not (Path.cwd() / "planted").exists()


def test_failure_budget_state_round_trip():
    from raynas.tune import FailureBudget, FailureBudgetStopper

    budget = FailureBudget(3, "reward")
    stopper = FailureBudgetStopper(budget)

    class Trial:
        def __init__(self, tid):
            self.trial_id, self.last_result = tid, {"raynas_status": "failed", "raynas_reason": "x"}

    budget.on_trial_complete(0, [], Trial("a"))
    budget.on_trial_error(0, [], Trial("b"))
    budget.on_trial_complete(0, [], Trial("a"))  # counted once
    assert budget.failed == 2 and not stopper.stop_all()
    again = FailureBudget(3, "reward")
    again.set_state(budget.get_state())
    again_stopper = FailureBudgetStopper(again)
    again.on_trial_complete(0, [], Trial("c"))
    assert again.failed == 3 and again_stopper.stop_all()


@pytest.mark.ray
def test_search_killed_with_sigkill_resumes_and_keeps_its_failure_count(tmp_path):
    """A driver killed mid-search is resumed by `raynas resume`: controller, store and budget continue.

    With 30% injected failures and max_failed 15, the resumed search must cancel at exactly 15 failures in
    all: a failure count that restarted from zero after the resume would let more through.
    """
    raynas = str(Path(sys.executable).with_name("raynas"))
    config_path = tmp_path / "search.yaml"
    config_path.write_text(yaml.safe_dump({
        "name": "killed", "workdir": str(tmp_path / "work"), "max_trials": 100, "max_concurrent": 2,
        "max_failed": 15, "gpus_per_trial": 0, "cpus_per_trial": 0.5, "controller": "evolution",
        # auto stop off: its ">20% without a valid reward" rule could end this search (30% failures) before the budget
        "auto_stop": False,
        "benchmark": {"sleep_fraction": 1.0, "max_sleep_s": 0.3, "failure_rate": 0.3},
    }))
    env = {**os.environ, "TUNE_GLOBAL_CHECKPOINT_S": "1"}
    proc = subprocess.Popen([raynas, "search", "--config", str(config_path)], env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    store = TrialStore(tmp_path / "work" / "killed" / "trials")
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if store.directory.is_dir() and len(store) >= 12:
            break
        time.sleep(0.5)
    assert proc.poll() is None, proc.stdout.read()
    os.killpg(proc.pid, signal.SIGKILL)
    before = store.records()
    proc.wait()
    _wait_for_process_group_to_exit(proc.pid)  # the killed driver's Ray processes share its process group
    failed_before = sum(r.status == "failed" for r in before)
    assert len(before) >= 12 and failed_before < 12

    resumed = subprocess.run([raynas, "resume", "killed", "--workdir", str(tmp_path / "work"), "--format", "json"],
                             env=env, capture_output=True, text=True, timeout=400)
    assert resumed.returncode == 3, resumed.stderr[-3000:]  # 3: cancelled by the failure budget
    status = json.loads(resumed.stdout[resumed.stdout.index("{"):])
    assert status["status"] == "cancelled" and status["counts"]["failed"] == 15
    records = store.records()
    assert sum(r.status == "failed" for r in records) == 15
    numbers = [r.number for r in records]
    assert len(set(numbers)) == len(numbers)  # no trial number launched twice
    assert {r.trial_id for r in before} <= {r.trial_id for r in records}  # nothing stored before the kill is lost
    assert len({r.trial_id for r in records}) == len(records)
    assert all(r.status in ("completed", "failed", "stopped") for r in records)
    assert_one_mlflow_run_per_trial(tmp_path / "work" / "killed", records)


def _wait_for_process_group_to_exit(pgid: int, timeout_s: float = 60.0) -> None:
    """Not `ray stop --force`: that would also kill the Ray instance other tests in this session use."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.killpg(pgid, signal.SIGKILL)


def test_stopper_restored_separately_from_its_callback_still_sees_the_count(tmp_path):
    """Ray Tune unpickles the stopper from its own checkpoint: the two copies are linked by the ledger file."""
    import pickle

    from raynas.tune import FailureBudget, FailureBudgetStopper

    class Trial:
        def __init__(self, tid):
            self.trial_id, self.last_result = tid, {"raynas_status": "invalid", "raynas_reason": "nan"}

    budget = FailureBudget(2, "reward", str(tmp_path / "failure_budget.json"))
    stopper = FailureBudgetStopper(budget)
    stopper_copy = pickle.loads(pickle.dumps(stopper))  # what Ray Tune restores from its runner state
    budget_copy = pickle.loads(pickle.dumps(budget))  # what Ray Tune restores for the callback list
    budget_copy.set_state(budget.get_state())
    assert not stopper_copy.stop_all()
    budget_copy.on_trial_complete(0, [], Trial("x"))
    assert not stopper_copy.stop_all()
    budget_copy.on_trial_complete(0, [], Trial("y"))
    assert stopper_copy.stop_all()


def test_rebuilt_searcher_knows_every_stored_trial(tmp_path):
    """No saved state: the trial store alone tells a rebuilt searcher what ran (controller replayed, numbers on)."""
    from raynas.config import Mode
    from raynas.tracking import TrialRecord
    from raynas.tune import ControllerSearcher
    from raynas.tune._resume import plan_resume

    store = TrialStore(tmp_path / "trials")
    config = SearchConfig.from_dict({"max_trials": 50, "controller": "evolution"})

    def searcher():
        return ControllerSearcher(config.build_controller(config.build_space()), max_trials=50, metric="reward",
                                  mode="max", seed=0, store_dir=str(store.directory))

    original = searcher()
    launched = [original.suggest(f"t{i}") for i in range(8)]
    for i, cfg in enumerate(launched):
        store.append(TrialRecord(trial_id=f"t{i}", number=cfg["number"], arch=cfg["arch"],
                                 genotype=tuple(cfg["genotype"]), reward=70.0 + i, status="completed"))
    rebuilt = searcher()
    rebuilt.resume(plan_resume(store.records(), {}, [], max_trials=50, direction=Mode.MAX, seed=0))
    assert rebuilt.num_suggested == 8
    assert rebuilt.controller.num_observed == 8 and rebuilt.controller.best[0] == 77.0
    nxt = rebuilt.suggest("t8")
    assert nxt["number"] == 9 and tuple(nxt["genotype"]) not in {tuple(c["genotype"]) for c in launched}


@pytest.mark.ray
def test_ctrl_c_interrupts_cleanly_and_resume_completes_every_trial_once(tmp_path):
    raynas = str(Path(sys.executable).with_name("raynas"))
    config_path = tmp_path / "search.yaml"
    config_path.write_text(yaml.safe_dump({
        "name": "ctrlc", "workdir": str(tmp_path / "work"), "max_trials": 40, "max_concurrent": 2,
        "gpus_per_trial": 0, "cpus_per_trial": 0.5,
        "benchmark": {"sleep_fraction": 1.0, "max_sleep_s": 0.4},
    }))
    proc = subprocess.Popen([raynas, "search", "--config", str(config_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    store = TrialStore(tmp_path / "work" / "ctrlc" / "trials")
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and not (store.directory.is_dir() and len(store) >= 8):
        time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output[-2000:]
    assert "interrupted" in output and "raynas resume ctrlc" in output and "Traceback" not in output
    resumed = subprocess.run([raynas, "resume", "ctrlc", "--workdir", str(tmp_path / "work")],
                             capture_output=True, text=True, timeout=400)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "completed: all max_trials=40 trials ran" in resumed.stdout
    numbers = sorted(r.number for r in store.records())
    assert numbers == list(range(1, 41))
    # trials stopped by the Ctrl-C ran again after the resume: their new outcome replaced the "stopped" record
    assert {r.status for r in store.records()} == {"completed"}
    assert_one_mlflow_run_per_trial(tmp_path / "work" / "ctrlc", store.records())


def test_search_killed_with_sigkill_ends_with_every_trial_once_and_its_controller_continued(tmp_path):
    """Acceptance (issue 6): kill -9 in the middle, resume: as many trials as an uninterrupted search, none twice
    (store and MLflow), and the controller continues its state instead of starting again at random."""
    raynas = str(Path(sys.executable).with_name("raynas"))
    config_path = tmp_path / "search.yaml"
    config_path.write_text(yaml.safe_dump({
        "name": "kill9", "workdir": str(tmp_path / "work"), "max_trials": 30, "max_concurrent": 2,
        "gpus_per_trial": 0, "cpus_per_trial": 0.5, "seed": 3,
        "controller": {"name": "evolution", "population_size": 8, "sample_size": 3},
        "benchmark": {"sleep_fraction": 1.0, "max_sleep_s": 0.3},
    }))
    env = {**os.environ, "TUNE_GLOBAL_CHECKPOINT_S": "1"}
    proc = subprocess.Popen([raynas, "search", "--config", str(config_path)], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = TrialStore(tmp_path / "work" / "kill9" / "trials")
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and not (store.directory.is_dir() and len(store) >= 12):
        time.sleep(0.3)
    assert proc.poll() is None
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    _wait_for_process_group_to_exit(proc.pid)
    before = store.records()
    resumed = subprocess.run([raynas, "resume", "kill9", "--workdir", str(tmp_path / "work")], env=env,
                             capture_output=True, text=True, timeout=400)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    records = store.records()
    assert sorted(r.number for r in records) == list(range(1, 31))  # as many as an uninterrupted search
    assert len({r.trial_id for r in records}) == 30 and {r.trial_id for r in before} <= {r.trial_id for r in records}
    assert {r.status for r in records} == {"completed"}
    assert_one_mlflow_run_per_trial(tmp_path / "work" / "kill9", records)
    # evolution after its 8 random founders mutates one decision of a population member: trials proposed after
    # the resume are each one decision away from an earlier trial (a fresh random start would not be)
    last_before = max(r.number for r in before)
    by_number = {r.number: r.genotype for r in records}
    later = [n for n in by_number if n > last_before + 2]  # +2: proposals in flight at the kill may be re-run
    assert later
    one_step = [n for n in later if min(sum(a != b for a, b in zip(by_number[n], by_number[m]))
                                        for m in by_number if m < n) == 1]
    assert len(one_step) >= 0.8 * len(later)
    runs = json.loads((tmp_path / "work" / "kill9" / "runs.json").read_text())
    assert [r["after"] for r in runs] == [None, "interrupted"] and runs[-1]["ended"] == "completed"


def test_a_timed_out_search_resumes_once_then_the_policy_refuses(tmp_path):
    """Resume policy (issue 6): a search cancelled by its timeout continues on resume with a new timeout; a second
    timeout is not resumed (max_resumes 1), and the refusal explains the rule."""
    raynas = str(Path(sys.executable).with_name("raynas"))
    work = tmp_path / "work"
    config_path = tmp_path / "search.yaml"
    config_path.write_text(yaml.safe_dump({
        "name": "slow", "workdir": str(work), "max_trials": 500, "max_concurrent": 2, "gpus_per_trial": 0,
        "cpus_per_trial": 0.5, "timeout": "12s", "max_total_time": "60s", "mlflow": False,
        "auto_stop": False,  # a fast machine may finish 200 trials, where auto stop could end the search first
        "benchmark": {"sleep_fraction": 1.0, "max_sleep_s": 0.3},
    }))
    first = subprocess.run([raynas, "search", "--config", str(config_path), "--format", "json"], capture_output=True,
                           text=True, timeout=300)
    status = json.loads(first.stdout[first.stdout.index("{"):])
    assert status["status"] == "timed_out" and "raynas resume slow" in status["reason"]
    store = TrialStore(work / "slow" / "trials")
    after_first = len(store)
    second = subprocess.run([raynas, "resume", "slow", "--workdir", str(work), "--format", "json"], capture_output=True,
                            text=True, timeout=300)
    status = json.loads(second.stdout[second.stdout.index("{"):])
    assert status["status"] == "timed_out", second.stderr[-2000:]
    assert len(store) > after_first  # the resumed run started new trials
    numbers = [r.number for r in store.records()]
    assert len(numbers) == len(set(numbers))
    third = subprocess.run([raynas, "resume", "slow", "--workdir", str(work)], capture_output=True, text=True,
                           timeout=300)
    assert third.returncode == 2
    assert "allows 1 resume(s) after a timeout" in third.stderr and "max_resumes" in third.stderr
    runs = json.loads((work / "slow" / "runs.json").read_text())
    assert [r["ended"] for r in runs] == ["timed_out", "timed_out"] and runs[1]["after"] == "timed_out"

"""Infrastructure losses vs model failures: what counts toward the failure budget (issue 7)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from raynas.controllers import TrialStatus
from raynas.tune import error_outcome


def _task_error(cause: BaseException):
    from ray.exceptions import RayTaskError

    return RayTaskError("run_trial", "Traceback (most recent call last):\n  ...", cause)


def _lost(kind: str) -> BaseException:
    from ray.exceptions import ActorDiedError, NodeDiedError, WorkerCrashedError

    return {"actor": ActorDiedError(), "node": NodeDiedError("node 5f3a died: its raylet stopped heartbeating"),
            "worker": WorkerCrashedError(), "actor-in-task": _task_error(ActorDiedError())}[kind]


@pytest.mark.parametrize("kind", ["actor", "node", "worker", "actor-in-task"])
def test_a_lost_node_or_actor_is_an_infrastructure_loss_not_a_failure(kind):
    outcome = error_outcome(_lost(kind), restarts=3, metric="reward")
    assert outcome.status is TrialStatus.STOPPED and not outcome.status.counts_as_failure()
    assert outcome.reason.startswith("lost to the infrastructure after it was started again 3 times")


def test_without_retries_the_reason_says_max_retries_is_zero():
    outcome = error_outcome(_lost("node"), restarts=0, metric="reward")
    assert "max_retries is 0" in outcome.reason and "died" in outcome.reason


@pytest.mark.parametrize("error", [
    "oom", "code", "code-text", "oom-text",
])
def test_out_of_memory_kills_and_exceptions_outside_the_wrapper_are_model_failures(error):
    from ray.exceptions import OutOfMemoryError

    value = {
        "oom": OutOfMemoryError("Task was killed due to the node running low on memory."),
        "code": _task_error(ValueError("bad architecture")),
        "code-text": "Traceback (most recent call last):\nValueError: bad architecture",
        "oom-text": "ray.exceptions.OutOfMemoryError: Task was killed due to the node running low on memory.",
    }[error]
    outcome = error_outcome(value, restarts=0, metric="reward")
    assert outcome.status is TrialStatus.FAILED and outcome.status.counts_as_failure()
    if error.startswith("oom"):
        assert outcome.reason.startswith("out of memory")


def test_the_failure_budget_counts_model_failures_but_not_infrastructure_losses(tmp_path):
    from raynas.tune import FailureBudget, FailureBudgetStopper

    budget = FailureBudget(max_failed=1, metric="reward", ledger_path=str(tmp_path / "budget.json"))
    stopper = FailureBudgetStopper(budget)

    def trial(trial_id: str, error: object) -> SimpleNamespace:
        return SimpleNamespace(trial_id=trial_id, status="ERROR", last_result={}, config={},
                               run_metadata=SimpleNamespace(num_failures=4),
                               get_pickled_error=lambda: error, get_error=lambda: str(error))

    budget.on_trial_error(0, [], trial("lost-1", _lost("node")))
    budget.on_trial_error(0, [], trial("lost-2", _lost("actor")))
    assert budget.failed == 0 and not stopper.stop_all()
    budget.on_trial_error(0, [], trial("bug", _task_error(RuntimeError("shape mismatch"))))
    assert budget.failed == 1 and stopper.stop_all()

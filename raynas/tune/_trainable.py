"""The Ray Tune function trainable that runs one raynas trial with an evaluator."""

from __future__ import annotations

import math
import shutil
import time
from typing import Any, Protocol

from raynas.errors import InvalidTrialError, RunStoppingError
from raynas.targets import CONTRACT_PREFIX, TrainerContractError
from raynas.tune._outcome import CHECKPOINT_KEY, NODE_KEY, REASON_KEY, RUNNING, STATUS_KEY, TIME_KEY

__all__ = ["Evaluator", "InvalidTrialError", "run_trial"]


class Evaluator(Protocol):
    """Evaluates one architecture: calls ``report`` for intermediate results, returns the final metrics."""

    def evaluate(self, arch: Any, *, seed: int, report: Any = None) -> dict[str, Any]: ...


def run_trial(config: dict[str, Any], *, evaluator: Evaluator, metric: str, objectives: tuple[str, ...] = ()) -> None:
    """Evaluate ``config['arch']`` and report to Ray Tune; never lets an exception escape.

    Exceptions become a final result with ``raynas_status`` failed (or invalid for InvalidTrialError and
    non-finite metrics) and ``raynas_reason``, so that a failure is counted, stored and explained, not retried.
    ``objectives`` (metric names of a multi-objective search) must all be reported and finite too, else the trial is
    invalid.
    """
    import ray
    from ray import tune

    node = ray.get_runtime_context().get_node_id()

    def send(metrics: dict[str, Any], **kwargs: Any) -> None:
        """Every report says which node the trial runs on (the trial store's ``node``)."""
        tune.report({**metrics, NODE_KEY: node}, **kwargs)

    report = TuneReporter(send)
    try:
        final = dict(evaluator.evaluate(config["arch"], seed=int(config["seed"]), report=report))
    except (TrainerContractError, RunStoppingError) as exc:  # every trial would fail the same way: the run stops
        send({STATUS_KEY: "failed", REASON_KEY: f"{CONTRACT_PREFIX}{exc}"[:1000]})
        return
    except InvalidTrialError as exc:
        send({STATUS_KEY: "invalid", REASON_KEY: _reason(exc)})
        return
    except MemoryError as exc:
        send({STATUS_KEY: "failed", REASON_KEY: f"out of memory: {_reason(exc)}"})
        return
    except RuntimeError as exc:
        if "OutOfMemoryError" not in type(exc).__name__ and "out of memory" not in str(exc).lower():
            send({STATUS_KEY: "failed", REASON_KEY: _reason(exc)})
            return
        send({STATUS_KEY: "failed", REASON_KEY: f"out of memory: {_reason(exc)}"})
        return
    except Exception as exc:  # noqa: BLE001 - every trial failure is recorded, none crashes the search
        send({STATUS_KEY: "failed", REASON_KEY: _reason(exc)})
        return
    value = final.get(metric)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isfinite(value):
        send({**final, STATUS_KEY: "invalid", REASON_KEY: f"metric {metric!r} is {value}"})
        return
    for name in objectives:
        value = final.get(name)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            what = "was not reported" if value is None else f"is {value!r}"
            send({**final, STATUS_KEY: "invalid", REASON_KEY: f"objective {name!r} {what}"})
            return
    checkpoint_dir = final.pop(CHECKPOINT_KEY, None)
    if checkpoint_dir:
        send({**final, STATUS_KEY: "completed", TIME_KEY: time.time()},
             checkpoint=tune.Checkpoint.from_directory(checkpoint_dir))
        shutil.rmtree(checkpoint_dir, ignore_errors=True)  # report() has copied it to the experiment's storage
        return
    send({**final, STATUS_KEY: "completed", TIME_KEY: time.time()})


class TuneReporter:
    """The ``report`` callable evaluators get inside a Ray Tune trial.

    ``report(metrics)`` sends one epoch's metrics; ``report(metrics, checkpoint_dir=D)`` also keeps directory ``D``
    as the trial's latest checkpoint (Ray Tune copies it to the experiment's storage). ``restored_checkpoint()``
    is the local copy of the checkpoint Ray Tune restored when the trial was started again after its worker was
    lost (None on a first start).
    """

    takes_checkpoints = True

    def __init__(self, send: Any) -> None:
        self._send = send

    def __call__(self, metrics: dict[str, Any], *, checkpoint_dir: str | None = None) -> None:
        from ray import tune

        body = {**metrics, STATUS_KEY: RUNNING, TIME_KEY: time.time()}
        if checkpoint_dir is None:
            self._send(body)
            return
        self._send(body, checkpoint=tune.Checkpoint.from_directory(checkpoint_dir))
        shutil.rmtree(checkpoint_dir, ignore_errors=True)  # report() has copied it

    def restored_checkpoint(self) -> str | None:
        from ray import tune

        checkpoint = tune.get_checkpoint()
        if checkpoint is None:
            return None
        import tempfile

        return checkpoint.to_directory(tempfile.mkdtemp(prefix="raynas-restored-"))


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:500] if text else type(exc).__name__

"""raynas: Neural Architecture Search on Ray Tune, tracked in MLflow.

``import raynas`` stays light: Ray, torch and MLflow are imported only by the parts that need them. Progress
lines go through the ``"raynas"`` logger (:mod:`logging`) to stderr; see ``raynas._log`` to quiet or redirect them.
"""

from __future__ import annotations

from typing import Any

from raynas import _log  # noqa: F401  (the "raynas" logger's handler: progress lines on stderr)

__version__ = "0.1.0"


def load_model(experiment: Any, trial: str | None = None, *, workdir: Any = "raynas-work", device: str = "cpu") -> Any:
    """The trained ``torch.nn.Module`` of an experiment, weights loaded, in eval mode: the stage-2 pick, or the
    trial ``trial`` when it kept a checkpoint. ``experiment`` is a name under ``workdir``, an experiment directory
    or a directory written by ``raynas export``. See :func:`raynas.export.load_model`."""
    from raynas.export import load_model as _load_model

    return _load_model(experiment, trial, workdir=workdir, device=device)


__all__ = ["__version__", "load_model"]

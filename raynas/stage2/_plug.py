"""What stage 2 plugs into a search (:func:`raynas.tune.run_search`'s ``callbacks``), without importing Ray."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def inline_stage2_callbacks(config: Any) -> list[Any]:
    """What a search plugs into :func:`raynas.tune.run_search` for its ``inline_stage2:`` section: one factory of
    :class:`raynas.stage2.InlineStage2` (none when the section is absent). The factory builds the full-training evaluator once
    the experiment folder is ready."""
    if config.inline_stage2 is None:
        return []
    from raynas.config import Mode
    from raynas.stage2._train import Stage2Settings, full_training_evaluator

    def make() -> Any:
        from raynas.stage2._inline import InlineStage2  # Ray Tune's Callback: imported when a search starts

        exp_dir = Path(config.experiment_dir)
        return InlineStage2(every=config.inline_stage2.every, top_k=config.inline_stage2.top_k,
                            experiment_dir=str(exp_dir), metric=config.metric, mode_max=config.mode is Mode.MAX,
                            resources={"cpu": config.cpus_per_trial, "gpu": config.gpus_per_trial},
                            evaluator=full_training_evaluator(config, exp_dir, Stage2Settings()),
                            objectives=config.objectives or ())

    return [make]

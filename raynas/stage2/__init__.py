"""Stage 2 of the workflow: full training of the top-k stage-1 trials (and optional lower-ranked controls), a
noise-aware verdict on their rank correlation with stage 1 (agree, bias or inconclusive) and the picked model.
Ray, torch and MLflow are imported only when it runs."""

from raynas.stage2._plug import inline_stage2_callbacks
from raynas.stage2._train import (
    DEFAULT_SUBDIR,
    SEARCH_BIAS_TAU,
    STAGE,
    RowsVerdict,
    Stage2Result,
    Stage2Row,
    Stage2Settings,
    control_ranks,
    full_training_evaluator,
    load_stage2,
    ranked_trials,
    stage2_verdict,
    top_trials,
    train_top_k,
    validation_examples,
)
from raynas.stage2._verdict import (
    FullTrainingNoise,
    Stage2Judgement,
    Stage2Verdict,
    TauInterval,
    binomial_sd,
    full_training_noise,
    judge,
    kendall_tau_b,
    tau_interval,
)

__all__ = ["DEFAULT_SUBDIR", "FullTrainingNoise", "InlineStage2", "RowsVerdict", "SEARCH_BIAS_TAU", "STAGE",
           "Stage2Judgement", "Stage2Result", "Stage2Row", "Stage2Settings", "Stage2Verdict", "TauInterval",
           "binomial_sd", "control_ranks", "full_training_evaluator", "full_training_noise",
           "inline_stage2_callbacks", "judge", "kendall_tau_b", "load_stage2", "ranked_trials", "stage2_verdict",
           "tau_interval", "top_trials", "train_top_k", "validation_examples"]


def __getattr__(name: str) -> object:
    if name == "InlineStage2":  # a Ray Tune callback: Ray is imported only when it is asked for
        from raynas.stage2._inline import InlineStage2

        return InlineStage2
    raise AttributeError(f"module 'raynas.stage2' has no attribute {name!r}")

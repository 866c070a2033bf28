"""Stage 2 of the workflow: full training of the top-k stage-1 trials, their rank correlation with stage 1
(search bias) and the picked model. Ray, torch and MLflow are imported only when it runs."""

from raynas.stage2._train import (
    DEFAULT_SUBDIR,
    SEARCH_BIAS_TAU,
    STAGE,
    Stage2Result,
    Stage2Row,
    Stage2Settings,
    load_stage2,
    top_trials,
    train_top_k,
)

__all__ = ["DEFAULT_SUBDIR", "SEARCH_BIAS_TAU", "STAGE", "Stage2Result", "Stage2Row", "Stage2Settings", "load_stage2",
           "top_trials", "train_top_k"]

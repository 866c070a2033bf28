"""The PyTorch trainer used by proxy and full training (torch is imported only when training runs)."""

from raynas.training._measure import ModelCost, count_flops, measure_model
from raynas.training._shapes import family_input_kwargs, scaled_input_shape
from raynas.training._spec import SPEC_FILE, ModelSpec, model_spec
from raynas.training._trainer import (
    NonFiniteLossError,
    TrainingRecipe,
    evaluate_accuracy,
    pick_device,
    train_and_evaluate,
    train_streamed,
)

__all__ = [
    "ModelCost",
    "ModelSpec",
    "NonFiniteLossError",
    "SPEC_FILE",
    "TrainingRecipe",
    "count_flops",
    "evaluate_accuracy",
    "family_input_kwargs",
    "measure_model",
    "model_spec",
    "pick_device",
    "scaled_input_shape",
    "train_and_evaluate",
    "train_streamed",
]

"""The PyTorch trainer used by proxy and full training (torch is imported only when training runs)."""

from raynas.training._measure import ModelCost, count_flops, measure_model
from raynas.training._trainer import (
    NonFiniteLossError,
    TrainingRecipe,
    evaluate_accuracy,
    pick_device,
    train_and_evaluate,
)

__all__ = [
    "ModelCost",
    "NonFiniteLossError",
    "TrainingRecipe",
    "count_flops",
    "evaluate_accuracy",
    "measure_model",
    "pick_device",
    "train_and_evaluate",
]

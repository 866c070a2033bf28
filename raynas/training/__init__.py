"""The PyTorch trainer used by proxy and full training (torch is imported only when training runs)."""

from raynas.training._distributed import free_port
from raynas.training._evaluator import AugmentationEvaluator, TrainingEvaluator, ensure_split, gpus_held_by_this_trial
from raynas.training._measure import ModelCost, count_flops, measure_model
from raynas.training._pretrained import PretrainedWeights
from raynas.training._shapes import family_input_kwargs, scaled_input_shape
from raynas.training._spec import SPEC_FILE, ModelSpec, model_spec
from raynas.training._trainer import (
    NonFiniteLossError,
    TrainingRecipe,
    batches_per_epoch,
    evaluate_accuracy,
    pick_device,
    train_and_evaluate,
    train_streamed,
)

__all__ = ["AugmentationEvaluator", "ModelCost", "ModelSpec", "NonFiniteLossError", "PretrainedWeights", "SPEC_FILE",
           "TrainingEvaluator", "TrainingRecipe", "batches_per_epoch", "count_flops", "ensure_split",
           "evaluate_accuracy", "family_input_kwargs", "free_port", "gpus_held_by_this_trial", "measure_model",
           "model_spec", "pick_device", "scaled_input_shape", "train_and_evaluate", "train_streamed"]

"""Getting the model out of an experiment: :func:`load_model` (the trained ``torch.nn.Module``) and
:func:`export_model` (state dict, TorchScript or ONNX with its architecture, build spec and model card).
Torch, MLflow and ONNX are imported only when a model is loaded or exported."""

from raynas.export._export import FORMATS, ExportResult, export_model, load_model, model_card, parse_formats
from raynas.export._locate import ModelSource, locate_model

__all__ = ["ExportResult", "FORMATS", "ModelSource", "export_model", "load_model", "locate_model", "model_card",
           "parse_formats"]

"""``raynas export EXPERIMENT``: the stage-2 pick (or a trial) as a state dict, TorchScript or ONNX file."""

from __future__ import annotations

import argparse

from raynas.cli._output import print_json
from raynas.experiment import DEFAULT_WORKDIR


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``export`` subcommand."""
    parser = commands.add_parser(
        "export", help="write the stage-2 pick (or a trial) as a state dict, TorchScript or ONNX file",
        description="Write the model stage 2 picked (or --trial ID: a trial that kept a checkpoint) as a PyTorch state "
                    "dict, a TorchScript module or an ONNX graph, with architecture.json, model.json (how to build it "
                    "again) and MODEL_CARD.md beside it. Each file is checked against the PyTorch model on a batch of "
                    "random inputs. Logged to the model's MLflow run when the search logs to MLflow. ONNX needs the "
                    "export extra: pip install 'raynas[export]'.")
    parser.add_argument("experiment", help="experiment name (under --workdir) or directory")
    parser.add_argument("--workdir", default=DEFAULT_WORKDIR, help=f"where experiments live (default {DEFAULT_WORKDIR})")
    parser.add_argument("--trial", metavar="ID",
                        help="a trial id instead of the stage-2 pick: a stage-1 id as `raynas train` shows it (its full "
                             "training) or a stage-2 id")
    parser.add_argument("--format", default="state_dict", metavar="state_dict|torchscript|onnx",
                        help="what to write: state_dict (default), torchscript, onnx, several comma-separated, or all")
    parser.add_argument("--output", "-o", metavar="DIR",
                        help="directory to write (default <experiment>/export/best, or export/trial-ID with --trial)")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: the search's)")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log the export to MLflow")
    parser.add_argument("--json", action="store_true", help="print the result as JSON (for scripts)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from raynas.export import export_model

    result = export_model(args.experiment, trial=args.trial, formats=args.format, output=args.output,
                          workdir=args.workdir, mlflow=False if args.no_mlflow else None, tracking_uri=args.tracking_uri)
    if args.json:
        print_json(result.to_dict())
        return 0
    source = result.source
    accuracy = source["metrics"].get("val_accuracy")
    print(f"exported {source['label']} of {source['experiment']!r}"
          + (f" (validation accuracy {accuracy:.4g})" if isinstance(accuracy, (int, float)) else "")
          + f" to {result.output}")
    width = max(len(name) for name in result.files)
    for name, path in result.files.items():
        diff = result.checks.get(name)
        check = "not checked" if diff is None else f"checked: largest logit difference {diff:.2g}"
        print(f"  {name.ljust(width)}  {path}  ({check})")
    print(f"model card: {result.model_card}")
    for note in result.notes:
        if note.startswith("onnx: not checked"):
            print(f"note: {note}")
    mlflow = result.mlflow
    if mlflow.get("run_id") and not mlflow.get("note"):
        print(f"MLflow: {mlflow.get('artifacts')}" + (f", model {mlflow['model_uri']}" if mlflow.get("model_uri") else ""))
    return 0

"""The whole two-stage workflow in one command (``raynas run WORKFLOW.yaml``)."""

from raynas.workflow._config import BUNDLED_WORKFLOW, STEPS, WorkflowConfig, load_workflow
from raynas.workflow._run import WorkflowResult, WorkflowStopped, run_workflow

__all__ = ["BUNDLED_WORKFLOW", "STEPS", "WorkflowConfig", "WorkflowResult", "WorkflowStopped", "load_workflow",
           "run_workflow"]

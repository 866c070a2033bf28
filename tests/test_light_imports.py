"""`import raynas` and the pure-Python layers stay light: Ray, torch, MLflow are imported only where needed."""

import subprocess
import sys


def test_pure_layers_import_no_heavy_framework():
    code = (
        "import sys\n"
        "import raynas, raynas.space, raynas.controllers, raynas.config, raynas.tracking, raynas.data\n"
        "import raynas.families, raynas.tasks, raynas.rewards, raynas.augment, raynas.tune, raynas.training\n"
        "heavy = [m for m in ('ray', 'torch', 'mlflow', 'sklearn') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr

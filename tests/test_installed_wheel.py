"""``pip install`` of the wheel gives a working raynas from any directory: the bundled model families
(``search_spaces/``) and tasks (``proxy_tasks/``) travel inside the package, not beside a source tree.

The wheel is built from a copy of the checkout and installed (``--no-deps``) into a fresh virtual environment that
sees the development environment's dependencies through a ``.pth`` file (installing torch, Ray and MLflow again
would take minutes); the development install of raynas itself is not what runs (checked). Every command runs from
an empty directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], *, cwd: Path | None = None, timeout: float = 300, env: dict | None = None
         ) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env)


def _json(stdout: str) -> dict:
    """The JSON object a ``--format json`` command printed (after any plain ``[raynas]`` lines)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("{"))
    return json.loads("\n".join(lines[start:]))


def _ok(done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert done.returncode == 0, f"{done.args} exited {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done


class Installed:
    def __init__(self, root: Path, wheel: Path, venv: Path) -> None:
        self.root, self.wheel, self.venv = root, wheel, venv
        self.python, self.raynas = venv / "bin" / "python", venv / "bin" / "raynas"
        self.env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RAY_ADDRESS", "VIRTUAL_ENV")}

    def empty_dir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir()
        return path


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    root = tmp_path_factory.mktemp("installed")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("raynas", "search_spaces", "proxy_tasks"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    # no build isolation: the development environment's setuptools builds it (no network needed)
    _ok(_run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(root / "dist"),
              str(src)]))
    (wheel,) = (root / "dist").glob("raynas-*.whl")
    venv = root / "venv"
    _ok(_run([sys.executable, "-m", "venv", "--without-pip", str(venv)]))
    # installed before the dependencies are made visible: pip then sees no other raynas
    _ok(_run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps", "-q",
              str(wheel)]))
    purelib = _ok(_run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]))
    # a path added by a .pth file is not scanned for .pth files itself: the editable finder of the development
    # install is not installed in the new environment
    (Path(purelib.stdout.strip()) / "raynas_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return Installed(root, wheel, venv)


def test_the_wheel_holds_the_bundled_families_and_tasks_inside_the_package(installed):
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    for family in ("mlp", "mnasnet", "nasbench201_cell", "small_cnn", "seq1d"):
        assert f"raynas/search_spaces/{family}.py" in names
    for task in ("mnist1d", "digits", "cifar10"):
        assert f"raynas/proxy_tasks/{task}.yaml" in names
    assert {"raynas/examples/mnist1d_workflow.yaml", "raynas/examples/digits_workflow.yaml",
            "raynas/examples/nasbench201_dryrun.yaml", "raynas/examples/nasbench201_multiobjective.yaml"} <= names
    assert not any(n.startswith(("search_spaces/", "proxy_tasks/")) for n in names)  # no top-level packages


def test_from_an_empty_directory_the_installed_raynas_finds_its_families_and_tasks(installed):
    here = installed.empty_dir("lookup")
    probe = ("import json, raynas\n"
             "from raynas.families import load_family\n"
             "from raynas.tasks import load_task\n"
             "task = load_task('digits')\n"
             "print(json.dumps({'raynas': raynas.__file__, 'task': task.source,"
             " 'family': load_family(task.family).source}))\n")
    found = json.loads(_ok(_run([str(installed.python), "-c", probe], cwd=here, env=installed.env)).stdout)
    package = installed.venv.resolve()
    for key in ("raynas", "task", "family"):
        assert Path(found[key]).resolve().is_relative_to(package), (key, found[key])  # not the checkout's
    assert found["task"].endswith("raynas/proxy_tasks/digits.yaml")
    assert found["family"].endswith("raynas/search_spaces/small_cnn.py")
    listing = _ok(_run([str(installed.raynas), "space", "list"], cwd=here, env=installed.env)).stdout
    for name in ("nasbench201", "small_cnn", "mlp", "mnasnet"):  # (nasbench201_cell's space is nasbench201)
        assert name in listing
    assert list(here.iterdir()) == []  # nothing was needed (or written) here


@pytest.mark.ray
def test_installed_raynas_search_runs_from_an_empty_directory(installed):
    here = installed.empty_dir("search")
    config = here / "tiny.yaml"  # the embedded default's table search, 6 trials instead of 200
    config.write_text("name: tiny\nspace: nasbench201\nmax_trials: 6\nmax_concurrent: 2\ngpus_per_trial: 0\n"
                      "cpus_per_trial: 0.5\nmlflow: false\n")
    done = _ok(_run([str(installed.raynas), "search", "--config", "tiny.yaml", "--format", "json"], cwd=here,
                    env=installed.env))
    result = _json(done.stdout)
    assert result["status"] == "completed" and result["counts"]["completed"] == 6, result
    assert (here / "raynas-work" / "tiny" / "trials").is_dir()


@pytest.mark.ray
def test_installed_raynas_run_finds_the_bundled_task_and_family_from_an_empty_directory(installed):
    here = installed.empty_dir("run")
    (here / "workflow.yaml").write_text("name: tiny\ntask: mnist1d\nsteps: [split, baseline]\nmax_concurrent: 1\n"
                                        "device: cpu\nmlflow: false\n")
    done = _ok(_run([str(installed.raynas), "run", "workflow.yaml", "--format", "json"], cwd=here, env=installed.env))
    result = _json(done.stdout)
    assert list(result["steps"]) == ["split", "baseline"], result
    assert "stage 1:" in result["steps"]["split"]
    assert "val_accuracy" in result["steps"]["baseline"], result
    assert (here / "raynas-work" / "tiny-proxy" / "baseline").is_dir()

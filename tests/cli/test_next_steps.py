"""Every next step raynas prints works as printed in a fresh shell (one where `.venv` was never activated)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from raynas._command import raynas_command, shell_path
from raynas.cli._output import experiment_words, print_next, raynas_step

PLAIN_PATH = "/usr/bin:/bin"  # a fresh shell's PATH, without any virtualenv's bin directory
VENV_BIN = Path(sys.executable).parent  # not resolved: a venv's python is a symlink to another installation
SCRIPT = VENV_BIN / "raynas"


def fake_script(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "raynas"
    script.write_text("#!/bin/sh\necho fake raynas\n")
    script.chmod(0o755)
    return script


# ---- how raynas is spelled, on fake layouts -------------------------------------------------------------------------

def test_console_script_not_on_path_is_printed_as_its_path(tmp_path):
    script = fake_script(tmp_path / "project" / ".venv" / "bin")
    common = dict(argv0=str(script), executable="/usr/bin/python3", scripts_dir=None, path=PLAIN_PATH)
    # inside the current directory: relative, as the quickstart's `.venv/bin/raynas`
    assert raynas_command(**common, cwd=str(tmp_path / "project")) == ".venv/bin/raynas"
    # elsewhere: absolute
    assert raynas_command(**common, cwd=str(tmp_path / "elsewhere")) == str(script)
    # started with a relative argv[0] (`.venv/bin/raynas run`), seen from the directory it was started in
    assert raynas_command(**{**common, "argv0": ".venv/bin/raynas"}, cwd=str(tmp_path / "project")) == ".venv/bin/raynas"


def test_console_script_on_path_is_plain_raynas(tmp_path):
    script = fake_script(tmp_path / "venv" / "bin")
    assert raynas_command(argv0=str(script), executable="/usr/bin/python3", scripts_dir=None,
                          path=f"{script.parent}:{PLAIN_PATH}", cwd=str(tmp_path)) == "raynas"
    # the same folder through a symlink on PATH is the same installation
    link = tmp_path / "linked-bin"
    link.symlink_to(script.parent, target_is_directory=True)
    assert raynas_command(argv0=str(script), executable="/usr/bin/python3", scripts_dir=None,
                          path=f"{link}:{PLAIN_PATH}", cwd=str(tmp_path)) == "raynas"


def test_another_raynas_on_path_is_not_taken_for_this_one(tmp_path):
    script = fake_script(tmp_path / "venv" / "bin")
    other = fake_script(tmp_path / "other" / "bin")
    assert raynas_command(argv0=str(script), executable="/usr/bin/python3", scripts_dir=None,
                          path=f"{other.parent}:{PLAIN_PATH}", cwd=str(tmp_path / "x")) == str(script)


def test_without_console_script_python_dash_m_with_this_interpreter(tmp_path):
    main = tmp_path / "src" / "raynas" / "__main__.py"
    python = tmp_path / "env with space" / "bin" / "python"
    # run as `python -m raynas`, no console script anywhere: the interpreter's path, quoted for the shell
    assert raynas_command(argv0=str(main), executable=str(python), scripts_dir=str(tmp_path / "none"),
                          path=PLAIN_PATH, cwd=str(tmp_path / "x")) == f"{shlex.quote(str(python))} -m raynas"
    assert raynas_command(argv0=str(main), executable=str(python), scripts_dir=str(tmp_path / "none"),
                          path=PLAIN_PATH, cwd=str(tmp_path)) == "'env with space/bin/python' -m raynas"
    # run as `python -m raynas` while this installation's script is on PATH: plain raynas
    script = fake_script(tmp_path / "scripts")
    assert raynas_command(argv0=str(main), executable=str(python), scripts_dir=str(script.parent),
                          path=f"{script.parent}:{PLAIN_PATH}", cwd=str(tmp_path)) == "raynas"
    # imported (a notebook, a test) with the installation's script off PATH: that script
    assert raynas_command(argv0="-c", executable=str(python), scripts_dir=str(script.parent), path=PLAIN_PATH,
                          cwd=str(tmp_path / "x")) == str(script)


def test_shell_path_and_experiment_words(tmp_path, monkeypatch):
    assert shell_path(tmp_path / "a b", cwd=str(tmp_path)) == "'a b'"
    assert shell_path("/elsewhere/w", cwd=str(tmp_path)) == "/elsewhere/w"
    assert shell_path(tmp_path, cwd=str(tmp_path)) == "."
    monkeypatch.chdir(tmp_path)
    assert experiment_words(tmp_path / "raynas-work" / "exp") == "exp"  # the default work directory
    assert experiment_words(tmp_path / "runs" / "exp") == "exp --workdir runs"
    assert experiment_words(Path("/elsewhere/w/exp")) == "exp --workdir /elsewhere/w"


def test_search_next_steps_follow_how_it_ended(tmp_path, capsys, monkeypatch):
    from raynas.cli._search import _next_steps

    monkeypatch.chdir(tmp_path)
    result = SimpleNamespace(experiment_dir=str(tmp_path / "w" / "exp"), status="interrupted", trials=3)
    commands = [c for c, _ in _next_steps(result)]
    assert commands == [f"{raynas_command()} resume exp --workdir w"]
    done = [c for c, _ in _next_steps(replace_ns(result, status="completed"))]
    assert done == [f"{raynas_command()} train exp --workdir w", f"{raynas_command()} analyze exp --workdir w"]
    assert _next_steps(replace_ns(result, status="cancelled")) == []
    print_next(_next_steps(result))
    assert capsys.readouterr().out.startswith(f"next: {raynas_command()} resume exp --workdir w  (")


def replace_ns(ns: SimpleNamespace, **changes) -> SimpleNamespace:
    return SimpleNamespace(**{**vars(ns), **changes})


def test_workflow_ui_command_names_this_installation(tmp_path, monkeypatch):
    from raynas.workflow import load_workflow, run_workflow

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    config = replace(load_workflow(None), workdir=str(tmp_path / "work"), steps=(), mlflow=True)
    result = run_workflow(config, stream=open(os.devnull, "w"))
    assert result.ui_command == f"{raynas_command()} ui --workdir work"
    assert result.ui_command == raynas_step("ui", "--workdir", "work")


# ---- the printed command, run in a fresh shell ----------------------------------------------------------------------

def printed_resume_command(launcher: list[str], cwd: Path, work: Path, path: str) -> str:
    """Run `raynas monitor` on a search that stopped without a status, and return the resume command it prints."""
    from raynas.config import SearchConfig

    exp = work / "exp"
    (exp / "trials").mkdir(parents=True, exist_ok=True)
    (exp / "config.json").write_text(json.dumps(SearchConfig.from_dict({"name": "exp", "workdir": str(work),
                                                                        "gpus_per_trial": 0}).to_dict()))
    out = subprocess.run([*launcher, "monitor", "exp", "--workdir", str(work)], capture_output=True, text=True,
                         cwd=cwd, env={"PATH": path, "HOME": str(work)}, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    match = re.search(r"`([^`]+)` continues it", out.stdout)
    assert match, out.stdout
    return match.group(1)


def run_in_fresh_shell(command: str, cwd: Path, path: str = PLAIN_PATH) -> subprocess.CompletedProcess:
    return subprocess.run(command, shell=True, capture_output=True, text=True, cwd=cwd,
                          env={"PATH": path, "HOME": str(cwd)}, timeout=120)


@pytest.mark.skipif(not SCRIPT.is_file(), reason="no raynas console script next to this interpreter")
@pytest.mark.parametrize("how", ["venv script from its project", "python -m raynas from elsewhere", "on PATH"])
def test_printed_next_step_works_in_a_fresh_shell(tmp_path, how):
    work = tmp_path / "work"
    if how == "venv script from its project":  # what `make demo` does: .venv/bin/raynas, never activated
        cwd, launcher, path = VENV_BIN.parent.parent, [str(SCRIPT)], PLAIN_PATH
    elif how == "python -m raynas from elsewhere":
        cwd, launcher, path = tmp_path, [sys.executable, "-m", "raynas"], PLAIN_PATH
    else:
        cwd, launcher, path = tmp_path, ["raynas"], f"{VENV_BIN}:{PLAIN_PATH}"
    command = printed_resume_command(launcher, cwd, work, path)
    suffix = f" resume exp --workdir {shell_path(work, cwd=str(cwd))}"
    assert command.endswith(suffix)
    prefix = command[:-len(suffix)]
    if how == "on PATH":
        assert prefix == "raynas"
    else:
        assert prefix != "raynas" and ("-m raynas" in prefix) == (how == "python -m raynas from elsewhere")
    # the printed command as printed (--help: resume nothing); `raynas ui` as the workflow prints it, once
    both = how == "venv script from its project"
    out = run_in_fresh_shell(f"{command} --help" + (f" && {prefix} ui --help" if both else ""), cwd, path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "usage: raynas resume" in out.stdout and ("usage: raynas ui" in out.stdout) == both
    # and the same command fails where raynas was never installed: the check above is not vacuous
    if how != "on PATH":
        assert run_in_fresh_shell("raynas --help", cwd).returncode != 0


def test_interrupted_run_says_how_to_run_it_again(monkeypatch, capsys):
    import raynas.cli._run as run_cli
    from raynas.cli import main

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_cli, "_run", interrupted)
    assert main(["run", "--workdir", "my work"]) == 130
    err = capsys.readouterr().err
    assert f"run `{raynas_command()} run --workdir 'my work'` again" in err

"""Bad input on the command line: one line `raynas: error: ...` naming the input and the fix, exit code 2, never a
traceback; and the last-resort handler for what raynas did not expect (one line asking for a bug report, exit 1)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest

from raynas.cli import main

OK_CONFIG = "name: probe\nmax_trials: 2\nmax_concurrent: 1\ngpus_per_trial: 0\ncpus_per_trial: 0.5\nmlflow: false\n"


def refused(capsys, *argv: str) -> str:
    """Run ``raynas ARGV`` in this process; it must end with exit code 2 and one `raynas: error:` line."""
    code = main(list(argv))
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("raynas: error: "), err
    assert "Traceback" not in err, err
    return lines[-1]


@pytest.fixture
def experiment(tmp_path) -> Path:
    """A small finished experiment on disk (its config and two trials), no Ray needed."""
    from raynas.config import SearchConfig
    from raynas.tracking import TrialRecord, TrialStore

    root = tmp_path / "work" / "probe"
    root.mkdir(parents=True)
    config = SearchConfig(name="probe", gpus_per_trial=0, max_trials=2, workdir=str(root.parent))
    (root / "config.json").write_text(json.dumps(config.to_dict()))
    store = TrialStore(root / "trials")
    for i in (1, 2):
        store.append(TrialRecord(trial_id=f"t{i}", number=i, arch={"a": i}, genotype=(i,), reward=float(i),
                                 status="completed", start_time=1.0, end_time=2.0))
    return root


@pytest.fixture
def a_file(tmp_path) -> Path:
    path = tmp_path / "afile"
    path.write_text("not a folder")
    return path


# --- --workdir ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", [["search", "--config", "CONFIG"], ["run", "--steps", "split"],
                                     ["resume", "probe"], ["trials", "probe"], ["analyze", "probe"],
                                     ["mlflow", "sync", "probe"]])
def test_a_workdir_that_is_a_file_is_refused_by_every_command(capsys, tmp_path, a_file, command):
    config = tmp_path / "ok.yaml"
    config.write_text(OK_CONFIG)
    argv = [str(config) if word == "CONFIG" else word for word in command]
    line = refused(capsys, *argv, "--workdir", str(a_file))
    assert "--workdir" in line and str(a_file) in line and "is a file, not a folder" in line


def test_a_workdir_under_a_file_and_an_empty_one_are_refused(capsys, tmp_path, a_file):
    config = tmp_path / "ok.yaml"
    config.write_text(OK_CONFIG)
    line = refused(capsys, "search", "--config", str(config), "--workdir", str(a_file / "sub"))
    assert f"lies under {a_file}, which is a file" in line
    line = refused(capsys, "search", "--config", str(config), "--workdir", "")
    assert "--workdir: got ''" in line and "a folder path" in line
    assert not (tmp_path / "raynas-work").exists()


def test_the_config_files_own_workdir_is_checked_too(capsys, tmp_path, a_file):
    config = tmp_path / "own.yaml"
    config.write_text(OK_CONFIG + f"workdir: {a_file}\n")
    line = refused(capsys, "search", "--config", str(config))
    assert "workdir: got" in line and "is a file" in line


def test_an_unwritable_workdir_is_refused_before_anything_runs(capsys, tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: False if Path(path) == locked
                        else real_access(path, mode, **kw))
    config = tmp_path / "ok.yaml"
    config.write_text(OK_CONFIG)
    line = refused(capsys, "search", "--config", str(config), "--workdir", str(locked / "new"))
    assert f"no permission to write in {locked}" in line
    assert not (locked / "new").exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_workdir_is_refused(capsys, tmp_path):  # pragma: no cover - CI runs as a normal user
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    config = tmp_path / "ok.yaml"
    config.write_text(OK_CONFIG)
    try:
        assert "no permission" in refused(capsys, "search", "--config", str(config), "--workdir", str(locked))
    finally:
        locked.chmod(0o700)


def test_names_too_long_for_the_file_system_are_one_line(capsys, tmp_path):
    long = "a" * 5000
    assert "File name too long" in refused(capsys, "trials", long, "--workdir", str(tmp_path))
    assert "at most 255 bytes" in refused(capsys, "resume", "x", "--workdir", str(tmp_path / long))
    assert "File name too long" in refused(capsys, "validate", str(tmp_path / long))


# --- -o -----------------------------------------------------------------------------------------------------------
def test_trials_output_into_a_missing_folder_creates_it(capsys, experiment, tmp_path):
    out = tmp_path / "new" / "deeper" / "trials.csv"
    assert main(["trials", str(experiment), "--format", "csv", "-o", str(out)]) == 0
    assert out.read_text().count("\n") == 3  # a header and the two trials
    parquet = tmp_path / "new2" / "trials.parquet"
    assert main(["trials", str(experiment), "--format", "parquet", "-o", str(parquet)]) == 0
    assert parquet.is_file()


def test_trials_output_onto_a_folder_or_under_a_file_is_refused(capsys, experiment, tmp_path, a_file):
    folder = tmp_path / "adir"
    folder.mkdir()
    for fmt in ("csv", "json", "parquet"):
        line = refused(capsys, "trials", str(experiment), "--format", fmt, "-o", str(folder))
        assert "is a folder: give a file in it" in line
    line = refused(capsys, "trials", str(experiment), "--format", "json", "-o", str(a_file / "x.json"))
    assert f"lies under {a_file}, which is a file" in line
    assert "--output: got ''" in refused(capsys, "trials", str(experiment), "--format", "csv", "-o", "")


def test_trials_output_onto_an_existing_file_replaces_it(capsys, experiment, a_file):
    assert main(["trials", str(experiment), "--format", "csv", "-o", str(a_file)]) == 0
    assert a_file.read_text().startswith("number") or "trial_id" in a_file.read_text()


def test_analyze_output_onto_a_file_is_refused(capsys, experiment, a_file):
    line = refused(capsys, "analyze", str(experiment), "-o", str(a_file))
    assert "--output" in line and "is a file, not a folder" in line
    line = refused(capsys, "analyze", str(experiment), "-o", str(a_file / "report"))
    assert f"lies under {a_file}" in line


# --- mlflow sync ----------------------------------------------------------------------------------------------------
def test_mlflow_sync_with_an_unknown_uri_scheme_lists_the_accepted_forms(capsys, experiment):
    line = refused(capsys, "mlflow", "sync", str(experiment), "--tracking-uri", "bogus://x")
    assert "--tracking-uri: got 'bogus://x'" in line and "sqlite" in line and "http" in line
    assert "--tracking-uri: got ''" in refused(capsys, "mlflow", "sync", str(experiment), "--tracking-uri", "")


# --- files that are not YAML, or have nothing in them -----------------------------------------------------------------
@pytest.mark.parametrize("command", [["run"], ["search", "--config"], ["validate"]])
def test_a_binary_file_is_one_line(capsys, tmp_path, command):
    path = tmp_path / "binary.yaml"
    path.write_bytes(bytes(range(256)) * 4)
    line = refused(capsys, *command, str(path))
    assert "not UTF-8 text" in line or "malformed" in line


@pytest.mark.parametrize("text", ["", "# only a comment\n", "null\n", "~\n"])
@pytest.mark.parametrize("command", [["search", "--config"], ["run"], ["validate"], ["validate", "--kind", "search"],
                                     ["validate", "--kind", "workflow"], ["validate", "--kind", "task"]])
def test_an_empty_file_is_refused_pointing_to_the_examples(capsys, tmp_path, text, command):
    path = tmp_path / "empty.yaml"
    path.write_text(text)
    line = refused(capsys, *command, str(path))
    assert "the file is empty" in line and "raynas validate" in line


def test_yaml_nested_20000_deep_is_one_line(capsys, tmp_path):
    path = tmp_path / "deep.yaml"
    depth = 20000
    path.write_text("gpus_per_trial: 0\nfixed: " + "{a: " * depth + "1" + "}" * depth + "\n")
    for command in (["validate"], ["search", "--config"], ["run"]):
        assert "nested too deeply" in refused(capsys, *command, str(path))


def test_fixed_nested_deeper_than_the_space_language_allows(capsys, tmp_path):
    from raynas.space import MAX_DEPTH

    path = tmp_path / "deep.yaml"
    depth = MAX_DEPTH + 50  # deep for the space language, shallow enough for the YAML reader
    path.write_text("gpus_per_trial: 0\nfixed:\n  cell: " + "[" * depth + "1" + "]" * depth + "\n")
    line = refused(capsys, "validate", str(path))
    assert f"more than {MAX_DEPTH} levels" in line and "fixed" in line


# --- config values ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("body, words", [
    ("name: " + "a" * 5000, "at most 128 characters"),
    ("name: a/b", "'/'"),
    ("name: 'a b'", "' '"),
    ("benchmark: {table: 5}", "benchmark.table: got 5"),
    ("cpus_per_trial: 1e-12", "cpus_per_trial"),  # YAML reads 1e-12 as text
    ("cpus_per_trial: 1.0e-12", "at least 0.0001"),
    ("metric: nonexistent", "metric: got 'nonexistent'"),
])
def test_bad_config_values_are_one_line(capsys, tmp_path, body, words):
    path = tmp_path / "bad.yaml"
    path.write_text(f"gpus_per_trial: 0\n{body}\n")
    assert words in refused(capsys, "validate", str(path))


def test_bad_tables_are_one_line(capsys, tmp_path):
    header = "arch,val_acc_12ep,val_acc_200ep,train_sec_per_epoch,eval_sec\n"
    (tmp_path / "header.csv").write_text(header)
    (tmp_path / "text.csv").write_text(header + "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,abc,1,1,1\n")
    for name, words in (("header", "at least one row"), ("text", "a numeric column")):
        config = tmp_path / f"{name}.yaml"
        config.write_text(f"gpus_per_trial: 0\nbenchmark: {{table: {tmp_path / name}.csv}}\n")
        assert words in refused(capsys, "validate", str(config))
        refused(capsys, "benchmark", "nasbench201", "--table", str(tmp_path / f"{name}.csv"))


# --- the last resort ----------------------------------------------------------------------------------------------
def _raising(exc: BaseException):
    def handler(args):
        raise exc
    return handler


def _args(exc: BaseException, *, verbose: bool = False) -> argparse.Namespace:
    return argparse.Namespace(handler=_raising(exc), command="trials", verbose=verbose, quiet=False)


def test_an_unexpected_exception_is_one_line_asking_for_a_bug_report(capsys):
    from raynas.cli import _dispatch

    assert _dispatch(_args(ZeroDivisionError("division by zero")), []) == 1
    err = capsys.readouterr().err
    assert err.strip() == ("raynas: internal error: ZeroDivisionError: division by zero (this is a bug in raynas: "
                           "please report it; rerun with -v for the traceback)")
    assert _dispatch(_args(KeyError("x\nsecond line")), []) == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_with_verbose_the_traceback_comes_first(capsys):
    from raynas.cli import _dispatch

    assert _dispatch(_args(ValueError("odd"), verbose=True), []) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and "ValueError: odd" in err
    assert err.strip().splitlines()[-1].startswith("raynas: internal error: ValueError: odd")


def test_the_last_resort_lets_system_exit_through_and_keeps_ctrl_c(capsys):
    from raynas.cli import _dispatch

    with pytest.raises(SystemExit):
        _dispatch(_args(SystemExit(5)), [])
    assert _dispatch(_args(KeyboardInterrupt()), []) == 130
    assert "interrupted" in capsys.readouterr().err


def test_an_os_error_about_a_path_is_a_user_error_and_others_are_internal(capsys, tmp_path):
    import errno

    from raynas.cli import _dispatch

    full = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x"))
    assert _dispatch(_args(full), []) == 2
    assert capsys.readouterr().err.strip() == (f"raynas: error: cannot use {tmp_path / 'x'}: No space left on device; "
                                               "the disk is full: free some space or pick a folder on another disk")
    assert _dispatch(_args(OSError("socket closed")), []) == 1
    assert "internal error: OSError: socket closed" in capsys.readouterr().err


def test_the_program_prints_the_internal_error_line(tmp_path):
    """End to end: a real unexpected error in a subprocess is one line on stderr, exit code 1."""
    import subprocess
    import sys

    code = ("import raynas.cli._trials as t\n"
            "def boom(args):\n    raise RuntimeError('kaput')\n"
            "t._run = boom\n"
            "import sys\nfrom raynas.cli import main\nsys.exit(main(['trials', 'x']))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("raynas: internal error: RuntimeError: kaput")

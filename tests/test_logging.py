"""raynas's progress lines go through the ``"raynas"`` logger: ``[raynas] <message>`` on the current stderr,
``raynas --quiet`` keeps only warnings, ``--verbose`` adds debug detail; library code prints nothing itself."""

from __future__ import annotations

import ast
import contextlib
import io
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest

import raynas
from raynas._log import LOGGER_NAME, StderrHandler, log_to, logger, set_verbosity
from raynas.cli import main

PACKAGE = Path(raynas.__file__).parent


@pytest.fixture(autouse=True)
def _level_restored():
    level = logger().level
    yield
    logger().setLevel(level)


def test_the_handler_writes_prefixed_lines_to_the_stderr_of_the_moment():
    log = logging.getLogger("raynas.some.module")
    first, second = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(first):
        log.info("one %d", 1)
        log.debug("hidden at the default level")
    with contextlib.redirect_stderr(second):
        log.warning("two")
    assert first.getvalue() == "[raynas] one 1\n"
    assert second.getvalue() == "[raynas] two\n"
    root = logging.getLogger(LOGGER_NAME)
    # one raynas handler (pytest's logging plugin adds capture handlers of its own while a test runs)
    assert sum(isinstance(h, StderrHandler) for h in root.handlers) == 1 and root.propagate is False


def test_the_handler_is_seen_by_pytest_capture(capsys):
    logging.getLogger("raynas.x").info("captured")
    assert capsys.readouterr() == ("", "[raynas] captured\n")


def test_set_verbosity_sets_the_level():
    log = logging.getLogger("raynas.y")
    set_verbosity(quiet=True)
    assert not log.isEnabledFor(logging.INFO) and log.isEnabledFor(logging.WARNING)
    set_verbosity(verbose=True)
    assert log.isEnabledFor(logging.DEBUG)
    set_verbosity()
    assert log.isEnabledFor(logging.INFO) and not log.isEnabledFor(logging.DEBUG)


def test_log_to_sends_one_block_elsewhere_and_puts_the_handlers_back(capsys):
    log = logging.getLogger("raynas.z")
    sink = io.StringIO()
    before = list(logger().handlers)
    with log_to(sink):
        log.info("to the sink")
    with log_to(None):
        log.info("to stderr")
    assert sink.getvalue() == "[raynas] to the sink\n"
    assert capsys.readouterr().err == "[raynas] to stderr\n"
    assert logger().handlers == before
    with pytest.raises(RuntimeError), log_to(sink):
        raise RuntimeError("boom")
    assert logger().handlers == before


def test_library_warnings_are_log_records(capsys):
    from raynas.tracking import finish_stage

    set_verbosity(quiet=True)  # warnings stay
    report = finish_stage(SimpleNamespace(experiment_dir="/nowhere"), status="completed", reason="done")
    assert report["error"].startswith("AttributeError")
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("[raynas] MLflow: logging failed (AttributeError: ") and err.endswith(
        "; results are in /nowhere\n") and err.count("\n") == 1


def _estimate(capsys, *flags: str) -> tuple[str, str]:
    assert main([*flags, "run", "--workdir", "w", "--steps", "estimate"]) == 0
    return capsys.readouterr()


def test_quiet_hides_progress_keeps_warnings_and_results(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    out, err = _estimate(capsys)
    assert "[raynas] step 1/1: estimate\n" in err
    assert "[raynas] estimate: the proxy cost is not measured" in err  # a warning
    assert not any(line.startswith("[raynas] workflow 'mnist1d-nas': steps") for line in err.splitlines())  # debug
    assert out.startswith("workflow 'mnist1d-nas' finished")
    assert logger().level == logging.INFO

    quiet_out, quiet_err = _estimate(capsys, "--quiet")
    assert quiet_out == out  # the command's result is no log record
    assert "step 1/1" not in quiet_err and "quantity" not in quiet_err
    assert quiet_err.splitlines() == [line for line in err.splitlines() if line.startswith("[raynas] estimate: ")]
    assert logger().level == logging.INFO  # main() leaves the level as it found it


def test_verbose_shows_debug_detail(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    _, err = _estimate(capsys, "-v")
    debug = [line for line in err.splitlines() if line.startswith("[raynas] workflow 'mnist1d-nas': steps estimate;")]
    assert len(debug) == 1 and "proxy design in" in debug[0]
    assert "[raynas] step 1/1: estimate" in err


def test_quiet_and_verbose_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--quiet", "--verbose", "controllers"])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def _print_calls(path: Path) -> list[str]:
    """``file:line`` of every ``print(...)`` call in ``path`` (``print_table``'s own excepted in ``_text.py``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    allowed: set[int] = set()
    if path == PACKAGE / "_text.py":
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == "print_table":
                allowed |= {id(n) for n in ast.walk(node)}
    return [f"{path.relative_to(PACKAGE.parent)}:{node.lineno}" for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"
            and id(node) not in allowed]


def test_library_code_prints_nothing_outside_the_command_line():
    # raynas/cli/ is the program (its results go to stdout); the cluster launcher is a standalone script run
    # before raynas is known to import; print_table is a stdout table printer by design
    skipped = {PACKAGE / "cli", PACKAGE / "cluster" / "launcher.py"}
    files = [p for p in sorted(PACKAGE.rglob("*.py")) if not any(p == s or s in p.parents for s in skipped)]
    assert len(files) > 50
    found = [where for path in files for where in _print_calls(path)]
    assert found == []
    # the check sees a print call where there is one
    assert _print_calls(PACKAGE / "cluster" / "launcher.py")


def _module_loggers(path: Path) -> list[ast.expr]:
    """The arguments of module-level ``log = logging.getLogger(...)`` in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [node.value.args[0] for node in tree.body
            if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["log"]
            and isinstance(node.value, ast.Call) and ast.unparse(node.value.func) == "logging.getLogger"]


def test_module_loggers_are_children_of_the_raynas_logger():
    seen = 0
    for path in sorted(PACKAGE.rglob("*.py")):
        runs_as_main = 'if __name__ == "__main__"' in path.read_text()
        for arg in _module_loggers(path):
            seen += 1
            if isinstance(arg, ast.Name) and arg.id == "__name__":
                # a module run with `python -m` is __main__ there: its records would miss the raynas handler
                assert not runs_as_main, f"{path}: name the logger (it runs as __main__)"
            else:
                assert isinstance(arg, ast.Constant) and arg.value.startswith(f"{LOGGER_NAME}."), path
    assert seen >= 15
    from raynas.tracking import _mlflow_worker  # runs as `python -m raynas.tracking._mlflow_worker`

    assert _mlflow_worker.log.name.startswith(f"{LOGGER_NAME}.")

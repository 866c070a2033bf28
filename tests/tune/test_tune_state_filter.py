"""Ray Tune's failure to save its own experiment state is one warning line, not a traceback (issue 16: a resume
that ended at once printed Ray's traceback for a file renamed away during its background upload)."""

from __future__ import annotations

import io
import logging

from raynas.tune._runner import _tune_environment

RAY_MESSAGE = "Saving experiment state to storage at '%s' failed with exception: "


def log_save_failure(logger: logging.Logger) -> None:
    try:
        raise FileNotFoundError(2, "No such file or directory", "/tmp/ray/session/artifacts/experiment_state.json")
    except FileNotFoundError:
        logger.error(RAY_MESSAGE.replace("%s", "/work/exp/tune/run-2"), exc_info=True)


def captured(run) -> str:
    logger = logging.getLogger("ray.tune.execution.experiment_state")
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    try:
        run(logger)
    finally:
        logger.removeHandler(handler)
    return out.getvalue()


def test_a_failed_save_of_tune_state_is_one_warning_line_during_a_search():
    def run(logger):
        with _tune_environment():
            log_save_failure(logger)

    text = captured(run)
    assert "Traceback" not in text
    assert text.startswith("WARNING Ray Tune could not save its own state (FileNotFoundError")
    assert "nothing is lost" in text and len(text.strip().splitlines()) == 1


def test_the_filter_is_gone_after_the_search_and_other_errors_pass_untouched():
    text = captured(log_save_failure)  # outside a search: Ray's own record, as it was
    assert "Traceback" in text and text.startswith("ERROR Saving experiment state")

    def other(logger):
        with _tune_environment():
            logger.error("something else broke")

    assert captured(other) == "ERROR something else broke\n"

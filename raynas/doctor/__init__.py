"""``raynas doctor``: check every file of an experiment, say what is damaged and what can be rebuilt, and repair it.

:func:`check_experiment` reads each file as the commands do (the trial store's parts and chunks, ``config.json``,
``status.json``, ``runs.json``, the failure-budget and auto-stop files, ``progress.json``, ``uid``, a lock file, Ray
Tune's ``tune/`` folder and the MLflow run ledgers) with a time limit per file, and returns one
:class:`FileCheck` per file. :func:`repair` then moves damaged store files into ``trials/damaged/`` (data is never
deleted), rebuilds what the trial store can rebuild (``status.json``, ``runs.json``, ``failure_budget.json``,
``uid``), drops what a running search rewrites (``progress.json``), and says what cannot be rebuilt
(``config.json``).
"""

from raynas.doctor._checks import FileCheck, Report, State, check_experiment, timed
from raynas.doctor._repair import repair

__all__ = ["FileCheck", "Report", "State", "check_experiment", "repair", "timed"]

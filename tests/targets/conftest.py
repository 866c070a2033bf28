"""The user's project (a trainer, a model family and a task in one folder) the user-trainer tests run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

PROJECT = Path(__file__).parent / "user_project"


@pytest.fixture()
def project(tmp_path):
    """The user's folder, copied outside the repository (paths in the task are relative to it)."""
    folder = tmp_path / "project"
    shutil.copytree(PROJECT, folder)
    return folder

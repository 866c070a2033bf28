"""`raynas space list` lists the families a folder holds without running their code; only the family a command
uses is imported (`raynas space info NAME` imports that one file)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RAYNAS = str(Path(sys.executable).with_name("raynas"))
EVIL = ("from pathlib import Path\n"
        "Path({marker!r}).write_text('imported')\n")
TINY = ("from raynas.space import SearchSpace, one_of\n"
        "SPACE = SearchSpace({'width': one_of(4, 8, 16)}, name='tiny')\n"
        "def build(arch, **kwargs):\n    raise NotImplementedError\n")


def raynas(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([RAYNAS, *args], capture_output=True, text=True, cwd=cwd, timeout=120,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})


@pytest.fixture
def folder(tmp_path: Path) -> tuple[Path, Path]:
    """A current directory whose search_spaces/ holds a file that leaves a marker when imported, and a family."""
    cwd, marker = tmp_path / "project", tmp_path / "marker"
    (cwd / "search_spaces").mkdir(parents=True)
    (cwd / "search_spaces" / "evil.py").write_text(EVIL.format(marker=str(marker)))
    (cwd / "search_spaces" / "tiny.py").write_text(TINY)
    return cwd, marker


def test_space_list_names_the_files_of_the_current_folder_without_importing_them(folder):
    cwd, marker = folder
    text = raynas("space", "list", cwd=cwd)
    assert text.returncode == 0, text.stderr
    rows = {line.split()[0]: line for line in text.stdout.splitlines() if line.strip()}
    assert str(cwd / "search_spaces" / "evil.py") in rows["evil"] and str(cwd / "search_spaces" / "tiny.py") in rows["tiny"]
    assert "15,625" in rows["nasbench201"]  # the built-in and bundled ones keep their sizes
    assert "not imported" in text.stdout
    listing = {r["name"]: r for r in json.loads(raynas("space", "list", "--format", "json", cwd=cwd).stdout)}
    assert listing["evil"] == {"name": "evil", "size": None, "log10_size": None, "num_decisions": None,
                               "source": str((cwd / "search_spaces" / "evil.py").resolve())}
    assert listing["small_cnn"]["source"] == "bundled" and int(listing["small_cnn"]["size"]) > 0
    assert not marker.exists(), "listing ran code from ./search_spaces"


def test_space_info_imports_only_the_family_it_names(folder):
    cwd, marker = folder
    tiny = raynas("space", "info", "tiny", cwd=cwd)
    assert tiny.returncode == 0, tiny.stderr
    assert "1 decisions" in tiny.stdout and "3 architectures" in tiny.stdout
    assert not marker.exists(), "space info tiny imported evil.py too"
    raynas("space", "info", "evil", cwd=cwd)  # naming it is what runs it (and it is no family: an error, no matter)
    assert marker.read_text() == "imported"

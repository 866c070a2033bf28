"""Bad input for a user's trainer, data or weights: one line naming the value and the fix, exit code 2, before any
Ray cluster starts (``raynas search --config``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from raynas.cli import main

PROJECT = Path(__file__).parent / "user_project"


def _images(folder: Path, classes: int) -> None:
    from PIL import Image

    for label in range(classes):
        (folder / str(label)).mkdir(parents=True)
        for index in range(3):
            Image.new("L", (8, 8), color=index * 40).save(folder / str(label) / f"{index}.png")


CASES = {
    "trainer file missing": ({"./train.py:train": "./nowhere.py:train"}, None, "an existing Python file"),
    "trainer not callable": ({"./train.py:train": "./train.py:NOT_A_FUNCTION"}, None, "a callable"),
    "trainer with the wrong signature": ({"./train.py:train": "./train.py:two_arguments"}, None,
                                         "a function taking one argument"),
    "unknown dataset kind": ({"dataset: digits": "dataset: {kind: imagefolder, path: ./images}"}, None,
                             "did you mean 'image_folder'"),
    "empty image folder": ({"dataset: digits": "dataset: {kind: image_folder, path: ./images}"}, 0, "images"),
    "image folder with one class": ({"dataset: digits": "dataset: {kind: image_folder, path: ./images}"}, 1,
                                    "class"),
    "table without its label column": ({"dataset: digits": "dataset: {kind: table, path: ./t.csv, label: y}"},
                                       None, "label"),
    "pretrained checkpoint missing": ({"dataset: digits": "dataset: digits\npretrained: {checkpoint: ./no.pt}"},
                                      None, "an existing checkpoint file"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_with_the_fix_and_exit_code_2(case, tmp_path, capsys):
    changes, image_classes, expected = CASES[case]
    project = tmp_path / "project"
    shutil.copytree(PROJECT, project)
    if image_classes is not None:
        (project / "images").mkdir()
        _images(project / "images", image_classes)
    (project / "t.csv").write_text("a,b,label_typo\n1,2,0\n3,4,1\n")
    task = project / "task.yaml"
    text = task.read_text()
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new)
    task.write_text(text)
    config = tmp_path / "search.json"
    config.write_text(json.dumps({"name": "bad", "task": str(task), "workdir": str(tmp_path / "work"),
                                  "gpus_per_trial": 0, "max_trials": 2}))
    assert main(["search", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("raynas: error:"), err
    assert expected in lines[0], lines[0]
    assert not (tmp_path / "work" / "bad" / "trials").exists()  # refused before any trial

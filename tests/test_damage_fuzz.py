"""Damage a real experiment one file at a time, run every reader: never a traceback, never a hang, no trial of an
undamaged file lost (issue 16; bench/damage_fuzz.py runs 2,000 such cases)."""

from __future__ import annotations

import importlib.util
import json
import random
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.ray  # the experiment is built by a real search, resume runs one


def _bench():
    spec = importlib.util.spec_from_file_location("damage_fuzz", ROOT / "bench" / "damage_fuzz.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["damage_fuzz"] = module
    spec.loader.exec_module(module)
    return module


bench = _bench()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(bench folder, pristine experiment, trial ids per store file): a 14-trial dry-run search, built once."""
    folder = tmp_path_factory.mktemp("fuzz")
    pristine = folder / "pristine" / bench.NAME
    shutil.copytree(bench.build_experiment(folder), pristine)
    ids = bench.store_ids(pristine)
    assert sum(len(v) for v in ids.values()) == 14
    return folder, pristine, ids


def assert_contained(case):
    assert not case["tracebacks"], case["tracebacks"]
    assert not case["hangs"], case["hangs"]
    assert not case["lost"], case["lost"]
    assert all(code in bench.ALLOWED_EXIT for code in case["codes"].values()), case["codes"]


@settings(max_examples=6, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(pick=st.integers(min_value=0, max_value=10**6), kind=st.sampled_from(bench.KINDS + ("any",)),
       seed=st.integers(min_value=0, max_value=2**16))
def test_one_damaged_file_never_gives_a_traceback_nor_loses_another_trial(built, pick, kind, seed):
    folder, pristine, ids = built
    files = bench.targets(pristine)
    file = files[pick % len(files)]
    suffix = Path(file).suffix
    if kind == "any" or (kind == "wrong_schema" and suffix != ".parquet") or (kind == "wrong_type" and suffix != ".json"):
        kind = None
    case = bench.run_case(pristine, folder, random.Random(seed), ids, resume=False, timeout=60, file=file, kind=kind)
    assert_contained(case)
    if case["file"].startswith("trials/"):  # the damaged part was set aside by doctor --repair, the rest read
        assert case["codes"]["doctor"] in (0, 1) and case["codes"]["doctor --repair"] == 0


def pick(pristine: Path, where: str) -> Path:
    """A store part, or Ray Tune's searcher state (any file of tune/ when it has none of that name)."""
    if where == "part":
        return sorted(pristine.glob("trials/part-*.parquet"))[3].relative_to(pristine)
    files = sorted(p for p in (pristine / "tune").rglob("*") if p.is_file())
    return next((p for p in files if "searcher" in p.name), files[0]).relative_to(pristine)


@pytest.mark.parametrize("where", ["part"])  # damaged Tune state with resume: bench/damage_fuzz.py (resume every 100th)
def test_resume_and_readers_as_subprocesses_on_a_damaged_experiment(built, where):
    folder, pristine, ids = built
    match = pick(pristine, where)
    kind = "garble"
    case = bench.run_case(pristine, folder, random.Random(1), ids, resume=True, timeout=60, file=str(match), kind=kind)
    assert_contained(case)
    experiment = folder / "work" / bench.NAME
    for argv in (["trials", str(experiment), "--format", "json"], ["monitor", str(experiment)],
                 ["doctor", str(experiment)]):
        code, out, err = bench.run_subprocess(argv, 60)
        assert code in (0, 1) and "Traceback" not in err, (argv, code, err)
    code, out, err = bench.run_subprocess(["trials", str(experiment), "--format", "json"], 60)
    expected = {tid for f, tids in ids.items() if f != str(match) for tid in tids}
    assert expected <= {r["trial_id"] for r in json.loads(out)}  # every trial of the undamaged parts

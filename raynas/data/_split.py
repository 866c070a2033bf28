"""The two-stage data split and its sanity checks.

Stage 1 (search) trains on ~90% of the training data and validates on the other ~10% (seeded shuffle);
stage 2 (full training) uses 100% of the training data and the real validation set. Different validation
data in the two stages exposes search bias.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from raynas._files import atomic_path
from raynas.errors import ConfigError

#: Below this many stage-1 training examples per class an architecture search is not recommended.
MIN_PER_CLASS = 50
#: The rarest class holding less than this fraction of a uniform share counts as strongly imbalanced.
IMBALANCE_RATIO = 0.2
#: The stage-1 validation classes look unlike the real validation set when a chi-square test of their counts
#: against the real set's class shares gives a p-value below this (a fixed distance limit would flag small
#: validation sets for sampling noise alone).
MIN_DISTRIBUTION_P_VALUE = 0.01
AUGMENTATION_ADVICE = ("architecture search is not recommended on such data; consider an augmentation search "
                       "(fixed architecture, searched augmentation policy) instead")


@dataclass(frozen=True)
class SplitCheck:
    """One sanity check of a split: a name, whether it passed, the measured value and what it means."""

    name: str
    passed: bool
    value: float
    message: str

    def __post_init__(self) -> None:  # numpy scalars in, plain Python out (JSON-able)
        object.__setattr__(self, "passed", bool(self.passed))
        object.__setattr__(self, "value", float(self.value))


@dataclass(frozen=True)
class DataSplit:
    """Indices into the training set for stage 1, with the seed, fraction and fingerprint that made them."""

    dataset: str
    seed: int
    validation_fraction: float
    stage1_train: np.ndarray
    stage1_val: np.ndarray
    num_train: int
    data_fingerprint: str
    checks: tuple[SplitCheck, ...] = field(default=())

    @property
    def fingerprint(self) -> str:
        """Identifies this split: the data it was made from, the seed and the fraction."""
        text = f"{self.dataset}:{self.data_fingerprint}:{self.seed}:{self.validation_fraction}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def warnings(self) -> list[str]:
        return [c.message for c in self.checks if not c.passed]

    def summary(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset, "seed": self.seed, "validation_fraction": self.validation_fraction,
            "fingerprint": self.fingerprint, "data_fingerprint": self.data_fingerprint,
            "stage1_train": int(len(self.stage1_train)), "stage1_val": int(len(self.stage1_val)),
            "stage2_train": self.num_train,
            "checks": [{"name": c.name, "passed": c.passed, "value": round(c.value, 4), "message": c.message}
                       for c in self.checks],
        }

    def save(self, path: str | Path) -> Path:
        """Write the indices to Parquet with the split's parameters and fingerprint in the file metadata."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        index = np.concatenate([self.stage1_train, self.stage1_val]).astype(np.int64)
        role = ["stage1_train"] * len(self.stage1_train) + ["stage1_val"] * len(self.stage1_val)
        table = pa.table({"index": index, "role": role})
        meta = {"dataset": self.dataset, "seed": self.seed, "validation_fraction": self.validation_fraction,
                "num_train": self.num_train, "data_fingerprint": self.data_fingerprint,
                "fingerprint": self.fingerprint,
                "checks": [{"name": c.name, "passed": c.passed, "value": c.value, "message": c.message}
                           for c in self.checks]}
        table = table.replace_schema_metadata({b"raynas.split": json.dumps(meta).encode()})
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "DataSplit":
        import pyarrow.parquet as pq

        path = Path(path)
        if not path.is_file():
            raise ConfigError("split", str(path), "a split file written by `raynas split`", "run `raynas split` first")
        table = pq.read_table(path)
        meta = json.loads((table.schema.metadata or {}).get(b"raynas.split", b"{}"))
        if "fingerprint" not in meta:
            raise ConfigError("split", str(path), "a split file written by `raynas split` (no raynas metadata)")
        index = table.column("index").to_numpy()
        role = np.asarray(table.column("role").to_pylist())
        checks = tuple(SplitCheck(c["name"], c["passed"], c["value"], c["message"]) for c in meta["checks"])
        split = cls(meta["dataset"], meta["seed"], meta["validation_fraction"], index[role == "stage1_train"],
                    index[role == "stage1_val"], meta["num_train"], meta["data_fingerprint"], checks)
        if split.fingerprint != meta["fingerprint"]:
            raise ConfigError("split", str(path), "an unmodified split file", "its fingerprint does not match; "
                              "recreate it with `raynas split`")
        return split


def make_split(train_y: np.ndarray, val_y: np.ndarray, *, dataset: str, data_fingerprint: str, seed: int = 0,
               validation_fraction: float = 0.1) -> DataSplit:
    """Seeded shuffle of the training set into stage-1 train / stage-1 validation, with its checks."""
    if not 0 < validation_fraction < 1:
        raise ConfigError("validation_fraction", validation_fraction, "a fraction between 0 and 1 (e.g. 0.1)")
    n = len(train_y)
    num_val = int(round(validation_fraction * n))
    if num_val < 1 or num_val >= n:
        raise ConfigError("validation_fraction", validation_fraction,
                          f"a fraction that leaves both parts non-empty for {n} training examples")
    order = np.random.default_rng(seed).permutation(n)
    stage1_val, stage1_train = np.sort(order[:num_val]), np.sort(order[num_val:])
    checks = check_split(np.asarray(train_y), np.asarray(val_y), stage1_train, stage1_val)
    return DataSplit(dataset, seed, validation_fraction, stage1_train, stage1_val, n, data_fingerprint, checks)


def check_split(train_y: np.ndarray, val_y: np.ndarray, stage1_train: np.ndarray,
                stage1_val: np.ndarray) -> tuple[SplitCheck, ...]:
    """Distribution distance to the real validation set, examples per class, class imbalance."""
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import chisquare

    classes = np.union1d(np.unique(train_y), np.unique(val_y))

    def distribution(labels: np.ndarray) -> np.ndarray:
        counts = np.array([(labels == c).sum() for c in classes], dtype=float)
        return counts / max(counts.sum(), 1.0)

    distance = float(jensenshannon(distribution(train_y[stage1_val]), distribution(val_y), base=2))
    observed = distribution(train_y[stage1_val]) * len(stage1_val)
    expected = np.maximum(distribution(val_y), 1e-9)
    expected = expected / expected.sum() * observed.sum()
    p_value = float(chisquare(observed, expected).pvalue)
    per_class = np.array([(train_y[stage1_train] == c).sum() for c in classes])
    rarest = float(per_class.min() / per_class.sum())
    uniform = 1.0 / len(classes)
    return (
        SplitCheck("validation_distribution", p_value >= MIN_DISTRIBUTION_P_VALUE, distance,
                   f"stage-1 validation class distribution vs the real validation set: Jensen-Shannon distance "
                   f"{distance:.3f}, chi-square p = {p_value:.3g} "
                   + ("(consistent with random sampling)" if p_value >= MIN_DISTRIBUTION_P_VALUE else
                      f"(below {MIN_DISTRIBUTION_P_VALUE}: the search would optimise for different data than the "
                      "final evaluation; check how the validation set was drawn)")),
        SplitCheck("examples_per_class", per_class.min() >= MIN_PER_CLASS, float(per_class.min()),
                   f"fewest stage-1 training examples in a class: {per_class.min()} (want >= {MIN_PER_CLASS}); "
                   + ("enough" if per_class.min() >= MIN_PER_CLASS else f"too little data: {AUGMENTATION_ADVICE}")),
        SplitCheck("class_balance", rarest >= IMBALANCE_RATIO * uniform, rarest,
                   f"rarest class share {rarest:.3%} (uniform {uniform:.3%}, limit {IMBALANCE_RATIO:.0%} of it); "
                   + ("balanced enough" if rarest >= IMBALANCE_RATIO * uniform
                      else f"strong imbalance: {AUGMENTATION_ADVICE}")),
    )

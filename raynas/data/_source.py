"""The interface every dataset kind implements, and what the kinds share.

A **dataset source** is what a task's ``dataset:`` loads to. Every kind (``digits``, ``cifar10``, ``mnist1d``,
``image_folder``, ``arrays``, ``table``, ``callable`` or a plug-in) returns an object with:

========================  ==========================================================================================
``name``                  a short name (``digits``, ``image_folder:flowers``) stored with the split
``num_classes``           the number of classes; labels are ``0 .. num_classes - 1``
``input_shape``           one example's shape as the model sees it: ``(C, H, W)`` for images, ``(1, 40)`` for
                          mnist1d, ``(F,)`` for a table
``train_y`` / ``val_y``   the training and real-validation labels as int64 numpy arrays, read without decoding
                          any example (the split and its checks need nothing else)
``fingerprint()``         a short hash that changes when the data does (a stored split is checked against it)
``train_dataset()``       a torch map-style Dataset of ``(float32 tensor of input_shape, int label)`` over the training
``val_dataset()``         set (resp. the real validation set), in the order of ``train_y`` (``val_y``);
                          ``image_size=`` resizes images (a proxy's ``resolution_mult``)
``arrays()``              the data as in-memory arrays (an :class:`~raynas.data.ArrayDataset`) when the kind holds it
                          in memory, else None: the trainer then streams it through a DataLoader
``workers``               DataLoader worker processes to stream it with (0 for in-memory data)
========================  ==========================================================================================

:class:`~raynas.data.ArrayDataset` implements it for in-memory kinds (digits, cifar10, mnist1d, arrays, table);
:class:`StreamedDataset` for kinds read example by example (image_folder, callable). Torch is imported only when a
torch Dataset is asked for.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, runtime_checkable

import numpy as np

from raynas.errors import ConfigError

if TYPE_CHECKING:
    from raynas.data._datasets import ArrayDataset

#: Seed of the stratified share that becomes the real validation set of data that ships without one.
HOLDOUT_SEED = 20240101


@runtime_checkable
class DatasetSource(Protocol):
    """What every dataset kind loads to (see the module docstring)."""

    name: str
    num_classes: int
    train_y: np.ndarray
    val_y: np.ndarray

    @property
    def input_shape(self) -> tuple[int, ...]: ...

    @property
    def workers(self) -> int: ...

    def fingerprint(self) -> str: ...

    def train_dataset(self, *, image_size: int | None = None) -> Any: ...

    def val_dataset(self, *, image_size: int | None = None) -> Any: ...

    def arrays(self) -> "ArrayDataset | None": ...


@dataclass(frozen=True, eq=False)
class StreamedDataset:
    """A dataset read example by example: labels in memory, examples decoded by the torch Datasets it makes."""

    name: str
    num_classes: int
    input_shape: tuple[int, ...]
    train_y: np.ndarray
    val_y: np.ndarray
    data_fingerprint: str
    #: ``image_size -> torch Dataset`` of the training (resp. real validation) examples.
    make_train: Callable[[int | None], Any]
    make_val: Callable[[int | None], Any]
    workers: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "train_y", np.asarray(self.train_y, dtype=np.int64))
        object.__setattr__(self, "val_y", np.asarray(self.val_y, dtype=np.int64))
        object.__setattr__(self, "input_shape", tuple(int(s) for s in self.input_shape))

    def fingerprint(self) -> str:
        return self.data_fingerprint

    def train_dataset(self, *, image_size: int | None = None) -> Any:
        return self.make_train(image_size)

    def val_dataset(self, *, image_size: int | None = None) -> Any:
        return self.make_val(image_size)

    def arrays(self) -> None:
        return None


@dataclass(frozen=True, eq=False)
class DatasetSpec:
    """A task's ``dataset:`` value: a kind, its options, and the folders relative paths resolve against."""

    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)
    #: The task file's folder (relative paths resolve against it; None: the current directory).
    base_dir: str | None = None
    #: The task's ``data_dir`` (cifar10), already resolved.
    data_dir: str | None = None

    @property
    def key(self) -> str:
        """A canonical text of the spec (equal specs load the same data)."""
        return json.dumps([self.kind, dict(self.options), self.base_dir, self.data_dir], sort_keys=True, default=str)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DatasetSpec) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def field(self, option: str) -> str:
        """The option's name as the task file spells it (``dataset.path``)."""
        return f"dataset.{option}"

    def resolve(self, value: str) -> Path:
        """A path from the task, relative to the task file's folder."""
        path = Path(str(value)).expanduser()
        if not path.is_absolute():
            path = Path(self.base_dir or Path.cwd()) / path
        return path.resolve()

    def path(self, option: str = "path", *, required: bool = True, what: str = "an existing file or folder") -> Path | None:
        """The option as a resolved path that exists; a ConfigError naming the value when it is missing."""
        value = self.options.get(option)
        if value is None:
            if required:
                raise ConfigError(self.field(option), None, what, f"add `{option}:` to the task's dataset")
            return None
        if not isinstance(value, (str, Path)) or not str(value).strip():
            raise ConfigError(self.field(option), value, f"a path: {what}")
        path = self.resolve(value)
        if not path.exists():
            where = f"the task file's folder {self.base_dir}" if self.base_dir else "the current directory"
            raise ConfigError(self.field(option), str(value), what,
                              f"{path} does not exist; relative paths resolve against {where}")
        return path

    def option(self, option: str, default: Any = None) -> Any:
        return self.options.get(option, default)

    def to_task_value(self) -> str | dict[str, Any]:
        """The spec as a task file would spell it, with paths made absolute (for a copy written elsewhere)."""
        options = dict(self.options)
        for key in ("path", "val_path"):
            if isinstance(options.get(key), str):
                options[key] = str(self.resolve(options[key]))
        if isinstance(options.get("function"), str) and ".py:" in options["function"]:
            file, _, attr = options["function"].rpartition(":")
            options["function"] = f"{self.resolve(file)}:{attr}"
        kind = self.kind
        if ".py:" in kind:
            file, _, attr = kind.rpartition(":")
            kind = f"{self.resolve(file)}:{attr}"
        if not options:
            return kind
        return {"kind": kind, **options}


def as_labels(field_name: str, value: Any, labels: Any) -> np.ndarray:
    """Labels as int64 numpy; a ConfigError when they are not non-negative integers."""
    array = np.asarray(labels)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)
                           and not (np.issubdtype(array.dtype, np.floating) and np.all(np.mod(array, 1) == 0))):
        raise ConfigError(field_name, value, "integer class labels 0, 1, ... (one per example)",
                          f"got labels of dtype {array.dtype} and shape {array.shape}")
    array = array.astype(np.int64)
    if array.size and array.min() < 0:
        raise ConfigError(field_name, value, "class labels >= 0", f"the smallest label is {int(array.min())}")
    return array


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int = HOLDOUT_SEED) -> np.ndarray:
    """A boolean mask of a seeded, stratified ``fraction`` of ``labels`` (the real validation set of data that
    ships without one)."""
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        rng.shuffle(members)
        chosen.extend(members[: int(round(fraction * len(members)))])
    mask = np.zeros(len(labels), dtype=bool)
    if chosen:
        mask[np.asarray(chosen)] = True
    return mask


def holdout_options(spec: DatasetSpec) -> tuple[float, int]:
    """``val_fraction`` (default 0.2) and ``val_seed`` of a kind that can hold out its real validation set."""
    from raynas._parse import as_float, as_int

    fraction = as_float(spec.field("val_fraction"), spec.option("val_fraction", 0.2))
    if not 0 < fraction < 1:
        raise ConfigError(spec.field("val_fraction"), fraction, "a fraction between 0 and 1 (e.g. 0.2)")
    return fraction, as_int(spec.field("val_seed"), spec.option("val_seed", HOLDOUT_SEED), minimum=0)


def fingerprint_of(*parts: Any) -> str:
    """A short hash of labels (numpy arrays) and other values (their repr)."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            digest.update(np.ascontiguousarray(part).tobytes())
            digest.update(repr((part.dtype.str, part.shape)).encode())
        else:
            digest.update(repr(part).encode())
    return digest.hexdigest()[:16]


def load_object(field_name: str, ref: Any, *, base_dir: str | None = None) -> Any:
    """``package.module:function`` or ``./file.py:function`` (relative to ``base_dir``, the task file's folder)."""
    from raynas.references import absolute_reference, load_reference

    try:
        return load_reference(field_name, absolute_reference(field_name, ref, base_dir=base_dir))
    except ConfigError as exc:  # name the reference as the task file wrote it
        raise ConfigError(exc.field, ref, exc.expected, exc.fix) from None

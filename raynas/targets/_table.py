"""A benchmark table as a target: trials look up recorded results instead of training.

The table's declaration (:mod:`raynas.benchmarks`) names its space, its proxy column (NAS-Bench-201: 12 epochs),
which plays stage 1 and every cheaper variant, and its full column (200 epochs), which plays full training.
Settings are the ``benchmark:`` section of a search config; ``settings.table`` names the table (None: the bundled
NAS-Bench-201 one).
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

from raynas.errors import ConfigError
from raynas.trials import Evaluator, Stage, Target

#: NAS-Bench-201's ResNet-like cell, the bundled table's baseline (Dong & Yang, ICLR 2020; its declaration's
#: ``baseline:``).
TABLE_BASELINE = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
#: The one proxy candidate the bundled table has: its 12-epoch proxy column (other tables: ``<N>-epoch`` for
#: their declared proxy epochs, else ``proxy``).
TABLE_CANDIDATE = "12-epoch"


class TableTarget(Target):
    """Trials are look-ups in a declared table (the bundled NAS-Bench-201 one unless ``settings.table`` names
    another)."""

    kind = "table"

    def __init__(self, settings: Any = None) -> None:
        from raynas.benchmarks import TabularTrialSettings

        self.settings = settings if settings is not None else TabularTrialSettings()

    @property
    def declaration(self) -> Any:
        """The table's :class:`raynas.benchmarks.TableDeclaration` (reads no table)."""
        return self.settings.declaration()

    @property
    def label(self) -> str:
        return self.declaration.name

    @property
    def proxy_epochs(self) -> int | None:
        """Epochs the proxy column stands for (None when the declaration does not say)."""
        return self.declaration.proxy_epochs

    def space(self) -> Any:
        return self.declaration.space()

    def evaluator(self, *, variant: str, stage: Stage, experiment_dir: Path, device: str = "auto",
                  spec: Any = None, keep_checkpoint: bool | None = None,
                  augmentation: dict[str, Any] | None = None, init: Any = None) -> Evaluator:
        """The proxy column for stage 1 and for every cheaper variant (``spec``), the full column otherwise."""
        from raynas.benchmarks import TabularEvaluator

        if augmentation is not None:
            raise ConfigError("augmentation", augmentation, "no augmentation policy on a tabular benchmark",
                              "the table's columns are fixed trainings: drop --augmentation")
        if init is not None:
            raise ConfigError("init", init.checkpoint, "no starting weights on a tabular benchmark",
                              "the table's columns are recorded trainings: drop --init")
        column = "proxy" if variant == "proxy" or spec is not None else "full"
        evaluator = TabularEvaluator(replace(self.settings, variant=column))
        _ = evaluator.table  # load once on the driver: a bad table path fails here, not in every trial
        return evaluator

    def baseline_arch(self) -> Any:
        declared = self.declaration
        if declared.baseline is None:
            raise ConfigError("baseline", None, f"a baseline architecture in the declaration of table {declared.name!r}",
                              f"add `baseline: ARCH` (an architecture of its space) to {declared.source}")
        return copy.deepcopy(declared.baseline)

    def candidates(self, raw: Any = None) -> list[Any]:
        from raynas.benchmarks import TableVariant, load_table
        from raynas.tasks import ProxyCandidate

        name = self.declaration.candidate_name
        if raw not in (None, [name]):
            raise ConfigError("candidates", raw, f"[{name!r}] on the tabular benchmark",
                              f"the table only has one proxy column ({name}; its full column is full training)")
        table = load_table(self.settings.table)
        ratio = float((table.proxy_cost() / table.full_cost()).mean())
        return [ProxyCandidate(name, TableVariant.PROXY, ratio)]

    def fraction_spec(self, fraction: float) -> Any:
        return self.declaration.candidate_name  # the only cheaper training the table knows

    @property
    def has_data(self) -> bool:
        return False

    @property
    def latency_key(self) -> str:
        return "train_seconds"  # the table has no latency column: its recorded training cost stands in

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "label": self.label, "table": self.settings.table or "bundled"}

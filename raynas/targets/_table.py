"""A benchmark table as a target: trials look up recorded results instead of training.

The table's proxy column (NAS-Bench-201: 12 epochs) plays stage 1 and every cheaper variant; its full column
(200 epochs) plays full training. Settings are the ``benchmark:`` section of a search config.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from raynas.errors import ConfigError
from raynas.targets._base import Evaluator, Stage, Target

#: NAS-Bench-201's ResNet-like cell, the table's baseline (Dong & Yang, ICLR 2020).
TABLE_BASELINE = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
#: The one proxy candidate a table has: its proxy column.
TABLE_CANDIDATE = "12-epoch"
#: Epochs of the table's proxy column (its trials report no epoch).
TABLE_PROXY_EPOCHS = 12


class TableTarget(Target):
    """Trials are look-ups in a table (the bundled NAS-Bench-201 one unless ``settings.table`` names another)."""

    kind = "table"

    def __init__(self, settings: Any = None) -> None:
        from raynas.benchmarks import TabularTrialSettings

        self.settings = settings if settings is not None else TabularTrialSettings()

    @property
    def label(self) -> str:
        return "nasbench201"

    def space(self) -> Any:
        from raynas.benchmarks import nasbench201_space

        return nasbench201_space()

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
        from raynas.benchmarks import string_to_arch

        return string_to_arch(TABLE_BASELINE)

    def candidates(self, raw: Any = None) -> list[Any]:
        from raynas.benchmarks import Variant, load_table
        from raynas.proxy._candidates import ProxyCandidate

        if raw not in (None, [TABLE_CANDIDATE]):
            raise ConfigError("candidates", raw, f"[{TABLE_CANDIDATE!r}] on the tabular benchmark",
                              "the table only has a 12-epoch proxy column (the 200-epoch one is full training)")
        table = load_table(self.settings.table)
        ratio = float((table.proxy_cost() / table.full_cost()).mean())
        return [ProxyCandidate(TABLE_CANDIDATE, Variant.PROXY, ratio)]

    def fraction_spec(self, fraction: float) -> Any:
        return TABLE_CANDIDATE  # the only cheaper training the table knows

    @property
    def has_data(self) -> bool:
        return False

    @property
    def latency_key(self) -> str:
        return "train_seconds"  # the table has no latency column: its recorded training cost stands in

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "label": self.label, "table": self.settings.table or "bundled"}

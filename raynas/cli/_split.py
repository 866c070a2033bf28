"""``raynas split``: the two-stage data split, stored with its fingerprint, and its checks."""

from __future__ import annotations

import argparse
from pathlib import Path

from raynas.cli._output import add_format_flag, print_json, print_table
from raynas.errors import ConfigError
from raynas.experiment import DEFAULT_WORKDIR


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("split", help="make (or check) the stage-1/stage-2 data split of a dataset",
                                 description="Seeded shuffle of the training data into stage-1 train (~90%%) and "
                                             "stage-1 validation (~10%%); stage 2 uses all training data and the "
                                             "real validation set. Stored as Parquet with a fingerprint.")
    parser.add_argument("--dataset", required=True,
                        help="dataset name: digits (bundled), mnist1d (generated) or cifar10 (local folder)")
    parser.add_argument("--data-dir", help="folder of a dataset read from disk (cifar10: cifar-10-batches-py)")
    parser.add_argument("--seed", type=int, default=0, help="shuffle seed (default 0)")
    parser.add_argument("--validation-fraction", type=float, default=0.1,
                        help="share of the training data held out for stage-1 validation (default 0.1)")
    parser.add_argument("--out", help=f"split file (default {DEFAULT_WORKDIR}/splits/<dataset>-seed<seed>.parquet)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing split made differently")
    add_format_flag(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from raynas.data import DataSplit, load_dataset, make_split

    dataset = load_dataset(args.dataset, data_dir=args.data_dir)
    split = make_split(dataset.train_y, dataset.val_y, dataset=dataset.name, data_fingerprint=dataset.fingerprint(),
                       seed=args.seed, validation_fraction=args.validation_fraction)
    out = Path(args.out or Path(DEFAULT_WORKDIR) / "splits" / f"{dataset.name}-seed{args.seed}.parquet")
    action = "wrote"
    if out.exists():
        existing = DataSplit.load(out)
        if existing.fingerprint == split.fingerprint:
            action = "reused"
        elif not args.overwrite:
            raise ConfigError("--out", str(out), "a split file made from the same data, seed and fraction",
                              f"it holds split {existing.fingerprint} (seed {existing.seed}, fraction "
                              f"{existing.validation_fraction}); pass --overwrite or choose another --out")
    if action == "wrote":
        split.save(out)
    if args.format == "json":
        print_json({**split.summary(), "path": str(out), "action": action})
        return 0
    s = split.summary()
    print(f"{action} split {s['fingerprint']} of {dataset.name} at {out}: stage 1 trains on {s['stage1_train']} and "
          f"validates on {s['stage1_val']}; stage 2 trains on {s['stage2_train']} and validates on "
          f"{len(dataset.val_y)} (the real validation set)")
    print_table([["ok" if c.passed else "WARN", c.name, c.message] for c in split.checks], ["", "check", "detail"])
    return 0

"""Tracking: the on-disk trial store (Parquet via pyarrow)."""

from raynas.tracking._store import SCHEMA, TrialRecord, TrialStore

__all__ = ["SCHEMA", "TrialRecord", "TrialStore"]

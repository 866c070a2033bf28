"""Augmentation search: its own spaces (RandAugment- and AutoAugment-style), run on a fixed architecture."""

from raynas.augment._ops import OPS
from raynas.augment._policy import (
    POLICY_KINDS,
    augmentation_space,
    autoaugment_space,
    make_augmenter,
    randaugment_space,
)

__all__ = ["OPS", "POLICY_KINDS", "augmentation_space", "autoaugment_space", "make_augmenter", "randaugment_space"]

"""What a model family's builder is told about its inputs, for every dataset kind (images, sequences, features)."""

from __future__ import annotations

import inspect
from typing import Any, Callable

from raynas.errors import ConfigError


def scaled_input_shape(shape: tuple[int, ...], factor: float) -> tuple[int, ...]:
    """One example's shape after a variant's ``resolution_mult`` (images (C, H, W) only)."""
    if factor == 1.0:
        return tuple(int(s) for s in shape)
    if len(shape) != 3:
        raise ConfigError("resolution_mult", factor, "1.0 for inputs that are not images (C, H, W)",
                          f"these examples have shape {tuple(shape)}; leave resolution_mult out of the variant")
    return (int(shape[0]), *(max(1, int(round(s * factor))) for s in shape[1:]))


def family_input_kwargs(build: Callable[..., Any], shape: tuple[int, ...]) -> dict[str, Any]:
    """A family builder's input arguments: images (C, H, W) give ``in_channels`` C and ``image_size`` W; other inputs
    (sequences (C, L), features (F,)) give their size flattened as ``in_channels`` with ``image_size`` 1 (what an MLP's
    ``in_channels * image_size**2`` inputs expect). Builders that take ``input_shape`` get the shape itself too."""
    shape = tuple(int(s) for s in shape)
    size = 1
    for s in shape:
        size *= s
    kwargs: dict[str, Any] = ({"in_channels": shape[0], "image_size": shape[-1]} if len(shape) == 3
                              else {"in_channels": size, "image_size": 1})
    try:
        parameters = inspect.signature(build).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return kwargs
    if "input_shape" in parameters:
        kwargs["input_shape"] = shape
    return kwargs

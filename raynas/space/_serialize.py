"""JSON round trip of declarative spaces."""

from __future__ import annotations

from typing import Any

from raynas.errors import SpaceError
from raynas.space._nodes import FloatRange, IntRange, OneOf, SublistOf, contains_decision


def space_to_json(node: Any) -> Any:
    """A JSON-able description of a declarative space (decision nodes become tagged dicts)."""
    if isinstance(node, OneOf):
        return {"$one_of": [space_to_json(o) for o in node.options]}
    if isinstance(node, SublistOf):
        return {"$sublist_of": list(node.options), "min_k": node.min_k, "max_k": node.max_k}
    if isinstance(node, IntRange):
        return {"$int_range": [node.low, node.high], "step": node.step}
    if isinstance(node, FloatRange):
        return {"$float_range": [node.low, node.high], "num": node.num, "log": node.log}
    if isinstance(node, dict):
        if not contains_decision(node):
            return {"$const": node} if any(str(k).startswith("$") for k in node) else dict(node)
        return {k: space_to_json(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [space_to_json(v) for v in node]
    return node


def space_from_json(data: Any) -> Any:
    """Inverse of :func:`space_to_json`."""
    if isinstance(data, dict):
        tags = [k for k in data if isinstance(k, str) and k.startswith("$")]
        if len(tags) > 1:
            raise SpaceError(f"space JSON: one tag per node, got {tags}")
        if tags:
            tag = tags[0]
            try:
                if tag == "$one_of":
                    return OneOf(tuple(space_from_json(o) for o in data[tag]))
                if tag == "$sublist_of":
                    return SublistOf(tuple(data[tag]), int(data["min_k"]), int(data["max_k"]))
                if tag == "$int_range":
                    low, high = data[tag]
                    return IntRange(int(low), int(high), int(data.get("step", 1)))
                if tag == "$float_range":
                    low, high = data[tag]
                    return FloatRange(float(low), float(high), int(data["num"]), bool(data.get("log", False)))
                if tag == "$const":
                    return data[tag]
            except (KeyError, TypeError, ValueError) as exc:
                raise SpaceError(f"space JSON: malformed {tag} node {data!r} ({exc})") from None
            raise SpaceError(f"space JSON: unknown tag {tag!r} (known: $one_of, $sublist_of, $int_range, "
                             "$float_range, $const)")
        return {k: space_from_json(v) for k, v in data.items()}
    if isinstance(data, list):
        return [space_from_json(v) for v in data]
    return data

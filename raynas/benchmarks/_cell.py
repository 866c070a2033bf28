"""NAS-Bench-201 cell strings: the benchmark's text form of a cell architecture, both ways."""

from __future__ import annotations

from typing import Any

OPERATIONS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: Edges of the cell in the benchmark's string order: (target node, source node).
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))


def edge_key(target: int, source: int) -> str:
    return f"{source}->{target}"


def arch_to_string(arch: dict[str, Any]) -> str:
    """The benchmark's cell string, e.g. ``|nor_conv_3x3~0|+|...~0|...~1|+|...|``."""
    cell = arch["cell"]
    nodes = []
    for target in (1, 2, 3):
        nodes.append("|" + "|".join(f"{cell[edge_key(target, s)]}~{s}" for s in range(target)) + "|")
    return "+".join(nodes)


def string_to_arch(text: str) -> dict[str, Any]:
    cell = {}
    for target, node in enumerate(text.split("+"), start=1):
        for item in filter(None, node.split("|")):
            op, source = item.split("~")
            cell[edge_key(target, int(source))] = op
    return {"cell": cell}

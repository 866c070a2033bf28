"""SearchSpace: the public object users and controllers work with."""

from __future__ import annotations

import math
import random
import warnings
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

from raynas.errors import SpaceError, SpaceTooLargeError
from raynas.space._compiled import Decision, Genotype, compile_space
from raynas.space._nodes import Node, OneOf, check_depth, contains_decision

#: Spaces larger than this are refused unless the user opts in (``allow_huge=True``).
DEFAULT_MAX_SIZE = 10**20
#: A decision with more options than this gets a warning (controllers learn slowly on wide decisions).
WIDE_DECISION = 10


class WideDecisionWarning(UserWarning):
    """A decision has more options than controllers handle well; consider splitting or coarsening it."""


@dataclass(frozen=True)
class SpaceSummary:
    """What ``raynas space info`` prints."""

    name: str
    size: int
    log10_size: float
    num_decisions: int
    decisions: tuple[tuple[str, str, int, tuple[str, ...], str | None], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "size": str(self.size),
            "log10_size": round(self.log10_size, 3),
            "num_decisions": self.num_decisions,
            "decisions": [
                {"path": p, "kind": k, "num_options": n, "options": list(o), "active_when": cond}
                for p, k, n, o, cond in self.decisions
            ],
        }


class SearchSpace:
    """An architecture search space: a nesting of dicts/lists with decisions at the leaves.

    Architectures are plain JSON-able values; a genotype is a tuple of ints, one per decision (decisions
    inactive under the architecture's conditional choices hold 0, so each architecture has exactly one
    genotype).
    """

    def __init__(self, root: Any, *, name: str = "space", max_size: int = DEFAULT_MAX_SIZE,
                 allow_huge: bool = False) -> None:
        check_depth(root, f"search space {name!r}")
        if not contains_decision(root):
            raise SpaceError(f"search space {name!r} has no decision: use one_of(), sublist_of(), int_range() "
                             "or float_range() somewhere in it")
        self.name = name
        self.root = root
        self.allow_huge = allow_huge
        self._tree, self._decisions = compile_space(root)
        self._size = self._tree.size()
        self._parents = frozenset(d.parent[0] for d in self._decisions if d.parent is not None)
        self._check_size(max_size)
        for d in self._decisions:
            if d.num_options > WIDE_DECISION:
                warnings.warn(
                    f"search space {name!r}: decision {d.path!r} has {d.num_options} options (more than "
                    f"{WIDE_DECISION}); controllers learn slowly on wide decisions: coarsen it or split it "
                    "into several decisions",
                    WideDecisionWarning,
                    stacklevel=2,
                )

    def _check_size(self, max_size: int) -> None:
        if self._size <= max_size or self.allow_huge:
            return
        parts = ""
        if isinstance(self.root, dict):
            sizes = []
            for key, value in self.root.items():
                if contains_decision(value):
                    sub = compile_space(value)[0].size()
                    sizes.append(f"{key!r} ~10^{math.log10(sub):.1f}")
            if sizes:
                parts = f" Its top-level parts: {', '.join(sizes)}."
        raise SpaceTooLargeError(
            f"search space {self.name!r} has ~10^{self.log10_size:.1f} architectures, more than the limit of "
            f"10^{math.log10(max_size):.0f}.{parts} Split it: search one part with the others fixed "
            "(space.fix({...}) / `fixed:` in the config), then the next; or opt in with allow_huge=True "
            "(`allow_huge_space: true`)."
        )

    # --- structure -------------------------------------------------------------------------------------
    @property
    def decisions(self) -> tuple[Decision, ...]:
        """Every decision, in genotype order (conditional ones included)."""
        return tuple(self._decisions)

    @property
    def num_decisions(self) -> int:
        return len(self._decisions)

    @property
    def options_per_decision(self) -> tuple[int, ...]:
        return tuple(d.num_options for d in self._decisions)

    @property
    def size(self) -> int:
        """Exact number of distinct architectures."""
        return self._size

    @property
    def log10_size(self) -> float:
        return math.log10(self._size)

    @property
    def is_conditional(self) -> bool:
        return any(d.parent is not None for d in self._decisions)

    # --- per architecture ------------------------------------------------------------------------------
    def sample(self, rng: random.Random | int | None = None) -> dict | Any:
        """A uniformly-per-decision random architecture."""
        return self.decode(self.sample_genotype(rng))

    def sample_genotype(self, rng: random.Random | int | None = None) -> Genotype:
        rng = rng if isinstance(rng, random.Random) else random.Random(rng)
        out = [0] * len(self._decisions)
        self._tree.sample(out, rng)
        return tuple(out)

    def decode(self, genotype: Genotype | list[int]) -> Any:
        """Architecture of a genotype."""
        self._check_genotype(genotype)
        return self._tree.decode(tuple(genotype))

    def encode(self, arch: Any) -> Genotype:
        """Genotype of an architecture; raises SpaceError naming the offending path if it is not in the space."""
        out = [0] * len(self._decisions)
        self._tree.encode(arch, out, "")
        return tuple(out)

    def contains(self, arch: Any) -> bool:
        try:
            self.encode(arch)
        except SpaceError:
            return False
        return True

    def active_decisions(self, genotype: Sequence[int]) -> list[int]:
        """Indices of the decisions that matter for this genotype."""
        out: list[int] = []
        self._tree.active(tuple(genotype), out)
        return out

    def canonical(self, genotype: Genotype | list[int]) -> Genotype:
        """The genotype with every inactive decision reset to 0."""
        self._check_genotype(genotype)
        keep = set(self.active_decisions(genotype))
        return tuple(v if i in keep else 0 for i, v in enumerate(genotype))

    def mutate(self, genotype: Genotype, rng: random.Random | int | None = None) -> Genotype:
        """Change exactly one active decision to another option (resampling a newly activated sub-space)."""
        rng = rng if isinstance(rng, random.Random) else random.Random(rng)
        genotype = tuple(genotype)
        candidates = [i for i in self.active_decisions(genotype) if self._decisions[i].num_options > 1]
        if not candidates:
            return genotype
        index = rng.choice(candidates)
        out = list(genotype)
        out[index] = self._decisions[index].leaf.neighbour(genotype[index], rng)
        if index in self._parents:  # a conditional choice: sample the sub-space it switches on
            fresh = self.sample_genotype(rng)
            before = set(self.active_decisions(genotype))
            for i in self._active_of(out):
                if i != index and i not in before:
                    out[i] = fresh[i]
            return self.canonical(out)
        return tuple(out)

    def _active_of(self, genotype: list[int]) -> list[int]:
        out: list[int] = []
        self._tree.active(tuple(genotype), out)
        return out

    def enumerate(self) -> Iterator[Genotype]:
        """Every genotype of the space, each architecture exactly once (lazy; only for small spaces)."""
        n = len(self._decisions)
        for assignment in self._tree.enumerate():
            out = [0] * n
            for index, option in assignment:
                out[index] = option
            yield tuple(out)

    def _check_genotype(self, genotype: Genotype | list[int]) -> None:
        if len(genotype) != len(self._decisions):
            raise SpaceError(f"genotype has {len(genotype)} entries, space {self.name!r} has {len(self._decisions)} decisions")
        for d, v in zip(self._decisions, genotype):
            if not (isinstance(v, int) and 0 <= v < d.num_options):
                raise SpaceError(f"genotype entry {d.index} ({d.path}) = {v!r} is not an option 0..{d.num_options - 1}")

    # --- splitting -------------------------------------------------------------------------------------
    def fix(self, values: Mapping[str, Any]) -> "SearchSpace":
        """A new space with the parts at the given paths fixed to known values, e.g. ``{"encoder": enc_arch}``.

        Paths use dots for dict keys and ``[i]`` for list items (``"blocks[2].kernel"``). Each value must be
        in the part of the space it fixes.
        """
        root = self.root
        for path, value in values.items():
            check_depth(value, f"the value fixing {path!r}")
            root = _replace_at(root, _parse_path(path), value, path)
        if not contains_decision(root):
            raise SpaceError(f"fixing {sorted(values)} leaves no decision to search in space {self.name!r}: "
                             "leave at least one part free")
        return SearchSpace(root, name=self.name, allow_huge=self.allow_huge)

    # --- description -----------------------------------------------------------------------------------
    def summary(self) -> SpaceSummary:
        rows = []
        for d in self._decisions:
            labels = tuple(d.label(i) for i in range(min(d.num_options, 12)))
            if d.num_options > 12:
                labels += (f"... ({d.num_options - 12} more)",)
            cond = None
            if d.parent is not None:
                parent = self._decisions[d.parent[0]]
                cond = f"{parent.path} = option {d.parent[1]}"
            rows.append((d.path, d.kind, d.num_options, labels, cond))
        return SpaceSummary(self.name, self._size, self.log10_size, len(self._decisions), tuple(rows))

    def to_json(self) -> dict[str, Any]:
        from raynas.space._serialize import space_to_json

        return {"name": self.name, "allow_huge": self.allow_huge, "space": space_to_json(self.root)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "SearchSpace":
        from raynas.space._serialize import space_from_json

        check_depth(data["space"], f"search space JSON {data.get('name', 'space')!r}")
        return cls(space_from_json(data["space"]), name=data.get("name", "space"),
                   allow_huge=bool(data.get("allow_huge", False)))

    def __repr__(self) -> str:
        return f"SearchSpace({self.name!r}, decisions={self.num_decisions}, size~10^{self.log10_size:.2f})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(self.name)


def _parse_path(path: str) -> list[str | int]:
    tokens: list[str | int] = []
    for part in path.replace("[", ".[").split("."):
        if not part:
            continue
        if part.startswith("["):
            if not part.endswith("]") or not part[1:-1].isdigit():
                raise SpaceError(f"bad path {path!r}: list indexes look like [2]")
            tokens.append(int(part[1:-1]))
        else:
            tokens.append(part)
    if not tokens:
        raise SpaceError(f"bad path {path!r}")
    return tokens


def _replace_at(node: Any, tokens: list[str | int], value: Any, path: str) -> Any:
    if not tokens:
        if contains_decision(node):
            SearchSpace(node, name=path, allow_huge=True).encode(value)  # validates membership, names the path
        elif node != value:
            raise SpaceError(f"cannot fix {path!r} to {value!r}: it is already fixed to {node!r}")
        return value
    head, rest = tokens[0], tokens[1:]
    if isinstance(node, OneOf) or (isinstance(node, Node)):
        raise SpaceError(f"cannot fix inside the decision at {path!r}: fix the whole decision instead")
    if isinstance(head, str):
        if not isinstance(node, dict) or head not in node:
            keys = list(node) if isinstance(node, dict) else []
            raise SpaceError(f"fix: path {path!r} not found (no key {head!r}; keys here: {keys})")
        out = dict(node)
        out[head] = _replace_at(node[head], rest, value, path)
        return out
    if not isinstance(node, (list, tuple)) or not 0 <= head < len(node):
        raise SpaceError(f"fix: path {path!r} not found (no list item [{head}])")
    items = list(node)
    items[head] = _replace_at(node[head], rest, value, path)
    return items

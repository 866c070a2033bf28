"""A space compiled into a tree with numbered decisions; all per-architecture operations walk it."""

from __future__ import annotations

import json
import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Iterator

from raynas.errors import SpaceError
from raynas.space._leaves import ChoiceLeaf, FloatLeaf, IntLeaf, Leaf, SublistLeaf
from raynas.space._nodes import FloatRange, IntRange, Node, OneOf, SublistOf, contains_decision

Genotype = tuple[int, ...]


@dataclass(frozen=True)
class Decision:
    """One decision of a space, in genotype order.

    ``parent`` is ``(decision index, option)`` when the decision only exists if that earlier decision took
    that option (a conditional sub-space); ``None`` for unconditional decisions.
    """

    index: int
    path: str
    kind: str
    num_options: int
    parent: tuple[int, int] | None
    leaf: Leaf

    def label(self, option: int) -> str:
        """Human-readable text of one option."""
        return self.leaf.label(option)


class _Compiled(ABC):
    """A node of the compiled tree: a constant, a group (dict/list) of nodes, or a decision with its branches."""

    @abstractmethod
    def size(self) -> int: ...
    @abstractmethod
    def decode(self, g: Genotype) -> Any: ...
    @abstractmethod
    def encode(self, value: Any, out: list[int], path: str) -> None: ...
    @abstractmethod
    def sample(self, out: list[int], rng: random.Random) -> None: ...
    @abstractmethod
    def active(self, g: Genotype, out: list[int]) -> None: ...
    @abstractmethod
    def all_indices(self, out: list[int]) -> None: ...
    @abstractmethod
    def enumerate(self) -> Iterator[list[tuple[int, int]]]: ...


@dataclass(frozen=True)
class _Const(_Compiled):
    value: Any

    def size(self) -> int:
        return 1

    def decode(self, g: Genotype) -> Any:
        return json.loads(json.dumps(self.value))  # a fresh copy: callers may mutate architectures

    def encode(self, value: Any, out: list[int], path: str) -> None:
        if json.dumps(value, sort_keys=True) != json.dumps(self.value, sort_keys=True):
            raise SpaceError(f"{path or 'architecture'}: expected the fixed value {self.value!r}, got {value!r}")

    def sample(self, out: list[int], rng: random.Random) -> None:
        pass

    def active(self, g: Genotype, out: list[int]) -> None:
        pass

    def all_indices(self, out: list[int]) -> None:
        pass

    def enumerate(self) -> Iterator[list[tuple[int, int]]]:
        yield []


@dataclass(frozen=True)
class _Group(_Compiled):
    """A dict (``keys`` given) or a list (``keys`` None) of sub-trees."""

    keys: tuple[str, ...] | None
    children: tuple[_Compiled, ...]

    def size(self) -> int:
        total = 1
        for child in self.children:
            total *= child.size()
        return total

    def decode(self, g: Genotype) -> Any:
        values = [c.decode(g) for c in self.children]
        return dict(zip(self.keys, values)) if self.keys is not None else values

    def encode(self, value: Any, out: list[int], path: str) -> None:
        if self.keys is not None:
            if not isinstance(value, dict):
                raise SpaceError(f"{path or 'architecture'}: expected a dict with keys {list(self.keys)}, got {value!r}")
            missing = [k for k in self.keys if k not in value]
            extra = [k for k in value if k not in self.keys]
            if missing or extra:
                raise SpaceError(
                    f"{path or 'architecture'}: keys do not match the space (missing {missing}, unexpected {extra})"
                )
            for key, child in zip(self.keys, self.children):
                child.encode(value[key], out, f"{path}.{key}" if path else key)
        else:
            if not isinstance(value, (list, tuple)) or len(value) != len(self.children):
                raise SpaceError(f"{path or 'architecture'}: expected a list of {len(self.children)} items, got {value!r}")
            for i, (item, child) in enumerate(zip(value, self.children)):
                child.encode(item, out, f"{path}[{i}]")

    def sample(self, out: list[int], rng: random.Random) -> None:
        for child in self.children:
            child.sample(out, rng)

    def active(self, g: Genotype, out: list[int]) -> None:
        for child in self.children:
            child.active(g, out)

    def all_indices(self, out: list[int]) -> None:
        for child in self.children:
            child.all_indices(out)

    def enumerate(self) -> Iterator[list[tuple[int, int]]]:
        return _product(self.children, 0)


def _product(children: tuple[_Compiled, ...], start: int) -> Iterator[list[tuple[int, int]]]:
    if start == len(children):
        yield []
        return
    for head in children[start].enumerate():
        for rest in _product(children, start + 1):
            yield head + rest


@dataclass(frozen=True)
class _Decide(_Compiled):
    """One decision; ``branches[i]`` is the compiled sub-space of option i, or None for a plain value."""

    index: int
    leaf: Leaf
    branches: tuple[_Compiled | None, ...] | None

    def _branch(self, option: int) -> _Compiled | None:
        return self.branches[option] if self.branches is not None else None

    def size(self) -> int:
        if self.branches is None:
            return self.leaf.num_options
        return sum(b.size() if b is not None else 1 for b in self.branches)

    def decode(self, g: Genotype) -> Any:
        option = g[self.index]
        branch = self._branch(option)
        return branch.decode(g) if branch is not None else self.leaf.value(option)

    def encode(self, value: Any, out: list[int], path: str) -> None:
        if self.branches is None:
            try:
                out[self.index] = self.leaf.option_of(value)
            except SpaceError as exc:
                raise SpaceError(f"{path or 'architecture'}: {exc}") from None
            return
        errors = []
        for option, branch in enumerate(self.branches):
            if branch is None:
                if json.dumps(value, sort_keys=True) == json.dumps(self.leaf.value(option), sort_keys=True):
                    out[self.index] = option
                    return
                continue
            trial = list(out)
            try:
                branch.encode(value, trial, path)
            except SpaceError as exc:
                errors.append(str(exc))
                continue
            out[:] = trial
            out[self.index] = option
            return
        detail = f" ({errors[0]})" if len(errors) == 1 else ""
        raise SpaceError(f"{path or 'architecture'}: {value!r} matches none of the options{detail}")

    def sample(self, out: list[int], rng: random.Random) -> None:
        option = rng.randrange(self.leaf.num_options)
        out[self.index] = option
        branch = self._branch(option)
        if branch is not None:
            branch.sample(out, rng)

    def active(self, g: Genotype, out: list[int]) -> None:
        out.append(self.index)
        branch = self._branch(g[self.index])
        if branch is not None:
            branch.active(g, out)

    def all_indices(self, out: list[int]) -> None:
        out.append(self.index)
        for branch in self.branches or ():
            if branch is not None:
                branch.all_indices(out)

    def enumerate(self) -> Iterator[list[tuple[int, int]]]:
        for option in range(self.leaf.num_options):
            branch = self._branch(option)
            if branch is None:
                yield [(self.index, option)]
            else:
                for rest in branch.enumerate():
                    yield [(self.index, option)] + rest


def compile_space(root: Any) -> tuple[_Compiled, list[Decision]]:
    """Compile a declarative space into its decision tree and the flat list of decisions."""
    decisions: list[Decision] = []
    tree = _compile(root, "", None, decisions)
    return tree, decisions


def _compile(node: Any, path: str, parent: tuple[int, int] | None, decisions: list[Decision]) -> _Compiled:
    if not contains_decision(node):
        try:
            json.dumps(node)
        except (TypeError, ValueError):
            raise SpaceError(f"{path or 'space'}: {node!r} is not a JSON value or a decision") from None
        return _Const(json.loads(json.dumps(node)))
    if isinstance(node, dict):
        for key in node:
            if not isinstance(key, str):
                raise SpaceError(f"{path or 'space'}: dict keys must be strings, got {key!r}")
        children = tuple(_compile(v, f"{path}.{k}" if path else k, parent, decisions) for k, v in node.items())
        return _Group(tuple(node.keys()), children)
    if isinstance(node, (list, tuple)):
        return _Group(None, tuple(_compile(v, f"{path}[{i}]", parent, decisions) for i, v in enumerate(node)))
    if isinstance(node, Node):
        index = len(decisions)
        name = path or "value"
        if isinstance(node, OneOf):
            has_branches = any(contains_decision(o) for o in node.options)
            values = tuple(_option_placeholder(o, i) if contains_decision(o) else o for i, o in enumerate(node.options))
            leaf: Leaf = ChoiceLeaf(values)
            decisions.append(Decision(index, name, "one_of", leaf.num_options, parent, leaf))
            if not has_branches:
                return _Decide(index, leaf, None)
            branches = tuple(
                _compile(o, f"{name}@{i}", (index, i), decisions) if contains_decision(o) else None
                for i, o in enumerate(node.options)
            )
            return _Decide(index, leaf, branches)
        if isinstance(node, SublistOf):
            leaf = SublistLeaf(node.options, node.min_k, node.max_k)
            kind = "sublist_of"
        elif isinstance(node, IntRange):
            leaf = IntLeaf(node.low, node.high, node.step)
            kind = "int_range"
        elif isinstance(node, FloatRange):
            leaf = FloatLeaf(tuple(node.values()))
            kind = "float_range"
        else:  # pragma: no cover - all node types handled above
            raise SpaceError(f"{name}: unsupported node {node!r}")
        decisions.append(Decision(index, name, kind, leaf.num_options, parent, leaf))
        return _Decide(index, leaf, None)
    raise SpaceError(f"{path or 'space'}: unsupported value {node!r}")  # pragma: no cover


def _option_placeholder(option: Any, i: int) -> str:
    """Label of a conditional option (a sub-space) in summaries: its position and shape."""
    if isinstance(option, (list, tuple)):
        return f"<sub-space {i}: list of {len(option)}>"
    if isinstance(option, dict):
        return f"<sub-space {i}: {{{', '.join(map(str, option))}}}>"
    return f"<sub-space {i}>"

"""YAML loading that remembers where every key and value came from.

PyYAML's ``safe_load`` forgets positions and silently keeps the last of two equal keys. Here
the document is composed into nodes first and built by hand: scalars go through PyYAML's
:class:`~yaml.constructor.SafeConstructor` (so only plain YAML types exist — no Python tags),
mappings become ``dict`` with ``str`` keys, sequences ``list``, and :class:`YamlDocument`
keeps, for every path into the data (a tuple of keys and indices), the 1-based line and
column of its key and of its value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

from calsyncd.errors import ConfigError, Problem

Loc = tuple[str | int, ...]
"""A path into a document: mapping keys and sequence indices."""

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """A 1-based line and column."""

    line: int
    column: int


_START = Position(1, 1)

MAX_DEPTH = 64
"""How deeply mappings and lists may nest; a rule file needs fewer than ten levels."""
MAX_VALUES = 100_000
"""How many values a document may expand to. Aliases are expanded into copies, so a few
hundred bytes of nested aliases ("billion laughs") would otherwise build billions; a
hundred rules are a few thousand values."""


class _TooLarge(Exception):
    """The document expands past :data:`MAX_VALUES`."""


@dataclass(frozen=True)
class YamlDocument:
    """Parsed data plus the position of every key and value in the source text."""

    source: str
    data: Any
    keys: Mapping[Loc, Position] = field(repr=False)
    values: Mapping[Loc, Position] = field(repr=False)

    def position(self, loc: Loc, *, key: bool = False) -> Position:
        """Where ``loc`` is written; for a path that does not exist, where its nearest parent is.

        With ``key``, the position of the key that holds the value (for a sequence item, the
        item itself) — the right place to point at for an unknown or misplaced key.
        """
        for end in range(len(loc), -1, -1):
            prefix = loc[:end]
            index = self.keys if key or end < len(loc) else self.values
            found = index.get(prefix) or self.values.get(prefix)
            if found is not None:
                return found
        return _START

    def has(self, loc: Loc) -> bool:
        """Whether ``loc`` names something written in the document."""
        return loc in self.values


def _mark(node: Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source
        self.constructor = SafeConstructor()
        self.keys: dict[Loc, Position] = {}
        self.values: dict[Loc, Position] = {}
        self.problems: list[Problem] = []
        self._active: set[int] = set()
        self._built = 0

    def problem(self, node: Node, message: str) -> None:
        at = _mark(node)
        self.problems.append(Problem(self.source, at.line, at.column, message))

    def build(self, node: Node, loc: Loc) -> Any:
        self._built += 1
        if self._built > MAX_VALUES:
            self.problem(
                node,
                f"the document expands to more than {MAX_VALUES:,} values"
                " (aliases of aliases?); not read further",
            )
            raise _TooLarge
        self.values[loc] = _mark(node)
        if len(loc) > MAX_DEPTH:
            self.problem(node, f"nested too deeply (more than {MAX_DEPTH} levels)")
            return None
        if id(node) in self._active:
            self.problem(node, "an alias refers to its own anchor (a recursive structure)")
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, loc)
            if isinstance(node, SequenceNode):
                if node.tag != _SEQ_TAG:
                    self.problem(node, f"unsupported YAML tag {node.tag}")
                    return None
                return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
            return self._scalar(node)
        finally:
            self._active.discard(id(node))

    def _scalar(self, node: Node) -> Any:
        try:
            return self.constructor.construct_object(node, deep=True)
        except ConstructorError as exc:
            problem = exc.problem or "cannot read this value"
            if node.tag.startswith("tag:yaml.org,2002:python/") or "constructor" in problem:
                problem = f"unsupported YAML tag {node.tag} (only plain YAML types are allowed)"
            self.problem(node, problem)
            return None
        except (ValueError, TypeError, AttributeError, OverflowError):
            # PyYAML's constructors fail like this on `!!float x` or a date such as 2024-13-45.
            self.problem(node, f"cannot read this value as {node.tag.rpartition(':')[2]}")
            return None

    def _mapping(self, node: MappingNode, loc: Loc) -> dict[str, Any] | None:
        if node.tag != _MAP_TAG:
            self.problem(node, f"unsupported YAML tag {node.tag}")
            return None
        seen: dict[str, Position] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, ScalarNode):
                continue
            where = _mark(key_node)
            if key_node.value in seen:
                first = seen[key_node.value]
                self.problem(
                    key_node,
                    f'duplicate key "{key_node.value}" (first at line {first.line},'
                    f" column {first.column})",
                )
            else:
                seen[key_node.value] = where
        try:
            self.constructor.flatten_mapping(node)  # resolves "<<: *anchor" merge keys
        except ConstructorError as exc:
            self.problem(node, exc.problem or "invalid merge key")
            return None
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.problem(key_node, "a key must be plain text, not a list or mapping")
                continue
            # The key as written: `yes:` or `1:` stay the strings "yes" and "1".
            key = str(key_node.value)
            self.keys[(*loc, key)] = _mark(key_node)
            result[key] = self.build(value_node, (*loc, key))
        return result


def _syntax_problem(source: str, exc: yaml.YAMLError, text: str) -> Problem:
    if isinstance(exc, ReaderError):  # a character YAML does not allow (NUL, most controls)
        start = text.rfind("\n", 0, exc.position) + 1
        line = text.count("\n", 0, exc.position) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character or "?")
        message = f"YAML syntax error: unacceptable character #x{char:04x}: {exc.reason}"
        return Problem(source, line, exc.position - start + 1, message)
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return Problem(source, 1, 1, f"YAML syntax error: {' '.join(str(exc).split())}")
    mark = exc.problem_mark
    message = f"YAML syntax error: {exc.problem}"
    if exc.context and exc.problem and exc.problem.startswith("but "):
        message = f"YAML syntax error: {exc.context}, {exc.problem}"
    elif exc.context and exc.context_mark is not None:
        ctx = exc.context_mark
        message += f" ({exc.context} at line {ctx.line + 1}, column {ctx.column + 1})"
    elif exc.context:
        message += f" ({exc.context})"
    if 0 < mark.index <= len(text) and text[mark.index - 1 : mark.index + 1] == "${":
        message += '; inside {…} or […] quote a reference: "${env:NAME}"'
    return Problem(source, mark.line + 1, mark.column + 1, message)


def parse_yaml(text: str, source: str) -> YamlDocument:
    """Parse one YAML document; ``source`` names it in problems (a display path).

    An empty document is ``None``. Raises :class:`ConfigError` for a syntax error (at the
    mark PyYAML reports), a duplicate key, an unsupported tag or a recursive alias.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError([_syntax_problem(source, exc, text)]) from None
    except RecursionError:  # PyYAML composes nested collections recursively
        message = f"YAML syntax error: nested too deeply (more than {MAX_DEPTH} levels)"
        raise ConfigError([Problem(source, 1, 1, message)]) from None
    builder = _Builder(source)
    try:
        data = None if root is None else builder.build(root, ())
    except _TooLarge:
        raise ConfigError(builder.problems[-1:]) from None
    if builder.problems:
        raise ConfigError(sorted(builder.problems, key=lambda p: (p.line, p.column)))
    return YamlDocument(source, data, builder.keys, builder.values)

"""iCalendar text one component at a time: the first stage of the reader, in bounded memory.

Content lines are unfolded and decoded one at a time — folds are removed before decoding,
since some writers fold inside a UTF-8 sequence — and split by the ``icalendar`` package's
tokenizer (:meth:`~icalendar.parser.Contentline.raw_parts`). A tree is built only for the
component being read, one VEVENT with its alarms or one VTIMEZONE, and handed on when it
ends; nothing else of the document is kept. Reading a feed so costs the model objects the
caller keeps, not a token list and a tree of the whole text.

A line that cannot be split into name, parameters and value is not a property of its
component: it is kept aside (:attr:`Component.unreadable`, the first
:data:`MAX_UNREADABLE_KEPT`), for the reader to decide whether the object can do without it.

Limits, each making the one object that exceeds it unreadable (its content is skipped, only
the names of nested components are counted, to find where it ends):

- components nested deeper than :data:`MAX_DEPTH` (a VEVENT's VALARM is at depth 3);
- more than :data:`MAX_OBJECT_LINES` content lines in one component of a VCALENDAR.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import AnyStr

from icalendar import vDDDTypes
from icalendar.parser import Contentline, Parameters

from calsyncd.errors import MalformedObject

__all__ = [
    "MAX_DEPTH",
    "MAX_OBJECT_LINES",
    "MAX_UNREADABLE_KEPT",
    "Component",
    "ComponentReader",
    "Property",
    "Unreadable",
    "content_lines",
    "decode_ddd",
    "param",
]

MAX_DEPTH = 8
"""Components nested deeper than this (VCALENDAR is 1) make their object unreadable."""
MAX_OBJECT_LINES = 20_000
"""Content lines one VEVENT (or VTIMEZONE …) may have, its subcomponents' included."""
MAX_UNREADABLE_KEPT = 10
"""Unreadable lines one component keeps (each cut to :data:`UNREADABLE_SHOWN` characters);
more are only counted."""
UNREADABLE_SHOWN = 60

_NEWLINE = re.compile(rb"\n")
_NEWLINE_TEXT = re.compile("\n")
_BOM = b"\xef\xbb\xbf"
_TOKEN_ONLY = re.compile(r"([A-Za-z0-9-]+):")
"""A line without parameters (most of them): ``raw_parts`` would give the same, slower."""
_NO_PARAMETERS = Parameters()  # shared, read only


class Unreadable(Exception):
    """An object cannot be read faithfully; the message says why."""


@dataclass(slots=True)
class Property:
    name: str  # upper case
    params: Parameters
    value: str  # raw: not unescaped
    line: str  # the unfolded content line as it was written


@dataclass(slots=True)
class Component:
    name: str  # upper case
    properties: list[Property] = field(default_factory=list)
    children: list[Component] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    body: list[Property | Component] = field(default_factory=list)
    """Properties and children in the order they were written."""
    unreadable: list[str] = field(default_factory=list)
    """Lines that are not properties (no colon, broken parameters), cut short; not in
    ``body``."""
    unreadable_count: int = 0

    def all(self, name: str) -> list[Property]:
        return [prop for prop in self.properties if prop.name == name]

    def first(self, name: str) -> Property | None:
        return next((prop for prop in self.properties if prop.name == name), None)

    def add(self, entry: Property | Component) -> None:
        if isinstance(entry, Property):
            self.properties.append(entry)
        else:
            self.children.append(entry)
        self.body.append(entry)

    def lines(self) -> Iterator[str]:
        """Its content lines, BEGIN to END, subcomponents in place."""
        yield f"BEGIN:{self.name}"
        for entry in self.body:
            if isinstance(entry, Property):
                yield entry.line
            else:
                yield from entry.lines()
        yield f"END:{self.name}"

    def all_errors(self) -> list[str]:
        """Its errors and those of its subcomponents."""
        return self.errors + [e for child in self.children for e in child.all_errors()]

    def walk(self) -> Iterator[Component]:
        """Itself, then its subcomponents, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()

    def keep_unreadable(self, line: str) -> None:
        self.unreadable_count += 1
        if len(self.unreadable) < MAX_UNREADABLE_KEPT:
            self.unreadable.append(line[:UNREADABLE_SHOWN])


def param(params: Parameters, name: str) -> str | None:
    """A parameter's value as text (a list joined by commas), or ``None``."""
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def decode_ddd(raw: str) -> object:
    """A DATE, DATE-TIME, DURATION or PERIOD value (``icalendar`` is untyped here)."""
    return vDDDTypes.from_ical(raw)  # type: ignore[no-untyped-call]


# -- content lines -----------------------------------------------------------------------------


def _unfolded(
    data: AnyStr, newline: re.Pattern[AnyStr], cr: AnyStr, folds: tuple[AnyStr, AnyStr]
) -> Iterator[AnyStr]:
    """Logical lines of a text or of raw bytes: a line starting with a space or tab continues
    the last non-empty one (RFC 5545 3.1, across the blank lines some writers leave)."""
    current: list[AnyStr] = []
    start = 0
    for end in _line_ends(data, newline):
        line = data[start:end]
        start = end + 1
        if line.endswith(cr):
            line = line[:-1]
        if current and line[:1] in folds:
            current.append(line[1:])
        elif line:
            if current:
                yield line[:0].join(current)
            current = [line]
    if current:
        yield data[:0].join(current)


def _line_ends(data: AnyStr, newline: re.Pattern[AnyStr]) -> Iterator[int]:
    for match in newline.finditer(data):
        yield match.start()
    yield len(data)


def content_lines(
    data: bytes | str, problems: list[str] | None = None, source: str = ""
) -> Iterator[str]:
    """The unfolded, non-empty content lines of a text or of UTF-8 bytes, one at a time.
    Bytes that are not UTF-8 are replaced; the first line with some adds a problem naming
    ``source`` to ``problems``."""
    if isinstance(data, str):
        yield from _unfolded(data.removeprefix("\ufeff"), _NEWLINE_TEXT, "\r", (" ", "\t"))
        return
    complained = problems is None
    for line in _unfolded(data.removeprefix(_BOM), _NEWLINE, b"\r", (b" ", b"\t")):
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError as exc:
            if not complained and problems is not None:
                problems.append(f"{source}: not valid UTF-8 ({exc.reason}); bad bytes replaced")
                complained = True
            yield line.decode("utf-8", errors="replace")


def _split(line: str) -> tuple[str, Parameters, str]:
    """(name, parameters, raw value) of one content line; ``ValueError`` if unreadable."""
    if (match := _TOKEN_ONLY.match(line)) is not None:
        return match[1], _NO_PARAMETERS, line[match.end() :]
    parts: tuple[str, Parameters, str] = Contentline(line).raw_parts()  # type: ignore[no-untyped-call]
    return parts


# -- components --------------------------------------------------------------------------------


class ComponentReader:
    """One iCalendar text; iterating it yields each component directly inside a VCALENDAR
    (a VEVENT, a VTIMEZONE …) as soon as it ends.

    Afterwards ``calendars`` holds each VCALENDAR read (its properties and errors; its
    components were yielded) and ``problems`` what was wrong with the text as a whole. The
    iteration ends with :class:`MalformedObject` if the text holds no VCALENDAR at all.
    """

    def __init__(self, data: bytes | str, source: str) -> None:
        self.source = source
        self.problems: list[str] = []
        self.calendars: list[Component] = []
        self._data = data
        self._stack: list[Component | str] = []  # a name: nested too deep, only counted
        self._open: Counter[str] = Counter()
        self._object_lines = 0

    def __iter__(self) -> Iterator[Component]:
        stray = 0
        for line in content_lines(self._data, self.problems, self.source):
            try:
                name, params, value = _split(line)
            except ValueError:
                if self._stack and self._counted():
                    self._unreadable(line)
                elif not self._stack:
                    stray += 1
                continue
            name = name.upper()
            if name == "BEGIN":
                self._begin(value.strip().upper())
            elif name == "END":
                yield from self._end(value.strip().upper())
            elif self._stack and self._counted():
                top = self._stack[-1]
                if isinstance(top, Component):
                    top.add(Property(name, params, value, line))
        self._data = b""
        while self._stack:
            entry = self._stack.pop()
            if isinstance(entry, Component):  # not those nested too deep: one is enough
                self.problems.append(f"{self.source}: BEGIN:{entry.name} is never ended")
                entry.errors.append(f"missing END:{entry.name}")
                yield from self._close(entry)
        if not self.calendars:
            what = "no BEGIN:VCALENDAR" if not stray else f"{stray} unreadable lines"
            raise MalformedObject(f"{self.source}: not iCalendar data ({what})", item=self.source)

    def _counted(self) -> bool:
        """Count a line of the object being read; past the limit it is not read on."""
        if len(self._stack) < 2:
            return True
        self._object_lines += 1
        if self._object_lines == MAX_OBJECT_LINES + 1:
            self._error(f"more than {MAX_OBJECT_LINES} lines; not read on")
        return self._object_lines <= MAX_OBJECT_LINES

    def _unreadable(self, line: str) -> None:
        top = self._stack[-1]
        if isinstance(top, Component):  # not in a component nested too deep: skipped whole
            top.keep_unreadable(line)

    def _error(self, message: str) -> None:
        """Note an error on the innermost component being built."""
        for entry in reversed(self._stack):
            if isinstance(entry, Component):
                entry.errors.append(message)
                return

    def _begin(self, name: str) -> None:
        if len(self._stack) == 1:
            self._object_lines = 0
        self._open[name] += 1
        if len(self._stack) < MAX_DEPTH and self._counted() and not self._skipping():
            self._stack.append(Component(name))
            return
        if len(self._stack) == MAX_DEPTH and not self._skipping():
            self._error(f"components nested deeper than {MAX_DEPTH} levels; not read on")
        self._stack.append(name)

    def _skipping(self) -> bool:
        return bool(self._stack) and isinstance(self._stack[-1], str)

    def _end(self, name: str) -> Iterator[Component]:
        if not self._open[name]:
            self._error(f"END:{name} without BEGIN:{name}")
            return
        while self._stack:
            entry = self._stack.pop()
            self._open[_name(entry)] -= 1
            if isinstance(entry, Component):
                if entry.name != name:
                    entry.errors.append(f"missing END:{entry.name}")
                yield from self._close(entry)
            if _name(entry) == name:
                return

    def _close(self, component: Component) -> Iterator[Component]:
        if not self._stack:
            if component.name == "VCALENDAR":
                self.calendars.append(component)
            return
        parent = self._stack[-1]
        assert isinstance(parent, Component)  # names only ever sit above components
        if len(self._stack) > 1:
            parent.add(component)
        elif parent.name == "VCALENDAR":
            yield component


def _name(entry: Component | str) -> str:
    return entry.name if isinstance(entry, Component) else entry

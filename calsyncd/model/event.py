"""The canonical calendar object: what every provider maps to and from.

A :class:`CalendarObject` is what one UID names: a single event, or a recurring series (a
master plus overrides keyed by their recurrence-id). Everything is immutable; edits make new
objects with :func:`dataclasses.replace`.

Times are aware :class:`~datetime.datetime` objects whose ``tzinfo`` is a
:class:`zoneinfo.ZoneInfo` (IANA name) or UTC, or plain :class:`~datetime.date` objects for
all-day events. A floating local time (no zone) is kept as a naive datetime.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import TypeAlias

When: TypeAlias = date | datetime
"""A start, end, recurrence-id, RDATE or EXDATE: a datetime, or a date for all-day events."""


@dataclass(frozen=True, slots=True)
class Period:
    """An RDATE with its own end (``RDATE;VALUE=PERIOD``): one occurrence from ``start`` to
    ``end`` instead of the series' own length. Both are date-times, as RFC 5545 requires."""

    start: datetime
    end: datetime


class Status(StrEnum):
    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"
    CANCELLED = "cancelled"


class ShowAs(StrEnum):
    BUSY = "busy"
    FREE = "free"


class Visibility(StrEnum):
    DEFAULT = "default"  # no CLASS property: the calendar's default
    PUBLIC = "public"
    PRIVATE = "private"
    CONFIDENTIAL = "confidential"


class Response(StrEnum):
    NEEDS_ACTION = "needs-action"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TENTATIVE = "tentative"
    DELEGATED = "delegated"


@dataclass(frozen=True, slots=True)
class Person:
    """An organizer or attendee: an email address and an optional display name."""

    email: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Attendee:
    email: str
    name: str | None = None
    response: Response = Response.NEEDS_ACTION
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Marker:
    """Identifies a copy made by calsyncd: which rule made it from which original.

    ``origin`` is the UID of the original object; ``key`` is the deterministic idempotency key
    the copy was created with. Written as ``X-CALSYNCD-*`` properties, a Google private
    extended property or a Graph single-value extended property.

    An *anonymous* copy (a busy block, a copy others read) carries its key alone: ``rule`` and
    ``origin`` are ``None``, and the key is opaque — only the rule that made it can tell it is
    its own (:mod:`calsyncd.sync.keys`).
    """

    rule: str | None
    origin: str | None
    key: str

    def __post_init__(self) -> None:
        if (self.rule is None) != (self.origin is None):
            raise ValueError("a marker names both its rule and its origin, or neither")

    @classmethod
    def anonymous(cls, key: str) -> Marker:
        """The marker of an anonymous copy: its key and nothing else."""
        return cls(rule=None, origin=None, key=key)

    @property
    def is_anonymous(self) -> bool:
        return self.rule is None


@dataclass(frozen=True, slots=True)
class ExtraProperty:
    """An iCalendar property the model has no field for, kept verbatim for the round trip.

    ``line`` is the property's folded-free content line (``NAME;PARAM=x:value``). A
    subcomponent the model has no field for (an alarm that is not a plain reminder) is kept
    the same way: ``name`` is the component name (``VALARM``) and ``line`` its unfolded lines
    from ``BEGIN:`` to ``END:`` joined by ``"\\n"`` (content lines never contain one).
    """

    name: str
    line: str


@dataclass(frozen=True, slots=True)
class Event:
    """One VEVENT: a single event, a series master, or an override of one occurrence.

    ``recurrence_id`` is set only on overrides; ``rrules``/``rdates``/``exdates`` only on
    masters; an RDATE is a date, a date-time or a :class:`Period`. ``reminders`` are offsets
    before the start (``timedelta(minutes=15)`` = 15
    minutes before). ``extra`` keeps properties and alarms the model does not know.
    """

    start: When
    end: When | None = None
    recurrence_id: When | None = None
    title: str | None = None
    description: str | None = None
    location: str | None = None
    status: Status = Status.CONFIRMED
    show_as: ShowAs = ShowAs.BUSY
    visibility: Visibility = Visibility.DEFAULT
    categories: tuple[str, ...] = ()
    organizer: Person | None = None
    attendees: tuple[Attendee, ...] = ()
    reminders: tuple[timedelta, ...] = ()
    conference_url: str | None = None
    url: str | None = None
    rrules: tuple[str, ...] = ()
    rdates: tuple[When | Period, ...] = ()
    exdates: tuple[When, ...] = ()
    sequence: int = 0
    created: datetime | None = None
    last_modified: datetime | None = None
    extra: tuple[ExtraProperty, ...] = ()

    @property
    def all_day(self) -> bool:
        return not isinstance(self.start, datetime)

    @property
    def recurring(self) -> bool:
        return bool(self.rrules or self.rdates)

    def effective_end(self) -> When:
        """The end, or the iCalendar default when none is given (one day / zero length)."""
        if self.end is not None:
            return self.end
        if isinstance(self.start, datetime):
            return self.start
        return self.start + timedelta(days=1)


def _freeze(overrides: Mapping[When, Event]) -> Mapping[When, Event]:
    return MappingProxyType(dict(overrides))


@dataclass(frozen=True, slots=True)
class CalendarObject:
    """Everything one UID names: a single event or a series with its overrides.

    ``master`` is ``None`` only for an orphan set of overrides (a calendar invited to some
    occurrences of a series but not to the series itself).
    """

    uid: str
    master: Event | None
    overrides: Mapping[When, Event] = field(default_factory=lambda: MappingProxyType({}))
    marker: Marker | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.overrides, MappingProxyType):
            object.__setattr__(self, "overrides", _freeze(self.overrides))
        if self.master is None and not self.overrides:
            raise ValueError(f"calendar object {self.uid!r} has no event")

    @property
    def events(self) -> tuple[Event, ...]:
        """The master (if any) followed by the overrides in recurrence-id order."""
        ordered = sorted(self.overrides.values(), key=lambda e: sort_key(e.recurrence_id))
        return ((self.master,) if self.master is not None else ()) + tuple(ordered)

    @property
    def first(self) -> Event:
        """The event that represents the object in listings: the master, else the first override."""
        return self.events[0]

    def with_marker(self, marker: Marker | None) -> CalendarObject:
        return replace(self, marker=marker)


def sort_key(when: When | None) -> tuple[int, str]:
    """An ordering key that puts dates and datetimes (aware or not) on one line."""
    if when is None:
        return (0, "")
    if isinstance(when, datetime):
        if when.tzinfo is not None:
            return (1, when.astimezone(UTC).strftime("%Y%m%dT%H%M%S"))
        return (1, when.strftime("%Y%m%dT%H%M%S"))
    return (1, when.strftime("%Y%m%d") + "T000000")

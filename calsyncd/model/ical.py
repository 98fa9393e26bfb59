"""The iCalendar codec: RFC 5545 text to and from the canonical :class:`CalendarObject`.

Reading
    The text is read one component at a time (:mod:`calsyncd.model.components`: content lines
    with the ``icalendar`` package's tokenizer, one tree per VEVENT), and values are decoded
    with its property types. ``Calendar.from_ical`` is deliberately not used for reading: it
    resolves every TZID through a process-wide cache (a custom VTIMEZONE seen once changes how
    later calendars are read; vendor-prefixed TZIDs raise ``GloballyUniqueTZIDGuessed``
    warnings), it keeps no source text, which the model needs to carry unknown properties
    *verbatim*, and it holds the whole document as a tree. Here every TZID is resolved by
    :func:`~calsyncd.model.timezones.zone_for_tzid` or by the calendar's own VTIMEZONE
    (:mod:`calsyncd.model.vtimezone`), so parsing has no hidden state; what stays in memory
    is the model objects, a few bytes per byte of text.

    A VEVENT that cannot be read faithfully is not guessed at: its whole object (every VEVENT
    with that UID) is left out and a problem names it — whatever went wrong, an exception
    nobody expected included — and the rest of the text is read. :func:`parse_object` turns
    any problem into :class:`~calsyncd.errors.MalformedObject`.

    The VEVENTs of one UID then become its object (:mod:`calsyncd.model.assemble`), their
    floating times first put in the calendar's ``X-WR-TIMEZONE`` if it names one
    (:mod:`calsyncd.model.floating`).

    What every client tolerates is read as they read it (issue 12, ``tests/fidelity``), and
    where that leaves something out or chooses, a *note* says so (``ParsedCalendar.notes``,
    never a reason to skip; the providers log each as ``item read with a change``):

    * a line that is not a property (``X-APPLE-RADIUS=49.9``, no colon) is left out — unless
      it is one of a property the model reads (``SUMMARY no colon``): that is a problem;
    * an empty ``RRULE:`` is left out (the event is single);
    * of several DTSTART (DTEND, DURATION, RECURRENCE-ID) with different values the first
      counts;
    * of several versions of one event the latest is kept (:mod:`calsyncd.model.assemble`);
    * an RRULE that ends before DTSTART is kept (DTSTART still counts, RFC 5545);
    * a RANGE=THISANDFUTURE applied to 500 occurrences stops there (an endless series);
    * an ``X-WR-TIMEZONE`` that names no zone leaves floating times floating.

Writing
    :mod:`calsyncd.model.serialize` (re-exported here): a pure function of the object, so
    writing an unchanged object twice gives the same bytes (and the same etag).

Mapping decisions
    * The marker (``X-CALSYNCD-RULE/ORIGIN/KEY``, or ``X-CALSYNCD-KEY`` alone for an
      anonymous copy) is read from the master (or the first override) and written on every
      VEVENT; an incomplete one stays in ``extra``.
    * ``conference_url`` is the first CONFERENCE with FEATURE=VIDEO or no FEATURE, else
      ``X-GOOGLE-CONFERENCE`` / ``X-MICROSOFT-SKYPETEAMSMEETINGURL`` (then consumed); other
      CONFERENCE lines (dial-in numbers) stay in ``extra``.
    * A VALARM is a reminder if it is ``ACTION:DISPLAY`` with one relative TRIGGER at or
      before the start and no REPEAT/DURATION/ATTACH/ATTENDEE/SUMMARY; any other VALARM (and
      any other subcomponent) is kept whole in ``extra``, after the properties.
    * STATUS and TRANSP values the model does not know stay in ``extra``; an unknown CLASS
      reads as PRIVATE (RFC 5545 3.8.1.3).
    * An ``RDATE;VALUE=PERIOD`` value is a :class:`~calsyncd.model.event.Period`: an
      occurrence with its own end (a duration is added to its start, on the wall clock for
      days and weeks).
    * ``RECURRENCE-ID;RANGE=THISANDFUTURE`` becomes an override of that occurrence and of
      each later one (:mod:`calsyncd.model.ranges`); another RANGE, and TZIDs that neither a
      name nor a VTIMEZONE explain, are problems, not guesses.

What does not survive a round trip (everything else does: ``tests/model``)
    * parameters of mapped properties other than those the model holds (``LANGUAGE`` on
      SUMMARY, ``RSVP``/``CUTYPE``/``ROLE=CHAIR`` on ATTENDEE, ``LABEL`` on CONFERENCE …);
      adding ``SCHEDULE-AGENT=CLIENT`` to the attendees of copies is the CalDAV provider's job;
    * reminder alarms are rewritten as ``ACTION:DISPLAY`` with ``DESCRIPTION:Reminder``
      (their description, UID and X- properties are not kept);
    * microseconds (iCalendar has none), ``fold=1`` (iCalendar picks the first of two
      ambiguous wall times) and carriage returns in text (iCalendar has one line break);
    * control characters in names (CN) become spaces and in URIs are percent-encoded: those
      lines would be unreadable otherwise. In other text they are written as they are;
    * CREATED and LAST-MODIFIED are written in UTC, as RFC 5545 requires;
    * what a note names as left out (above);
    * an RRULE's UNTIL written as a floating time or a date beside a zoned DTSTART is read in
      DTSTART's zone (a date from its first moment) and written in UTC, as RFC 5545 requires;
    * floating times of a calendar that names its zone in ``X-WR-TIMEZONE`` are read, and
      written, in that zone (:mod:`calsyncd.model.floating`);
    * an RDATE period given as start/duration is written as start/end, in its start's zone;
    * a ``RANGE=THISANDFUTURE`` override is written as the overrides it stands for;
    * ``RSCALE=GREGORIAN`` without SKIP (or with ``SKIP=OMIT``) is left out of an RRULE: that
      rule is plain RFC 5545 (RFC 7529); other rules with RSCALE are kept as written, and one
      of another scale (``RSCALE=HEBREW``) is a problem: it cannot be expanded here;
    * a custom VTIMEZONE becomes the IANA zone with the same offsets over the years the
      calendar uses it, else its times are converted to UTC.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from icalendar import (
    vDuration,
)
from icalendar.parser import (
    split_on_unescaped_comma,
    unescape_backslash,
)

from calsyncd.errors import MalformedObject
from calsyncd.model.assemble import MARKER_PROPERTIES, Reading, assemble
from calsyncd.model.budget import checkpoint
from calsyncd.model.components import (
    Component,
    ComponentReader,
    Property,
    Unreadable,
    decode_ddd,
    param,
)
from calsyncd.model.event import (
    Attendee,
    CalendarObject,
    Event,
    ExtraProperty,
    Period,
    Person,
    Response,
    ShowAs,
    Status,
    Visibility,
    When,
)
from calsyncd.model.floating import calendar_zone, in_zone
from calsyncd.model.recurrence import conform_until, gregorian, parse_rule
from calsyncd.model.serialize import DEFAULT_PRODID, serialize_calendar, serialize_object
from calsyncd.model.vtimezone import Zones

__all__ = [
    "DEFAULT_PRODID",
    "ParsedCalendar",
    "parse_calendar",
    "parse_object",
    "serialize_calendar",
    "serialize_object",
]

_CONFERENCE_FALLBACKS = ("X-GOOGLE-CONFERENCE", "X-MICROSOFT-SKYPETEAMSMEETINGURL")
_DATE_PROPERTIES = ("DTSTART", "DTEND", "RECURRENCE-ID", "RDATE", "EXDATE")
_READ_PROPERTIES = frozenset(
    {
        *("UID", "DTSTART", "DTEND", "DURATION", "RECURRENCE-ID", "RRULE", "RDATE", "EXDATE"),
        *("SUMMARY", "DESCRIPTION", "LOCATION", "STATUS", "TRANSP", "CLASS", "CATEGORIES"),
        *("ORGANIZER", "ATTENDEE", "URL", "CONFERENCE", "SEQUENCE", "CREATED", "LAST-MODIFIED"),
        *_CONFERENCE_FALLBACKS,
        *MARKER_PROPERTIES,
    }
)
"""Properties the model reads into a field: a line of one that cannot be read makes its
event unreadable, where any other unreadable line is left out with a note."""
_NAME = re.compile(r"[A-Za-z0-9-]+")
_DROPPED = frozenset({"DTSTAMP", "PRODID"})
_NOT_REMINDER = frozenset({"REPEAT", "DURATION", "ATTACH", "ATTENDEE", "SUMMARY"})
_STATUS = {
    "CONFIRMED": Status.CONFIRMED,
    "TENTATIVE": Status.TENTATIVE,
    "CANCELLED": Status.CANCELLED,
}
_VISIBILITY = {
    "PUBLIC": Visibility.PUBLIC,
    "PRIVATE": Visibility.PRIVATE,
    "CONFIDENTIAL": Visibility.CONFIDENTIAL,
}
_RESPONSE = {
    "NEEDS-ACTION": Response.NEEDS_ACTION,
    "ACCEPTED": Response.ACCEPTED,
    "DECLINED": Response.DECLINED,
    "TENTATIVE": Response.TENTATIVE,
    "DELEGATED": Response.DELEGATED,
}
_DURATION_RE = re.compile(
    r"^(?P<sign>[+-])?P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


# icalendar is only partly annotated: its untyped calls are wrapped here, nowhere else.


def _decode_duration(raw: str) -> object:
    return vDuration.from_ical(raw)  # type: ignore[no-untyped-call]


@dataclass(frozen=True, slots=True)
class ParsedCalendar:
    """The objects of one iCalendar text and the problems met while reading it.

    ``objects`` are in the order their UIDs first appear. Each problem is a sentence naming
    the source; an object with a problem is not in ``objects``.
    """

    objects: list[CalendarObject] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What was left out or chosen while reading objects that are kept, one sentence each
    naming the source (and the UID); never a reason to skip."""
    name: str | None = None
    """The calendar's name (``X-WR-CALNAME``), if it gives one."""


# --------------------------------------------------------------------------- reading: values


def _text(prop: Property) -> str:
    result: str = unescape_backslash(prop.value)
    return result


def _when(prop: Property, zones: Zones, value: str | None = None) -> When:
    raw = (prop.value if value is None else value).strip()
    try:
        parsed = decode_ddd(raw)
    except ValueError as exc:
        raise Unreadable(f"{prop.name} has an invalid date/time {raw!r}") from exc
    if isinstance(parsed, datetime):
        if parsed.tzinfo is not None:  # ...Z
            return parsed.replace(tzinfo=UTC)
        tzid = param(prop.params, "TZID")
        if tzid:
            return zones.attach(tzid, parsed)
        return parsed
    if isinstance(parsed, date):
        return parsed
    raise Unreadable(f"{prop.name} is not a date or date-time: {raw!r}")


def _when_list(prop: Property, zones: Zones) -> list[When]:
    return [_when(prop, zones, part) for part in prop.value.split(",") if part.strip()]


def _periods(prop: Property, zones: Zones) -> list[When | Period]:
    """The periods of an ``RDATE;VALUE=PERIOD``: ``start/end`` or ``start/duration``."""
    found: list[When | Period] = []
    for part in prop.value.split(","):
        if not part.strip():
            continue
        first, slash, second = part.strip().partition("/")
        if not slash:
            raise Unreadable(f"RDATE period has no end: {part.strip()!r}")
        start = _when(prop, zones, first)
        if second.strip().upper().lstrip("+-").startswith("P"):
            end = _end_from_duration(start, second)
        else:
            end = _when(prop, zones, second)
        if not isinstance(start, datetime) or not isinstance(end, datetime):
            raise Unreadable(f"RDATE period must be date-times: {part.strip()!r}")
        if end.tzinfo is None and start.tzinfo is not None:  # 20221019T140000Z/20221019T1630
            end = end.replace(tzinfo=start.tzinfo)
        if (end.tzinfo is None) != (start.tzinfo is None) or end < start:
            raise Unreadable(f"RDATE period ends before it starts: {part.strip()!r}")
        found.append(Period(start, end))
    return found


def _timestamp(prop: Property, zones: Zones) -> datetime:
    value = _when(prop, zones)
    if not isinstance(value, datetime):
        raise Unreadable(f"{prop.name} is a date, not a date-time")
    return value


def _duration(raw: str) -> tuple[timedelta, timedelta]:
    """A DURATION as (nominal days, exact time): RFC 5545 adds days on the wall clock."""
    match = _DURATION_RE.match(raw.strip().upper())
    if match is None or raw.strip().upper() in ("P", "PT", "-P", "+P"):
        raise Unreadable(f"DURATION is invalid: {raw!r}")
    if match["sign"] == "-":
        raise Unreadable(f"DURATION is negative: {raw!r}")
    number = {k: int(v) for k, v in match.groupdict().items() if v is not None and k != "sign"}
    nominal = timedelta(weeks=number.get("weeks", 0), days=number.get("days", 0))
    exact = timedelta(
        hours=number.get("hours", 0),
        minutes=number.get("minutes", 0),
        seconds=number.get("seconds", 0),
    )
    return nominal, exact


def _end_from_duration(start: When, raw: str) -> When:
    nominal, exact = _duration(raw)
    end = start + nominal
    if not isinstance(end, datetime):
        return end + timedelta(days=exact.days)
    if end.tzinfo is None:
        return end + exact
    return (end.astimezone(UTC) + exact).astimezone(end.tzinfo)


def _person(prop: Property) -> tuple[str, str | None]:
    value = prop.value.strip()
    email = value[7:] if value.lower().startswith("mailto:") else value
    return email, param(prop.params, "CN")


def _reminder(alarm: Component) -> timedelta | None:
    """The offset before the start if this VALARM is a plain reminder, else ``None``."""
    if alarm.errors or alarm.children:
        return None
    actions, triggers = alarm.all("ACTION"), alarm.all("TRIGGER")
    if len(actions) != 1 or len(triggers) != 1 or actions[0].value.strip().upper() != "DISPLAY":
        return None
    if any(prop.name in _NOT_REMINDER for prop in alarm.properties):
        return None
    trigger = triggers[0]
    if (param(trigger.params, "VALUE") or "DURATION").upper() != "DURATION":
        return None
    if (param(trigger.params, "RELATED") or "START").upper() != "START":
        return None
    try:
        offset = _decode_duration(trigger.value.strip())
    except ValueError:
        return None
    if not isinstance(offset, timedelta) or offset > timedelta(0):
        return None
    return -offset


def _conference_index(event: Component) -> int | None:
    """Which property becomes ``conference_url``.

    The first CONFERENCE with FEATURE=VIDEO (or no FEATURE), else Google's or Teams' own
    property. Dial-in numbers and chat links stay CONFERENCE lines in ``extra``.
    """
    for i, prop in enumerate(event.properties):
        feature = param(prop.params, "FEATURE")
        if prop.name == "CONFERENCE" and (feature is None or "VIDEO" in feature.upper()):
            return i
    for name in _CONFERENCE_FALLBACKS:
        for i, prop in enumerate(event.properties):
            if prop.name == name and prop.value.strip():
                return i
    return None


def _check_unreadable(event: Component) -> None:
    """:class:`Unreadable` if a line of the VEVENT that is not a property is one the model
    reads (``SUMMARY no colon``): leaving it out would change the event itself."""
    for line in event.unreadable:
        name = _NAME.match(line)
        if name is not None and name[0].upper() in _READ_PROPERTIES:
            raise Unreadable(f"unreadable line {line!r}")


def _readable(event: Component) -> bool:
    try:
        _check_unreadable(event)
    except Unreadable:
        return False
    return True


def _left_out_lines(component: Component) -> list[str]:
    """Notes for the lines of ``component`` and its subcomponents that are not properties."""
    notes = []
    for part in component.walk():
        notes += [f"the unreadable line {line!r} is left out" for line in part.unreadable]
        if part.unreadable_count > len(part.unreadable):
            more = part.unreadable_count - len(part.unreadable)
            notes.append(f"{more} more unreadable lines are left out")
    return notes


def _read_event(component: Component, zones: Zones) -> Reading:
    if errors := component.all_errors():
        raise Unreadable("; ".join(errors))
    _check_unreadable(component)
    notes = _left_out_lines(component)
    values: dict[str, Any] = {}  # Event fields, each set once by the branch that reads it
    extra: list[ExtraProperty] = []
    categories: list[str] = []
    attendees: list[Attendee] = []
    rrules: list[str] = []
    rdates: list[When | Period] = []
    exdates: list[When] = []
    marker: dict[str, str] = {}
    uid: str | None = None
    duration: str | None = None
    start_prop: Property | None = None
    seen_once: dict[str, str] = {}  # time properties read: the rest of their line
    conference = _conference_index(component)

    def once(key: str, prop: Property, value: Any) -> None:
        if key in values:
            extra.append(ExtraProperty(prop.name, prop.line))
        else:
            values[key] = value

    for index, prop in enumerate(component.properties):
        name = prop.name
        if index == conference:
            values["conference_url"] = prop.value.strip()
        elif name == "UID":
            if uid is not None:
                raise Unreadable("several UIDs")
            uid = _text(prop)
        elif name == "DTSTAMP":
            with suppress(Unreadable):
                values.setdefault("dtstamp", _timestamp(prop, zones))
        elif name in _DROPPED:
            continue
        elif name in ("DTSTART", "DTEND", "RECURRENCE-ID", "DURATION"):
            if name in seen_once:
                if seen_once[name] != prop.line[len(name) :]:
                    notes.append(
                        f"several {name} properties: the first is kept, {prop.line!r} is left out"
                    )
                continue
            seen_once[name] = prop.line[len(name) :]
            if name == "DURATION":
                duration = prop.value
            elif name == "DTSTART":
                start_prop = prop
                values["dtstart"] = _when(prop, zones)
            else:
                values[name.lower()] = _when(prop, zones)
            if name == "RECURRENCE-ID" and (reach := param(prop.params, "RANGE")) is not None:
                if reach.strip().upper() != "THISANDFUTURE":
                    raise Unreadable(f"RECURRENCE-ID;RANGE={reach} is not supported")
                values["future"] = True
        elif name in ("SUMMARY", "DESCRIPTION", "LOCATION"):
            once({"SUMMARY": "title"}.get(name, name.lower()), prop, _text(prop))
        elif name == "STATUS" and _text(prop).strip().upper() in _STATUS:
            once("status", prop, _STATUS[_text(prop).strip().upper()])
        elif name == "TRANSP" and _text(prop).strip().upper() in ("OPAQUE", "TRANSPARENT"):
            free = _text(prop).strip().upper() == "TRANSPARENT"
            once("show_as", prop, ShowAs.FREE if free else ShowAs.BUSY)
        elif name == "CLASS":
            # RFC 5545 3.8.1.3: an unknown classification is treated as PRIVATE.
            once(
                "visibility", prop, _VISIBILITY.get(_text(prop).strip().upper(), Visibility.PRIVATE)
            )
        elif name == "CATEGORIES":
            categories += split_on_unescaped_comma(prop.value)
        elif name == "ORGANIZER":
            email, cn = _person(prop)
            once("organizer", prop, Person(email, cn))
        elif name == "ATTENDEE":
            email, cn = _person(prop)
            partstat = (param(prop.params, "PARTSTAT") or "").upper()
            role = (param(prop.params, "ROLE") or "").upper()
            response = _RESPONSE.get(partstat, Response.NEEDS_ACTION)
            attendees.append(Attendee(email, cn, response, role == "OPT-PARTICIPANT"))
        elif name == "URL":
            once("url", prop, prop.value.strip())
        elif name == "RRULE" and not prop.value.strip():
            notes.append("an empty RRULE is left out")
        elif name == "RRULE":
            if "FREQ=" not in prop.value.upper():
                raise Unreadable(f"RRULE has no FREQ: {prop.value!r}")
            rrules.append(gregorian(prop.value.strip()))
        elif name == "RDATE" and (
            (param(prop.params, "VALUE") or "").upper() == "PERIOD" or "/" in prop.value
        ):
            rdates += _periods(prop, zones)
        elif name == "RDATE":
            rdates += _when_list(prop, zones)
        elif name == "EXDATE":
            exdates += _when_list(prop, zones)
        elif name == "SEQUENCE":
            try:
                once("sequence", prop, int(prop.value.strip()))
            except ValueError as exc:
                raise Unreadable(f"SEQUENCE is not a number: {prop.value!r}") from exc
        elif name in ("CREATED", "LAST-MODIFIED"):
            once(name.lower().replace("-", "_"), prop, _timestamp(prop, zones))
        else:
            if name in MARKER_PROPERTIES:
                marker.setdefault(MARKER_PROPERTIES[name], _text(prop))
            extra.append(ExtraProperty(name, prop.line))

    if not uid:
        raise Unreadable("no UID")
    stamp: datetime | None = values.pop("dtstamp", None)
    future: bool = values.pop("future", False)
    start: When | None = values.pop("dtstart", None)
    if start is None:
        raise Unreadable("no DTSTART")
    end: When | None = values.pop("dtend", None)
    if end is None and duration is not None:
        end = _end_from_duration(start, duration)
    if start_prop is not None and isinstance(start, datetime) and start.tzinfo is not None:
        rrules = [conform_until(line, _wall_in(start_prop, zones)) for line in rrules]
    for line in rrules:
        _check_rrule(line, start)
    reminders: list[timedelta] = []
    for child in component.children:
        offset = _reminder(child) if child.name == "VALARM" else None
        if offset is None:
            extra.append(ExtraProperty(child.name, "\n".join(child.lines())))
        else:
            reminders.append(offset)
    event = Event(
        start=start,
        end=end,
        recurrence_id=values.pop("recurrence-id", None),
        categories=tuple(categories),
        attendees=tuple(attendees),
        reminders=tuple(reminders),
        rrules=tuple(rrules),
        rdates=tuple(rdates),
        exdates=tuple(exdates),
        extra=tuple(extra),
        **values,
    )
    return Reading(uid, event, marker, notes, stamp, future)


def _wall_in(prop: Property, zones: Zones) -> Callable[[datetime], datetime]:
    """How a wall time is read in the zone of ``prop`` (a zoned or UTC date-time)."""
    tzid = param(prop.params, "TZID")
    if prop.value.strip().upper().endswith("Z") or not tzid:
        return lambda wall: wall.replace(tzinfo=UTC)
    return lambda wall: zones.attach(tzid, wall)


def _check_rrule(line: str, start: When) -> None:
    """Skip an event whose RRULE cannot be expanded from its start (unknown FREQ, a bad
    UNTIL, COUNT or BYxxx part) — read the way the sync window expands it — rather than let
    it fail later, away from the object that carries it."""
    dtstart = start if isinstance(start, datetime) else datetime.combine(start, time())
    try:
        parse_rule(line, dtstart)
    except (ValueError, TypeError, OverflowError) as exc:
        raise Unreadable(f"RRULE cannot be read: {line!r} ({exc})") from None


def _zone_years(event: Component, zones: Zones) -> dict[str, set[int]]:
    """The years each TZID only a VTIMEZONE can explain is used in by ``event`` (where a
    custom zone must match an IANA one to be replaced by it)."""
    years: dict[str, set[int]] = {}
    for prop in event.properties:
        tzid = param(prop.params, "TZID")
        if not tzid or not zones.uses_definition(tzid):
            continue
        found = years.setdefault(tzid, set())
        if prop.name in _DATE_PROPERTIES:
            for part in prop.value.split(","):
                if part.strip()[:4].isdigit() and int(part.strip()[:4]) > 0:
                    found.add(int(part.strip()[:4]))
    return years


# --------------------------------------------------------------------------- reading: objects


class _Objects:
    """The VEVENTs of one text, read one at a time and grouped by UID.

    A VEVENT whose TZIDs are all zone names is read as soon as it ends. One that needs a
    VTIMEZONE — which may come later, and must match an IANA zone over every year the text
    uses it in — waits as text (not as a tree) until the whole document is read.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.definitions: dict[str, Component] = {}
        self._by_name = Zones({}, {})
        self._readings: dict[str, list[Reading]] = {}  # by UID, in order of first appearance
        self._broken: dict[str, list[str]] = {}
        self._waiting: list[tuple[int, int, str, bytes, list[str]]] = []
        self._years: dict[str, set[int]] = {}
        self._count = 0

    def add(self, component: Component, calendar: int) -> None:
        """One component of the ``calendar``-th VCALENDAR, as it ends."""
        if component.name == "VTIMEZONE" and (tzid := component.first("TZID")) is not None:
            self.definitions.setdefault(tzid.value.strip(), component)
            self.notes += [f"{self.source}: {note}" for note in _left_out_lines(component)]
        elif component.name == "VEVENT":
            self._count += 1
            uid_prop = component.first("UID")
            uid = _text(uid_prop) if uid_prop is not None else ""
            years = _zone_years(component, self._by_name)
            if years and not component.all_errors() and _readable(component):
                for name, found in years.items():
                    self._years.setdefault(name, set()).update(found)
                # its text keeps properties only: the notes on other lines are made now
                text = "\r\n".join(component.lines()).encode("utf-8", "surrogatepass")
                notes = _left_out_lines(component)
                self._waiting.append((self._count, calendar, uid, text, notes))
                self._readings.setdefault(uid, [])
            else:
                self._read(self._count, calendar, uid, component, zones=self._by_name)

    def objects(self, floating: Sequence[tzinfo | None]) -> list[CalendarObject]:
        """Read the VEVENTs that waited for VTIMEZONEs, then assemble every object.

        ``floating`` is the zone each VCALENDAR means its floating times in, if any."""
        zones = Zones(self.definitions, self._years)
        for number, calendar, uid, text, notes in self._waiting:
            reader = ComponentReader(b"BEGIN:VCALENDAR\r\n" + text + b"\r\nEND:VCALENDAR", "")
            for component in reader:
                self._read(number, calendar, uid, component, zones=zones, notes=notes)
        self._waiting.clear()
        found: list[CalendarObject] = []
        for uid, group in self._readings.items():
            if uid in self._broken:
                reasons = "; ".join(self._broken[uid])
                self.problems.append(f"{self.source}: UID {uid!r}: {reasons}; object skipped")
                continue
            for reading in group:
                zone = floating[reading.calendar] if reading.calendar < len(floating) else None
                if zone is not None:
                    reading.event = in_zone(reading.event, zone)
            try:
                obj, notes = assemble(uid, group)
                found.append(obj)
                self.notes += [f"{self.source}: UID {uid!r}: {note}" for note in notes]
            except Unreadable as exc:
                self.problems.append(f"{self.source}: UID {uid!r}: {exc}; object skipped")
            except Exception as exc:  # unexpected, but about this object only
                why = f"{type(exc).__name__}: {exc}"
                self.problems.append(f"{self.source}: UID {uid!r}: {why}; object skipped")
        self._readings.clear()
        return found

    def _read(
        self,
        number: int,
        calendar: int,
        uid: str,
        component: Component,
        *,
        zones: Zones,
        notes: Sequence[str] = (),
    ) -> None:
        try:
            reading = _read_event(component, zones)
        except Unreadable as exc:
            reason = str(exc)
        except Exception as exc:  # anything icalendar, dateutil or this module raises
            reason = f"{type(exc).__name__}: {exc}"
        else:
            reading.notes = [f"VEVENT #{number}: {note}" for note in [*notes, *reading.notes]]
            reading.number = number
            reading.calendar = calendar
            self._readings.setdefault(reading.uid, []).append(reading)
            return
        if not uid:
            self.problems.append(f"{self.source}: VEVENT #{number}: {reason}; skipped")
        else:
            self._broken.setdefault(uid, []).append(f"VEVENT #{number}: {reason}")
            self._readings.setdefault(uid, [])


def parse_calendar(data: bytes | str, *, source: str) -> ParsedCalendar:
    """Read every VEVENT of an iCalendar text, grouped by UID into calendar objects.

    ``source`` names the text in problems and errors (a path, an URL, a resource href). An
    object that cannot be read — whatever the reason, even an exception nobody expected —
    is left out and a problem names it; the rest of the text is read. Raises
    :class:`MalformedObject` only if the text is not iCalendar at all.
    """
    reader = ComponentReader(data, source)
    found = _Objects(source)
    for component in reader:
        checkpoint()  # read in a worker thread: stop here once its cycle is cancelled
        found.add(component, len(reader.calendars))
    notes = [f"{source}: {note}" for c in reader.calendars for note in _left_out_lines(c)]
    floating: list[tzinfo | None] = []
    for calendar in reader.calendars:
        name = calendar.first("X-WR-TIMEZONE")
        zone = None if name is None else calendar_zone(_text(name))
        if name is not None and zone is None:
            notes.append(
                f"{source}: X-WR-TIMEZONE {_text(name)!r} names no time zone: its floating "
                "times stay floating"
            )
        floating.append(zone)
    objects = found.objects(floating)
    problems = reader.problems
    for calendar in reader.calendars:
        problems += [f"{source}: {error}" for error in calendar.errors]
    problems += found.problems
    name = next((c.first("X-WR-CALNAME") for c in reader.calendars), None)
    return ParsedCalendar(
        objects,
        problems,
        notes + found.notes,
        name=_text(name) if name is not None else None,
    )


def parse_object(
    data: bytes | str, *, source: str, notes: list[str] | None = None
) -> CalendarObject:
    """Read a text that holds exactly one calendar object (a vdir file, a CalDAV resource).

    Anything short of one object read without problems raises :class:`MalformedObject`. What
    the reader left out or chose (``ParsedCalendar.notes``) is added to ``notes``, if given.
    """
    parsed = parse_calendar(data, source=source)
    if parsed.problems:
        raise MalformedObject("; ".join(parsed.problems), item=source)
    if len(parsed.objects) != 1:
        if not parsed.objects:
            message = f"{source}: no VEVENT (VTODO and VJOURNAL are not synced)"
        else:
            uids = ", ".join(repr(o.uid) for o in parsed.objects)
            message = f"{source}: {len(parsed.objects)} UIDs ({uids}); expected exactly one"
        raise MalformedObject(message, item=source)
    if notes is not None:
        notes += parsed.notes
    return parsed.objects[0]

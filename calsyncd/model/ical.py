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

Writing
    Output is a pure function of the object: properties in a fixed order; VTIMEZONEs from
    ``icalendar``'s ``Timezone.from_tzinfo`` (the generator behind ``add_missing_timezones``,
    called directly so that the years covered follow the object's dates and the result is
    cached); DTSTAMP is the event's LAST-MODIFIED, else its CREATED (else those of the
    object's first event), else 1970-01-01T00:00:00Z — never the wall clock, so writing an
    unchanged object twice gives the same bytes (and the same etag). Datetimes are written as
    wall time plus TZID by this module: ``icalendar`` writes zones it deems equal to UTC
    (Africa/Abidjan, Atlantic/Reykjavik …) with a ``Z``, which would lose their name.

Mapping decisions
    * The marker (``X-CALSYNCD-RULE/ORIGIN/KEY``) is read from the master (or the first
      override) and written on every VEVENT; an incomplete one stays in ``extra``.
    * ``conference_url`` is the first CONFERENCE with FEATURE=VIDEO or no FEATURE, else
      ``X-GOOGLE-CONFERENCE`` / ``X-MICROSOFT-SKYPETEAMSMEETINGURL`` (then consumed); other
      CONFERENCE lines (dial-in numbers) stay in ``extra``.
    * A VALARM is a reminder if it is ``ACTION:DISPLAY`` with one relative TRIGGER at or
      before the start and no REPEAT/DURATION/ATTACH/ATTENDEE/SUMMARY; any other VALARM (and
      any other subcomponent) is kept whole in ``extra``, after the properties.
    * STATUS and TRANSP values the model does not know stay in ``extra``; an unknown CLASS
      reads as PRIVATE (RFC 5545 3.8.1.3). ``RDATE;VALUE=PERIOD`` stays in ``extra``.
    * ``RECURRENCE-ID;RANGE=THISANDFUTURE`` and TZIDs that neither a name nor a VTIMEZONE
      explain are problems, not guesses.

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
    * a custom VTIMEZONE becomes the IANA zone with the same offsets over the years the
      calendar uses it, else its times are converted to UTC.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any, Protocol

from icalendar import (
    Alarm,
    Calendar,
    Timezone,
    vCalAddress,
    vDDDLists,
    vDDDTypes,
    vDuration,
    vInt,
    vText,
    vUri,
)
from icalendar.parser import (
    Contentline,
    Contentlines,
    param_value,
    split_on_unescaped_comma,
    unescape_backslash,
)

from calsyncd.errors import MalformedObject
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
    Marker,
    Person,
    Response,
    ShowAs,
    Status,
    Visibility,
    When,
    sort_key,
)
from calsyncd.model.recent import by_identity
from calsyncd.model.recurrence import parse_rule
from calsyncd.model.timezones import iana_name, is_utc_zone, zone_for_tzid
from calsyncd.model.vtimezone import Zones

__all__ = [
    "DEFAULT_PRODID",
    "ParsedCalendar",
    "parse_calendar",
    "parse_object",
    "serialize_calendar",
    "serialize_object",
]

DEFAULT_PRODID = "-//calsyncd//EN"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MARKER_PROPERTIES = {
    "X-CALSYNCD-RULE": "rule",
    "X-CALSYNCD-ORIGIN": "origin",
    "X-CALSYNCD-KEY": "key",
}
_CONFERENCE_FALLBACKS = ("X-GOOGLE-CONFERENCE", "X-MICROSOFT-SKYPETEAMSMEETINGURL")
_DATE_PROPERTIES = ("DTSTART", "DTEND", "RECURRENCE-ID", "RDATE", "EXDATE")
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
_URI_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_URI_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PARAM_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


# icalendar is only partly annotated: its untyped calls are wrapped here, nowhere else.


def _decode_duration(raw: str) -> object:
    return vDuration.from_ical(raw)  # type: ignore[no-untyped-call]


def _fold(lines: list[str]) -> bytes:
    content = [Contentline(line) for line in lines]  # type: ignore[no-untyped-call]
    folded: bytes = Contentlines(content).to_ical()  # type: ignore[no-untyped-call]
    return folded


@dataclass(frozen=True, slots=True)
class ParsedCalendar:
    """The objects of one iCalendar text and the problems met while reading it.

    ``objects`` are in the order their UIDs first appear. Each problem is a sentence naming
    the source; an object with a problem is not in ``objects``.
    """

    objects: list[CalendarObject] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
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


@dataclass(slots=True)
class _Read:
    uid: str
    event: Event
    marker: dict[str, str]


def _read_event(component: Component, zones: Zones) -> _Read:
    if errors := component.all_errors():
        raise Unreadable("; ".join(errors))
    values: dict[str, Any] = {}  # Event fields, each set once by the branch that reads it
    extra: list[ExtraProperty] = []
    categories: list[str] = []
    attendees: list[Attendee] = []
    rrules: list[str] = []
    rdates: list[When] = []
    exdates: list[When] = []
    marker: dict[str, str] = {}
    uid: str | None = None
    duration: str | None = None
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
        elif name in _DROPPED:
            continue
        elif name in ("DTSTART", "DTEND", "RECURRENCE-ID", "DURATION"):
            if name.lower() in values or (name == "DURATION" and duration is not None):
                raise Unreadable(f"several {name} properties")
            if name == "DURATION":
                duration = prop.value
            elif name == "RECURRENCE-ID" and param(prop.params, "RANGE"):
                raise Unreadable("RECURRENCE-ID;RANGE=THISANDFUTURE is not supported")
            else:
                values[name.lower()] = _when(prop, zones)
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
        elif name == "RRULE":
            if "FREQ=" not in prop.value.upper():
                raise Unreadable(f"RRULE has no FREQ: {prop.value!r}")
            rrules.append(prop.value.strip())
        elif name == "RDATE" and (
            (param(prop.params, "VALUE") or "").upper() == "PERIOD" or "/" in prop.value
        ):
            extra.append(ExtraProperty(name, prop.line))  # periods: the model has no field
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
            if name in _MARKER_PROPERTIES:
                marker.setdefault(_MARKER_PROPERTIES[name], _text(prop))
            extra.append(ExtraProperty(name, prop.line))

    if not uid:
        raise Unreadable("no UID")
    start: When | None = values.pop("dtstart", None)
    if start is None:
        raise Unreadable("no DTSTART")
    end: When | None = values.pop("dtend", None)
    if end is None and duration is not None:
        end = _end_from_duration(start, duration)
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
    return _Read(uid, event, marker)


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
        self.definitions: dict[str, Component] = {}
        self._by_name = Zones({}, {})
        self._readings: dict[str, list[_Read]] = {}  # by UID, in order of first appearance
        self._broken: dict[str, list[str]] = {}
        self._waiting: list[tuple[int, str, bytes]] = []
        self._years: dict[str, set[int]] = {}
        self._count = 0

    def add(self, component: Component) -> None:
        """One component of a VCALENDAR, as it ends."""
        if component.name == "VTIMEZONE" and (tzid := component.first("TZID")) is not None:
            self.definitions.setdefault(tzid.value.strip(), component)
        elif component.name == "VEVENT":
            self._count += 1
            uid_prop = component.first("UID")
            uid = _text(uid_prop) if uid_prop is not None else ""
            years = _zone_years(component, self._by_name)
            if years and not component.all_errors():
                for name, found in years.items():
                    self._years.setdefault(name, set()).update(found)
                text = "\r\n".join(component.lines()).encode("utf-8", "surrogatepass")
                self._waiting.append((self._count, uid, text))
                self._readings.setdefault(uid, [])
            else:
                self._read(self._count, uid, component, self._by_name)

    def objects(self) -> list[CalendarObject]:
        """Read the VEVENTs that waited for VTIMEZONEs, then assemble every object."""
        zones = Zones(self.definitions, self._years)
        for number, uid, text in self._waiting:
            reader = ComponentReader(b"BEGIN:VCALENDAR\r\n" + text + b"\r\nEND:VCALENDAR", "")
            for component in reader:
                self._read(number, uid, component, zones)
        self._waiting.clear()
        found: list[CalendarObject] = []
        for uid, group in self._readings.items():
            if uid in self._broken:
                reasons = "; ".join(self._broken[uid])
                self.problems.append(f"{self.source}: UID {uid!r}: {reasons}; object skipped")
                continue
            try:
                found.append(_assemble(uid, group))
            except Unreadable as exc:
                self.problems.append(f"{self.source}: UID {uid!r}: {exc}; object skipped")
            except Exception as exc:  # unexpected, but about this object only
                why = f"{type(exc).__name__}: {exc}"
                self.problems.append(f"{self.source}: UID {uid!r}: {why}; object skipped")
        self._readings.clear()
        return found

    def _read(self, number: int, uid: str, component: Component, zones: Zones) -> None:
        try:
            reading = _read_event(component, zones)
        except Unreadable as exc:
            reason = str(exc)
        except Exception as exc:  # anything icalendar, dateutil or this module raises
            reason = f"{type(exc).__name__}: {exc}"
        else:
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
        found.add(component)
    objects = found.objects()
    problems = reader.problems
    for calendar in reader.calendars:
        problems += [f"{source}: {error}" for error in calendar.errors]
    problems += found.problems
    name = next((c.first("X-WR-CALNAME") for c in reader.calendars), None)
    return ParsedCalendar(objects, problems, _text(name) if name is not None else None)


def _assemble(uid: str, group: list[_Read]) -> CalendarObject:
    masters = [r for r in group if r.event.recurrence_id is None]
    if len(masters) > 1:
        raise Unreadable(f"{len(masters)} VEVENTs without RECURRENCE-ID")
    overrides: dict[When, _Read] = {}
    for reading in group:
        rid = reading.event.recurrence_id
        if rid is not None:
            if rid in overrides:
                raise Unreadable(f"two VEVENTs with RECURRENCE-ID {rid.isoformat()}")
            overrides[rid] = reading
    ordered = masters + sorted(overrides.values(), key=lambda r: sort_key(r.event.recurrence_id))
    found = ordered[0].marker
    marker = Marker(**found) if len(found) == len(_MARKER_PROPERTIES) else None

    def clean(event: Event) -> Event:
        if marker is None or not any(x.name in _MARKER_PROPERTIES for x in event.extra):
            return event
        kept = tuple(x for x in event.extra if x.name not in _MARKER_PROPERTIES)
        return replace(event, extra=kept)

    return CalendarObject(
        uid=uid,
        master=clean(masters[0].event) if masters else None,
        overrides={rid: clean(r.event) for rid, r in overrides.items()},
        marker=marker,
    )


def parse_object(data: bytes | str, *, source: str) -> CalendarObject:
    """Read a text that holds exactly one calendar object (a vdir file, a CalDAV resource).

    Anything short of one object read without problems raises :class:`MalformedObject`.
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
    return parsed.objects[0]


# --------------------------------------------------------------------------- writing


@by_identity(64)
def serialize_object(obj: CalendarObject, *, prodid: str = DEFAULT_PRODID) -> bytes:
    """One VCALENDAR with the object's VTIMEZONEs, its master, then its overrides (the last
    few remembered: a write serialises the same object for its body and its state row)."""
    return _serialize([obj], name=None, prodid=prodid)


def serialize_calendar(
    objects: Iterable[CalendarObject],
    *,
    name: str | None = None,
    prodid: str = DEFAULT_PRODID,
) -> bytes:
    """Many objects in one VCALENDAR (an ICS feed); ``name`` becomes NAME and X-WR-CALNAME."""
    return _serialize(list(objects), name=name, prodid=prodid)


def _serialize(objects: list[CalendarObject], *, name: str | None, prodid: str) -> bytes:
    header = Calendar()
    header.add("VERSION", "2.0")
    header.add("PRODID", prodid)
    if name is not None:
        header.calendar_name = name
    lines: list[str] = [line for line in header.content_lines(sorted=False) if line]
    assert lines[-1] == "END:VCALENDAR"
    lines.pop()
    lines += _timezone_lines(objects)
    for obj in objects:
        if not obj.uid:
            raise ValueError("a calendar object needs a UID")
        if obj.master is not None:
            lines += _event_lines(obj, obj.master, None)
        for rid in sorted(obj.overrides, key=_rid_order):
            lines += _event_lines(obj, obj.overrides[rid], rid)
    lines.append("END:VCALENDAR")
    return _fold(lines)


def _rid_order(rid: When) -> tuple[tuple[int, str], str, str]:
    """:func:`sort_key`, made total: a date, a floating and a UTC time can share one."""
    zone = rid.tzinfo if isinstance(rid, datetime) else None
    return sort_key(rid), type(rid).__name__ + ("" if zone is None else "+"), rid.isoformat()


def _events(objects: Iterable[CalendarObject]) -> Iterator[Event]:
    for obj in objects:
        yield from obj.events


def _whens(event: Event) -> Iterator[When]:
    for when in (event.start, event.end, event.recurrence_id, *event.rdates, *event.exdates):
        if when is not None:
            yield when


def _zone_key(tz: tzinfo | None) -> str | None:
    """The TZID to write for an aware datetime, or ``None`` for UTC (written with ``Z``)."""
    if tz is None or is_utc_zone(tz):
        return None
    if isinstance(tz, zoneinfo.ZoneInfo) and tz.key is not None:
        zone = zone_for_tzid(tz.key)
    else:
        name = iana_name(tz)
        zone = zone_for_tzid(name) if name is not None else None
    if zone is None or is_utc_zone(zone):
        return None
    return zone.key


def _timezone_lines(objects: list[CalendarObject]) -> list[str]:
    """VTIMEZONEs for every zone used, covering the years the objects use it in."""
    years: dict[str, list[int]] = {}
    recurring: set[str] = set()
    for event in _events(objects):
        for when in _whens(event):
            if isinstance(when, datetime) and (key := _zone_key(when.tzinfo)) is not None:
                years.setdefault(key, []).append(when.year)
                if event.rrules:
                    recurring.add(key)
    lines: list[str] = []
    for key in sorted(years):
        first = max(min(years[key]), 1900)  # before 1900 zones are local mean time anyway
        last = max(years[key]) + 1
        if key in recurring:  # open-ended series: cover what icalendar covers by default
            last = max(last, Timezone.DEFAULT_LAST_DATE.year)
        lines += _vtimezone(key, first, min(max(last, first), 9998))
    return lines


@lru_cache(maxsize=256)
def _vtimezone(key: str, first_year: int, last_year: int) -> tuple[str, ...]:
    try:
        component = Timezone.from_tzinfo(
            zoneinfo.ZoneInfo(key),
            tzid=key,  # icalendar would write zones it finds equal to UTC as "UTC"
            first_date=date(first_year, 1, 1),
            last_date=date(last_year + 1, 1, 1),
        )
    except ValueError:
        return ()
    return tuple(line for line in component.content_lines() if line)


class _ToIcal(Protocol):
    def to_ical(self) -> bytes | str: ...


class _Text:
    """TEXT values, escaped per RFC 5545 3.3.11; several make a comma-separated list.

    Not ``vText``: icalendar first turns a literal ``\\N`` into a line break, so
    ``C:\\Nutzer`` would come back as ``C:`` and ``utzer`` on a new line.
    """

    def __init__(self, *texts: str) -> None:
        self._texts = texts

    @staticmethod
    def escape(text: str) -> str:
        text = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
        return text.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")

    def to_ical(self) -> str:
        return ",".join(self.escape(text) for text in self._texts)


def _line(name: str, value: _ToIcal, **params: str) -> str:
    """A content line; parameters in the given order, CN always quoted and made safe.

    icalendar leaves a CN unquoted unless it has ``,;:``, so ``CN=a\\`` swallows the next
    parameter, and control characters make the line unreadable: they become spaces.
    """
    encoded = value.to_ical()
    text = encoded.decode("utf-8") if isinstance(encoded, bytes) else encoded
    section = ""
    for key, given in params.items():
        if key == "CN":
            # icalendar's reader unescapes backslashes even in quoted values: double them.
            cn = _PARAM_CONTROL.sub(" ", given).replace("\\", "\\\\")
            section += f";CN={param_value(cn, always_quote=True)}"
        else:
            section += f";{key}={param_value(given)}"
    return f"{name}{section}:{text}"


def _when_value(when: When) -> tuple[str, dict[str, str], When]:
    """(group, parameters, icalendar value) for one date or datetime."""
    if not isinstance(when, datetime):
        return "DATE", {"VALUE": "DATE"}, when
    if when.tzinfo is None:
        return "FLOATING", {}, when.replace(microsecond=0)
    key = _zone_key(when.tzinfo)
    if key is None:
        return "UTC", {}, when.astimezone(UTC).replace(microsecond=0)
    # A naive wall time with an explicit TZID: icalendar would write zones it deems equal to
    # UTC (Africa/Abidjan, …) with a Z and lose the zone name.
    wall = when.astimezone(zoneinfo.ZoneInfo(key)).replace(tzinfo=None, microsecond=0)
    return key, {"TZID": key}, wall


def _when_line(name: str, when: When) -> str:
    _, params, value = _when_value(when)
    return _line(name, vDDDTypes(value), **params)


def _when_list_lines(name: str, whens: tuple[When, ...]) -> list[str]:
    """One property per run of values of the same kind, so that their order is kept."""
    lines: list[str] = []
    run: list[When] = []
    run_group: str | None = None
    run_params: dict[str, str] = {}
    for when in whens:
        group, params, value = _when_value(when)
        if run and group != run_group:
            lines.append(_line(name, vDDDLists(run), **run_params))
            run = []
        run_group, run_params = group, params
        run.append(value)
    if run:
        lines.append(_line(name, vDDDLists(run), **run_params))
    return lines


def _uri(text: str) -> str:
    """A URI value with control characters percent-encoded (a raw one would end the line)."""
    return _URI_CONTROL.sub(lambda m: f"%{ord(m.group()):02X}", text)


def _address(email: str) -> vCalAddress:
    return vCalAddress(_uri(email if _URI_SCHEME_RE.match(email) else f"mailto:{email}"))


def _stamp(value: datetime) -> datetime:
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(microsecond=0)


def _event_lines(obj: CalendarObject, event: Event, rid: When | None) -> list[str]:
    lines = ["BEGIN:VEVENT", _line("UID", _Text(obj.uid))]
    first = obj.first
    stamp = event.last_modified or event.created or first.last_modified or first.created or _EPOCH
    lines.append(_line("DTSTAMP", vDDDTypes(_stamp(stamp))))
    recurrence_id = event.recurrence_id if event.recurrence_id is not None else rid
    if recurrence_id is not None:
        lines.append(_when_line("RECURRENCE-ID", recurrence_id))
    lines.append(_when_line("DTSTART", event.start))
    if event.end is not None:
        lines.append(_when_line("DTEND", event.end))
    if event.sequence:
        lines.append(_line("SEQUENCE", vInt(event.sequence)))
    if event.created is not None:
        lines.append(_line("CREATED", vDDDTypes(_stamp(event.created))))
    if event.last_modified is not None:
        lines.append(_line("LAST-MODIFIED", vDDDTypes(_stamp(event.last_modified))))
    for prop, text in (
        ("SUMMARY", event.title),
        ("DESCRIPTION", event.description),
        ("LOCATION", event.location),
    ):
        if text is not None:
            lines.append(_line(prop, _Text(text)))
    if event.status is not Status.CONFIRMED:
        lines.append(_line("STATUS", vText(event.status.value.upper())))
    if event.show_as is ShowAs.FREE:
        lines.append(_line("TRANSP", vText("TRANSPARENT")))
    if event.visibility is not Visibility.DEFAULT:
        lines.append(_line("CLASS", vText(event.visibility.value.upper())))
    if event.categories:
        lines.append(_line("CATEGORIES", _Text(*event.categories)))
    if event.organizer is not None:
        params = {"CN": event.organizer.name} if event.organizer.name is not None else {}
        lines.append(_line("ORGANIZER", _address(event.organizer.email), **params))
    for attendee in event.attendees:
        params = {"CN": attendee.name} if attendee.name is not None else {}
        params["PARTSTAT"] = attendee.response.value.upper()
        if attendee.optional:
            params["ROLE"] = "OPT-PARTICIPANT"
        lines.append(_line("ATTENDEE", _address(attendee.email), **params))
    if event.conference_url is not None:
        conference = vUri(_uri(event.conference_url))
        lines.append(_line("CONFERENCE", conference, VALUE="URI", FEATURE="VIDEO"))
    if event.url is not None:
        lines.append(_line("URL", vUri(_uri(event.url))))
    lines += [f"RRULE:{_uri(rule)}" for rule in event.rrules]
    lines += _when_list_lines("RDATE", event.rdates)
    lines += _when_list_lines("EXDATE", event.exdates)
    if obj.marker is not None:
        lines.append(_line("X-CALSYNCD-RULE", _Text(obj.marker.rule)))
        lines.append(_line("X-CALSYNCD-ORIGIN", _Text(obj.marker.origin)))
        lines.append(_line("X-CALSYNCD-KEY", _Text(obj.marker.key)))
    blocks = [x for x in event.extra if x.line[:6].upper() == "BEGIN:"]
    for extra in event.extra:
        if extra not in blocks:
            if "\n" in extra.line or "\r" in extra.line:
                raise ValueError(f"extra property {extra.name!r} has a line break: {extra.line!r}")
            lines.append(extra.line)
    for reminder in event.reminders:
        alarm = Alarm()
        alarm.add("ACTION", "DISPLAY")
        alarm.add("DESCRIPTION", "Reminder")
        alarm.add("TRIGGER", -reminder)
        lines += [line for line in alarm.content_lines(sorted=False) if line]
    for block in blocks:
        lines += block.line.split("\n")
    lines.append("END:VEVENT")
    return lines

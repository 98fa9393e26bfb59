"""One VEVENT read into an :class:`~calsyncd.model.event.Event`: the middle stage of the reader.

:func:`read_event` maps the properties and alarms of one VEVENT tree (as
:mod:`calsyncd.model.components` built it) onto the model's fields and returns a
:class:`~calsyncd.model.assemble.Reading`; values are decoded by :mod:`calsyncd.model.values`.
A VEVENT that cannot be read faithfully raises :class:`~calsyncd.model.components.Unreadable`
naming why; the document reader (:mod:`calsyncd.model.ical`) then leaves its whole object out.
What it leaves out or chooses while reading an event it keeps is a note on the reading (the
list of notes: :mod:`calsyncd.model.ical`). A line that is not a property makes the event
unreadable only if it is one of a property the model reads into a field.

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
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime, time, timedelta
from typing import Any

from icalendar import vDuration
from icalendar.parser import split_on_unescaped_comma

from calsyncd.model.assemble import MARKER_PROPERTIES, Reading
from calsyncd.model.components import Component, Property, Unreadable, param
from calsyncd.model.event import (
    Attendee,
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
from calsyncd.model.recurrence import conform_until, gregorian, parse_rule
from calsyncd.model.values import (
    end_after,
    read_periods,
    read_person,
    read_text,
    read_timestamp,
    read_when,
    read_whens,
)
from calsyncd.model.vtimezone import Zones

__all__ = ["read_event", "readable"]

_CONFERENCE_FALLBACKS = ("X-GOOGLE-CONFERENCE", "X-MICROSOFT-SKYPETEAMSMEETINGURL")
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


# icalendar is only partly annotated: its untyped calls are wrapped here, nowhere else.


def _decode_duration(raw: str) -> object:
    return vDuration.from_ical(raw)  # type: ignore[no-untyped-call]


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


def readable(event: Component) -> bool:
    """Whether every line of the VEVENT that is not a property may be left out."""
    try:
        _check_unreadable(event)
    except Unreadable:
        return False
    return True


def read_event(component: Component, zones: Zones) -> Reading:
    """One VEVENT as a :class:`Reading`, its TZIDs resolved by ``zones``.

    Raises :class:`Unreadable` naming why when the event cannot be read faithfully. The
    reading's notes name what was left out or chosen among its properties; notes on lines
    that are not properties are the caller's to make.
    """
    if errors := component.all_errors():
        raise Unreadable("; ".join(errors))
    _check_unreadable(component)
    notes: list[str] = []
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
            uid = read_text(prop)
        elif name == "DTSTAMP":
            with suppress(Unreadable):
                values.setdefault("dtstamp", read_timestamp(prop, zones))
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
                values["dtstart"] = read_when(prop, zones)
            else:
                values[name.lower()] = read_when(prop, zones)
            if name == "RECURRENCE-ID" and (reach := param(prop.params, "RANGE")) is not None:
                if reach.strip().upper() != "THISANDFUTURE":
                    raise Unreadable(f"RECURRENCE-ID;RANGE={reach} is not supported")
                values["future"] = True
        elif name in ("SUMMARY", "DESCRIPTION", "LOCATION"):
            once({"SUMMARY": "title"}.get(name, name.lower()), prop, read_text(prop))
        elif name == "STATUS" and read_text(prop).strip().upper() in _STATUS:
            once("status", prop, _STATUS[read_text(prop).strip().upper()])
        elif name == "TRANSP" and read_text(prop).strip().upper() in ("OPAQUE", "TRANSPARENT"):
            free = read_text(prop).strip().upper() == "TRANSPARENT"
            once("show_as", prop, ShowAs.FREE if free else ShowAs.BUSY)
        elif name == "CLASS":
            # RFC 5545 3.8.1.3: an unknown classification is treated as PRIVATE.
            once(
                "visibility",
                prop,
                _VISIBILITY.get(read_text(prop).strip().upper(), Visibility.PRIVATE),
            )
        elif name == "CATEGORIES":
            categories += split_on_unescaped_comma(prop.value)
        elif name == "ORGANIZER":
            email, cn = read_person(prop)
            once("organizer", prop, Person(email, cn))
        elif name == "ATTENDEE":
            email, cn = read_person(prop)
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
            rdates += read_periods(prop, zones)
        elif name == "RDATE":
            rdates += read_whens(prop, zones)
        elif name == "EXDATE":
            exdates += read_whens(prop, zones)
        elif name == "SEQUENCE":
            try:
                once("sequence", prop, int(prop.value.strip()))
            except ValueError as exc:
                raise Unreadable(f"SEQUENCE is not a number: {prop.value!r}") from exc
        elif name in ("CREATED", "LAST-MODIFIED"):
            once(name.lower().replace("-", "_"), prop, read_timestamp(prop, zones))
        else:
            if name in MARKER_PROPERTIES:
                marker.setdefault(MARKER_PROPERTIES[name], read_text(prop))
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
        end = end_after(start, duration)
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

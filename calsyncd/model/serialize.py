"""Writing the canonical :class:`CalendarObject` as iCalendar text (see :mod:`calsyncd.model.ical`).

Output is a pure function of the object: properties in a fixed order; VTIMEZONEs from
``icalendar``'s ``Timezone.from_tzinfo`` (the generator behind ``add_missing_timezones``,
called directly so that the years covered follow the object's dates and the result is
cached); DTSTAMP is the event's LAST-MODIFIED, else its CREATED (else those of the object's
first event), else 1970-01-01T00:00:00Z — never the wall clock, so writing an unchanged
object twice gives the same bytes (and the same etag). Datetimes are written as wall time
plus TZID here: ``icalendar`` writes zones it deems equal to UTC (Africa/Abidjan,
Atlantic/Reykjavik …) with a ``Z``, which would lose their name.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, tzinfo
from functools import lru_cache
from typing import Protocol

from icalendar import (
    Alarm,
    Calendar,
    Timezone,
    vCalAddress,
    vDDDLists,
    vDDDTypes,
    vInt,
    vText,
    vUri,
)
from icalendar.parser import Contentline, Contentlines, param_value

from calsyncd.model.event import (
    CalendarObject,
    Event,
    Period,
    ShowAs,
    Status,
    Visibility,
    When,
    sort_key,
)
from calsyncd.model.recent import by_identity
from calsyncd.model.timezones import iana_name, is_utc_zone, zone_for_tzid

__all__ = ["DEFAULT_PRODID", "serialize_calendar", "serialize_object"]

DEFAULT_PRODID = "-//calsyncd//EN"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_URI_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_URI_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PARAM_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


# icalendar is only partly annotated: its untyped calls are wrapped here, nowhere else.


def _fold(lines: list[str]) -> bytes:
    content = [Contentline(line) for line in lines]  # type: ignore[no-untyped-call]
    folded: bytes = Contentlines(content).to_ical()  # type: ignore[no-untyped-call]
    return folded


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
        if isinstance(when, Period):
            yield from (when.start, when.end)
        elif when is not None:
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


class _Periods:
    """PERIOD values (``start/end``), already written, as one comma-separated list."""

    def __init__(self, periods: list[str]) -> None:
        self._periods = periods

    def to_ical(self) -> str:
        return ",".join(self._periods)


def _period_value(period: Period) -> tuple[str, dict[str, str], str]:
    """(group, parameters, ``start/end``): the end in the start's zone (the TZID is one)."""
    group, params, start = _when_value(period.start)
    end = period.end
    if isinstance(start, datetime) and start.tzinfo is not None:  # UTC: written with a Z
        end = end.astimezone(UTC)
    elif group not in ("FLOATING", "UTC"):
        end = end.astimezone(zoneinfo.ZoneInfo(group)).replace(tzinfo=None)
    end = end.replace(microsecond=0)
    text = f"{vDDDTypes(start).to_ical().decode()}/{vDDDTypes(end).to_ical().decode()}"
    return group, params, text


def _rdate_lines(rdates: tuple[When | Period, ...]) -> list[str]:
    """RDATE lines: dates and date-times as :func:`_when_list_lines` writes them, periods as
    ``RDATE;VALUE=PERIOD``, one property per run of values of the same kind."""
    lines: list[str] = []
    start = 0
    while start < len(rdates):
        periods = isinstance(rdates[start], Period)
        end = start
        while end < len(rdates) and isinstance(rdates[end], Period) == periods:
            end += 1
        run = rdates[start:end]
        if not periods:
            lines += _when_list_lines("RDATE", tuple(w for w in run if not isinstance(w, Period)))
        else:
            lines += _period_lines([p for p in run if isinstance(p, Period)])
        start = end
    return lines


def _period_lines(periods: list[Period]) -> list[str]:
    lines: list[str] = []
    run: list[str] = []
    run_group: str | None = None
    run_params: dict[str, str] = {}
    for period in periods:
        group, params, text = _period_value(period)
        if run and group != run_group:
            lines.append(_line("RDATE", _Periods(run), VALUE="PERIOD", **run_params))
            run = []
        run_group, run_params = group, params
        run.append(text)
    if run:
        lines.append(_line("RDATE", _Periods(run), VALUE="PERIOD", **run_params))
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
    lines += _rdate_lines(event.rdates)
    lines += _when_list_lines("EXDATE", event.exdates)
    marker = obj.marker
    if marker is not None:
        if marker.rule is not None and marker.origin is not None:  # else anonymous: key only
            lines.append(_line("X-CALSYNCD-RULE", _Text(marker.rule)))
            lines.append(_line("X-CALSYNCD-ORIGIN", _Text(marker.origin)))
        lines.append(_line("X-CALSYNCD-KEY", _Text(marker.key)))
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

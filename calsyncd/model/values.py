"""The value of one iCalendar property, decoded: text, a date or date-time in its zone, an
RDATE period, a DURATION, a person.

Each function reads one :class:`~calsyncd.model.components.Property` of a VEVENT and raises
:class:`~calsyncd.model.components.Unreadable`, naming the property, for a value that cannot
be read faithfully. A TZID is resolved by the :class:`~calsyncd.model.vtimezone.Zones` of the
text being read.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from icalendar.parser import unescape_backslash

from calsyncd.model.components import Property, Unreadable, decode_ddd, param
from calsyncd.model.event import Period, When
from calsyncd.model.vtimezone import Zones

__all__ = [
    "end_after",
    "read_periods",
    "read_person",
    "read_text",
    "read_timestamp",
    "read_when",
    "read_whens",
    "unescape_text",
]

_DURATION_RE = re.compile(
    r"^(?P<sign>[+-])?P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


def unescape_text(raw: str) -> str:
    """A TEXT value as written, with its backslash escapes undone (as the ``icalendar``
    package undoes them: ``\\:`` too, which RFC 5545 does not define)."""
    result: str = unescape_backslash(raw)
    return result


def read_text(prop: Property) -> str:
    """A TEXT property's value with its backslash escapes undone."""
    return unescape_text(prop.value)


def read_when(prop: Property, zones: Zones, value: str | None = None) -> When:
    """A DATE or DATE-TIME (``value``, else the property's): UTC, in its TZID, or floating."""
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


def read_whens(prop: Property, zones: Zones) -> list[When]:
    """The comma-separated dates or date-times of an RDATE or EXDATE."""
    return [read_when(prop, zones, part) for part in prop.value.split(",") if part.strip()]


def read_periods(prop: Property, zones: Zones) -> list[When | Period]:
    """The periods of an ``RDATE;VALUE=PERIOD``: ``start/end`` or ``start/duration``."""
    found: list[When | Period] = []
    for part in prop.value.split(","):
        if not part.strip():
            continue
        first, slash, second = part.strip().partition("/")
        if not slash:
            raise Unreadable(f"RDATE period has no end: {part.strip()!r}")
        start = read_when(prop, zones, first)
        if second.strip().upper().lstrip("+-").startswith("P"):
            end = end_after(start, second)
        else:
            end = read_when(prop, zones, second)
        if not isinstance(start, datetime) or not isinstance(end, datetime):
            raise Unreadable(f"RDATE period must be date-times: {part.strip()!r}")
        if end.tzinfo is None and start.tzinfo is not None:  # 20221019T140000Z/20221019T1630
            end = end.replace(tzinfo=start.tzinfo)
        if (end.tzinfo is None) != (start.tzinfo is None) or end < start:
            raise Unreadable(f"RDATE period ends before it starts: {part.strip()!r}")
        found.append(Period(start, end))
    return found


def read_timestamp(prop: Property, zones: Zones) -> datetime:
    """A DATE-TIME that may not be a date (DTSTAMP, CREATED, LAST-MODIFIED)."""
    value = read_when(prop, zones)
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


def end_after(start: When, raw: str) -> When:
    """The end of an event (or period) that lasts the DURATION ``raw`` from ``start``."""
    nominal, exact = _duration(raw)
    end = start + nominal
    if not isinstance(end, datetime):
        return end + timedelta(days=exact.days)
    if end.tzinfo is None:
        return end + exact
    return (end.astimezone(UTC) + exact).astimezone(end.tzinfo)


def read_person(prop: Property) -> tuple[str, str | None]:
    """An ORGANIZER's or ATTENDEE's email (``mailto:`` removed) and common name."""
    value = prop.value.strip()
    email = value[7:] if value.lower().startswith("mailto:") else value
    return email, param(prop.params, "CN")

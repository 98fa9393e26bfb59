"""Floating times a calendar means in a zone: ``X-WR-TIMEZONE``.

Google exports a feed it imported with floating times and names the calendar's zone in
``X-WR-TIMEZONE``; clients show those times in that zone, not in the viewer's. The reader
does the same: every floating date-time of an event (start, end, recurrence-id, RDATE,
EXDATE) is put in the zone, and a floating UNTIL is then written in UTC as RFC 5545 requires
of a zoned series. Dates and times that name a zone of their own are left alone.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, tzinfo

from calsyncd.model.event import Event, Period, When
from calsyncd.model.recurrence import conform_until
from calsyncd.model.timezones import is_utc_zone, zone_for_tzid

__all__ = ["calendar_zone", "in_zone"]


def calendar_zone(name: str) -> tzinfo | None:
    """The zone an ``X-WR-TIMEZONE`` value names (IANA, Windows …), or ``None``."""
    zone = zone_for_tzid(name)
    if zone is None:
        return None
    return UTC if is_utc_zone(zone) else zone


def _put(when: When, zone: tzinfo) -> When:
    if isinstance(when, datetime) and when.tzinfo is None:
        return when.replace(tzinfo=zone)
    return when


def _put_rdate(when: When | Period, zone: tzinfo) -> When | Period:
    if isinstance(when, Period) and when.start.tzinfo is None:
        return Period(when.start.replace(tzinfo=zone), when.end.replace(tzinfo=zone))
    return when if isinstance(when, Period) else _put(when, zone)


def in_zone(event: Event, zone: tzinfo) -> Event:
    """``event`` with its floating date-times in ``zone``."""
    start = _put(event.start, zone)
    rrules = event.rrules
    if start is not event.start:
        rrules = tuple(
            conform_until(rule, lambda wall: wall.replace(tzinfo=zone)) for rule in rrules
        )
    return replace(
        event,
        start=start,
        end=None if event.end is None else _put(event.end, zone),
        recurrence_id=None if event.recurrence_id is None else _put(event.recurrence_id, zone),
        rrules=rrules,
        rdates=tuple(_put_rdate(when, zone) for when in event.rdates),
        exdates=tuple(_put(when, zone) for when in event.exdates),
    )

"""The sync window: which events are in scope by time.

An object is in the window when any of its occurrences overlaps ``[now - past, now + future)``.
All-day dates count from midnight UTC, which is exact enough for windows measured in days.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import islice

from dateutil.rrule import rruleset, rrulestr

from calsyncd.model.event import CalendarObject, Event, When
from calsyncd.providers.base import Window

_MAX_OCCURRENCES = 5000  # bounds the expansion of an endless rule when probing overlap


def window_around(now: datetime, past: timedelta, future: timedelta) -> Window:
    return Window(now - past, now + future)


def _overlaps(window: Window, start: datetime, end: datetime) -> bool:
    return start < window.end and end > window.start


def as_utc(when: When) -> datetime:
    """A comparable instant: aware datetimes in UTC, floating times and dates taken as UTC."""
    if isinstance(when, datetime):
        return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    return datetime.combine(when, time(), tzinfo=UTC)


def _duration(event: Event) -> timedelta:
    return as_utc(event.effective_end()) - as_utc(event.start)


def _occurrences(event: Event) -> rruleset:
    """The recurrence set of a master, expanded in its own zone (DST-correct)."""
    start = event.start
    dtstart = start if isinstance(start, datetime) else datetime.combine(start, time())
    rules = rruleset()
    for line in event.rrules:
        rule = rrulestr(line, dtstart=dtstart, ignoretz=dtstart.tzinfo is None)
        rules.rrule(rule)  # type: ignore[arg-type]
    for rdate in event.rdates:
        rules.rdate(_like(rdate, dtstart))
    for exdate in event.exdates:
        rules.exdate(_like(exdate, dtstart))
    return rules


def _like(when: When, dtstart: datetime) -> datetime:
    """``when`` in the same kind (aware or naive) as ``dtstart``, for dateutil comparisons."""
    value = when if isinstance(when, datetime) else datetime.combine(when, time())
    if dtstart.tzinfo is None:
        return value.replace(tzinfo=None)
    if value.tzinfo is None:
        return value.replace(tzinfo=dtstart.tzinfo)
    return value.astimezone(dtstart.tzinfo)


def span(obj: CalendarObject) -> tuple[datetime, datetime | None]:
    """First start and last end of an object; ``None`` as end for an endless series."""
    starts: list[datetime] = []
    ends: list[datetime] = []
    for event in obj.events:
        start = as_utc(event.start)
        length = _duration(event)
        starts.append(start)
        ends.append(start + length)
        if event.recurrence_id is not None or not event.recurring:
            continue
        if any("COUNT=" not in r.upper() and "UNTIL=" not in r.upper() for r in event.rrules):
            return min(starts), None
        occurrences = list(islice(_occurrences(event), _MAX_OCCURRENCES + 1))
        if len(occurrences) > _MAX_OCCURRENCES:
            return min(starts), None
        if occurrences:
            ends.append(as_utc(occurrences[-1]) + length)
    return min(starts), max(ends)


def in_window(obj: CalendarObject, window: Window) -> bool:
    """Whether any occurrence (or override) of ``obj`` overlaps the window."""
    for event in obj.events:
        length = _duration(event)
        if event.recurrence_id is None and event.recurring:
            rules = _occurrences(event)
            probe = _like(window.start - length, _dtstart(event))
            first = rules.after(probe, inc=True)
            if first is not None and _overlaps(window, as_utc(first), as_utc(first) + length):
                return True
            continue
        start = as_utc(event.start)
        if _overlaps(window, start, start + max(length, timedelta(seconds=1))):
            return True
    return False


def _dtstart(event: Event) -> datetime:
    start = event.start
    return start if isinstance(start, datetime) else datetime.combine(start, time())

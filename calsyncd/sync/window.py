"""The sync window: which events are in scope by time.

An object is in the window when any of its occurrences overlaps ``[now - past, now + future)``.
All-day dates count from midnight UTC, which is exact enough for windows measured in days.

Series are expanded by :class:`~calsyncd.model.recurrence.Recurrence` under one budget per
object, so :func:`in_window` and :func:`span` raise
:class:`~calsyncd.model.budget.OverBudget` for an object whose rules cost more (an endless
``FREQ=SECONDLY`` from years ago). The engine asks :func:`extent` first, for every object a
cycle reads, and skips — naming it — any object the window cannot place in time.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from calsyncd.model.budget import MAX_SECONDS, Budget, OverBudget, bounded
from calsyncd.model.event import CalendarObject, Event, Period, When
from calsyncd.model.recurrence import as_datetime, like, occurrences_of
from calsyncd.providers.base import Window

_MAX_OCCURRENCES = 5000  # bounds the expansion of an endless rule when probing overlap

Extent = tuple[float | None, float | None]
"""An object's first start and last end as POSIX timestamps; ``None``: unknown or endless."""


class Unexpandable(Exception):
    """The window cannot place an object in time; the message names it and says why."""


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


def _period_lengths(event: Event) -> dict[datetime, timedelta]:
    """The length of each occurrence an RDATE period gives, by its start as
    :func:`_occurrences` yields it: every other occurrence is as long as the event."""
    dtstart = as_datetime(event.start)
    return {
        like(r.start, dtstart): as_utc(r.end) - as_utc(r.start)
        for r in event.rdates
        if isinstance(r, Period)
    }


def span(obj: CalendarObject) -> tuple[datetime, datetime | None]:
    """First start and last end of an object; ``None`` as end for an endless series."""
    starts: list[datetime] = []
    ends: list[datetime] = []
    with bounded():
        for event in obj.events:
            start = as_utc(event.start)
            length = _duration(event)
            starts.append(start)
            ends.append(start + length)
            if event.recurrence_id is not None or not event.recurring:
                continue
            if any("COUNT=" not in r.upper() and "UNTIL=" not in r.upper() for r in event.rrules):
                return min(starts), None
            occurrences = occurrences_of(event).first(_MAX_OCCURRENCES + 1)
            if len(occurrences) > _MAX_OCCURRENCES:
                return min(starts), None
            lengths = _period_lengths(event)
            if occurrences:
                last = occurrences[-1]
                ends.append(as_utc(last) + lengths.get(last, length))
            ends += [as_utc(start) + own for start, own in lengths.items()]
    return min(starts), max(ends)


def in_window(obj: CalendarObject, window: Window) -> bool:
    """Whether any occurrence (or override) of ``obj`` overlaps the window."""
    with bounded():
        for event in obj.events:
            length = _duration(event)
            if event.recurrence_id is None and event.recurring:
                if _series_in_window(event, length, window):
                    return True
                continue
            start = as_utc(event.start)
            if _overlaps(window, start, start + max(length, timedelta(seconds=1))):
                return True
    return False


def _series_in_window(master: Event, length: timedelta, window: Window) -> bool:
    """Whether an occurrence of a series overlaps the window: the first one that can, or —
    where RDATE periods make occurrences of other lengths — each one that can."""
    lengths = _period_lengths(master)
    dtstart = as_datetime(master.start)
    probe = like(window.start - max([length, *lengths.values()]), dtstart)
    recurrence = occurrences_of(master)
    if not lengths:
        first = recurrence.first_from(probe)
        return first is not None and _overlaps(window, as_utc(first), as_utc(first) + length)
    for start in recurrence.between(probe, like(window.end, dtstart)):
        if _overlaps(window, as_utc(start), as_utc(start) + lengths.get(start, length)):
            return True
    return False


def extent(obj: CalendarObject, window: Window) -> Extent:
    """The object's :func:`span` as timestamps, once :func:`in_window` is known to answer
    for it.

    Both run under one budget with half the CPU time of the default, so that the planner's
    own ``in_window`` later has room to spare. Raises :class:`Unexpandable` when the
    recurrence costs more than the budget or the window cannot place the object at all; a
    span that cannot be told (past year 9999) is only unknown.
    """
    with Budget(seconds=MAX_SECONDS / 2).active():
        try:
            in_window(obj, window)
        except OverBudget as exc:
            raise Unexpandable(f"{_named(obj)}: expanding {_rules(obj)} costs {exc}") from None
        except Exception as exc:  # dateutil fails in many ways on rules it accepted
            detail = f"{type(exc).__name__}: {exc}"
            raise Unexpandable(
                f"{_named(obj)}: {_rules(obj)} cannot be placed ({detail})"
            ) from None
        try:
            start, end = span(obj)
            return start.timestamp(), (end.timestamp() if end is not None else None)
        except OverBudget as exc:
            raise Unexpandable(f"{_named(obj)}: expanding {_rules(obj)} costs {exc}") from None
        except Exception:  # an end past year 9999, a rule failing after the window
            return None, None


def _named(obj: CalendarObject) -> str:
    return f"UID {obj.uid!r}"


def _rules(obj: CalendarObject) -> str:
    rules = [rule for event in obj.events for rule in event.rrules]
    if rules:
        return "its recurrence " + ", ".join(repr(f"RRULE:{rule}") for rule in rules)
    return "its dates"

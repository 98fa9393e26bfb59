"""``RECURRENCE-ID;RANGE=THISANDFUTURE``: an edit of one occurrence and all later ones.

RFC 5545 3.8.4.4: the override's properties apply to its occurrence and every later one,
each moved by the same amount as the override's start moved from its RECURRENCE-ID. Few
calendars (and no provider API but CalDAV) store such a range, while every one stores
overrides. So the range is expanded into what it means: one ordinary override per later
occurrence of the series — a copy of the range's override, moved like it (on the wall clock
where its start and RECURRENCE-ID share a zone) and as long as it (an RDATE period keeps its
own length). An occurrence with an override of its own keeps that; a later range takes over
from its own RECURRENCE-ID on. The series itself is left as it is.

A range reaches at most :data:`MAX_FUTURE_OVERRIDES` occurrences (its own included): an
endless series cannot be written as overrides, and the caller says where it stopped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from calsyncd.model.event import Event, Period, When, sort_key
from calsyncd.model.recurrence import as_datetime, like, occurrences_of

__all__ = ["MAX_FUTURE_OVERRIDES", "Expanded", "this_and_future"]

MAX_FUTURE_OVERRIDES = 500
"""Occurrences one range is applied to, its own included: ten years of a weekly series."""


@dataclass(slots=True)
class Expanded:
    """The overrides with every range applied, and where a range stopped short: its
    RECURRENCE-ID and the last occurrence it reached."""

    overrides: dict[When, Event]
    cut_short: dict[When, When] = field(default_factory=dict)


def _moved(when: When, origin: When, target: When) -> When:
    """``when`` moved as ``origin`` moved to ``target``: on the wall clock where those two
    share a zone (or are floating, or dates), else by the same time, ending in ``target``'s
    zone. A date moved by a date-time (or back) moves by whole days to ``target``'s time."""
    if isinstance(origin, datetime) and isinstance(target, datetime):
        moment = as_datetime(when)
        if origin.tzinfo is target.tzinfo:
            if moment.tzinfo is not None and origin.tzinfo is not None:
                moment = moment.astimezone(origin.tzinfo)
            wall = moment.replace(tzinfo=None) + (
                target.replace(tzinfo=None) - origin.replace(tzinfo=None)
            )
            return wall.replace(tzinfo=target.tzinfo)
        if origin.tzinfo is None or target.tzinfo is None or moment.tzinfo is None:
            wall = moment.replace(tzinfo=None) + (
                target.replace(tzinfo=None) - origin.replace(tzinfo=None)
            )
            return wall.replace(tzinfo=target.tzinfo)
        return (moment + (target - origin)).astimezone(target.tzinfo)
    day = when.date() if isinstance(when, datetime) else when
    origin_day = origin.date() if isinstance(origin, datetime) else origin
    target_day = target.date() if isinstance(target, datetime) else target
    moved: date = day + (target_day - origin_day)
    if isinstance(target, datetime):
        return datetime.combine(moved, target.timetz())
    return moved


def _kind_of(value: datetime, start: When) -> When:
    """An occurrence as the series' start is written: a date for an all-day series."""
    return value if isinstance(start, datetime) else value.date()


def this_and_future(
    master: Event, overrides: Mapping[When, Event], ranges: Sequence[When]
) -> Expanded:
    """``overrides`` with each range (the overrides at ``ranges`` are
    RANGE=THISANDFUTURE) applied to the later occurrences of ``master``."""
    result = Expanded(dict(overrides))
    own = set(overrides)
    dtstart = as_datetime(master.start)
    recurrence = occurrences_of(master)
    lengths = {
        like(r.start, dtstart): r.end - r.start for r in master.rdates if isinstance(r, Period)
    }
    for rid in sorted(ranges, key=sort_key):
        changed = overrides[rid]
        later = recurrence.following(like(rid, dtstart), MAX_FUTURE_OVERRIDES)
        if len(later) == MAX_FUTURE_OVERRIDES:
            later.pop()
            result.cut_short[rid] = _kind_of(later[-1], master.start)
        for occurrence in later:
            key = _kind_of(occurrence, master.start)
            if key in own:
                continue
            start = _moved(key, rid, changed.start)
            end: When | None = None
            if occurrence in lengths and isinstance(start, datetime):
                end = start + lengths[occurrence]
            elif changed.end is not None:
                end = _moved(changed.end, changed.start, start)
            result.overrides[key] = replace(changed, start=start, end=end, recurrence_id=key)
    return result

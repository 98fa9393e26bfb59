"""The benchmark's calendars: N plain events, and the copies calsyncd would have made of them.

Events are an hour apart from 2027-01-01 (50,000 end in 2032), inside the rules' window of
ten years either side of now; every fourth is in Europe/Berlin (so a VTIMEZONE travels), the
rest in UTC. A tool's "in sync" starting point is its two calendars holding the same events:

- calsyncd: originals on one side, calsyncd's marked copies on the other (:func:`marked`),
  which its first cycle adopts without writing.
- vdirsyncer: the same bytes on both sides (:func:`plain`), which its first sync compares
  and records without writing.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from calsyncd.model.event import CalendarObject, Event, Marker
from calsyncd.model.ical import serialize_object
from calsyncd.sync.keys import copy_key

BERLIN = ZoneInfo("Europe/Berlin")
FIRST = datetime(2027, 1, 1, 8)
WINDOW = "{past: 3650d, future: 3650d}"
"""The calsyncd rules' window (YAML): every generated event is inside it."""


def original(n: int) -> CalendarObject:
    zone = UTC if n % 4 else BERLIN
    start = FIRST.replace(tzinfo=zone) + timedelta(hours=n)
    event = Event(
        start=start,
        end=start + timedelta(minutes=45),
        title=f"Event {n}",
        location="Room 1" if n % 3 else None,
        last_modified=datetime(2026, 11, 1, tzinfo=UTC),
    )
    return CalendarObject(uid=f"bench-{n}@calsyncd.test", master=event)


def file_name(n: int) -> str:
    return hashlib.sha256(f"bench-{n}".encode()).hexdigest()[:20] + ".ics"


def plain(count: int) -> dict[str, bytes]:
    """``count`` events as {resource name: body}."""
    return {file_name(n): serialize_object(original(n)) for n in range(count)}


def marked(count: int, rule: str) -> dict[str, bytes]:
    """The copies calsyncd's two-way ``rule`` makes of :func:`plain`'s events."""
    files = {}
    for n in range(count):
        obj = original(n)
        marker = Marker(rule, obj.uid, copy_key(rule, "source", obj.uid))
        files[file_name(n)] = serialize_object(obj.with_marker(marker))
    return files


def edited_title(n: int, round_: int) -> str:
    return f"Event {n} (edit {round_})"


def edited(n: int, round_: int) -> bytes:
    """Event ``n`` as another client edits it in round ``round_`` (1, 2, …): a new title,
    ``SEQUENCE`` and ``LAST-MODIFIED``."""
    obj = original(n)
    assert obj.master is not None
    master = replace(
        obj.master,
        title=edited_title(n, round_),
        sequence=round_,
        last_modified=datetime.now(UTC).replace(microsecond=0),
    )
    return serialize_object(replace(obj, master=master))


def edit_set(count: int, round_: int, edits: int = 10) -> list[int]:
    """Which ``edits`` events round ``round_`` edits: spread over the calendar, a different
    set each round."""
    step = count // edits
    return [k * step + (round_ % step) for k in range(edits)]

"""Writing into an original the way a calendar client would: a current LAST-MODIFIED, and a
SEQUENCE that says when attendees must look again.

When calsyncd writes an original — a two-way edit flowing back, a merge, a copy promoted to
original — other clients and servers judge the change by its metadata. LAST-MODIFIED (and
DTSTAMP, which the writer makes equal to it) says when it changed: left as it was, the
write-back looked older than the version it replaced, and newest-wins elsewhere took it for
stale. SEQUENCE (RFC 5546 §2.1.4) goes up when an event's time or recurrence changes;
scheduling clients ignore a rescheduled event whose SEQUENCE did not move.

So each event of the object written (the master and every override) whose content differs
from the version it replaces gets LAST-MODIFIED = the time of the write, and SEQUENCE one
higher than the replaced version's when its start, end, recurrence rules, dates or
recurrence id changed (a new override counts as rescheduled). Events that did not change keep
their metadata, and so does everything the model does not interpret (``extra``).

Copies are not stamped: they carry their original's times, so that newest-wins compares like
with like. None of this moves a content hash (:data:`calsyncd.model.hashing.VOLATILE_FIELDS`),
so a stamped write-back is still recognised as calsyncd's own next cycle.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from calsyncd.model.event import CalendarObject, Event, When
from calsyncd.model.hashing import event_hash

SCHEDULE_FIELDS = ("start", "end", "rrules", "rdates", "exdates", "recurrence_id")
"""What makes an event rescheduled (RFC 5546 §2.1.4: DTSTART, DTEND, RRULE, RDATE, EXDATE)."""


def stamped(new: CalendarObject, replaced: CalendarObject | None, now: datetime) -> CalendarObject:
    """``new`` as written at ``now`` over ``replaced`` (``None``: nothing was there)."""
    before: dict[When | None, Event] = {}
    if replaced is not None:
        before = dict(replaced.overrides.items())
        if replaced.master is not None:
            before[None] = replaced.master
    master = _stamped(new.master, before.get(None), now) if new.master is not None else None
    overrides = {rid: _stamped(event, before.get(rid), now) for rid, event in new.overrides.items()}
    return replace(new, master=master, overrides=overrides)


def _stamped(event: Event, old: Event | None, now: datetime) -> Event:
    if old is not None and event_hash(event) == event_hash(old):
        return event
    sequence = max(event.sequence, old.sequence if old is not None else 0)
    if old is None or any(getattr(event, f) != getattr(old, f) for f in SCHEDULE_FIELDS):
        sequence += 1
    return replace(event, last_modified=now.replace(microsecond=0), sequence=sequence)

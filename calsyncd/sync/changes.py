"""Which user-facing fields differ between two versions of an object, as ``calsyncd plan``
lists them for an update."""

from __future__ import annotations

from calsyncd.model.event import CalendarObject
from calsyncd.sync.mapping import MAPPED_FIELDS

_SHOWN_FIELDS = ("title", "start", "end", *MAPPED_FIELDS[1:], "status", "recurrence")


def changed_fields(before: CalendarObject | None, after: CalendarObject) -> tuple[str, ...]:
    """The user-facing fields that differ, for ``plan`` output."""
    if before is None:
        return ()
    a, b = before.first, after.first
    pairs = {
        "title": (a.title, b.title),
        "start": (a.start, b.start),
        "end": (a.end, b.end),
        "description": (a.description, b.description),
        "location": (a.location, b.location),
        "attendees": (a.attendees, b.attendees),
        "reminders": (sorted(a.reminders), sorted(b.reminders)),
        "visibility": (a.visibility, b.visibility),
        "show_as": (a.show_as, b.show_as),
        "categories": (a.categories, b.categories),
        "conference": (a.conference_url, b.conference_url),
        "status": (a.status, b.status),
        "recurrence": ((a.rrules, a.rdates, a.exdates), (b.rrules, b.rdates, b.exdates)),
    }
    names = {name for name, (x, y) in pairs.items() if x != y}
    if dict(before.overrides) != dict(after.overrides):
        names.add("occurrences")
    return tuple(n for n in (*_SHOWN_FIELDS, "occurrences") if n in names)

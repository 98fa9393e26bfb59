"""Calendar objects the conformance suite stores, and how it compares what comes back.

Aware datetimes compare equal across zones when they are the same instant, so comparing
events with ``==`` would let a provider turn 09:00 New York into 14:00 UTC unnoticed. The
comparison here looks at wall time *and* zone key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from calsyncd.model.event import (
    Attendee,
    CalendarObject,
    Event,
    ExtraProperty,
    Marker,
    Person,
    Response,
    ShowAs,
    Status,
    Visibility,
    When,
)

NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
BERLIN = ZoneInfo("Europe/Berlin")

EVENT_FIELDS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(Event) if f.name not in ("start", "end", "recurrence_id")
)
"""Event fields compared one by one (times are compared by :func:`when_key`)."""

ODD_UIDS = (
    "with/slashes/in/it",
    "with spaces in it",
    "someone@example.org",
    "🎉-party-🎂",
    "comma,semi;colon\\backslash",
)


def when_key(when: When | None) -> tuple[str, str, str] | None:
    """``(kind, wall time, zone)``: equal only for the same wall time in the same zone."""
    if when is None:
        return None
    if not isinstance(when, datetime):
        return ("date", when.isoformat(), "")
    if when.tzinfo is None:
        return ("floating", when.isoformat(), "")
    return ("zoned", when.replace(tzinfo=None).isoformat(), zone_name(when))


def zone_name(when: datetime) -> str:
    """The IANA key of a datetime's zone, with every spelling of UTC as ``UTC``."""
    key = getattr(when.tzinfo, "key", None)
    if key in (None, "UTC", "Etc/UTC", "Etc/Zulu", "Zulu", "Z") and when.utcoffset() == timedelta(
        0
    ):
        return "UTC"
    return str(key)


def event_view(event: Event, skip: Iterable[str] = ()) -> dict[str, object]:
    """A comparable picture of an event: times by :func:`when_key`, other fields as is."""
    skipped = set(skip)
    view: dict[str, object] = {
        "start": when_key(event.start),
        "end": when_key(event.end),
        "recurrence_id": when_key(event.recurrence_id),
    }
    for name in EVENT_FIELDS:
        if name in skipped:
            continue
        value = getattr(event, name)
        if name in ("rdates", "exdates"):
            value = sorted(when_key(w) or () for w in value)
        view[name] = value
    return view


def object_view(obj: CalendarObject, skip: Iterable[str] = ()) -> dict[str, object]:
    """A comparable picture of a whole object (``skip``: fields the provider cannot store, or
    ``uid`` and ``marker`` to compare an original with its copy)."""
    skipped = set(skip)
    return {
        "uid": None if "uid" in skipped else obj.uid,
        "marker": None if "marker" in skipped else obj.marker,
        "master": None if obj.master is None else event_view(obj.master, skipped),
        "overrides": {
            when_key(rid): event_view(ev, skipped)
            for rid, ev in sorted(obj.overrides.items(), key=lambda kv: str(when_key(kv[0])))
        },
    }


def single(uid: str, **fields: object) -> CalendarObject:
    """A one-hour event on 2030-05-06 10:00 Berlin unless ``fields`` say otherwise."""
    start = fields.pop("start", datetime(2030, 5, 6, 10, 0, tzinfo=BERLIN))
    end = fields.pop("end", None)
    if end is None and isinstance(start, datetime):
        end = start + timedelta(hours=1)
    return CalendarObject(uid=uid, master=Event(start=start, end=end, **fields))  # type: ignore[arg-type]


def rich(uid: str, *, marker_key: str = "rich-key") -> CalendarObject:
    """An event that sets every field of the model."""
    start = datetime(2030, 3, 4, 9, 30, tzinfo=NEW_YORK)
    event = Event(
        start=start,
        end=start + timedelta(hours=1, minutes=15),
        title="Hearing: Smith v. Jones",
        description="Bring the file.\nRoom changes are posted at the desk; ask Ana, or Bo.",
        location="Court 3, 100 Centre St, New York",
        status=Status.TENTATIVE,
        show_as=ShowAs.FREE,
        visibility=Visibility.PRIVATE,
        categories=("Court Date", "Work"),
        organizer=Person("clerk@court.example", "Court Clerk"),
        attendees=(
            Attendee("ana@firm.example", "Ana A.", Response.ACCEPTED),
            Attendee("bo@firm.example", "Bo B.", Response.DECLINED),
            Attendee("cy@firm.example", None, Response.TENTATIVE, optional=True),
            Attendee("di@firm.example", "Di D.", Response.NEEDS_ACTION),
        ),
        reminders=(timedelta(minutes=15), timedelta(days=1)),
        conference_url="https://meet.example/j/123456789",
        url="https://cases.example/case/42",
        sequence=3,
        created=datetime(2029, 12, 1, 8, 0, tzinfo=UTC),
        last_modified=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
        extra=(
            ExtraProperty("X-CASE-NUMBER", "X-CASE-NUMBER:2030-CV-0042"),
            ExtraProperty("X-EXAMPLE-FLAG", "X-EXAMPLE-FLAG;X-LEVEL=HIGH:yes"),
        ),
    )
    marker = Marker(rule="court-dates", origin="origin-42@cases.example", key=marker_key)
    return CalendarObject(uid=uid, master=event, marker=marker)


def series(uid: str) -> CalendarObject:
    """A weekly New York series across the March 2030 DST change, with one occurrence moved,
    one excluded (EXDATE), one cancelled (a cancelled override) and one extra (RDATE)."""
    first = datetime(2030, 3, 4, 9, 0, tzinfo=NEW_YORK)  # DST starts 2030-03-10 in New York
    week = timedelta(weeks=1)
    moved_id = first + week
    master = Event(
        start=first,
        end=first + timedelta(hours=1),
        title="Weekly review",
        rrules=("FREQ=WEEKLY;COUNT=8;BYDAY=MO",),
        rdates=(datetime(2030, 4, 30, 9, 0, tzinfo=NEW_YORK),),
        exdates=(first + 2 * week,),
    )
    moved = dataclasses.replace(
        master,
        start=moved_id + timedelta(hours=1, minutes=30),
        end=moved_id + timedelta(hours=2, minutes=30),
        recurrence_id=moved_id,
        title="Weekly review (moved)",
        rrules=(),
        rdates=(),
        exdates=(),
        sequence=1,
    )
    cancelled_id = first + 3 * week
    cancelled = dataclasses.replace(
        master,
        start=cancelled_id,
        end=cancelled_id + timedelta(hours=1),
        recurrence_id=cancelled_id,
        status=Status.CANCELLED,
        rrules=(),
        rdates=(),
        exdates=(),
        sequence=1,
    )
    return CalendarObject(
        uid=uid, master=master, overrides={moved_id: moved, cancelled_id: cancelled}
    )


def all_day_series(uid: str) -> CalendarObject:
    """A yearly all-day event with one excluded year and a three-day override."""
    master = Event(
        start=date(2030, 7, 4),
        end=date(2030, 7, 5),
        title="Holiday",
        show_as=ShowAs.FREE,
        rrules=("FREQ=YEARLY;COUNT=5",),
        exdates=(date(2031, 7, 4),),
    )
    override = dataclasses.replace(
        master,
        start=date(2032, 7, 3),
        end=date(2032, 7, 6),
        recurrence_id=date(2032, 7, 4),
        title="Long holiday",
        rrules=(),
        exdates=(),
    )
    return CalendarObject(uid=uid, master=master, overrides={date(2032, 7, 4): override})

"""Calendar objects for the end-to-end tests: the shapes users have, many of each.

Series with moved, cancelled and excluded occurrences; all-day events and all-day series;
New York, Kolkata, Berlin, UTC and floating times; unicode text; people, reminders, links,
categories, status, visibility and free/busy. Every event has a LAST-MODIFIED (the engine's
newest-wins needs it) and no unknown properties (rules never copy those).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from conformance.samples import object_view

from calsyncd.model.event import (
    Attendee,
    CalendarObject,
    Event,
    Person,
    Response,
    ShowAs,
    Status,
    Visibility,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
STAMP = datetime(2026, 11, 1, 12, tzinfo=UTC)
BASE = datetime(2027, 1, 4, 9)


def _series(uid: str, n: int) -> CalendarObject:
    start = (BASE + timedelta(days=n)).replace(tzinfo=NEW_YORK)
    week = timedelta(weeks=1)
    master = Event(
        start=start,
        end=start + timedelta(hours=1),
        title=f"Weekly review {n}",
        location="Room 2",
        rrules=("FREQ=WEEKLY;COUNT=10",),
        exdates=(start + 3 * week,),
        last_modified=STAMP,
    )
    moved = replace(
        master,
        start=start + week + timedelta(hours=2),
        end=start + week + timedelta(hours=3),
        recurrence_id=start + week,
        title=f"Weekly review {n} (moved)",
        rrules=(),
        exdates=(),
        sequence=1,
    )
    cancelled = replace(
        master,
        start=start + 2 * week,
        end=start + 2 * week + timedelta(hours=1),
        recurrence_id=start + 2 * week,
        status=Status.CANCELLED,
        rrules=(),
        exdates=(),
        sequence=1,
    )
    overrides = {start + week: moved, start + 2 * week: cancelled}
    return CalendarObject(uid=uid, master=master, overrides=overrides)


def _all_day(uid: str, n: int) -> CalendarObject:
    day = date(2027, 2, 1) + timedelta(days=n)
    if n % 20 == 1:
        master = Event(
            start=day,
            end=day + timedelta(days=1),
            title=f"Holiday {n}",
            show_as=ShowAs.FREE,
            rrules=("FREQ=YEARLY;COUNT=4",),
            last_modified=STAMP,
        )
        rid = date(day.year + 1, day.month, day.day)
        longer = replace(
            master, start=rid, end=rid + timedelta(days=3), recurrence_id=rid, rrules=()
        )
        return CalendarObject(uid=uid, master=master, overrides={rid: longer})
    master = Event(
        start=day,
        end=day + timedelta(days=2),
        title=f"Offsite {n}",
        show_as=ShowAs.FREE,
        last_modified=STAMP,
    )
    return CalendarObject(uid=uid, master=master)


def _single(uid: str, n: int) -> CalendarObject:
    kind = n % 10
    zone = {2: KOLKATA, 3: UTC, 5: None}.get(kind, BERLIN)
    wall = BASE + timedelta(days=n, hours=n % 7)
    start = wall if zone is None else wall.replace(tzinfo=zone)
    people = n % 6 == 0
    event = Event(
        start=start,
        end=start + timedelta(minutes=30 + 15 * (n % 4)),
        title=(
            f"Geburtstag 🎂 — Zoë’s «Feier» 日本語 {n}"
            if kind == 4
            else f"Appointment {n} – Müller"
        ),
        description=f"Case {1000 + n}.\nBring the file; call ahead, please." if n % 2 else None,
        location="Café Ümlaut, Straße 1" if kind == 4 else ("Office" if n % 3 else None),
        status=Status.TENTATIVE if n % 11 == 0 else Status.CONFIRMED,
        visibility=Visibility.PRIVATE if n % 5 == 0 else Visibility.DEFAULT,
        show_as=ShowAs.FREE if n % 13 == 0 else ShowAs.BUSY,
        categories=("Appointment",) if n % 2 else ("Interview Date", "Urgent"),
        reminders=(timedelta(minutes=15),) if n % 4 == 0 else (),
        organizer=Person("clerk@firm.example", "Clerk") if people else None,
        attendees=(
            (
                Attendee("client@example.org", "Client", Response.ACCEPTED),
                Attendee("other@example.org", None, Response.TENTATIVE, optional=True),
            )
            if people
            else ()
        ),
        url=f"https://cases.example/{1000 + n}" if n % 9 == 0 else None,
        conference_url=f"https://meet.example/j/{n}" if n % 8 == 0 else None,
        sequence=n % 3,
        created=STAMP - timedelta(days=30),
        last_modified=STAMP,
    )
    return CalendarObject(uid=uid, master=event)


def objects(count: int, prefix: str, offset: int = 0) -> list[CalendarObject]:
    """``count`` objects with UIDs ``{prefix}-{n}@calsyncd.test``."""
    made: list[CalendarObject] = []
    for n in range(offset, offset + count):
        uid = f"{prefix}-{n}@calsyncd.test"
        if n % 10 == 0:
            made.append(_series(uid, n))
        elif n % 10 == 1:
            made.append(_all_day(uid, n))
        else:
            made.append(_single(uid, n))
    return made


def view(obj: CalendarObject) -> dict[str, object]:
    """What must be equal between an original and its copy (wall times and zones exactly):
    everything but the marker and the UID, which a copy may have of its own."""
    return object_view(replace(obj, uid="", marker=None))

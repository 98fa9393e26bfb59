"""Calendar objects for end-to-end tests: 50 objects covering the shapes users have."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

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
STAMP = datetime(2026, 11, 1, 12, tzinfo=UTC)


def weekly_series() -> CalendarObject:
    """A weekly series with one moved and one cancelled occurrence."""
    start = datetime(2027, 1, 4, 9, tzinfo=BERLIN)
    master = Event(
        start=start,
        end=start + timedelta(hours=1),
        title="Weekly case review",
        description="Standing review of open cases.",
        location="Room 2",
        rrules=("FREQ=WEEKLY;COUNT=12",),
        exdates=(datetime(2027, 1, 18, 9, tzinfo=BERLIN),),
        last_modified=STAMP,
    )
    moved_from = datetime(2027, 1, 11, 9, tzinfo=BERLIN)
    moved = replace(
        master,
        start=datetime(2027, 1, 12, 14, tzinfo=BERLIN),
        end=datetime(2027, 1, 12, 15, tzinfo=BERLIN),
        title="Weekly case review (moved)",
        recurrence_id=moved_from,
        rrules=(),
        exdates=(),
    )
    return CalendarObject(
        uid="series-review@firm.example", master=master, overrides={moved_from: moved}
    )


def fifty_objects() -> list[CalendarObject]:
    objects = [weekly_series()]
    objects.append(
        CalendarObject(
            uid="all-day-offsite@firm.example",
            master=Event(
                start=date(2027, 2, 1),
                end=date(2027, 2, 3),
                title="Offsite",
                show_as=ShowAs.FREE,
                last_modified=STAMP,
            ),
        )
    )
    ny = datetime(2027, 3, 15, 14, tzinfo=NEW_YORK)
    objects.append(
        CalendarObject(
            uid="ny-hearing@firm.example",
            master=Event(
                start=ny,
                end=ny + timedelta(hours=2),
                title="Hearing in New York",
                location="Courthouse, Room 3B",
                categories=("Court Date",),
                last_modified=STAMP,
            ),
        )
    )
    for i in range(47):
        start = datetime(2027, 1, 5, 8, tzinfo=BERLIN) + timedelta(days=i, hours=i % 7)
        event = Event(
            start=start,
            end=start + timedelta(minutes=30 + 15 * (i % 4)),
            title=f"Appointment {i} – Müller ✓",
            description=f"Case {1000 + i}.\nBring the file; call ahead." if i % 2 else None,
            location="Office" if i % 3 else None,
            status=Status.TENTATIVE if i % 11 == 0 else Status.CONFIRMED,
            visibility=Visibility.PRIVATE if i % 5 == 0 else Visibility.DEFAULT,
            categories=("Appointment",) if i % 2 else ("Interview Date", "Urgent"),
            reminders=(timedelta(minutes=15),) if i % 4 == 0 else (),
            organizer=Person("clerk@firm.example", "Clerk") if i % 6 == 0 else None,
            attendees=(
                (Attendee("client@example.org", "Client", Response.ACCEPTED),) if i % 6 == 0 else ()
            ),
            url=f"https://cases.example/{1000 + i}" if i % 9 == 0 else None,
            last_modified=STAMP,
        )
        objects.append(CalendarObject(uid=f"appt-{i}@firm.example", master=event))
    return objects


def content(obj: CalendarObject) -> CalendarObject:
    """An object without what legitimately differs between an original and its copy."""
    return replace(obj, uid="", marker=None)

"""Helpers of the Google end-to-end tests: rule files naming the emulator, reading it back."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import anyio
from cli.conftest import Project
from conformance import samples
from conformance.samples import object_view
from emulators.fixtures import GoogleSetup

from calsyncd.model.event import (
    Attendee,
    CalendarObject,
    Event,
    Response,
    ShowAs,
    Status,
    Visibility,
)
from calsyncd.providers.base import Item

KOLKATA = ZoneInfo("Asia/Kolkata")
NOT_KEPT = frozenset(
    {"organizer", "categories", "conference_url", "sequence", "created", "last_modified", "extra"}
)
"""Model fields Google does not store as given (the conformance subclass lists them too)."""
WRITES = ("events.insert", "events.patch", "events.update", "events.delete")


def connection_yaml(setup: GoogleSetup, name: str = "gcal") -> str:
    emulator = setup.emulator
    return (
        f"  {name}:\n"
        "    type: google\n"
        f"    credentials: {setup.key_file}\n"
        f"    subject: {setup.subject}\n"
        f"    base_url: {emulator.base_url}\n"
        f"    auth_url: {emulator.token_url}\n"
        "    max_concurrency: 8\n"
    )


def write_rules(project: Project, setup: GoogleSetup, rules: str, connections: str = "") -> None:
    """A rule file with connections ``loc`` (local) and ``gcal`` (the emulator) + more."""
    text = "connections:\n  loc: {type: local, path: ../calendars}\n" + connection_yaml(setup)
    (project.root / "rules" / "rules.yaml").write_text(text + connections + rules)


def read_google(setup: GoogleSetup, calendar_id: str | None = None) -> dict[str, Item]:
    """Every object of an emulated calendar as the provider reads it, by UID — a copy's by its
    original's (a copy has a UID of its own)."""

    async def work() -> dict[str, Item]:
        async with setup.calendar(calendar_id) as calendar:
            changes = await calendar.list_changes(None)
        assert changes.skipped == []
        return {origin_uid(item.obj): item for item in changes.items}

    return anyio.run(work)


def origin_uid(obj: CalendarObject) -> str:
    """The UID of the original ``obj`` is, or is a copy of."""
    marker = obj.marker
    return marker.origin if marker is not None and marker.origin is not None else obj.uid


def view(obj: CalendarObject) -> dict[str, object]:
    """What must survive a trip: every field Google keeps, not the copy marker (nor the UID,
    which a copy has of its own)."""
    return object_view(obj, NOT_KEPT | {"marker", "uid"})


def zoned_event(uid: str) -> CalendarObject:
    """A zoned (Kolkata) event with everything Google keeps set."""
    start = datetime(2030, 6, 3, 9, 30, tzinfo=KOLKATA)
    return CalendarObject(
        uid=uid,
        master=Event(
            start=start,
            end=start + timedelta(hours=2),
            title="Filing deadline — Mumbai",
            description="Bring the stamped copies.\nSecond line; with, punctuation",
            location="High Court, Fort, Mumbai",
            status=Status.TENTATIVE,
            show_as=ShowAs.FREE,
            visibility=Visibility.PRIVATE,
            attendees=(
                Attendee("ana@firm.example", "Ana A.", Response.ACCEPTED),
                Attendee("bo@firm.example", None, Response.TENTATIVE, optional=True),
            ),
            reminders=(timedelta(minutes=30), timedelta(days=1)),
            url="https://cases.example/case/7",
        ),
    )


def all_day_event(uid: str) -> CalendarObject:
    return CalendarObject(
        uid=uid,
        master=Event(
            start=date(2030, 2, 1), end=date(2030, 2, 4), title="Offsite", show_as=ShowAs.FREE
        ),
    )


def trip_objects() -> list[CalendarObject]:
    """A series with a moved and a cancelled occurrence, an all-day and a zoned event."""
    return [
        samples.series("series-trip@firm.example"),
        all_day_event("allday-trip@firm.example"),
        zoned_event("zoned-trip@firm.example"),
    ]


def stored_events(setup: GoogleSetup, calendar_id: str | None = None) -> dict[str, dict[str, Any]]:
    """The emulator's raw events of a calendar (deleted ones too), by id."""
    cal = setup.emulator.store.calendar(calendar_id or setup.calendar_id)
    with setup.emulator.store.lock:
        return {i: copy.deepcopy(s.data) for i, s in cal.events.items()}


def now() -> datetime:
    return datetime.now(UTC)

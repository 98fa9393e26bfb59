"""Content hashes: stable, order-insensitive where order means nothing, zone-aware."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from calsyncd.model import (
    Attendee,
    CalendarObject,
    Event,
    ExtraProperty,
    Marker,
    Period,
    Person,
    Response,
    ShowAs,
    Status,
    Visibility,
    content_hash,
    event_hash,
    parse_calendar,
)

from .helpers import fixture

NEW_YORK = ZoneInfo("America/New_York")


def sample() -> CalendarObject:
    start = datetime(2030, 3, 4, 9, 0, tzinfo=NEW_YORK)
    master = Event(
        start=start,
        end=start + timedelta(hours=1),
        title="Review",
        categories=("b", "a"),
        attendees=(
            Attendee("z@example.com", "Z"),
            Attendee("a@example.com", "A", Response.ACCEPTED),
        ),
        organizer=Person("o@example.com"),
        reminders=(timedelta(minutes=30), timedelta(minutes=5)),
        rrules=("FREQ=WEEKLY;BYDAY=MO;COUNT=5",),
        exdates=(start + timedelta(weeks=2), start + timedelta(weeks=1)),
    )
    moved = start + timedelta(weeks=3)
    override = Event(start=moved + timedelta(hours=1), recurrence_id=moved, title="Moved")
    return CalendarObject("uid-1", master, {moved: override})


def test_known_digest() -> None:
    # Pinned: a change here means stored hashes go stale. Bump HASH_VERSION when it does.
    assert content_hash(sample()) == "fa72e63c9699eff034131d60a63a7e91"


def test_independent_of_hash_seed() -> None:
    code = (
        "from tests.model.test_hashing import sample; "
        "from calsyncd.model import content_hash; print(content_hash(sample()))"
    )
    root = Path(__file__).parents[2]
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert digests == {content_hash(sample())}


def test_volatile_fields_marker_and_uid_do_not_count() -> None:
    obj = sample()
    master = obj.master
    assert master is not None
    changed = replace(
        obj,
        uid="other",
        marker=Marker("r", "o", "k"),
        master=replace(
            master,
            sequence=9,
            created=datetime(2020, 1, 1, tzinfo=UTC),
            last_modified=datetime(2021, 1, 1, tzinfo=UTC),
            extra=(ExtraProperty("X-A", "X-A:1"),),
        ),
    )
    assert content_hash(changed) == content_hash(obj)


def test_order_that_means_nothing_does_not_count() -> None:
    obj = sample()
    master = obj.master
    assert master is not None
    shuffled = replace(
        obj,
        master=replace(
            master,
            categories=tuple(reversed(master.categories)),
            attendees=tuple(reversed(master.attendees)),
            reminders=tuple(reversed(master.reminders)),
            exdates=tuple(reversed(master.exdates)),
            rrules=("count=5;byday=MO;FREQ=WEEKLY",),
        ),
    )
    assert content_hash(shuffled) == content_hash(obj)


def test_same_instant_in_another_zone_is_a_change() -> None:
    ny = CalendarObject("x", Event(start=datetime(2030, 6, 3, 9, tzinfo=NEW_YORK)))
    utc = CalendarObject("x", Event(start=datetime(2030, 6, 3, 13, tzinfo=UTC)))
    assert ny.first.start == utc.first.start
    assert content_hash(ny) != content_hash(utc)


def test_equivalent_spellings_are_equal() -> None:
    start = datetime(2030, 6, 3, 9, tzinfo=UTC)
    # no end means the iCalendar default end
    assert content_hash(CalendarObject("x", Event(start=start))) == content_hash(
        CalendarObject("x", Event(start=start, end=start))
    )
    day = date(2030, 6, 3)
    assert content_hash(CalendarObject("x", Event(start=day))) == content_hash(
        CalendarObject("x", Event(start=day, end=day + timedelta(days=1)))
    )
    # an empty text is no text; every spelling of UTC is UTC
    assert content_hash(CalendarObject("x", Event(start=start, title=""))) == content_hash(
        CalendarObject("x", Event(start=start))
    )
    assert content_hash(CalendarObject("x", Event(start=start))) == content_hash(
        CalendarObject("x", Event(start=start.replace(tzinfo=ZoneInfo("Etc/UTC"))))
    )


def test_each_hashed_field_counts() -> None:
    base = sample()
    master = base.master
    assert master is not None
    changes: dict[str, Any] = {
        "start": master.start + timedelta(minutes=1),
        "end": None,
        "title": "Other",
        "description": "text",
        "location": "here",
        "status": Status.CANCELLED,
        "show_as": ShowAs.FREE,
        "visibility": Visibility.PRIVATE,
        "categories": ("a",),
        "organizer": None,
        "attendees": (),
        "reminders": (timedelta(minutes=30),),
        "conference_url": "https://meet.example/x",
        "url": "https://example.org",
        "rrules": ("FREQ=DAILY",),
        "rdates": (date(2030, 5, 5),),
        "exdates": (),
    }
    digests = {content_hash(base)}
    for name, value in changes.items():
        changed = replace(base, master=replace(master, **{name: value}))
        digests.add(content_hash(changed))
    assert len(digests) == len(changes) + 1
    without_override = replace(base, overrides={})
    assert content_hash(without_override) not in digests


def test_an_rdate_period_counts_with_its_end() -> None:
    """A period is an occurrence with its own end: its end counts, its place in the list
    does not, and it is not the plain RDATE at its start."""
    base = sample()
    master = base.master
    assert master is not None
    start = datetime(2030, 5, 5, 9, tzinfo=UTC)
    short, long_ = (
        Period(start, start + timedelta(hours=1)),
        Period(start, start + timedelta(hours=2)),
    )
    other = date(2030, 6, 1)

    def with_rdates(*rdates: date | Period) -> str:
        return content_hash(replace(base, master=replace(master, rdates=rdates)))

    assert len({with_rdates(start), with_rdates(short), with_rdates(long_)}) == 3
    assert with_rdates(short, other) == with_rdates(other, short)


def test_fields_restrict_the_hash() -> None:
    base = sample()
    master = base.master
    assert master is not None
    described = replace(base, master=replace(master, description="new"))
    retitled = replace(base, master=replace(master, title="new"))
    moved = replace(base, master=replace(master, start=master.start + timedelta(hours=1)))
    fields = {"title", "location", "sequence"}  # a volatile name is allowed, and ignored
    assert content_hash(described, fields=fields) == content_hash(base, fields=fields)
    assert content_hash(retitled, fields=fields) != content_hash(base, fields=fields)
    assert content_hash(moved, fields=fields) != content_hash(base, fields=fields)  # always counts
    assert content_hash(base, fields=fields) != content_hash(base)
    with pytest.raises(ValueError, match="titel"):
        content_hash(base, fields={"titel"})
    with pytest.raises(TypeError):
        content_hash(base, fields="title")


def test_event_hash() -> None:
    master = sample().master
    assert master is not None
    assert event_hash(master) == event_hash(replace(master, sequence=5))
    assert event_hash(master) != event_hash(replace(master, title="x"))
    assert len(event_hash(master)) == 32


def test_hash_survives_a_round_trip_of_every_fixture() -> None:
    from calsyncd.model import parse_object, serialize_object

    for name in ("berlin_weekly_series.ics", "rich.ics", "outlook_windows_tz.ics", "alarms.ics"):
        for obj in parse_calendar(fixture(name), source=name).objects:
            again = parse_object(serialize_object(obj), source=name)
            assert content_hash(again) == content_hash(obj)

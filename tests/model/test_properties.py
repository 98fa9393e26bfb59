"""Property tests: every object the model can express survives iCalendar, and hashes hold."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calsyncd.model import (
    CalendarObject,
    Event,
    ExtraProperty,
    content_hash,
    parse_calendar,
    parse_object,
    serialize_calendar,
    serialize_object,
)

from .helpers import assert_identical
from .strategies import calendar_objects

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(calendar_objects())
def test_serialize_parse_round_trip(obj: CalendarObject) -> None:
    written = serialize_object(obj)
    again = parse_object(written, source="generated")
    assert_identical(again, obj)
    assert serialize_object(again) == written  # and writing is deterministic
    assert content_hash(again) == content_hash(obj)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(calendar_objects(), max_size=4, unique_by=lambda o: o.uid))
def test_calendar_round_trip(objects: list[CalendarObject]) -> None:
    parsed = parse_calendar(serialize_calendar(objects, name="feed"), source="feed")
    assert parsed.problems == []
    assert len(parsed.objects) == len(objects)
    for mine, theirs in zip(objects, parsed.objects, strict=True):
        assert_identical(theirs, mine)


def _volatile(event: Event) -> Event:
    return replace(
        event,
        sequence=event.sequence + 1,
        created=datetime(2001, 2, 3, tzinfo=UTC),
        last_modified=datetime(2002, 3, 4, tzinfo=UTC),
        extra=(*event.extra, ExtraProperty("X-NOISE", "X-NOISE:1")),
    )


@FAST
@given(calendar_objects())
def test_volatile_changes_keep_the_hash(obj: CalendarObject) -> None:
    changed = replace(
        obj,
        master=None if obj.master is None else _volatile(obj.master),
        overrides={rid: _volatile(event) for rid, event in obj.overrides.items()},
    )
    assert content_hash(changed) == content_hash(obj)


def _later(value: object) -> object:
    if isinstance(value, datetime):
        return value + timedelta(minutes=1)
    assert isinstance(value, date)
    return value + timedelta(days=1)


def _changes(event: Event) -> dict[str, Any]:
    """For each hashed field, a value the hash must tell from the current one."""
    return {
        "start": _later(event.start),
        "end": _later(event.effective_end()),
        "title": (event.title or "") + "x",
        "description": (event.description or "") + "x",
        "location": (event.location or "") + "x",
        "status": next(s for s in type(event.status) if s != event.status),
        "show_as": next(s for s in type(event.show_as) if s != event.show_as),
        "visibility": next(v for v in type(event.visibility) if v != event.visibility),
        "categories": (*event.categories, "another category"),
        "organizer": None if event.organizer else event.organizer or _person(),
        "attendees": event.attendees[1:] if event.attendees else (_attendee(),),
        "reminders": (*event.reminders, timedelta(minutes=7)),
        "conference_url": (event.conference_url or "https://c.example/") + "x",
        "url": (event.url or "https://u.example/") + "x",
        "rrules": (*event.rrules, "FREQ=HOURLY"),
        "rdates": (*event.rdates, date(1999, 1, 1)),
        "exdates": (*event.exdates, date(1999, 1, 1)),
    }


def _person() -> object:
    from calsyncd.model import Person

    return Person("someone@example.org")


def _attendee() -> object:
    from calsyncd.model import Attendee

    return Attendee("someone@example.org")


@FAST
@given(calendar_objects(), st.data())
def test_every_hashed_field_counts(obj: CalendarObject, data: st.DataObject) -> None:
    event = obj.master if obj.master is not None else next(iter(obj.overrides.values()))
    field, value = data.draw(st.sampled_from(sorted(_changes(event).items())))
    changed_event = replace(event, **{field: value})
    if obj.master is not None:
        changed = replace(obj, master=changed_event)
    else:
        rid = next(iter(obj.overrides))
        changed = replace(obj, overrides={**obj.overrides, rid: changed_event})
    assert content_hash(changed) != content_hash(obj), field
    # and a restriction to other fields does not see it (times always count)
    if field not in ("start", "end"):
        others = {"title", "location"} - {field}
        assert content_hash(changed, fields=others) == content_hash(obj, fields=others)

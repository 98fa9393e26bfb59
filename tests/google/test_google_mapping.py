"""Event resources ↔ model (pure): times, recurrence lines, ids, etags, what cannot be stored."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conformance import samples
from google_helpers import view
from hypothesis import given, settings
from hypothesis import strategies as st

from calsyncd.model.event import (
    Attendee,
    CalendarObject,
    Event,
    ExtraProperty,
    Marker,
    Response,
    ShowAs,
    Status,
    Visibility,
)
from calsyncd.providers.google import mapping
from calsyncd.providers.google.ids import (
    event_id_for_key,
    instance_id,
    is_composite,
    is_event_id,
    master_of,
    object_etag,
)
from calsyncd.providers.google.mapping import Unmappable, Zones
from calsyncd.sync.keys import copy_key

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def through_google(obj: CalendarObject, floating: str | None = "Europe/Berlin") -> CalendarObject:
    """Write a single event's body as an insert would, read it back as a listing would."""
    assert obj.master is not None
    body = mapping.event_body(obj.master, floating, master=True)
    body["extendedProperties"] = {"private": mapping.private_body(obj, floating, "n1")}
    stored = {**mapping.insert_body(body), "id": "abcde", "iCalUID": "abcde@google.com"}
    got = mapping.read_object(stored, [], Zones(BERLIN))
    assert got is not None
    return got


# -- ids and etags --------------------------------------------------------------------------


def test_engine_keys_are_google_ids_as_they_are() -> None:
    key = copy_key("rule", "source", "uid-1@example.org")
    assert is_event_id(key)
    assert event_id_for_key(key) == key


@pytest.mark.parametrize("key", ["key-create-1", "UPPER", "abc", "w" * 10, "x" * 2000, "🙃"])
def test_other_keys_hash_to_valid_stable_ids(key: str) -> None:
    made = event_id_for_key(key)
    assert is_event_id(made)
    assert made == event_id_for_key(key)
    assert made != event_id_for_key(key + "!")


@pytest.mark.parametrize(
    ("value", "valid"),
    [("abcd", False), ("abcde", True), ("a" * 1024, True), ("a" * 1025, False), ("abcdw", False)],
)
def test_google_id_rules(value: str, valid: bool) -> None:
    assert is_event_id(value) is valid


def test_instance_ids() -> None:
    assert (
        instance_id("m1", datetime(2030, 3, 11, 9, tzinfo=NEW_YORK), None) == "m1_20300311T130000Z"
    )
    assert instance_id("m1", date(2032, 7, 4), None) == "m1_20320704"
    assert instance_id("m1", datetime(2030, 1, 1, 9), BERLIN) == "m1_20300101T080000Z"
    assert master_of("m1_20300311T130000Z") == "m1"
    assert master_of("m1_20320704") == "m1"
    assert master_of("m1") is None
    assert master_of("m1_R20300311") is None


def test_object_etags() -> None:
    assert object_etag('"1"', []) == '"1"'
    one = object_etag('"1"', [("m_1", '"2"'), ("m_2", '"3"')])
    assert is_composite(one)
    assert one == object_etag('"1"', [("m_2", '"3"'), ("m_1", '"2"')])
    assert one != object_etag('"1"', [("m_1", '"2"'), ("m_2", '"4"')])
    assert not is_composite('"1"')


# -- times and recurrence -------------------------------------------------------------------


def test_read_time_forms() -> None:
    zones = Zones(BERLIN)
    instant = {"dateTime": "2030-03-04T14:30:00Z", "timeZone": "America/New_York"}
    assert mapping.read_time(instant, zones, what="start") == datetime(
        2030, 3, 4, 9, 30, tzinfo=NEW_YORK
    )
    calendar_zone = mapping.read_time({"dateTime": "2030-03-04T14:30:00Z"}, zones, what="s")
    assert isinstance(calendar_zone, datetime)
    assert calendar_zone.tzinfo == BERLIN
    utc = mapping.read_time(
        {"dateTime": "2030-01-01T00:00:00Z", "timeZone": "Etc/UTC"}, zones, what="s"
    )
    assert isinstance(utc, datetime)
    assert utc.tzinfo is UTC
    assert mapping.read_time({"date": "2030-01-01"}, zones, what="s") == date(2030, 1, 1)
    with pytest.raises(Unmappable, match="unknown time zone"):
        mapping.read_time(
            {"dateTime": "2030-01-01T00:00:00Z", "timeZone": "Mars/Base"}, zones, what="s"
        )
    with pytest.raises(Unmappable, match="missing"):
        mapping.read_time(None, zones, what="start")


def test_recurrence_lines_both_ways() -> None:
    event = Event(
        start=datetime(2030, 3, 4, 9, tzinfo=NEW_YORK),
        rrules=("FREQ=WEEKLY;COUNT=8;BYDAY=MO",),
        rdates=(datetime(2030, 4, 30, 9, tzinfo=NEW_YORK), datetime(2030, 5, 1, 12, tzinfo=UTC)),
        exdates=(datetime(2030, 3, 18, 9, tzinfo=NEW_YORK),),
        extra=(ExtraProperty("EXRULE", "EXRULE:FREQ=MONTHLY;COUNT=2"),),
    )
    lines = mapping.recurrence_lines(event)
    assert lines == [
        "RRULE:FREQ=WEEKLY;COUNT=8;BYDAY=MO",
        "RDATE;TZID=America/New_York:20300430T090000",
        "RDATE:20300501T120000Z",
        "EXDATE;TZID=America/New_York:20300318T090000",
        "EXRULE:FREQ=MONTHLY;COUNT=2",
    ]
    rrules, rdates, exdates, extra = mapping.read_recurrence(lines, event.start, Zones())
    assert (rrules, rdates, exdates, extra) == (
        event.rrules,
        event.rdates,
        event.exdates,
        event.extra,
    )
    assert [samples.zone_name(d) for d in rdates if isinstance(d, datetime)] == [
        "America/New_York",
        "UTC",
    ]


def test_recurrence_values_google_writes() -> None:
    start = datetime(2030, 1, 1, 9, tzinfo=BERLIN)
    _, rdates, exdates, _ = mapping.read_recurrence(
        ["EXDATE:20300102T090000,20300103T090000", "RDATE;VALUE=DATE:20300110"], start, Zones()
    )
    assert exdates == (
        datetime(2030, 1, 2, 9, tzinfo=BERLIN),
        datetime(2030, 1, 3, 9, tzinfo=BERLIN),
    )
    assert rdates == (date(2030, 1, 10),)
    for bad in ("RDATE;VALUE=PERIOD:20300101T100000Z/PT1H", "DTSTART:20300101", "RRULE"):
        with pytest.raises(Unmappable):
            mapping.read_recurrence([bad], start, Zones())


def test_floating_series_keeps_floating_exdates() -> None:
    start = datetime(2030, 8, 1, 7, 0)
    obj = samples.single(
        "fl@x", start=start, rrules=("FREQ=DAILY;COUNT=3",), exdates=(start + timedelta(days=1),)
    )
    got = through_google(obj)
    assert view(got) == view(obj)
    assert got.master is not None
    assert got.master.exdates == (datetime(2030, 8, 2, 7, 0),)


# -- fields ---------------------------------------------------------------------------------


def test_reminders() -> None:
    assert mapping.read_reminders({"useDefault": True}, (timedelta(minutes=5),)) == (
        timedelta(minutes=5),
    )
    assert mapping.read_reminders(None, (timedelta(minutes=5),)) == (timedelta(minutes=5),)
    overrides = {"useDefault": False, "overrides": [{"method": "email", "minutes": 60}]}
    assert mapping.read_reminders(overrides, (timedelta(minutes=5),)) == (timedelta(hours=1),)
    assert mapping.read_reminders({"useDefault": False}) == ()
    assert mapping.reminders_body([timedelta(weeks=4)]) == {
        "useDefault": False,
        "overrides": [{"method": "popup", "minutes": 40320}],
    }
    with pytest.raises(Unmappable):
        mapping.reminders_body([timedelta(weeks=4, minutes=1)])
    with pytest.raises(Unmappable):
        mapping.reminders_body([-timedelta(minutes=5)])


def test_a_patch_body_clears_what_the_model_does_not_have() -> None:
    body = mapping.event_body(Event(start=date(2030, 1, 1)), None, master=True)
    assert body["summary"] is None
    assert body["recurrence"] is None
    assert body["source"] is None
    assert body["start"] == {"date": "2030-01-01", "dateTime": None, "timeZone": None}
    assert body["end"] == {"date": "2030-01-02", "dateTime": None, "timeZone": None}  # default
    assert body["attendees"] == []
    assert mapping.insert_body(body)["start"] == {"date": "2030-01-01"}


def test_marker_and_uid_travel_in_private_properties() -> None:
    obj = samples.single("odd/uid with spaces@x").with_marker(Marker("r", "o@x", "cs123"))
    props = mapping.private_body(obj, None, "nonce")
    assert props == {
        "calsyncd.rule": "r",
        "calsyncd.origin": "o@x",
        "calsyncd.key": "cs123",
        "calsyncd.uid": "odd/uid with spaces@x",
        "calsyncd.floating": None,
        "calsyncd.write": "nonce",
    }
    assert all(len(k) <= 44 for k in props)
    got = through_google(obj)
    assert (got.uid, got.marker) == (obj.uid, obj.marker)
    with pytest.raises(Unmappable, match="1024"):
        mapping.private_body(samples.single("u" * 1025), None, "n")


def test_exceptions_fold_into_the_series() -> None:
    obj = samples.series("s@x")
    assert obj.master is not None
    master = {
        **mapping.insert_body(mapping.event_body(obj.master, None, master=True)),
        "id": "m1",
        "iCalUID": "s@x",
    }
    moved_rid = datetime(2030, 3, 11, 9, tzinfo=NEW_YORK)
    moved = {
        **mapping.insert_body(mapping.event_body(obj.overrides[moved_rid], None, master=False)),
        "id": "m1_20300311T130000Z",
        "recurringEventId": "m1",
        "originalStartTime": {
            "dateTime": "2030-03-11T09:00:00-04:00",
            "timeZone": "America/New_York",
        },
    }
    cancelled = {  # all Google tells of a cancelled occurrence
        "id": "m1_20300325T130000Z",
        "status": "cancelled",
        "recurringEventId": "m1",
        "originalStartTime": {"dateTime": "2030-03-25T13:00:00Z", "timeZone": "America/New_York"},
    }
    plain_rid = datetime(2030, 4, 1, 9, tzinfo=NEW_YORK)
    plain = {  # an exception identical to its occurrence
        **mapping.insert_body(
            mapping.event_body(mapping.occurrence(obj.master, plain_rid), None, master=False)
        ),
        "id": "m1_20300401T130000Z",
        "recurringEventId": "m1",
        "originalStartTime": {
            "dateTime": "2030-04-01T09:00:00-04:00",
            "timeZone": "America/New_York",
        },
    }
    got = mapping.read_object(master, [moved, cancelled, plain])
    assert got is not None
    assert view(dataclasses.replace(got)) == view(obj)
    assert mapping.read_object(None, [cancelled]) is None


def test_orphan_exceptions_make_an_object_without_master() -> None:
    orphan = {
        "id": "m9_20300101T100000Z",
        "iCalUID": "invited@x",
        "recurringEventId": "m9",
        "start": {"dateTime": "2030-01-01T10:00:00Z", "timeZone": "UTC"},
        "end": {"dateTime": "2030-01-01T11:00:00Z", "timeZone": "UTC"},
        "originalStartTime": {"dateTime": "2030-01-01T10:00:00Z", "timeZone": "UTC"},
    }
    got = mapping.read_object(None, [orphan])
    assert got is not None
    assert got.master is None
    assert list(got.overrides) == [datetime(2030, 1, 1, 10, tzinfo=UTC)]


# -- a property: what Google keeps survives -------------------------------------------------

_ZONES = [
    ZoneInfo(z)
    for z in ("Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe")
]
_text = st.none() | st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
_minutes = st.integers(0, 40320).map(lambda m: timedelta(minutes=m))


@st.composite
def google_events(draw: st.DrawFn) -> CalendarObject:
    kind = draw(st.sampled_from(["date", "zoned", "utc", "floating"]))
    day = draw(st.dates(date(2000, 1, 1), date(2099, 12, 31)))
    clock = datetime.combine(day, datetime.min.time()) + timedelta(
        minutes=draw(st.integers(0, 1439))
    )
    start: date | datetime = day
    if kind == "zoned":
        start = clock.replace(tzinfo=draw(st.sampled_from(_ZONES)))
    elif kind == "utc":
        start = clock.replace(tzinfo=UTC)
    elif kind == "floating":
        start = clock
    length = (
        timedelta(days=draw(st.integers(1, 5)))
        if kind == "date"
        else timedelta(minutes=draw(st.integers(0, 600)))
    )
    responses = st.sampled_from([r for r in Response if r is not Response.DELEGATED])
    attendee = st.builds(
        Attendee,
        st.emails(),
        st.none() | st.text(min_size=1, max_size=10),
        responses,
        st.booleans(),
    )
    event = Event(
        start=start,
        end=start + length,
        title=draw(_text),
        description=draw(_text),
        location=draw(_text),
        status=draw(st.sampled_from([Status.CONFIRMED, Status.TENTATIVE])),
        show_as=draw(st.sampled_from(ShowAs)),
        visibility=draw(st.sampled_from(Visibility)),
        attendees=tuple(draw(st.lists(attendee, max_size=3))),
        reminders=tuple(draw(st.lists(_minutes, max_size=5))),
        url=draw(st.none() | st.just("https://example.org/x?y=1")),
        rrules=draw(st.sampled_from([(), ("FREQ=DAILY;COUNT=3",), ("FREQ=WEEKLY;BYDAY=MO,WE",)])),
    )
    marker = draw(
        st.none() | st.builds(Marker, st.text(max_size=20), st.text(max_size=40), st.just("cs1"))
    )
    return CalendarObject(draw(st.text(min_size=1, max_size=60)), event, marker=marker)


@settings(max_examples=150, deadline=None)
@given(google_events())
def test_every_field_google_keeps_survives_a_write_and_a_read(obj: CalendarObject) -> None:
    got = through_google(obj)
    assert samples.object_view(got, ("organizer", "sequence", "created", "last_modified")) == (
        samples.object_view(obj, ("organizer", "sequence", "created", "last_modified"))
    )

"""Reading real-world shaped iCalendar files (``tests/model/data``) into the model."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from calsyncd.errors import MalformedObject
from calsyncd.model import (
    Attendee,
    CalendarObject,
    ExtraProperty,
    Marker,
    Period,
    Person,
    Response,
    ShowAs,
    Status,
    Visibility,
    parse_calendar,
    parse_object,
    serialize_object,
)

from .helpers import assert_identical, fixture, zone_of

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def one(name: str) -> CalendarObject:
    return parse_object(fixture(name), source=name)


def test_weekly_series_with_moved_and_cancelled_occurrences() -> None:
    obj = one("berlin_weekly_series.ics")
    master = obj.master
    assert master is not None
    assert obj.uid == "weekly-standup@example.com"
    assert master.start == datetime(2024, 1, 8, 9, 30, tzinfo=BERLIN)
    assert zone_of(master.start) == "zoneinfo:Europe/Berlin"
    assert master.end == datetime(2024, 1, 8, 10, 0, tzinfo=BERLIN)
    assert master.rrules == ("FREQ=WEEKLY;BYDAY=MO;COUNT=10",)
    assert master.exdates == (datetime(2024, 1, 22, 9, 30, tzinfo=BERLIN),)
    assert master.title == "Team stand-up"
    assert master.description == "Daily sync, weekly edition."
    assert master.categories == ("Work", "Team")
    assert master.organizer == Person("alice@example.com", "Alice Example")
    assert master.attendees == (
        Attendee("bob@example.com", "Bob", Response.ACCEPTED),
        Attendee("carol@example.com", "Carol, the Optional", Response.TENTATIVE, optional=True),
    )
    assert master.reminders == (timedelta(minutes=10),)
    assert master.sequence == 3
    assert master.created == datetime(2023, 12, 20, 9, 0, tzinfo=UTC)
    assert master.created.tzinfo is UTC
    assert master.last_modified == datetime(2024, 1, 10, 16, 0, tzinfo=UTC)
    assert master.extra == ()

    moved_id = datetime(2024, 1, 15, 9, 30, tzinfo=BERLIN)
    cancelled_id = datetime(2024, 1, 29, 9, 30, tzinfo=BERLIN)
    assert set(obj.overrides) == {moved_id, cancelled_id}
    moved = obj.overrides[moved_id]
    assert moved.recurrence_id == moved_id
    assert moved.start == datetime(2024, 1, 16, 14, 0, tzinfo=BERLIN)
    assert moved.title == "Team stand-up (moved to Tuesday)"
    assert moved.status is Status.CONFIRMED
    assert obj.overrides[cancelled_id].status is Status.CANCELLED
    assert [e.recurrence_id for e in obj.events] == [None, moved_id, cancelled_id]


def test_all_day_events() -> None:
    parsed = parse_calendar(fixture("all_day.ics"), source="all_day.ics")
    assert parsed.problems == []
    trip, birthday = parsed.objects
    assert trip.first.start == date(2024, 3, 15)
    assert trip.first.end == date(2024, 3, 18)
    assert trip.first.all_day
    assert trip.first.show_as is ShowAs.FREE
    # CATEGORIES: several properties and comma lists become one tuple, in order
    assert trip.first.categories == ("Travel", "Work", "Conference")
    assert trip.first.extra == (
        ExtraProperty(
            "X-APPLE-TRAVEL-ADVISORY-BEHAVIOR", "X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC"
        ),
    )
    assert birthday.first.start == date(1915, 12, 10)
    assert birthday.first.end is None
    assert birthday.first.effective_end() == date(1915, 12, 11)
    assert birthday.first.rrules == ("FREQ=YEARLY",)
    assert birthday.first.exdates == (date(2020, 12, 10), date(2021, 12, 10), date(2022, 12, 10))
    assert birthday.first.visibility is Visibility.PRIVATE


def test_series_across_the_dst_change_keeps_its_zone() -> None:
    obj = one("new_york_dst.ics")
    master = obj.master
    assert master is not None
    assert isinstance(master.start, datetime)
    assert master.start == datetime(2024, 10, 21, 9, 0, tzinfo=NEW_YORK)
    assert master.start.utcoffset() == timedelta(hours=-4)
    assert master.rdates == (datetime(2024, 10, 30, 9, 0, tzinfo=NEW_YORK),)
    assert master.rrules == ("FREQ=WEEKLY;WKST=SU;UNTIL=20241125T140000Z;BYDAY=MO",)
    # Google's own conference property is the fallback for conference_url, and is consumed
    assert master.conference_url == "https://meet.google.com/abc-defg-hij"
    assert master.extra == ()
    # 09:00 in November is still 09:00 New York time, now at -05:00
    later = master.start + timedelta(weeks=3)
    assert later.utcoffset() == timedelta(hours=-5)
    assert later.hour == 9


def test_unicode_escaping_and_folding_inside_a_character() -> None:
    obj = one("unicode.ics")
    event = obj.first
    assert event.title == "🎉 Party — 会議 — مؤتمر — ישיבה"
    assert event.description == (
        "Agenda:\n1. 日本語のテキスト, 中文; 한국어\n2. العربية والعبرית: עברית\n"
        '3. Emoji 🎉🚀👩\u200d💻 and a backslash \\ and a quote " and a colon: here'
    )
    assert event.location == "Straße 5, 10115 Berlin; 2nd floor"
    assert event.categories == ("a,b", "日本", "🎂")
    assert event.extra == (ExtraProperty("COMMENT", "COMMENT:Kept: a\\, b\\; c"),)
    assert event.start == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert zone_of(event.start) == "UTC"


def test_odd_uid_and_floating_time() -> None:
    obj = one("odd_uid.ics")
    assert obj.uid == "folder/sub folder/événement@example.org, v2 ✓"
    assert obj.first.start == datetime(2024, 6, 1, 8, 0)
    assert isinstance(obj.first.start, datetime)
    assert obj.first.start.tzinfo is None


def test_outlook_windows_zone_name_maps_to_iana() -> None:
    obj = one("outlook_windows_tz.ics")
    event = obj.first
    assert event.start == datetime(2024, 3, 11, 10, 0, tzinfo=NEW_YORK)
    assert zone_of(event.start) == "zoneinfo:America/New_York"
    assert event.title == "Quarterly review"
    assert event.organizer == Person("pat@example.com", "Pat Organizer")
    # MAILTO: in upper case is stripped too; unknown parameters (RSVP, CUTYPE) are dropped
    assert event.attendees == (
        Attendee("zoe@example.com", "Zoë Q. Public", Response.NEEDS_ACTION),
        Attendee("room12@example.com", "Room 12", Response.ACCEPTED),
    )
    assert event.visibility is Visibility.PUBLIC
    assert event.conference_url == (
        "https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0"
    )
    assert [x.name for x in event.extra] == [
        "PRIORITY",
        "X-ALT-DESC",
        "X-MICROSOFT-CDO-BUSYSTATUS",
        "X-MICROSOFT-CDO-IMPORTANCE",
        "X-MICROSOFT-DISALLOW-COUNTER",
    ]
    assert event.reminders == (timedelta(minutes=15),)


def test_custom_zones() -> None:
    parsed = parse_calendar(fixture("custom_tz.ics"), source="custom_tz.ics")
    assert parsed.problems == []
    office, mars, mozilla = parsed.objects
    # a made-up TZID whose rules are Berlin's (and whose name says so) becomes Europe/Berlin
    assert office.first.start == datetime(2024, 7, 4, 15, 0, tzinfo=BERLIN)
    assert zone_of(office.first.start) == "zoneinfo:Europe/Berlin"
    # no IANA zone is at +03:17: the times are converted to UTC
    assert mars.first.start == datetime(2024, 7, 4, 8, 43, tzinfo=UTC)
    assert zone_of(mars.first.start) == "UTC"
    assert mars.first.end == datetime(2024, 7, 4, 9, 13, tzinfo=UTC)
    # a vendor-prefixed TZID without a VTIMEZONE is resolved by its IANA tail
    assert mozilla.first.start == datetime(2024, 7, 4, 9, 0, tzinfo=NEW_YORK)
    assert zone_of(mozilla.first.start) == "zoneinfo:America/New_York"


OUTLOOK_CUSTOM = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN
BEGIN:VTIMEZONE
TZID:Customized Time Zone
BEGIN:STANDARD
DTSTART:16011028T030000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010325T020000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
UID:customized
DTSTAMP:20240101T000000Z
DTSTART;TZID="Customized Time Zone":20240331T013000
DTEND;TZID="Customized Time Zone":20241027T023000
RRULE:FREQ=DAILY;COUNT=2
END:VEVENT
END:VCALENDAR
"""


def test_outlook_customized_time_zone_finds_an_equivalent_iana_zone() -> None:
    event = parse_object(OUTLOOK_CUSTOM, source="outlook").first
    assert isinstance(event.start, datetime)
    assert isinstance(event.start.tzinfo, ZoneInfo)
    assert event.start.tzinfo.key.startswith("Europe/")
    assert event.start.replace(tzinfo=None) == datetime(2024, 3, 31, 1, 30)
    assert event.start.utcoffset() == timedelta(hours=1)


def test_custom_zone_without_equivalent_converts_wall_times_exactly() -> None:
    # DST rules no real zone has: +03:17 in winter, +04:17 from the last Sunday in March
    text = (
        OUTLOOK_CUSTOM.replace("+0200", "+0417")
        .replace("+0100", "+0317")
        .replace("20240331T013000", "20240331T023000")  # in the spring-forward gap
        .replace("20241027T023000", "20241027T023000")  # ambiguous: the first one counts
    )
    event = parse_object(text, source="odd zone").first
    assert event.start == datetime(2024, 3, 30, 23, 13, tzinfo=UTC)  # offset before the gap
    assert event.end == datetime(2024, 10, 26, 22, 13, tzinfo=UTC)  # the earlier instant
    assert event.rrules == ("FREQ=DAILY;COUNT=2",)


def test_duration_instead_of_dtend() -> None:
    parsed = parse_calendar(fixture("duration.ics"), source="duration.ics")
    nominal, exact, all_day = (obj.first for obj in parsed.objects)
    # P1D is a calendar day: 23 real hours across spring-forward, same wall time
    assert nominal.end == datetime(2024, 3, 10, 12, 0, tzinfo=NEW_YORK)
    # PT24H is exact: one wall-clock hour later
    assert exact.end == datetime(2024, 3, 10, 13, 0, tzinfo=NEW_YORK)
    assert all_day.end == date(2024, 3, 11)


def test_alarms() -> None:
    event = one("alarms.ics").first
    # relative to the start and before it (or at it): reminders, in order
    assert event.reminders == (timedelta(hours=1), timedelta(days=1), timedelta(0))
    kept = [x.line.split("\n") for x in event.extra]
    assert all(x.name == "VALARM" for x in event.extra)
    assert [lines[0] for lines in kept] == ["BEGIN:VALARM"] * 5
    descriptions = [
        next(line for line in lines if line.startswith("DESCRIPTION")) for lines in kept
    ]
    assert descriptions == [
        "DESCRIPTION:Absolute",
        "DESCRIPTION:Before the end",
        "DESCRIPTION:After the start",
        "DESCRIPTION:Mail me",
        "DESCRIPTION:Repeating",
    ]


def test_rich_event_conference_marker_and_unknown_properties() -> None:
    obj = one("rich.ics")
    event = obj.first
    assert obj.marker == Marker(
        rule="work, to personal", origin="origin-uid@example.org", key="k-0001"
    )
    assert not any(x.name.startswith("X-CALSYNCD") for x in event.extra)
    assert event.status is Status.TENTATIVE
    assert event.visibility is Visibility.CONFIDENTIAL
    assert event.url == "https://wiki.example.org/design?id=7&x=a,b"
    # the video CONFERENCE wins over the phone one and over X-GOOGLE-CONFERENCE
    assert event.conference_url == "https://meet.example.org/j/42"
    assert event.organizer == Person("priya@example.org", "Priya")
    assert event.attendees == (
        Attendee("ravi@example.org", "Ravi K", Response.DECLINED),
        Attendee("sam@example.org", None, Response.DELEGATED, optional=True),
        Attendee("urn:uuid:7d1c5ee4-3c1c-4a59-9d44-0c2a0a0f0b3e", None, Response.ACCEPTED),
    )
    assert event.sequence == 2
    assert event.extra == (
        ExtraProperty(
            "CONFERENCE", "CONFERENCE;VALUE=URI;FEATURE=PHONE;LABEL=Dial-in:tel:+1-555-0100,,1234"
        ),
        ExtraProperty(
            "X-GOOGLE-CONFERENCE", "X-GOOGLE-CONFERENCE:https://meet.google.com/should-not-win"
        ),
        ExtraProperty("GEO", "GEO:12.9716;77.5946"),
        ExtraProperty("PRIORITY", "PRIORITY:1"),
        ExtraProperty("COMMENT", "COMMENT:first comment"),
        ExtraProperty(
            "X-UNKNOWN-THING", 'X-UNKNOWN-THING;X-PARAM="quoted;value":raw\\,value\\nkept'
        ),
        ExtraProperty("RESOURCES", "RESOURCES:Projector,Whiteboard"),
    )


def test_incomplete_marker_is_kept_as_extra() -> None:
    text = fixture("rich.ics").replace(b"X-CALSYNCD-KEY:k-0001\r\n", b"")
    obj = parse_object(text, source="rich.ics")
    assert obj.marker is None
    assert [x.name for x in obj.first.extra if x.name.startswith("X-CALSYNCD")] == [
        "X-CALSYNCD-RULE",
        "X-CALSYNCD-ORIGIN",
    ]


def test_several_uids_in_one_calendar() -> None:
    parsed = parse_calendar(fixture("two_uids.ics"), source="feed.ics")
    assert parsed.problems == []  # VTODO and VJOURNAL are ignored, not errors
    assert [o.uid for o in parsed.objects] == ["first", "second"]
    with pytest.raises(MalformedObject, match=r"feed\.ics: 2 UIDs \('first', 'second'\)") as info:
        parse_object(fixture("two_uids.ics"), source="feed.ics")
    assert info.value.item == "feed.ics"


def test_broken_events_are_skipped_and_named() -> None:
    parsed = parse_calendar(fixture("broken_events.ics"), source="broken.ics")
    assert [o.uid for o in parsed.objects] == ["good"]
    assert parsed.problems == [
        "broken.ics: VEVENT #1: no UID; skipped",
        "broken.ics: UID 'no-start': VEVENT #2: no DTSTART; object skipped",
        "broken.ics: UID 'bad-date': VEVENT #3: DTSTART has an invalid date/time "
        "'20241345T250000Z'; object skipped",
        # a broken override takes its series with it: a master without it would be wrong
        "broken.ics: UID 'series-with-broken-override': VEVENT #5: DTSTART has an invalid "
        "date/time '2024-01-06'; object skipped",
        "broken.ics: UID 'unknown-zone': VEVENT #6: unknown TZID 'Nowhere/Special' and no "
        "VTIMEZONE defines it; object skipped",
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("garbage.txt", r"garbage\.txt: not iCalendar data"),
        ("vtodo_only.ics", r"vtodo_only\.ics: no VEVENT"),
        ("broken_events.ics", r"vevent\.ics: VEVENT #1: no UID"),
    ],
)
def test_parse_object_refuses(name: str, message: str) -> None:
    source = "vevent.ics" if name == "broken_events.ics" else name
    with pytest.raises(MalformedObject, match=message) as info:
        parse_object(fixture(name), source=source)
    assert info.value.item == source


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00\x01\x02 binary", "just some text", b"BEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\n"],
)
def test_not_icalendar_at_all(data: bytes | str) -> None:
    with pytest.raises(MalformedObject, match="somewhere: not iCalendar data"):
        parse_calendar(data, source="somewhere")


def test_a_path_like_string_is_data_not_a_file_name() -> None:
    # icalendar's from_ical reads a file when given a one-line string that names one
    with pytest.raises(MalformedObject):
        parse_calendar(__file__, source="str")


def test_structure_problems() -> None:
    text = (
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20240101T000000Z\r\n"
        "BEGIN:VALARM\r\nTRIGGER:-PT5M\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    parsed = parse_calendar(text, source="s")
    assert parsed.objects == []
    assert parsed.problems == ["s: UID 'a': VEVENT #1: missing END:VALARM; object skipped"]

    unended = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:b\r\nDTSTART:20240101T000000Z\r\n"
    parsed = parse_calendar(unended, source="s")
    assert "s: BEGIN:VEVENT is never ended" in parsed.problems
    assert parsed.objects == []


def test_invalid_utf8_is_a_problem() -> None:
    data = fixture("odd_uid.ics").replace(b"Floating", b"Fl\xf6ating")
    parsed = parse_calendar(data, source="latin1.ics")
    assert parsed.problems == [
        "latin1.ics: not valid UTF-8 (invalid start byte); bad bytes replaced"
    ]
    assert parsed.objects[0].first.title == "Fl\ufffdating time with an odd UID"


def test_duplicate_masters_and_overrides_keep_one_version() -> None:
    """More in test_ical_quirks: which version is kept."""
    event = "BEGIN:VEVENT\r\nUID:dup\r\nDTSTART:20240101T100000Z\r\n{rid}END:VEVENT\r\n"
    rid = "RECURRENCE-ID:20240102T100000Z\r\n"
    two_masters = f"BEGIN:VCALENDAR\r\n{event.format(rid='')}{event.format(rid='')}END:VCALENDAR"
    parsed = parse_calendar(two_masters, source="s")
    assert parsed.problems == []
    assert parsed.notes == [
        "s: UID 'dup': 2 VEVENTs without RECURRENCE-ID: VEVENT #1 is kept, the latest by "
        "SEQUENCE, LAST-MODIFIED and DTSTAMP; VEVENT #2 is left out"
    ]
    two_overrides = (
        f"BEGIN:VCALENDAR\r\n{event.format(rid=rid)}{event.format(rid=rid)}END:VCALENDAR"
    )
    parsed = parse_calendar(two_overrides, source="s")
    assert parsed.problems == []
    assert list(parsed.objects[0].overrides) == [datetime(2024, 1, 2, 10, tzinfo=UTC)]


def test_orphan_overrides_make_an_object_without_master() -> None:
    text = (
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:o\r\nRECURRENCE-ID:20240102T100000Z\r\n"
        "DTSTART:20240102T110000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    obj = parse_object(text, source="s")
    assert obj.master is None
    assert list(obj.overrides) == [datetime(2024, 1, 2, 10, tzinfo=UTC)]
    assert_identical(parse_object(serialize_object(obj), source="s"), obj)


def test_unknown_values_of_known_properties() -> None:
    text = (
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTART:20240102T100000Z\r\n"
        "STATUS:X-MAYBE\r\nTRANSP:X-SORT-OF\r\nCLASS:X-TEAM-ONLY\r\n"
        "RDATE;VALUE=PERIOD:20240105T100000Z/PT1H\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    event = parse_object(text, source="s").first
    assert event.status is Status.CONFIRMED
    assert event.show_as is ShowAs.BUSY
    assert event.visibility is Visibility.PRIVATE  # RFC 5545: unknown classes are private
    assert [x.line for x in event.extra] == ["STATUS:X-MAYBE", "TRANSP:X-SORT-OF"]
    assert event.rdates == (  # a period is an occurrence with its own end: test_ical_quirks
        Period(datetime(2024, 1, 5, 10, tzinfo=UTC), datetime(2024, 1, 5, 11, tzinfo=UTC)),
    )
    assert_identical(
        parse_object(serialize_object(parse_object(text, source="s")), source="s"),
        parse_object(text, source="s"),
    )


@pytest.mark.parametrize(
    "name",
    [
        "alarms.ics",
        "all_day.ics",
        "berlin_weekly_series.ics",
        "custom_tz.ics",
        "duration.ics",
        "new_york_dst.ics",
        "odd_uid.ics",
        "outlook_windows_tz.ics",
        "rich.ics",
        "two_uids.ics",
        "unicode.ics",
    ],
)
def test_fixtures_round_trip(name: str) -> None:
    parsed = parse_calendar(fixture(name), source=name)
    assert parsed.problems == []
    for obj in parsed.objects:
        written = serialize_object(obj)
        again = parse_object(written, source=name)
        assert_identical(again, obj)
        assert serialize_object(again) == written


def test_vtimezone_after_the_events_and_hints() -> None:
    text = (
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:late-zone\r\n"
        "DTSTART;TZID=Lightning Zone:20240110T090000\r\nEND:VEVENT\r\n"
        "BEGIN:VTIMEZONE\r\nTZID:Lightning Zone\r\nX-LIC-LOCATION:Europe/Vienna\r\n"
        "BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\n"
        "TZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n"
        "BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nTZOFFSETFROM:+0100\r\n"
        "TZOFFSETTO:+0200\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n"
        "END:VTIMEZONE\r\nEND:VCALENDAR\r\n"
    )
    event = parse_object(text, source="s").first
    # the VTIMEZONE's own hint wins among the zones with the same rules
    assert zone_of(event.start) == "zoneinfo:Europe/Vienna"


def test_broken_vtimezone_is_a_problem() -> None:
    text = (
        "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:Empty\r\nEND:VTIMEZONE\r\n"
        "BEGIN:VEVENT\r\nUID:e\r\nDTSTART;TZID=Empty:20240110T090000\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:f\r\nDTSTART;TZID=Empty:20240111T090000\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )
    parsed = parse_calendar(text, source="s")
    assert parsed.objects == []
    assert parsed.problems == [
        f"s: UID '{uid}': VEVENT #{n}: the VTIMEZONE of TZID 'Empty' has no STANDARD or "
        "DAYLIGHT; object skipped"
        for n, uid in ((1, "e"), (2, "f"))
    ]


def test_dtend_wins_over_duration_and_bad_values_are_named() -> None:
    both = (
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:b\r\nDTSTART:20240110T090000Z\r\n"
        "DURATION:PT1H\r\nDTEND:20240110T093000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert parse_object(both, source="s").first.end == datetime(2024, 1, 10, 9, 30, tzinfo=UTC)
    for line, message in [
        ("DURATION:-PT1H", "DURATION is negative"),
        ("DURATION:P", "DURATION is invalid"),
        ("SEQUENCE:two", "SEQUENCE is not a number"),
        ("RRULE:BYDAY=MO", "RRULE has no FREQ"),
        ("CREATED;VALUE=DATE:20240101", "CREATED is a date"),
        ("EXDATE:2024010", "EXDATE has an invalid date/time"),
    ]:
        text = both.replace("DTEND:20240110T093000Z\r\n", "").replace("DURATION:PT1H", line)
        with pytest.raises(MalformedObject, match=message):
            parse_object(text, source="s")


def test_lf_line_endings_and_a_byte_order_mark() -> None:
    data = b"\xef\xbb\xbf" + fixture("rich.ics").replace(b"\r\n", b"\n")
    assert_identical(parse_object(data, source="lf"), one("rich.ics"))
    assert_identical(parse_object(data.decode("utf-8"), source="lf"), one("rich.ics"))

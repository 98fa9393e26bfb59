"""Writing the model as iCalendar: deterministic, valid, and readable by others."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import icalendar
import pytest
from dateutil import tz as dateutil_tz

from calsyncd.model import (
    Attendee,
    CalendarObject,
    Event,
    ExtraProperty,
    Marker,
    Person,
    parse_calendar,
    parse_object,
    serialize_calendar,
    serialize_object,
)

from .helpers import assert_identical, fixture, zone_of

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def lines(data: bytes) -> list[str]:
    """The unfolded content lines of a serialized calendar."""
    return data.decode().replace("\r\n ", "").split("\r\n")


def series() -> CalendarObject:
    start = datetime(2024, 10, 21, 9, tzinfo=NEW_YORK)
    master = Event(
        start=start,
        end=start + timedelta(hours=1),
        title="Weekly",
        rrules=("FREQ=WEEKLY;COUNT=6",),
        last_modified=datetime(2024, 10, 1, 12, tzinfo=UTC),
    )
    late = start + timedelta(weeks=3)
    early = start + timedelta(weeks=1)
    return CalendarObject(
        uid="s-1",
        master=master,
        overrides={
            late: Event(start=late + timedelta(hours=2), recurrence_id=late, title="Late"),
            early: Event(start=early, recurrence_id=early, title="Early"),
        },
        marker=Marker("rule-a", "orig-1", "key-1"),
    )


def test_output_is_deterministic_and_ordered() -> None:
    obj = series()
    first = serialize_object(obj)
    assert serialize_object(obj) == first
    content = lines(first)
    assert content[:3] == ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//calsyncd//EN"]
    assert content[-2:] == ["END:VCALENDAR", ""]
    assert [line for line in content if line.startswith(("RECURRENCE-ID", "SUMMARY"))] == [
        "SUMMARY:Weekly",
        "RECURRENCE-ID;TZID=America/New_York:20241028T090000",
        "SUMMARY:Early",
        "RECURRENCE-ID;TZID=America/New_York:20241111T090000",
        "SUMMARY:Late",
    ]
    # the marker is written on every VEVENT of the object
    assert content.count("X-CALSYNCD-RULE:rule-a") == 3
    assert content.count("X-CALSYNCD-KEY:key-1") == 3
    # DTSTAMP: the event's LAST-MODIFIED, else the master's; never "now"
    assert [line for line in content if line.startswith("DTSTAMP")] == [
        "DTSTAMP:20241001T120000Z"
    ] * 3
    assert all(len(line.encode()) <= 75 for line in first.decode().split("\r\n"))


def test_dtstamp_without_any_timestamp_is_fixed() -> None:
    obj = CalendarObject("plain", Event(start=date(2024, 1, 1)))
    assert "DTSTAMP:19700101T000000Z" in lines(serialize_object(obj))
    created = CalendarObject(
        "c", Event(start=date(2024, 1, 1), created=datetime(2023, 5, 6, 7, 8, 9, tzinfo=UTC))
    )
    assert "DTSTAMP:20230506T070809Z" in lines(serialize_object(created))


def test_value_forms() -> None:
    event = Event(
        start=datetime(2024, 6, 1, 9, 30, tzinfo=UTC),
        end=datetime(2024, 6, 1, 10, 30),
        rdates=(
            date(2024, 6, 3),
            date(2024, 6, 4),
            datetime(2024, 6, 5, 9, tzinfo=BERLIN),
            datetime(2024, 6, 6, 9, tzinfo=BERLIN),
            date(2024, 6, 7),
        ),
        exdates=(datetime(2024, 6, 8, 9, 30, tzinfo=UTC),),
    )
    content = lines(serialize_object(CalendarObject("v", event)))
    content = content[content.index("BEGIN:VEVENT") :]
    assert "DTSTART:20240601T093000Z" in content
    assert "DTEND:20240601T103000" in content  # floating: no TZID, no Z
    # one property per run of the same kind, so the order survives
    assert [line for line in content if line.startswith(("RDATE", "EXDATE"))] == [
        "RDATE;VALUE=DATE:20240603,20240604",
        "RDATE;TZID=Europe/Berlin:20240605T090000,20240606T090000",
        "RDATE;VALUE=DATE:20240607",
        "EXDATE:20240608T093000Z",
    ]
    all_day = CalendarObject("d", Event(start=date(2024, 6, 1), end=date(2024, 6, 2)))
    content = lines(serialize_object(all_day))
    assert "DTSTART;VALUE=DATE:20240601" in content
    assert "DTEND;VALUE=DATE:20240602" in content
    assert not any(line.startswith("BEGIN:VTIMEZONE") for line in content)


def test_zones_that_icalendar_would_call_utc_keep_their_name() -> None:
    abidjan = ZoneInfo("Africa/Abidjan")  # +00:00 all year, but not UTC
    obj = CalendarObject("abj", Event(start=datetime(2024, 6, 1, 9, tzinfo=abidjan)))
    data = serialize_object(obj)
    assert "DTSTART;TZID=Africa/Abidjan:20240601T090000" in lines(data)
    assert "TZID:Africa/Abidjan" in lines(data)
    again = parse_object(data, source="abj")
    assert zone_of(again.first.start) == "zoneinfo:Africa/Abidjan"


@pytest.mark.parametrize(
    ("tzinfo", "line"),
    [
        (ZoneInfo("Etc/UTC"), "DTSTART:20240601T090000Z"),
        (ZoneInfo("UTC"), "DTSTART:20240601T090000Z"),
        (timezone(timedelta(0)), "DTSTART:20240601T090000Z"),
        (timezone(timedelta(hours=2)), "DTSTART;TZID=Etc/GMT-2:20240601T090000"),
        (timezone(timedelta(hours=5, minutes=30)), "DTSTART:20240601T033000Z"),
        (dateutil_tz.gettz("Europe/Berlin"), "DTSTART;TZID=Europe/Berlin:20240601T090000"),
    ],
)
def test_foreign_zone_objects_are_written_by_name_or_as_utc(tzinfo: tzinfo, line: str) -> None:
    start = datetime(2024, 6, 1, 9, tzinfo=tzinfo)
    data = serialize_object(CalendarObject("z", Event(start=start)))
    assert line in lines(data)
    assert parse_object(data, source="z").first.start == start


def test_vtimezones_once_per_zone_and_readable_by_icalendar() -> None:
    objects = [
        series(),
        CalendarObject("b", Event(start=datetime(2025, 7, 1, 9, tzinfo=BERLIN))),
        CalendarObject("c", Event(start=datetime(2026, 1, 1, 9, tzinfo=BERLIN))),
        CalendarObject("u", Event(start=datetime(2026, 1, 1, 9, tzinfo=UTC))),
    ]
    data = serialize_calendar(objects, name="Team ✓")
    content = lines(data)
    assert "X-WR-CALNAME:Team ✓" in content
    assert [line for line in content if line.startswith("TZID:")] == [
        "TZID:America/New_York",
        "TZID:Europe/Berlin",
    ]
    # another reader, using our VTIMEZONEs, sees the same instants
    calendar = icalendar.Calendar.from_ical(data)
    starts = {str(e["UID"]): e.decoded("DTSTART") for e in calendar.walk("VEVENT")}
    assert starts["b"] == datetime(2025, 7, 1, 7, tzinfo=UTC)
    assert starts["c"] == datetime(2026, 1, 1, 8, tzinfo=UTC)
    parsed = parse_calendar(data, source="feed")
    assert parsed.problems == []
    for mine, theirs in zip(objects, parsed.objects, strict=True):
        assert_identical(theirs, mine)


def test_vtimezone_covers_the_years_used() -> None:
    single = CalendarObject("s", Event(start=datetime(2024, 6, 1, 9, tzinfo=BERLIN)))
    content = lines(serialize_object(single))
    comment = next(line for line in content if line.startswith("COMMENT:"))
    assert comment == "COMMENT:This timezone only works from 2024-01-01 to 2026-01-01."
    # an open-ended series is covered up to where icalendar stops by default
    content = lines(serialize_object(series()))
    comment = next(line for line in content if line.startswith("COMMENT:"))
    assert comment.endswith("to 2039-01-01.")


def test_people_and_parameters() -> None:
    event = Event(
        start=date(2024, 1, 1),
        organizer=Person("boss@example.com", 'The "Boss"'),
        attendees=(
            Attendee("a@example.com", "Backslash \\"),
            Attendee("b@example.com", "Bell\x07 and CR\r"),
            Attendee("urn:uuid:1234", None, optional=True),
        ),
        conference_url="https://meet.example/x?a=1,2",
        url="https://example.org/line\nbreak",
    )
    content = lines(serialize_object(CalendarObject("p", event)))
    assert "ORGANIZER;CN=\"The ^'Boss^'\":mailto:boss@example.com" in content
    assert 'ATTENDEE;CN="Backslash \\\\";PARTSTAT=NEEDS-ACTION:mailto:a@example.com' in content
    assert 'ATTENDEE;CN="Bell  and CR ";PARTSTAT=NEEDS-ACTION:mailto:b@example.com' in content
    assert "ATTENDEE;PARTSTAT=NEEDS-ACTION;ROLE=OPT-PARTICIPANT:urn:uuid:1234" in content
    assert "CONFERENCE;VALUE=URI;FEATURE=VIDEO:https://meet.example/x?a=1,2" in content
    assert "URL:https://example.org/line%0Abreak" in content
    again = parse_object(serialize_object(CalendarObject("p", event)), source="p").first
    assert again.organizer == event.organizer
    assert again.attendees[0] == event.attendees[0]
    assert again.attendees[1].name == "Bell  and CR "


def test_reminders_and_kept_alarms() -> None:
    alarm = "BEGIN:VALARM\nACTION:AUDIO\nTRIGGER;VALUE=DATE-TIME:20240101T080000Z\nEND:VALARM"
    event = Event(
        start=datetime(2024, 1, 1, 9, tzinfo=UTC),
        reminders=(timedelta(minutes=15), timedelta(0)),
        extra=(ExtraProperty("X-A", "X-A;P=1:v"), ExtraProperty("VALARM", alarm)),
    )
    content = lines(serialize_object(CalendarObject("r", event)))
    start = content.index("X-A;P=1:v")
    assert content[start : start + 13] == [
        "X-A;P=1:v",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        "DESCRIPTION:Reminder",
        "TRIGGER:-PT15M",
        "END:VALARM",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        "DESCRIPTION:Reminder",
        "TRIGGER:P0D",
        "END:VALARM",
        *alarm.split("\n")[:2],
    ]


def test_extra_with_a_line_break_is_refused() -> None:
    event = Event(start=date(2024, 1, 1), extra=(ExtraProperty("X-A", "X-A:one\ntwo"),))
    with pytest.raises(ValueError, match="line break"):
        serialize_object(CalendarObject("x", event))


def test_empty_uid_is_refused() -> None:
    with pytest.raises(ValueError, match="UID"):
        serialize_object(CalendarObject("", Event(start=date(2024, 1, 1))))


def test_prodid_and_name() -> None:
    data = serialize_calendar([], name=None)
    assert lines(data) == [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//calsyncd//EN",
        "END:VCALENDAR",
        "",
    ]
    data = serialize_object(series(), prodid="-//Example//Sync//EN")
    assert "PRODID:-//Example//Sync//EN" in lines(data)


def test_outlook_file_written_back_keeps_unknown_lines_verbatim() -> None:
    obj = parse_object(fixture("outlook_windows_tz.ics"), source="o")
    content = lines(serialize_object(obj))
    assert (
        "X-ALT-DESC;FMTTYPE=text/html:<html><body><p>Quarterly review.</p></body></html>" in content
    )
    assert "PRIORITY:5" in content
    # the Windows zone is written under its IANA name, with a generated VTIMEZONE
    assert "DTSTART;TZID=America/New_York:20240311T100000" in content
    assert "TZID:America/New_York" in content


@pytest.mark.parametrize(
    "text", ["C:\\Nutzer\\new", "\\N", "\\n", "a\\,b", "line\nbreak", "crlf\r\nx", "end\\"]
)
def test_backslashes_are_literal(text: str) -> None:
    # icalendar's own TEXT escaping turns a literal backslash-N into a line break
    event = Event(start=date(2024, 1, 1), title=text, description=text, categories=(text, "x"))
    obj = CalendarObject(text, event, marker=Marker(text, text, text))
    again = parse_object(serialize_object(obj), source="bs")
    expected = text.replace("\r\n", "\n")
    assert again.uid == expected
    assert again.first.title == expected
    assert again.first.categories == (expected, "x")
    assert again.marker == Marker(expected, expected, expected)

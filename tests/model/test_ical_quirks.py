"""Real-world quirks the reader tolerates (issue 12): each exact pattern, read into the model.

Each pattern is one calendar clients show although it bends RFC 5545; the reader keeps the
object and reads it the way the RFC (or the exporter's evident meaning) says. Where it has to
change or leave out something to do so it says so in a note (``ParsedCalendar.notes``), which
never skips the object. ``tests/fidelity`` syncs whole files of these patterns and compares
the occurrences with an independent expander.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from calsyncd.model import Event, parse_calendar

BERLIN = ZoneInfo("Europe/Berlin")


def calendar(*lines: str, header: tuple[str, ...] = ()) -> str:
    """A VCALENDAR around ``lines`` (the VEVENTs' lines, BEGIN/END included)."""
    return "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", *header, *lines, "END:VCALENDAR", ""])


def vevent(*lines: str, uid: str = "q@quirks.example") -> tuple[str, ...]:
    return ("BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20240101T000000Z", *lines, "END:VEVENT")


def master_of(text: str) -> Event:
    parsed = parse_calendar(text, source="q.ics")
    assert parsed.problems == []
    assert len(parsed.objects) == 1
    master = parsed.objects[0].master
    assert master is not None
    return master


# -- RRULE UNTIL -------------------------------------------------------------------------------


def test_a_floating_until_with_a_zoned_start_is_read_in_the_start_zone() -> None:
    """Google and Outlook write ``UNTIL=20200429T000000`` beside a zoned DTSTART; RFC 5545
    wants UTC there. Read in DTSTART's zone (Berlin, +02:00 in April) it is 22:00Z the day
    before, and the model holds the rule in the form the RFC requires."""
    master = master_of(
        calendar(
            *vevent(
                "DTSTART;TZID=Europe/Berlin:20200401T093000",
                "RRULE:FREQ=WEEKLY;UNTIL=20200429T000000;BYDAY=WE",
            )
        )
    )
    assert master.start == datetime(2020, 4, 1, 9, 30, tzinfo=BERLIN)
    assert master.rrules == ("FREQ=WEEKLY;UNTIL=20200428T220000Z;BYDAY=WE",)


def test_a_date_until_with_a_zoned_start_ends_at_the_start_of_that_day() -> None:
    """``UNTIL=20211220`` beside ``DTSTART;TZID=…T190000``: the day's first moment in
    DTSTART's zone, so an occurrence on that day (19:00) is past the end."""
    master = master_of(
        calendar(
            *vevent(
                "DTSTART;TZID=Europe/Berlin:20210118T190000",
                "RRULE:FREQ=MONTHLY;UNTIL=20211220;BYDAY=3MO",
            )
        )
    )
    assert master.rrules == ("FREQ=MONTHLY;UNTIL=20211219T230000Z;BYDAY=3MO",)


def test_a_floating_until_in_a_vtimezone_only_zone_uses_that_definition() -> None:
    """A TZID only the calendar's VTIMEZONE explains (an Outlook display name): UNTIL is
    read with the same definition as DTSTART."""
    zone = (
        "BEGIN:VTIMEZONE",
        "TZID:Customized Time Zone",
        "BEGIN:STANDARD",
        "DTSTART:16010101T030000",
        "TZOFFSETFROM:+0200",
        "TZOFFSETTO:+0100",
        "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10",
        "END:STANDARD",
        "BEGIN:DAYLIGHT",
        "DTSTART:16010101T020000",
        "TZOFFSETFROM:+0100",
        "TZOFFSETTO:+0200",
        "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3",
        "END:DAYLIGHT",
        "END:VTIMEZONE",
    )
    master = master_of(
        calendar(
            *zone,
            *vevent(
                'DTSTART;TZID="Customized Time Zone":20231102T150000',
                "RRULE:FREQ=WEEKLY;UNTIL=20231130T000000;INTERVAL=1;BYDAY=TH;WKST=MO",
            ),
        )
    )
    assert master.rrules == ("FREQ=WEEKLY;UNTIL=20231129T230000Z;INTERVAL=1;BYDAY=TH;WKST=MO",)


def test_a_utc_until_and_a_floating_series_are_left_as_they_are() -> None:
    zoned = master_of(
        calendar(
            *vevent(
                "DTSTART;TZID=Europe/Berlin:20200401T093000",
                "RRULE:FREQ=WEEKLY;UNTIL=20200428T220000Z",
            )
        )
    )
    assert zoned.rrules == ("FREQ=WEEKLY;UNTIL=20200428T220000Z",)
    floating = master_of(
        calendar(*vevent("DTSTART:20200401T093000", "RRULE:FREQ=WEEKLY;UNTIL=20200429T000000"))
    )
    assert floating.start == datetime(2020, 4, 1, 9, 30)
    assert floating.rrules == ("FREQ=WEEKLY;UNTIL=20200429T000000",)
    utc = master_of(
        calendar(*vevent("DTSTART:20200401T093000Z", "RRULE:FREQ=DAILY;UNTIL=20200403"))
    )
    assert utc.start == datetime(2020, 4, 1, 9, 30, tzinfo=UTC)
    assert utc.rrules == ("FREQ=DAILY;UNTIL=20200403T000000Z",)

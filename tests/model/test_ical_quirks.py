"""Real-world quirks the reader tolerates (issue 12): each exact pattern, read into the model.

Each pattern is one calendar clients show although it bends RFC 5545; the reader keeps the
object and reads it the way the RFC (or the exporter's evident meaning) says. Where it has to
change or leave out something to do so it says so in a note (``ParsedCalendar.notes``), which
never skips the object. ``tests/fidelity`` syncs whole files of these patterns and compares
the occurrences with an independent expander.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from calsyncd.model import Event, Period, parse_calendar, parse_object, serialize_object, sort_key
from calsyncd.model.ranges import MAX_FUTURE_OVERRIDES

from .helpers import zone_of

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


# -- lines left out, named ---------------------------------------------------------------------


def test_a_colonless_x_line_is_left_out_and_named_the_event_stays() -> None:
    """Apple's structured location broken by a tool: ``X-APPLE-RADIUS=49.9`` has no colon.
    The line is left out, a note names it, and the event (with its other unknown
    properties) is kept."""
    text = calendar(
        *vevent(
            "DTSTART;TZID=Europe/Berlin:20240920T100000",
            "X-APPLE-STRUCTURED-LOCATION;VALUE=URI;X-TITLE=Praxis:geo:53.5,10.0",
            "X-APPLE-RADIUS=49.91307046514149",
            "SUMMARY:Zahnarzt",
        )
    )
    parsed = parse_calendar(text, source="q.ics")
    assert parsed.problems == []
    assert parsed.notes == [
        "q.ics: UID 'q@quirks.example': VEVENT #1: the unreadable line "
        "'X-APPLE-RADIUS=49.91307046514149' is left out"
    ]
    (obj,) = parsed.objects
    assert obj.first.title == "Zahnarzt"
    assert [x.name for x in obj.first.extra] == ["X-APPLE-STRUCTURED-LOCATION"]
    kept: list[str] = []
    assert parse_object(text, source="q.ics", notes=kept) == obj
    assert kept == parsed.notes


def test_an_unreadable_line_of_a_property_the_model_reads_still_skips_the_object() -> None:
    """Leaving out a broken SUMMARY or RRULE line would change the event itself: the object
    is skipped, naming the line, as before."""
    for line in ("SUMMARY no colon", "RRULE FREQ=DAILY"):
        parsed = parse_calendar(calendar(*vevent("DTSTART:20240920T100000Z", line)), source="q")
        assert parsed.objects == []
        assert parsed.problems == [
            f"q: UID 'q@quirks.example': VEVENT #1: unreadable line {line!r}; object skipped"
        ]


def test_unreadable_lines_in_the_calendar_and_in_an_alarm_are_notes() -> None:
    text = calendar(
        *vevent(
            "DTSTART:20240920T100000Z",
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            "TRIGGER;VALUE=DATE-TIME:20240920T090000Z",
            "X-BROKEN=1",
            "END:VALARM",
        ),
        header=("X-WR-CALDESC=broken",),
    )
    parsed = parse_calendar(text, source="q.ics")
    assert parsed.problems == []
    assert parsed.notes == [
        "q.ics: the unreadable line 'X-WR-CALDESC=broken' is left out",
        "q.ics: UID 'q@quirks.example': VEVENT #1: the unreadable line 'X-BROKEN=1' is left out",
    ]
    (alarm,) = parsed.objects[0].first.extra
    assert alarm.line == (
        "BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER;VALUE=DATE-TIME:20240920T090000Z\nEND:VALARM"
    )


def test_an_empty_rrule_line_is_no_recurrence() -> None:
    """A holiday-feed site writes ``RRULE:`` with nothing after it: the event is single."""
    parsed = parse_calendar(calendar(*vevent("DTSTART;VALUE=DATE:20250704", "RRULE:")), source="q")
    assert parsed.problems == []
    assert parsed.notes == ["q: UID 'q@quirks.example': VEVENT #1: an empty RRULE is left out"]
    assert parsed.objects[0].first.rrules == ()
    assert not parsed.objects[0].first.recurring


def test_the_first_of_several_dtstarts_is_kept_and_the_others_named() -> None:
    parsed = parse_calendar(
        calendar(
            *vevent(
                "DTSTART;VALUE=DATE:20231118",
                "DTSTART:20231118T140000Z",
                "DTEND:20231118T180000Z",
            )
        ),
        source="q",
    )
    assert parsed.problems == []
    assert parsed.notes == [
        "q: UID 'q@quirks.example': VEVENT #1: several DTSTART properties: the first is kept, "
        "'DTSTART:20231118T140000Z' is left out"
    ]
    assert parsed.objects[0].first.start == date(2023, 11, 18)
    repeated = parse_calendar(
        calendar(*vevent("DTSTART:20240914T130000Z", "DTSTART:20240914T130000Z")), source="q"
    )
    assert repeated.notes == []  # the same value twice: nothing is left out
    assert repeated.objects[0].first.start == datetime(2024, 9, 14, 13, tzinfo=UTC)


# -- two versions of one event -----------------------------------------------------------------


def test_of_two_versions_of_an_event_the_latest_by_sequence_is_kept() -> None:
    """An invitation imported twice (Nextcloud export): the same UID, no RECURRENCE-ID. RFC
    5546 says which one is current: the higher SEQUENCE, then the later LAST-MODIFIED or
    DTSTAMP. The object is kept with that version; a note says which."""
    text = calendar(
        "BEGIN:VEVENT",
        "UID:train@rail.example",
        "DTSTAMP:20221012T201911Z",
        "LAST-MODIFIED:20221012T201911Z",
        "SEQUENCE:2",
        "DTSTART:20221221T110400Z",
        "SUMMARY:Zug nach Hamburg",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:train@rail.example",
        "DTSTAMP:20221012T201830Z",
        "LAST-MODIFIED:20221012T201830Z",
        "SEQUENCE:1",
        "DTSTART:20221221T100400Z",
        "SUMMARY:Zug nach Hamburg",
        "END:VEVENT",
    )
    parsed = parse_calendar(text, source="q")
    assert parsed.problems == []
    (obj,) = parsed.objects
    assert obj.first.start == datetime(2022, 12, 21, 11, 4, tzinfo=UTC)
    assert obj.first.sequence == 2
    assert parsed.notes == [
        "q: UID 'train@rail.example': 2 VEVENTs without RECURRENCE-ID: VEVENT #1 is kept, the "
        "latest by SEQUENCE, LAST-MODIFIED and DTSTAMP; VEVENT #2 is left out"
    ]


def test_of_two_overrides_of_one_occurrence_last_modified_then_dtstamp_decide() -> None:
    series = (
        "BEGIN:VEVENT",
        "UID:retro@q.example",
        "DTSTAMP:20250101T000000Z",
        "DTSTART:20250106T090000Z",
        "RRULE:FREQ=WEEKLY;COUNT=5",
        "END:VEVENT",
    )

    def override(day: int, stamp: str, *extra: str) -> tuple[str, ...]:
        return (
            "BEGIN:VEVENT",
            "UID:retro@q.example",
            f"DTSTAMP:{stamp}",
            "RECURRENCE-ID:20250113T090000Z",
            f"DTSTART:202501{day}T090000Z",
            "SEQUENCE:1",
            *extra,
            "END:VEVENT",
        )

    rid = datetime(2025, 1, 13, 9, tzinfo=UTC)
    by_stamp = parse_calendar(
        calendar(*series, *override(14, "20250105T000000Z"), *override(15, "20250108T000000Z")),
        source="q",
    )
    assert by_stamp.problems == []
    assert by_stamp.objects[0].overrides[rid].start == datetime(2025, 1, 15, 9, tzinfo=UTC)
    assert by_stamp.notes == [
        "q: UID 'retro@q.example': 2 VEVENTs with RECURRENCE-ID 2025-01-13T09:00:00+00:00: "
        "VEVENT #3 is kept, the latest by SEQUENCE, LAST-MODIFIED and DTSTAMP; VEVENT #2 is "
        "left out"
    ]
    modified = "LAST-MODIFIED:20250109T000000Z"
    by_modified = parse_calendar(
        calendar(
            *series,
            *override(14, "20250105T000000Z", modified),
            *override(15, "20250108T000000Z"),
        ),
        source="q",
    )
    assert by_modified.objects[0].overrides[rid].start == datetime(2025, 1, 14, 9, tzinfo=UTC)
    tie = parse_calendar(
        calendar(*series, *override(14, "20250105T000000Z"), *override(15, "20250105T000000Z")),
        source="q",
    )
    assert tie.objects[0].overrides[rid].start == datetime(2025, 1, 14, 9, tzinfo=UTC)


# -- X-WR-TIMEZONE -------------------------------------------------------------------------------


def test_floating_times_are_read_in_the_calendars_x_wr_timezone() -> None:
    """A feed re-exported by Google: floating times, meant in the calendar's X-WR-TIMEZONE
    (clients read them so). Every date-time of the event is read in that zone — start, end,
    recurrence-id, RDATE, EXDATE — and a floating UNTIL is then written in UTC; dates and
    times with a zone of their own stay as they are."""
    sydney = ZoneInfo("Australia/Sydney")
    text = calendar(
        *vevent(
            "DTSTART:20230911T063000",
            "DTEND:20230911T073000",
            "RRULE:FREQ=WEEKLY;UNTIL=20231030T000000;BYDAY=MO",
            "EXDATE:20230918T063000",
            "RDATE;TZID=Europe/Berlin:20230920T090000",
            uid="yoga@studio.example",
        ),
        *vevent(
            "RECURRENCE-ID:20231002T063000",
            "DTSTART:20231003T063000",
            "DTEND:20231003T073000Z",
            uid="yoga@studio.example",
        ),
        *vevent("DTSTART;VALUE=DATE:20231225", uid="xmas@studio.example"),
        header=("X-WR-CALNAME:Yoga", "X-WR-TIMEZONE:Australia/Sydney"),
    )
    parsed = parse_calendar(text, source="q")
    assert parsed.problems == []
    assert parsed.notes == []
    yoga, xmas = parsed.objects
    assert yoga.master is not None
    assert yoga.master.start == datetime(2023, 9, 11, 6, 30, tzinfo=sydney)
    assert zone_of(yoga.master.start) == "zoneinfo:Australia/Sydney"
    assert zone_of(yoga.master.end) == "zoneinfo:Australia/Sydney"
    assert yoga.master.exdates == (datetime(2023, 9, 18, 6, 30, tzinfo=sydney),)
    assert zone_of(yoga.master.rdates[0]) == "zoneinfo:Europe/Berlin"
    # 2023-10-30 00:00 in Sydney (+11:00 from October) is 13:00Z the day before
    assert yoga.master.rrules == ("FREQ=WEEKLY;UNTIL=20231029T130000Z;BYDAY=MO",)
    rid = datetime(2023, 10, 2, 6, 30, tzinfo=sydney)
    assert list(yoga.overrides) == [rid]
    assert zone_of(yoga.overrides[rid].recurrence_id) == "zoneinfo:Australia/Sydney"
    assert yoga.overrides[rid].end == datetime(2023, 10, 3, 7, 30, tzinfo=UTC)
    assert xmas.first.start == date(2023, 12, 25)


def test_an_x_wr_timezone_no_zone_explains_leaves_floating_times_floating() -> None:
    parsed = parse_calendar(
        calendar(*vevent("DTSTART:20230911T063000"), header=("X-WR-TIMEZONE:Mars/Olympus",)),
        source="q",
    )
    assert parsed.problems == []
    assert parsed.objects[0].first.start == datetime(2023, 9, 11, 6, 30)
    assert parsed.notes == [
        "q: X-WR-TIMEZONE 'Mars/Olympus' names no time zone: its floating times stay floating"
    ]


def test_a_series_ending_before_it_starts_is_kept_and_named() -> None:
    """A room-booking export: the rule's UNTIL lies a week before DTSTART. RFC 5545 counts
    DTSTART as the first occurrence, so the event is kept (clients differ: some show it
    once, some not at all), and a note says so."""
    parsed = parse_calendar(
        calendar(
            *vevent(
                "DTSTART;TZID=America/Mexico_City:20240611T190000",
                "RRULE:FREQ=WEEKLY;BYDAY=TU;UNTIL=20240604T190000Z",
            )
        ),
        source="q",
    )
    assert parsed.problems == []
    assert parsed.objects[0].first.rrules == ("FREQ=WEEKLY;BYDAY=TU;UNTIL=20240604T190000Z",)
    assert parsed.notes == [
        "q: UID 'q@quirks.example': the RRULE ends (UNTIL=20240604T190000Z) before DTSTART "
        "and adds no occurrence; DTSTART still counts as one (RFC 5545), though some clients "
        "show none"
    ]


# -- RDATE periods -------------------------------------------------------------------------------


def test_rdate_periods_are_occurrences_with_their_own_end() -> None:
    """Evolution and Lotus Notes write extra occurrences as periods (start/end or
    start/duration, RFC 5545 3.3.9); each is an occurrence with its own length. Read into
    the model (not into ``extra``, which copies never carry) and written back as start/end."""
    london = ZoneInfo("Europe/London")
    text = calendar(
        *vevent(
            "DTSTART;TZID=Europe/London:20221012T100000",
            "DTEND;TZID=Europe/London:20221012T110000",
            "RDATE;VALUE=PERIOD;TZID=Europe/London:20221019T140000/20221019T163000,20221026T0"
            "93000/PT30M",
            "RDATE;VALUE=PERIOD:20221102T150000Z/P1D",
            "RDATE:20221109T100000Z",
        )
    )
    master = master_of(text)
    assert master.rdates == (
        Period(
            datetime(2022, 10, 19, 14, tzinfo=london), datetime(2022, 10, 19, 16, 30, tzinfo=london)
        ),
        Period(
            datetime(2022, 10, 26, 9, 30, tzinfo=london), datetime(2022, 10, 26, 10, tzinfo=london)
        ),
        Period(datetime(2022, 11, 2, 15, tzinfo=UTC), datetime(2022, 11, 3, 15, tzinfo=UTC)),
        datetime(2022, 11, 9, 10, tzinfo=UTC),
    )
    assert zone_of(master.rdates[0].start) == "zoneinfo:Europe/London"  # type: ignore[union-attr]
    assert master.extra == ()
    written = serialize_object(parse_object(text, source="q")).replace(b"\r\n ", b"")  # unfolded
    assert (
        b"RDATE;VALUE=PERIOD;TZID=Europe/London:20221019T140000/20221019T163000,20221026T"
        in written
    )
    assert b"RDATE;VALUE=PERIOD:20221102T150000Z/20221103T150000Z\r\n" in written
    again = parse_object(written, source="q")
    assert again.master == master
    assert zone_of(again.master.rdates[1].start) == "zoneinfo:Europe/London"  # type: ignore[union-attr]


def test_an_rdate_period_that_is_not_one_is_named() -> None:
    for value, why in [
        ("RDATE;VALUE=PERIOD:20221102/20221103", "RDATE period must be date-times"),
        ("RDATE;VALUE=PERIOD:20221102T150000Z", "RDATE period has no end"),
        ("RDATE;VALUE=PERIOD:20221102T150000Z/20221102T140000Z", "RDATE period ends before"),
        ("RDATE;VALUE=PERIOD:20221102T150000Z/-PT1H", "DURATION is negative"),
    ]:
        parsed = parse_calendar(calendar(*vevent("DTSTART:20221101T150000Z", value)), source="q")
        assert parsed.objects == [], value
        assert why in parsed.problems[0], parsed.problems


# -- RECURRENCE-ID;RANGE=THISANDFUTURE -----------------------------------------------------------


def _future(
    *override: str, rule: str = "FREQ=WEEKLY;COUNT=10;BYDAY=TU", more: tuple[str, ...] = ()
) -> str:
    return calendar(
        *vevent(
            "DTSTART;TZID=Europe/Vienna:20240305T090000",
            "DTEND;TZID=Europe/Vienna:20240305T100000",
            f"RRULE:{rule}",
            "SUMMARY:Kursplanung",
            uid="kurs@q.example",
        ),
        *vevent(*override, uid="kurs@q.example"),
        *more,
    )


def test_this_and_future_becomes_an_override_of_each_later_occurrence() -> None:
    """Evolution's "this and future" edit: from 2 April on, 14:00 instead of 09:00 and a new
    title. Every provider stores overrides; so the edit becomes one override per occurrence
    from that one on (RFC 5545 3.8.4.4), each moved by the same five hours."""
    vienna = ZoneInfo("Europe/Vienna")
    parsed = parse_calendar(
        _future(
            "RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Vienna:20240402T090000",
            "DTSTART;TZID=Europe/Vienna:20240402T140000",
            "DTEND;TZID=Europe/Vienna:20240402T150000",
            "SEQUENCE:1",
            "SUMMARY:Kursplanung (nachmittags)",
        ),
        source="q",
    )
    assert parsed.problems == []
    assert parsed.notes == []
    (obj,) = parsed.objects
    assert obj.master is not None
    assert obj.master.rrules == ("FREQ=WEEKLY;COUNT=10;BYDAY=TU",)  # the series is unchanged
    days = [2, 9, 16, 23, 30, 37]  # April, 37 = 7 May
    rids = [datetime(2024, 4, 1, 9, tzinfo=vienna) + timedelta(days=d - 1) for d in days]
    assert sorted(obj.overrides) == rids
    for rid in rids:
        moved = obj.overrides[rid]
        assert moved.recurrence_id == rid
        assert moved.start == rid + timedelta(hours=5)
        assert moved.end == rid + timedelta(hours=6)
        assert zone_of(moved.start) == "zoneinfo:Europe/Vienna"
        assert moved.title == "Kursplanung (nachmittags)"
        assert moved.sequence == 1
    again = parse_object(serialize_object(obj), source="q")
    assert again == obj


def test_this_and_future_moves_on_the_wall_clock_across_a_dst_change() -> None:
    """Oracle Calendar: 08:00 becomes 07:30 from 30 October on; after the clocks change on 5
    November it is still 07:30 local time (13:30Z, not 12:30Z)."""
    chicago = ZoneInfo("America/Chicago")
    text = calendar(
        *vevent(
            "DTSTART;TZID=America/Chicago:20231002T080000",
            "DTEND;TZID=America/Chicago:20231002T083000",
            "RRULE:FREQ=WEEKLY;COUNT=10;BYDAY=MO",
            uid="huddle@q.example",
        ),
        *vevent(
            "RECURRENCE-ID;TZID=America/Chicago;RANGE=THISANDFUTURE:20231030T080000",
            "DTSTART;TZID=America/Chicago:20231030T073000",
            "DTEND;TZID=America/Chicago:20231030T080000",
            uid="huddle@q.example",
        ),
    )
    (obj,) = parse_calendar(text, source="q").objects
    november = obj.overrides[datetime(2023, 11, 6, 8, tzinfo=chicago)]
    assert november.start == datetime(2023, 11, 6, 7, 30, tzinfo=chicago)
    assert november.start.astimezone(UTC) == datetime(2023, 11, 6, 13, 30, tzinfo=UTC)
    assert len(obj.overrides) == 6


def test_an_override_of_its_own_wins_over_this_and_future() -> None:
    once = vevent(
        "RECURRENCE-ID;TZID=Europe/Vienna:20240416T090000",
        "DTSTART;TZID=Europe/Vienna:20240417T090000",
        "SUMMARY:moved once",
        uid="kurs@q.example",
    )
    parsed = parse_calendar(
        _future(
            "RECURRENCE-ID;RANGE=THISANDFUTURE:20240402T070000Z",
            "DTSTART:20240402T120000Z",
            "SUMMARY:later",
            more=once,
        ),
        source="q",
    )
    assert parsed.problems == []
    obj = parsed.objects[0]
    vienna = ZoneInfo("Europe/Vienna")
    assert obj.overrides[datetime(2024, 4, 16, 9, tzinfo=vienna)].title == "moved once"
    assert obj.overrides[datetime(2024, 4, 23, 9, tzinfo=vienna)].title == "later"
    # the override's own zone (UTC) is kept: the same five hours later, in UTC
    assert obj.overrides[datetime(2024, 4, 23, 9, tzinfo=vienna)].start == datetime(
        2024, 4, 23, 12, tzinfo=UTC
    )


def test_this_and_future_on_an_endless_series_is_applied_to_the_next_ones_and_named() -> None:
    parsed = parse_calendar(
        _future(
            "RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Vienna:20240402T090000",
            "DTSTART;TZID=Europe/Vienna:20240402T140000",
            rule="FREQ=DAILY",
        ),
        source="q",
    )
    assert parsed.problems == []
    (obj,) = parsed.objects
    assert len(obj.overrides) == MAX_FUTURE_OVERRIDES
    last = max(obj.overrides, key=sort_key)
    assert parsed.notes == [
        "q: UID 'kurs@q.example': VEVENT #2: RECURRENCE-ID;RANGE=THISANDFUTURE 2024-04-02T09:00"
        f":00+02:00 is applied to the next {MAX_FUTURE_OVERRIDES} occurrences, up to "
        f"{last.isoformat()}; later ones keep the series' own time and fields"
    ]


def test_a_recurrence_range_other_than_this_and_future_is_named() -> None:
    parsed = parse_calendar(
        _future(
            "RECURRENCE-ID;RANGE=THISANDPRIOR:20240402T070000Z",
            "DTSTART:20240402T120000Z",
        ),
        source="q",
    )
    assert parsed.objects == []
    assert "RECURRENCE-ID;RANGE=THISANDPRIOR is not supported" in parsed.problems[0]


# -- RRULE;RSCALE (RFC 7529) ---------------------------------------------------------------------


def test_rscale_gregorian_without_skip_is_read_as_a_plain_rule() -> None:
    """Gregorian is iCalendar's own scale: with SKIP absent or OMIT the rule is plain RFC
    5545, and is kept as such (readable by every client)."""
    master = master_of(
        calendar(
            *vevent(
                "DTSTART;VALUE=DATE:20240131",
                "RRULE:FREQ=MONTHLY;RSCALE=GREGORIAN;BYMONTHDAY=31;COUNT=6",
            )
        )
    )
    assert master.rrules == ("FREQ=MONTHLY;BYMONTHDAY=31;COUNT=6",)


def test_rscale_gregorian_with_skip_is_kept_as_it_is() -> None:
    master = master_of(
        calendar(
            *vevent(
                "DTSTART;VALUE=DATE:20240229", "RRULE:RSCALE=GREGORIAN;FREQ=YEARLY;SKIP=FORWARD"
            )
        )
    )
    assert master.rrules == ("RSCALE=GREGORIAN;FREQ=YEARLY;SKIP=FORWARD",)


def test_another_calendar_scale_is_named_and_skipped() -> None:
    """A Hebrew-calendar anniversary cannot be expanded here: skipped, saying why."""
    parsed = parse_calendar(
        calendar(
            *vevent(
                "DTSTART;VALUE=DATE:20240316",
                "RRULE:RSCALE=HEBREW;FREQ=YEARLY;BYMONTH=5L;BYMONTHDAY=6;SKIP=FORWARD;COUNT=5",
            )
        ),
        source="q",
    )
    assert parsed.objects == []
    assert parsed.problems == [
        "q: UID 'q@quirks.example': VEVENT #1: RRULE cannot be read: "
        "'RSCALE=HEBREW;FREQ=YEARLY;BYMONTH=5L;BYMONTHDAY=6;SKIP=FORWARD;COUNT=5' (RSCALE=HEBREW:"
        " calsyncd expands only the Gregorian calendar of RFC 7529); object skipped"
    ]

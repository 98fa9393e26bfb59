"""The reader's limits: one object that cannot be read costs bounded memory and time, is
named in a problem, and leaves the rest of the text read.

- nesting: linear memory, a depth limit, one problem however deep;
- a VEVENT of more lines than any real one;
- exceptions nobody expected from one object (integer and date overflows);
- custom VTIMEZONEs: read wherever they stand in the text, observances that are not yearly
  refused, expansion past the budget named, years far apart cheap;
- a feed costs a few bytes of Python memory per byte of text.
"""

from __future__ import annotations

import time
import tracemalloc
from datetime import datetime, timedelta

from calsyncd.model import parse_calendar
from calsyncd.model.components import MAX_DEPTH, MAX_OBJECT_LINES

from .helpers import fixture, zone_of

GOOD = (
    "BEGIN:VEVENT\r\nUID:good-{n}\r\nDTSTART:20300101T10000{n}Z\r\nSUMMARY:good\r\nEND:VEVENT\r\n"
)


def vcalendar(*parts: str, name: str = "") -> bytes:
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + (f"X-WR-CALNAME:{name}\r\n" if name else "")
    return (head + "".join(parts) + "END:VCALENDAR\r\n").encode()


def vevent(uid: str, body: str) -> str:
    return f"BEGIN:VEVENT\r\nUID:{uid}\r\n{body}END:VEVENT\r\n"


def between_good(*bad: str) -> bytes:
    return vcalendar(GOOD.format(n=1), *bad, GOOD.format(n=2))


def uids(data: bytes) -> tuple[list[str], list[str]]:
    parsed = parse_calendar(data, source="t.ics")
    return [o.uid for o in parsed.objects], parsed.problems


def nested(depth: int, *, ended: bool = True) -> str:
    text = "".join(f"BEGIN:X{n}\r\nX-LEVEL:{n}\r\n" for n in range(depth))
    if ended:
        text += "".join(f"END:X{n}\r\n" for n in reversed(range(depth)))
    return text


def test_deep_nesting_costs_linear_memory_and_names_its_object() -> None:
    data = between_good(vevent("deep", "DTSTART:20300101T100000Z\r\n" + nested(15_000)))
    tracemalloc.start()
    started = time.monotonic()
    try:
        found, problems = uids(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert found == ["good-1", "good-2"]
    assert problems == [
        f"t.ics: UID 'deep': VEVENT #2: components nested deeper than {MAX_DEPTH} levels; "
        "not read on; object skipped"
    ]
    assert peak < 4 * len(data), peak
    assert time.monotonic() - started < 5


def test_nesting_up_to_the_limit_is_kept() -> None:
    inner = nested(MAX_DEPTH - 2)  # VCALENDAR and VEVENT are the first two levels
    parsed = parse_calendar(
        between_good(vevent("x", "DTSTART:20300101T100000Z\r\n" + inner)), source="t"
    )
    assert parsed.problems == []
    (deep,) = [o for o in parsed.objects if o.uid == "x"]
    assert deep.master is not None
    (block,) = deep.master.extra
    assert block.line.count("BEGIN:") == MAX_DEPTH - 2
    assert block.line.splitlines()[-1] == "END:X0"


def test_nesting_never_ended_is_one_problem_per_component_read() -> None:
    data = vcalendar(GOOD.format(n=1), vevent("deep", nested(5_000, ended=False)))
    data = data.removesuffix(b"END:VEVENT\r\nEND:VCALENDAR\r\n")
    found, problems = uids(data)
    assert found == ["good-1"]
    assert len(problems) < 20, problems[:20]
    assert "t.ics: BEGIN:VCALENDAR is never ended" in problems
    assert any(p.startswith("t.ics: UID 'deep'") for p in problems)


def test_a_vevent_of_too_many_lines_is_skipped() -> None:
    body = "DTSTART:20300101T100000Z\r\n" + "ATTENDEE:mailto:a@example.org\r\n" * MAX_OBJECT_LINES
    found, problems = uids(between_good(vevent("crowd", body)))
    assert found == ["good-1", "good-2"]
    assert problems == [
        f"t.ics: UID 'crowd': VEVENT #2: more than {MAX_OBJECT_LINES} lines; not read on; "
        "object skipped"
    ]


def test_exceptions_nobody_expected_skip_only_their_object() -> None:
    early_zone = (
        "BEGIN:VTIMEZONE\r\nTZID:Early\r\nBEGIN:STANDARD\r\nDTSTART:00010101T000000\r\n"
        "TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
    )
    found, problems = uids(
        vcalendar(
            early_zone,
            GOOD.format(n=1),
            vevent("weeks", "DTSTART:20300101T100000Z\r\nDURATION:P999999999999999999W\r\n"),
            vevent("past-9999", "DTSTART:99991231T100000Z\r\nDURATION:P2D\r\n"),
            vevent("early", "DTSTART;TZID=Early:20300101T100000\r\n"),
            GOOD.format(n=2),
        )
    )
    assert found == ["good-1", "good-2"]
    assert problems == [
        "t.ics: UID 'weeks': VEVENT #2: OverflowError: Python int too large to convert to C "
        "int; object skipped",
        "t.ics: UID 'past-9999': VEVENT #3: OverflowError: date value out of range; object skipped",
        "t.ics: UID 'early': VEVENT #4: cannot read the VTIMEZONE of TZID 'Early' "
        "(OverflowError: date value out of range); object skipped",
    ]


def test_a_vtimezone_after_its_events_is_read_the_same() -> None:
    text = fixture("custom_tz.ics").decode()
    head, _, rest = text.partition("BEGIN:VTIMEZONE")
    zones = "BEGIN:VTIMEZONE" + rest[: rest.rindex("END:VTIMEZONE") + len("END:VTIMEZONE\r\n")]
    events = rest[len(zones) - len("BEGIN:VTIMEZONE") :]
    moved = head + events.replace("END:VCALENDAR", zones + "END:VCALENDAR")
    assert moved.index("BEGIN:VTIMEZONE") > moved.index("BEGIN:VEVENT")
    before = parse_calendar(text, source="t")
    after = parse_calendar(moved, source="t")
    assert after.problems == before.problems
    assert [o.uid for o in after.objects] == [o.uid for o in before.objects]
    for a, b in zip(after.objects, before.objects, strict=True):
        assert a == b
        assert a.master is not None
        assert b.master is not None
        assert zone_of(a.master.start) == zone_of(b.master.start)


def zone(rule: str) -> str:
    return (
        "BEGIN:VTIMEZONE\r\nTZID:Odd\r\nBEGIN:STANDARD\r\nDTSTART:20200101T000000\r\n"
        f"TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0000\r\nRRULE:{rule}\r\nEND:STANDARD\r\n"
        "BEGIN:DAYLIGHT\r\nDTSTART:20200101T000000\r\nTZOFFSETFROM:+0000\r\n"
        f"TZOFFSETTO:+0100\r\nRRULE:{rule}\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
    )


def test_an_observance_that_is_not_yearly_is_refused() -> None:
    started = time.monotonic()
    found, problems = uids(
        vcalendar(zone("FREQ=SECONDLY"), vevent("odd", "DTSTART;TZID=Odd:20300101T100000\r\n"))
    )
    assert found == []
    assert problems == [
        "t.ics: UID 'odd': VEVENT #1: cannot read the VTIMEZONE of TZID 'Odd': STANDARD RRULE "
        "'FREQ=SECONDLY' is not yearly; object skipped"
    ]
    assert time.monotonic() - started < 1


def test_a_yearly_observance_past_the_budget_is_named() -> None:
    every_minute = "FREQ=YEARLY;BYDAY=MO,TU,WE,TH,FR,SA,SU;BYHOUR=" + ",".join(map(str, range(24)))
    every_minute += ";BYMINUTE=" + ",".join(map(str, range(60)))
    events = [vevent(f"odd-{n}", "DTSTART;TZID=Odd:20300101T100000\r\n") for n in range(20)]
    started = time.thread_time()
    found, problems = uids(vcalendar(zone(every_minute), *events, GOOD.format(n=1)))
    assert found == ["good-1"]
    assert len(problems) == 20
    assert "expanding the VTIMEZONE of TZID 'Odd' costs more than" in problems[0]
    assert time.thread_time() - started < 3  # one budget for the zone, not one per event


def test_a_custom_zone_used_nine_thousand_years_apart_is_cheap() -> None:
    fixed = zone("FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU").replace(
        "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT",
        "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:DAYLIGHT",
    )
    started = time.monotonic()
    parsed = parse_calendar(
        vcalendar(
            fixed,
            vevent("first", "DTSTART;TZID=Odd:10000101T100000\r\n"),
            vevent("last", "DTSTART;TZID=Odd:99981231T100000\r\n"),
        ),
        source="t",
    )
    assert [o.uid for o in parsed.objects] == ["first", "last"], parsed.problems
    assert time.monotonic() - started < 5


def test_the_calendar_name_is_read() -> None:
    parsed = parse_calendar(vcalendar(GOOD.format(n=1), name="Team\\, shared"), source="t")
    assert parsed.name == "Team, shared"
    assert parse_calendar(vcalendar(GOOD.format(n=1)), source="t").name is None


def test_a_feed_costs_a_few_bytes_per_byte() -> None:
    start = datetime(2030, 1, 1, 9)
    events = [
        vevent(
            f"event-{n:06d}@feed.example",
            f"DTSTART;TZID=Europe/Berlin:{(start + timedelta(days=n % 900)):%Y%m%dT%H%M%S}\r\n"
            f"DURATION:PT1H\r\nSUMMARY:Meeting {n} about the quarterly planning\r\n"
            "DESCRIPTION:Agenda: review of the figures\\, the plan and any other \r\n"
            " business.\r\nATTENDEE;CN=Person;PARTSTAT=ACCEPTED:mailto:p@example.org\r\n",
        )
        for n in range(4000)
    ]
    data = vcalendar(*events)
    tracemalloc.start()
    try:
        parsed = parse_calendar(data, source="t")
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(parsed.objects) == 4000
    assert current < 5 * len(data), current / len(data)  # what stays: the model objects
    assert peak < 6 * len(data), peak / len(data)  # the text itself is never copied whole

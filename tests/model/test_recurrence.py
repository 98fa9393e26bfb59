"""Recurrence expansion under a budget: the worst rules stop in bounded time, real ones don't.

Each worst rule is one dateutil would expand for seconds to minutes (or without end): rules
that never match walk every period up to year 9999 inside one step of the generator; a rule
every second since 2020 has a hundred million occurrences before today.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import anyio
import pytest

from calsyncd.model.budget import (
    MAX_SECONDS,
    Budget,
    OverBudget,
    bounded,
    checkpoint,
    in_worker_thread,
)
from calsyncd.model.event import CalendarObject, Event, Period
from calsyncd.model.recurrence import MAX_TIMES_A_DAY, Recurrence, parse_rule
from calsyncd.providers.base import Window
from calsyncd.sync.window import Unexpandable, extent, in_window, span

START = datetime(2020, 1, 1, 10)
TODAY = datetime(2026, 12, 1)
WORST = [
    "FREQ=SECONDLY",
    "FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=WEEKLY;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=MINUTELY;BYSETPOS=1,-1;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=MINUTELY;BYSETPOS=1,-1",
    "FREQ=SECONDLY;COUNT=1000000000",
    "FREQ=SECONDLY;UNTIL=99991231T235959",
    "FREQ=MINUTELY;BYSECOND=1,2,3,4,5;BYHOUR=1",
    "FREQ=SECONDLY;BYSECOND=59;BYMINUTE=59;BYHOUR=23;BYMONTH=2;BYMONTHDAY=29",
]
CHEAP = {
    # rule: the first occurrence from TODAY (they look as bad, and are answered at once)
    "FREQ=DAILY;INTERVAL=999999999999999999999": None,
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30": None,
    "FREQ=MINUTELY;INTERVAL=7;BYHOUR=3;BYMINUTE=1": datetime(2026, 12, 6, 3, 1),
    "FREQ=DAILY": datetime(2026, 12, 1, 10),
}
BOUND = 2 * MAX_SECONDS + 0.5
"""CPU seconds any one rule may take here: the budget's, plus one period of overshoot."""


@pytest.mark.parametrize("rule", WORST)
def test_a_rule_past_the_budget_stops_in_bounded_time(rule: str) -> None:
    started = time.thread_time()
    with pytest.raises(OverBudget):
        Recurrence(START, [rule]).first_from(TODAY)
    assert time.thread_time() - started < BOUND


@pytest.mark.parametrize(("rule", "expected"), CHEAP.items())
def test_rules_that_only_look_bad_are_answered(rule: str, expected: datetime | None) -> None:
    started = time.thread_time()
    assert Recurrence(START, [rule]).first_from(TODAY) == expected
    assert time.thread_time() - started < BOUND


def test_a_daily_series_since_1900_is_within_the_budget() -> None:
    assert Recurrence(datetime(1900, 1, 1, 9), ["FREQ=DAILY"]).first_from(TODAY) == datetime(
        2026, 12, 1, 9
    )


def test_too_many_times_a_day_are_refused_when_read() -> None:
    every_minute = "FREQ=DAILY;BYHOUR=" + ",".join(map(str, range(24)))
    every_minute += ";BYMINUTE=" + ",".join(map(str, range(60)))
    parse_rule(every_minute, START)  # 1440: the most a rule may have
    with pytest.raises(ValueError, match=f"over {MAX_TIMES_A_DAY}"):
        parse_rule(every_minute + ";BYSECOND=0,30", START)


def test_one_budget_for_all_of_an_objects_rules() -> None:
    budget = Budget(steps=1000)
    with budget.active(), bounded() as same:
        assert same is budget
        Recurrence(START, ["FREQ=DAILY;COUNT=300"]).first(400)
        with pytest.raises(OverBudget):
            Recurrence(START, ["FREQ=DAILY;COUNT=600"]).first(700)
    assert budget.spent > 1000


def test_cpu_time_counts_only_while_the_budget_is_active() -> None:
    budget = Budget(seconds=0.05)
    deadline = time.thread_time() + 0.2
    while time.thread_time() < deadline:  # busy, outside the budget
        pass
    with budget.active():
        budget.spend(10_000)  # several clock checks, no time spent inside yet


def test_a_worker_thread_stops_soon_after_its_task_is_cancelled() -> None:
    """A budget far too large to stop the work; cancelling the task stops it."""

    def endless() -> None:
        with Budget(steps=10**12, seconds=10**6).active() as budget:
            while True:
                budget.spend()

    async def main() -> float:
        started = time.monotonic()
        with anyio.move_on_after(0.2):
            await in_worker_thread(endless)
        return time.monotonic() - started

    assert anyio.run(main) < 1.0
    checkpoint()  # outside a worker thread: nothing to stop


# -- through the sync window ---------------------------------------------------------------------


WINDOW = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2027, 11, 1, tzinfo=UTC))


def series(rule: str, start: datetime = START) -> CalendarObject:
    aware = start.replace(tzinfo=UTC)
    return CalendarObject("series@test", Event(aware, aware + timedelta(hours=1), rrules=(rule,)))


def test_the_window_names_an_object_it_cannot_place() -> None:
    obj = series("FREQ=SECONDLY")
    with pytest.raises(OverBudget):
        in_window(obj, WINDOW)
    with pytest.raises(Unexpandable, match=r"UID 'series@test'.*RRULE:FREQ=SECONDLY.*steps"):
        extent(obj, WINDOW)
    broken = series("FREQ=YEARLY;BYEASTER=400")  # dateutil reads it, then fails expanding it
    with pytest.raises(Unexpandable, match="IndexError"):
        extent(broken, WINDOW)


def test_the_window_places_ordinary_and_far_objects() -> None:
    assert extent(series("FREQ=WEEKLY;COUNT=3"), WINDOW) == (
        START.replace(tzinfo=UTC).timestamp(),
        (START + timedelta(weeks=2, hours=1)).replace(tzinfo=UTC).timestamp(),
    )
    assert in_window(series("FREQ=YEARLY", datetime(1950, 11, 20, 9)), WINDOW)
    assert span(series("FREQ=SECONDLY;COUNT=1000000000"))[1] is None  # endless enough
    last_day = CalendarObject("last@test", Event(date(9999, 12, 31)))
    with pytest.raises(Unexpandable, match="OverflowError"):
        extent(last_day, WINDOW)


def test_dtstart_is_always_the_first_occurrence() -> None:
    """RFC 5545 3.8.5.3: DTSTART counts as the first instance, whether the rule or the RDATEs
    match it or not — so a series whose UNTIL lies before DTSTART, or an RDATE-only event,
    is placed by its start (unless an EXDATE removes it)."""
    around = Window(datetime(2024, 6, 10, tzinfo=UTC), datetime(2024, 6, 12, tzinfo=UTC))
    start = datetime(2024, 6, 11, 19, tzinfo=UTC)
    ended = CalendarObject(
        "mrbs@test",
        Event(start, start + timedelta(hours=2), rrules=("FREQ=WEEKLY;UNTIL=20240604T190000Z",)),
    )
    assert in_window(ended, around)
    assert span(ended) == (start, start + timedelta(hours=2))
    later = datetime(2024, 9, 1, 10, tzinfo=UTC)
    rdates_only = CalendarObject("rd@test", Event(start, rdates=(later,)))
    assert in_window(rdates_only, around)
    assert span(rdates_only) == (start, later)
    removed = CalendarObject("ex@test", Event(start, rdates=(later,), exdates=(start,)))
    assert not in_window(removed, around)


def test_an_rdate_period_is_placed_with_its_own_length() -> None:
    """A one-hour event with an RDATE period of a whole day: the window sees the day."""
    start = datetime(2024, 1, 6, 15, tzinfo=UTC)
    long_one = Period(datetime(2024, 2, 3, 15, tzinfo=UTC), datetime(2024, 2, 4, 15, tzinfo=UTC))
    obj = CalendarObject("p@test", Event(start, start + timedelta(hours=1), rdates=(long_one,)))
    next_morning = Window(datetime(2024, 2, 4, 9, tzinfo=UTC), datetime(2024, 2, 4, 10, tzinfo=UTC))
    assert in_window(obj, next_morning)
    assert not in_window(
        replace(obj, master=replace(obj.master, rdates=(long_one.start,))), next_morning
    )  # type: ignore[arg-type]
    assert span(obj) == (start, long_one.end)


# -- RFC 7529: RSCALE=GREGORIAN with SKIP ------------------------------------------------------


def _dates(rule: str, start: date, count: int = 10) -> list[date]:
    found = Recurrence(datetime.combine(start, datetime.min.time()), [rule]).first(count)
    return [when.date() for when in found]


def test_skip_forward_moves_a_missing_day_to_the_next_month() -> None:
    """A birthday on 29 February: 1 March in other years (RFC 7529 SKIP=FORWARD)."""
    leap = "RSCALE=GREGORIAN;FREQ=YEARLY;SKIP=FORWARD"
    assert _dates(leap, date(2024, 2, 29), 5) == [
        date(2024, 2, 29),
        date(2025, 3, 1),
        date(2026, 3, 1),
        date(2027, 3, 1),
        date(2028, 2, 29),
    ]
    back = "RSCALE=GREGORIAN;FREQ=YEARLY;SKIP=BACKWARD;COUNT=2"
    assert _dates(back, date(2024, 2, 29)) == [date(2024, 2, 29), date(2025, 2, 28)]


def test_skip_counts_and_ends_after_moving() -> None:
    """COUNT counts the moved occurrences; one moved onto another is one occurrence."""
    assert _dates("FREQ=MONTHLY;COUNT=4;RSCALE=GREGORIAN;SKIP=BACKWARD", date(2014, 12, 31)) == [
        date(2014, 12, 31),
        date(2015, 1, 31),
        date(2015, 2, 28),
        date(2015, 3, 31),
    ]
    forward = "FREQ=MONTHLY;BYMONTHDAY=1,31;RSCALE=GREGORIAN;SKIP=FORWARD;UNTIL=20240401"
    assert _dates(forward, date(2024, 1, 1)) == [
        date(2024, 1, 1),
        date(2024, 1, 31),
        date(2024, 2, 1),
        date(2024, 3, 1),  # 31 February and 1 March: one occurrence
        date(2024, 3, 31),
        date(2024, 4, 1),
    ]


def test_skip_omit_and_rules_without_a_month_day_are_plain_rfc_5545() -> None:
    omit = "RSCALE=GREGORIAN;FREQ=MONTHLY;BYMONTHDAY=31;COUNT=3;SKIP=OMIT"
    assert _dates(omit, date(2024, 1, 31)) == [
        date(2024, 1, 31),
        date(2024, 3, 31),
        date(2024, 5, 31),
    ]
    by_day = "RSCALE=GREGORIAN;FREQ=MONTHLY;BYDAY=-1FR;COUNT=2;SKIP=FORWARD"
    assert _dates(by_day, date(2024, 1, 26)) == [date(2024, 1, 26), date(2024, 2, 23)]


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        ("RSCALE=HEBREW;FREQ=YEARLY;BYMONTH=5L;BYMONTHDAY=6", "RSCALE=HEBREW"),
        ("RSCALE=CHINESE;FREQ=YEARLY", "only the Gregorian calendar"),
        ("RSCALE=GREGORIAN;FREQ=MONTHLY;BYMONTHDAY=31;BYSETPOS=1;SKIP=FORWARD", "BYSETPOS"),
        ("RSCALE=GREGORIAN;FREQ=MONTHLY;BYMONTHDAY=-31;SKIP=BACKWARD", "BYMONTHDAY=-31"),
        ("RSCALE=GREGORIAN;FREQ=YEARLY;SKIP=SIDEWAYS", "SKIP=SIDEWAYS"),
    ],
)
def test_what_rfc_7529_asks_beyond_that_is_refused_naming_it(rule: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_rule(rule, datetime(2024, 1, 31))

"""Stamping an original written by calsyncd: LAST-MODIFIED now, SEQUENCE up when rescheduled."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from calsyncd.model.event import CalendarObject, Event
from calsyncd.sync.stamping import stamped

NOW = datetime(2026, 12, 6, 15, 0, 0, 123456, tzinfo=UTC)
OLD = datetime(2025, 1, 1, tzinfo=UTC)
START = datetime(2031, 3, 10, 9, tzinfo=UTC)


def series() -> CalendarObject:
    master = Event(
        start=START,
        end=START + timedelta(hours=1),
        title="Review",
        rrules=("FREQ=WEEKLY;COUNT=5",),
        sequence=2,
        last_modified=OLD,
    )
    moved = replace(master, rrules=(), recurrence_id=START + timedelta(days=7), sequence=1)
    return CalendarObject("s@test", master, {START + timedelta(days=7): moved})


def test_nothing_changed_nothing_stamped() -> None:
    obj = series()
    assert stamped(obj, obj, NOW) == obj


def test_a_new_title_is_stamped_but_not_rescheduled() -> None:
    old = series()
    assert old.master is not None
    new = replace(old, master=replace(old.master, title="Review, agenda"))
    result = stamped(new, old, NOW)
    assert result.master is not None
    assert result.master.last_modified == NOW.replace(microsecond=0)
    assert result.master.sequence == 2
    assert result.overrides == old.overrides  # the untouched override keeps its metadata


def test_a_new_time_or_recurrence_raises_the_sequence() -> None:
    old = series()
    assert old.master is not None
    for change in (
        {"start": START + timedelta(hours=1)},
        {"end": START + timedelta(hours=2)},
        {"rrules": ("FREQ=WEEKLY;COUNT=6",)},
        {"exdates": (START + timedelta(days=14),)},
    ):
        new = replace(old, master=replace(old.master, **change))  # type: ignore[arg-type]
        result = stamped(new, old, NOW)
        assert result.master is not None
        assert result.master.sequence == 3, change


def test_a_new_override_is_a_rescheduled_occurrence() -> None:
    old = series()
    assert old.master is not None
    rid = START + timedelta(days=14)
    added = replace(old.master, rrules=(), recurrence_id=rid, start=rid + timedelta(hours=2))
    new = replace(old, overrides={**old.overrides, rid: added})
    result = stamped(new, old, NOW)
    assert result.overrides[rid].sequence == 3
    assert result.overrides[rid].last_modified == NOW.replace(microsecond=0)
    assert result.master == old.master


def test_the_sequence_never_goes_down() -> None:
    old = series()
    assert old.master is not None
    new = replace(old, master=replace(old.master, sequence=7, start=START + timedelta(hours=1)))
    result = stamped(new, old, NOW)
    assert result.master is not None
    assert result.master.sequence == 8

"""Comparing calendar objects strictly: ``==`` on datetimes compares instants only."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from calsyncd.model import CalendarObject, Event

DATA = Path(__file__).parent / "data"


def fixture(name: str) -> bytes:
    return (DATA / name).read_bytes()


def zone_view(tz: tzinfo | None) -> str | None:
    """``UTC`` only for :data:`datetime.UTC` itself, ``zoneinfo:KEY`` for IANA zones."""
    if tz is None:
        return None
    if tz is UTC:
        return "UTC"
    if isinstance(tz, ZoneInfo):
        return f"zoneinfo:{tz.key}"
    return f"other:{tz!r}"


def zone_of(value: object) -> str | None:
    """:func:`zone_view` of a datetime's zone; ``None`` for anything else."""
    return zone_view(value.tzinfo) if isinstance(value, datetime) else None


def when_view(value: object) -> object:
    """A date/datetime as (kind, wall time, zone); tuples element-wise; anything else as is."""
    if isinstance(value, datetime):
        wall = value.replace(tzinfo=None).isoformat()
        return ("datetime", wall, zone_view(value.tzinfo), value.fold)
    if isinstance(value, date):
        return ("date", value.isoformat())
    if isinstance(value, tuple):
        return tuple(when_view(item) for item in value)
    return value


def event_view(event: Event) -> dict[str, object]:
    return {f.name: when_view(getattr(event, f.name)) for f in fields(event)}


def object_view(obj: CalendarObject) -> dict[str, object]:
    return {
        "uid": obj.uid,
        "marker": obj.marker,
        "master": None if obj.master is None else event_view(obj.master),
        "overrides": sorted(
            (repr(when_view(rid)), event_view(event)) for rid, event in obj.overrides.items()
        ),
    }


def assert_identical(left: CalendarObject, right: CalendarObject) -> None:
    """Equal, and every datetime has the same wall time and the same zone name."""
    assert left == right
    assert object_view(left) == object_view(right)

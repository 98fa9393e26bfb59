"""A two-way rule between two real ``local`` calendar folders, through ``SyncService``.

Fifty events — a weekly New York series with one occurrence moved and one cancelled, an
all-day event, a New York event, the rest in Berlin — split over both folders. One cycle
makes both folders hold the same fifty objects field for field; a second cycle (after a
restart: a new service on the reopened state file) plans nothing and touches no file; edits
and deletes on either side propagate.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from conformance.samples import object_view

from calsyncd.config.connections import LocalConnection
from calsyncd.config.rules import Rule
from calsyncd.model.event import CalendarObject, Event, ShowAs, Status, Visibility
from calsyncd.model.ical import parse_object, serialize_object
from calsyncd.state.store import StateStore
from calsyncd.sync.engine import CycleResult
from calsyncd.sync.service import SyncService
from sync.helpers import identity
from sync.helpers import rule as make_rule

pytestmark = pytest.mark.anyio

NOW = datetime(2030, 6, 3, 12, 0, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
SERIES_UID = "weekly-review@e2e.example"
ALL_DAY_UID = "company-day@e2e.example"
NEW_YORK_UID = "new-york-call@e2e.example"


def weekly_series() -> CalendarObject:
    first = datetime(2030, 6, 4, 9, 0, tzinfo=NEW_YORK)
    week = timedelta(weeks=1)
    master = Event(
        start=first,
        end=first + timedelta(hours=1),
        title="Weekly review",
        location="Room 12",
        rrules=("FREQ=WEEKLY;COUNT=10;BYDAY=TU",),
        last_modified=datetime(2030, 5, 1, tzinfo=UTC),
    )
    moved_id = first + week
    moved = dataclasses.replace(
        master,
        start=moved_id + timedelta(days=1, hours=2),
        end=moved_id + timedelta(days=1, hours=3),
        recurrence_id=moved_id,
        title="Weekly review (moved to Wednesday)",
        rrules=(),
        sequence=1,
    )
    cancelled_id = first + 3 * week
    cancelled = dataclasses.replace(
        master,
        recurrence_id=cancelled_id,
        start=cancelled_id,
        end=cancelled_id + timedelta(hours=1),
        status=Status.CANCELLED,
        rrules=(),
        sequence=1,
    )
    return CalendarObject(
        uid=SERIES_UID, master=master, overrides={moved_id: moved, cancelled_id: cancelled}
    )


def fifty_events() -> list[CalendarObject]:
    objects = [
        weekly_series(),
        CalendarObject(
            uid=ALL_DAY_UID,
            master=Event(
                start=date(2030, 6, 20),
                end=date(2030, 6, 21),
                title="Company day",
                show_as=ShowAs.FREE,
                categories=("Company",),
            ),
        ),
        CalendarObject(
            uid=NEW_YORK_UID,
            master=Event(
                start=datetime(2030, 6, 12, 16, 30, tzinfo=NEW_YORK),
                end=datetime(2030, 6, 12, 17, 15, tzinfo=NEW_YORK),
                title="Call with New York",
                conference_url="https://meet.example/ny",
                reminders=(timedelta(minutes=10),),
            ),
        ),
    ]
    for n in range(47):
        start = datetime(2030, 6, 5, 8, 0, tzinfo=BERLIN) + timedelta(days=n, hours=n % 5)
        objects.append(
            CalendarObject(
                uid=f"event-{n:02d}@e2e.example",
                master=Event(
                    start=start,
                    end=start + timedelta(minutes=30 + 15 * (n % 4)),
                    title=f"Appointment {n} – Grüße",
                    description=f"Line one\nLine two of #{n}" if n % 2 else None,
                    location="Büro 3" if n % 3 == 0 else None,
                    categories=("Work", "Client") if n % 4 == 0 else (),
                    reminders=(timedelta(minutes=15),) if n % 5 == 0 else (),
                    visibility=Visibility.PRIVATE if n % 7 == 0 else Visibility.DEFAULT,
                    status=Status.TENTATIVE if n % 9 == 0 else Status.CONFIRMED,
                    url=f"https://example.org/e/{n}" if n % 6 == 0 else None,
                    last_modified=datetime(2030, 5, 1, tzinfo=UTC),
                ),
            )
        )
    return objects


def write_file(path: Path, obj: CalendarObject) -> None:
    """Write as another client would: a temp file renamed into place."""
    tmp = path.with_name(f".{path.name}.other-client")
    tmp.write_bytes(serialize_object(obj))
    os.replace(tmp, path)


def parsed(folder: Path) -> dict[str, tuple[Path, CalendarObject]]:
    """Every object of ``folder`` by its original's UID (a copy has a UID of its own)."""
    found: dict[str, tuple[Path, CalendarObject]] = {}
    for path in sorted(folder.glob("*.ics")):
        obj = parse_object(path.read_bytes(), source=str(path))
        uid = identity(obj)
        assert uid not in found, f"{uid} twice in {folder}"
        found[uid] = (path, obj)
    return found


def stats(*folders: Path) -> dict[Path, tuple[int, int, int]]:
    result = {}
    for folder in folders:
        for path in folder.iterdir():
            st = path.stat()
            result[path] = (st.st_mtime_ns, st.st_ino, st.st_size)
    return result


def differences(a: object, b: object, path: str = "") -> list[str]:
    """Where two nested dicts differ (for readable failures)."""
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted(set(a) | set(b), key=str):
            found += differences(a.get(key), b.get(key), f"{path}.{key}")
        return found
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def visible_ops(result: CycleResult) -> list[str]:
    assert result.plan is not None
    return [a["op"] for a in result.plan.actions()]


class Folders:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.a = root / "a"
        self.b = root / "b"
        self.state = root / "state" / "calsyncd.db"
        self.rule: Rule = make_rule(
            name="mirror",
            source={"connection": "cals", "calendar": "a"},
            target={"connection": "cals", "calendar": "b"},
            direction="two-way",
        )
        self.connections = {"cals": LocalConnection(type="local", path=root)}

    async def cycle(self) -> CycleResult:
        """One cycle by a fresh service on the reopened state file (as after a restart)."""
        store = StateStore.open(self.state)
        try:
            async with httpx.AsyncClient(trust_env=False) as http:
                service = SyncService(self.connections, store, http)
                result = await service.cycle(self.rule, now=NOW)
        finally:
            store.close()
        assert result.ok, result
        return result

    def same_on_both_sides(self) -> dict[str, tuple[Path, CalendarObject]]:
        on_a, on_b = parsed(self.a), parsed(self.b)
        assert sorted(on_a) == sorted(on_b)
        for uid, (_, obj) in on_a.items():
            # An original written back carries the time of that write (sync/stamping.py);
            # its copy keeps the time of the edit it came from.
            skip = {"uid", "marker", "last_modified", "sequence"}  # a copy has its own UID
            mine, theirs = object_view(obj, skip), object_view(on_b[uid][1], skip)
            assert mine == theirs, (uid, differences(mine, theirs))
            other = on_b[uid][1]
            assert (obj.marker is None) != (other.marker is None), uid  # an original, a copy
        return on_a


@pytest.fixture
def folders(tmp_path: Path) -> Folders:
    setup = Folders(tmp_path)
    setup.a.mkdir()
    setup.b.mkdir()
    for n, obj in enumerate(fifty_events()):
        folder = setup.a if n % 2 == 0 else setup.b  # originals on both sides
        write_file(folder / f"original-{n:02d}.ics", obj)
    return setup


async def test_fifty_events_two_way(folders: Folders) -> None:
    first = await folders.cycle()
    assert first.outcome.created == 50
    assert sorted(set(visible_ops(first))) == ["create"]
    on_a = folders.same_on_both_sides()
    assert len(on_a) == 50
    series = on_a[SERIES_UID][1]
    assert len(series.overrides) == 2
    assert {e.status for e in series.overrides.values()} == {Status.CONFIRMED, Status.CANCELLED}
    assert series.master is not None
    assert isinstance(series.master.start, datetime)
    assert getattr(series.master.start.tzinfo, "key", None) == "America/New_York"
    assert on_a[ALL_DAY_UID][1].first.all_day
    ny = on_a[NEW_YORK_UID][1].first.start
    assert isinstance(ny, datetime)
    assert getattr(ny.tzinfo, "key", None) == "America/New_York"
    assert ny.hour == 16

    # A second cycle, after a restart: nothing to do, no file touched.
    before = stats(folders.a, folders.b)
    second = await folders.cycle()
    assert visible_ops(second) == []
    assert second.outcome.created == second.outcome.updated == second.outcome.deleted == 0
    assert stats(folders.a, folders.b) == before


async def test_edits_and_deletes_propagate_both_ways(folders: Folders) -> None:
    await folders.cycle()
    on_a, on_b = parsed(folders.a), parsed(folders.b)
    # An original edited on a; a copy edited on b (its original is on a); an original on b.
    edits = {
        "event-00@e2e.example": (folders.a, "Renamed on a"),
        "event-02@e2e.example": (folders.b, "Renamed on b (copy)"),
        "event-01@e2e.example": (folders.b, "Renamed on b"),
    }
    for uid, (folder, title) in edits.items():
        path, obj = (on_a if folder == folders.a else on_b)[uid]
        assert obj.master is not None
        master = dataclasses.replace(
            obj.master, title=title, last_modified=datetime(2030, 6, 1, tzinfo=UTC)
        )
        write_file(path, dataclasses.replace(obj, master=master))
    # The series edited on its copy side: one more occurrence cancelled by an EXDATE.
    series_side = folders.b if on_a[SERIES_UID][1].marker is None else folders.a
    path, series = parsed(series_side)[SERIES_UID]
    assert series.master is not None
    exdate = datetime(2030, 7, 9, 9, 0, tzinfo=NEW_YORK)
    write_file(
        path,
        dataclasses.replace(
            series,
            master=dataclasses.replace(
                series.master,
                exdates=(exdate,),
                last_modified=datetime(2030, 6, 1, tzinfo=UTC),
            ),
        ),
    )
    result = await folders.cycle()
    assert result.outcome.updated == 4
    after = folders.same_on_both_sides()
    for uid, (_, title) in edits.items():
        assert after[uid][1].first.title == title
    assert after[SERIES_UID][1].first.exdates == (exdate,)
    assert visible_ops(await folders.cycle()) == []

    # Deletes: an original on a, a copy on b (original on a), a copy on a (original on b).
    deletions = [
        (on_a, "event-04@e2e.example"),
        (on_b, "event-06@e2e.example"),
        (on_a, "event-03@e2e.example"),
    ]
    for side, uid in deletions:
        side[uid][0].unlink()
    result = await folders.cycle()
    assert result.outcome.deleted == 3
    remaining = folders.same_on_both_sides()
    assert len(remaining) == 47
    assert not {uid for _, uid in deletions} & set(remaining)
    before = stats(folders.a, folders.b)
    assert visible_ops(await folders.cycle()) == []
    assert stats(folders.a, folders.b) == before


async def test_lost_state_database_adopts_every_copy(folders: Folders) -> None:
    await folders.cycle()
    before = stats(folders.a, folders.b)
    for path in folders.state.parent.iterdir():
        path.unlink()
    result = await folders.cycle()
    assert set(visible_ops(result)) == {"adopt"}
    assert len(visible_ops(result)) == 50
    assert stats(folders.a, folders.b) == before
    assert visible_ops(await folders.cycle()) == []

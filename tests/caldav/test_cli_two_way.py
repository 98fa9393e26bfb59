"""`calsyncd sync` between a Radicale and a Xandikos calendar, through the command line:
300 objects two-way with no field lost, edits and deletes both ways, crash safety."""

from __future__ import annotations

import os
import random
import signal
import time
import uuid
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from caldav.helpers import by_origin, delete, dump, etags, href_of, put_at, seed
from caldav.project import DavProject, make_project
from caldav.samples import objects, view
from caldav.servers import DavServer, storage
from calsyncd.model.event import CalendarObject

RULE = """
rules:
  - name: mirror
    source: {{connection: rad, calendar: {source}}}
    target: {{connection: xan, calendar: {target}}}
    direction: two-way
    window: {{past: 3650d, future: 3650d}}
    fields: {{attendees: keep}}
    conflict: newest-wins
"""
LATER = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture
def project(tmp_path: Path, radicale_server: DavServer, xandikos_server: DavServer) -> DavProject:
    return make_project(tmp_path / "project", radicale_server, xandikos_server)


def edit(obj: CalendarObject, **changes: object) -> CalendarObject:
    master = obj.master
    assert master is not None
    return replace(obj, master=replace(master, last_modified=LATER, **changes))  # type: ignore[arg-type]


def setup_pair(project: DavProject) -> tuple[str, str]:
    """A Radicale calendar named by display name (found by discovery) and a Xandikos one by
    path; returns both paths."""
    name = f"court-{uuid.uuid4().hex[:8]}"
    source = project.radicale.make_calendar(name, displayname=f"Court {name}")
    target = project.xandikos.make_calendar()
    project.write_rules(RULE.format(source=f"'Court {name}'", target=target))
    return source, target


def test_two_way_300_objects_edits_and_deletes(project: DavProject) -> None:
    rad, xan = project.radicale, project.xandikos
    source, target = setup_pair(project)
    rad_originals, xan_originals = objects(200, "rad"), objects(100, "xan", offset=200)
    seed(rad, source, rad_originals)
    seed(xan, target, xan_originals)

    assert "mirror: ok: 300 created, 0 updated, 0 deleted" in project.run("sync").stdout
    a, b = by_origin(dump(rad, source)), by_origin(dump(xan, target))
    originals = {o.uid: o for o in rad_originals + xan_originals}
    assert len(dump(rad, source)) == len(dump(xan, target)) == 300
    assert a.keys() == b.keys() == originals.keys()
    for uid, original in originals.items():
        assert view(a[uid]) == view(original), uid
        assert view(b[uid]) == view(original), uid
    assert all(b[o.uid].marker is not None for o in rad_originals)
    assert all(a[o.uid].marker is not None for o in xan_originals)

    assert "mirror: ok: 0 created, 0 updated, 0 deleted" in project.run("sync").stdout
    stamps = (etags(rad, source), etags(xan, target))
    assert project.run_json("plan") == {"rules": {"mirror": {"actions": [], "error": None}}}
    project.run("sync")
    assert (etags(rad, source), etags(xan, target)) == stamps

    # Edits on either side, of originals and of copies, flow to the other side.
    a_objs, b_objs = dump(rad, source), dump(xan, target)
    changes = {
        "rad-5@calsyncd.test": ("rad", {"title": "Renamed on Radicale"}),
        "rad-7@calsyncd.test": ("xan", {"location": "Moved on Xandikos"}),
        "xan-205@calsyncd.test": ("xan", {"title": "Renamed on Xandikos"}),
        "xan-207@calsyncd.test": ("rad", {"description": "Noted on Radicale"}),
    }
    for uid, (side, fields) in changes.items():
        server, objs = (rad, a_objs) if side == "rad" else (xan, b_objs)
        href = href_of(objs, uid)
        put_at(server, href, edit(objs[href], **fields))
    assert "mirror: ok: 0 created, 4 updated, 0 deleted" in project.run("sync").stdout
    a, b = by_origin(dump(rad, source)), by_origin(dump(xan, target))
    for uid, (_, fields) in changes.items():
        for side in (a, b):
            assert side[uid].master is not None
            for name, value in fields.items():
                assert getattr(side[uid].master, name) == value, (uid, name)

    # Deletes of an original and of a copy on either side propagate.
    a_objs, b_objs = dump(rad, source), dump(xan, target)
    delete(rad, href_of(a_objs, "rad-11@calsyncd.test"))  # an original
    delete(xan, href_of(b_objs, "rad-12@calsyncd.test"))  # a copy
    delete(xan, href_of(b_objs, "xan-211@calsyncd.test"))  # an original
    delete(rad, href_of(a_objs, "xan-212@calsyncd.test"))  # a copy
    assert "mirror: ok: 0 created, 0 updated, 4 deleted" in project.run("sync").stdout
    a, b = by_origin(dump(rad, source)), by_origin(dump(xan, target))
    assert a.keys() == b.keys()
    assert len(a) == 296
    gone = {"rad-11", "rad-12", "xan-211", "xan-212"}
    assert not {f"{g}@calsyncd.test" for g in gone} & a.keys()


def on_disk(project: DavProject, source: str, target: str) -> int:
    """Objects both calendars hold right now, read from the servers' storage (no request)."""
    count = 0
    for server, path in ((project.radicale, source), (project.xandikos, target)):
        name = path.rstrip("/").rsplit("/", 1)[1]
        count += sum(1 for _ in (storage(server.kind, server.folder) / name).glob("*.ics"))
    return count


def kill_mid_sync(
    project: DavProject, calendars: tuple[str, str], rng: random.Random, copies: int
) -> int | None:
    """Start a sync and SIGKILL it once it made a random number of copies (or after a random
    time); how many objects existed when it died (``None``: it finished first)."""
    process = project.start("sync")
    threshold = on_disk(project, *calendars) + rng.randrange(5, copies // 3)
    deadline = time.monotonic() + rng.uniform(4.0, 12.0)
    killed = None
    try:
        while process.poll() is None:
            made = on_disk(project, *calendars)
            if made >= threshold or time.monotonic() > deadline:
                os.kill(process.pid, signal.SIGKILL)
                killed = made
                break
            time.sleep(0.005)
    finally:
        process.wait(timeout=60)
    return killed


def assert_one_copy_each(
    objects_here: dict[str, CalendarObject], originals_there: list[CalendarObject]
) -> None:
    origins = Counter(o.marker.origin for o in objects_here.values() if o.marker is not None)
    assert set(origins) == {o.uid for o in originals_there}
    assert max(origins.values()) == 1


def test_sigkill_during_initial_sync_then_lost_state_database(project: DavProject) -> None:
    source, target = setup_pair(project)
    rad_originals, xan_originals = objects(200, "krad"), objects(100, "kxan", offset=200)
    seed(project.radicale, source, rad_originals)
    seed(project.xandikos, target, xan_originals)
    total = len(rad_originals) + len(xan_originals)

    rng = random.Random(20261121)
    kills = [kill_mid_sync(project, (source, target), rng, total) for _ in range(3)]
    assert any(k is not None and total < k < 2 * total for k in kills), kills
    project.run("sync")

    def check() -> None:
        a, b = dump(project.radicale, source), dump(project.xandikos, target)
        assert len(a) == len(b) == total
        assert_one_copy_each(a, xan_originals)
        assert_one_copy_each(b, rad_originals)

    check()
    assert "mirror: ok: 0 created, 0 updated, 0 deleted" in project.run("sync").stdout

    stamps = (etags(project.radicale, source), etags(project.xandikos, target))
    for leftover in project.state.parent.glob("calsyncd.db*"):
        leftover.unlink()
    assert "mirror: ok: 0 created, 0 updated, 0 deleted" in project.run("sync").stdout
    check()
    assert (etags(project.radicale, source), etags(project.xandikos, target)) == stamps
    assert project.run_json("plan")["rules"]["mirror"]["actions"] == []

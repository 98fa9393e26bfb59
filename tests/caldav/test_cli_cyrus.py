"""`calsyncd sync` with Cyrus IMAP's CalDAV on one side, through the command line: two-way
with Radicale with no field lost, edits and deletes both ways; an object Cyrus refuses is an
error of that object, named, while the rest of the calendar syncs; two calendars of one
account blocking each other two-way, after an upgrade that lost its state database.

(One-way busy blocks and full copies within one account, two-way full copies, and the upgrade
with its state database kept: ``test_copy_identity.py``.)"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sync.old_version import run_old_version

from caldav.helpers import by_origin, delete, dump, etags, event, href_of, put_at, seed
from caldav.project import PASSWORD_ENV, DavProject, make_project
from caldav.samples import objects, view
from caldav.servers import PASSWORD, DavServer
from calsyncd.model.event import CalendarObject
from calsyncd.model.ical import serialize_object

TWO_WAY = """
rules:
  - name: mirror
    source: {{connection: cyr, calendar: {source}}}
    target: {{connection: rad, calendar: {target}}}
    direction: two-way
    window: {{past: 3650d, future: 3650d}}
    fields: {{attendees: keep}}
    conflict: newest-wins
"""
INTO_CYRUS = """
rules:
  - name: up
    source: {{connection: loc, calendar: notes}}
    target: {{connection: cyr, calendar: {target}}}
    window: {{past: 3650d, future: 3650d}}
"""
LATER = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture
def project(
    tmp_path: Path,
    radicale_server: DavServer,
    xandikos_server: DavServer,
    cyrus_server: DavServer,
) -> DavProject:
    return make_project(tmp_path / "project", radicale_server, xandikos_server, cyrus_server)


def cyrus(project: DavProject) -> DavServer:
    assert project.cyrus is not None
    return project.cyrus


def edit(obj: CalendarObject, **changes: object) -> CalendarObject:
    assert obj.master is not None
    return replace(obj, master=replace(obj.master, last_modified=LATER, **changes))  # type: ignore[arg-type]


def test_two_way_between_cyrus_and_radicale(project: DavProject) -> None:
    cyr, rad = cyrus(project), project.radicale
    tag = uuid.uuid4().hex[:8]
    source, target = cyr.make_calendar(f"court-{tag}"), rad.make_calendar()
    project.write_rules(TWO_WAY.format(source=f"court-{tag}", target=target))
    on_cyrus, on_radicale = objects(40, f"c{tag}"), objects(20, f"r{tag}", offset=40)
    seed(cyr, source, on_cyrus)
    seed(rad, target, on_radicale)

    assert "mirror: ok: 60 created, 0 updated, 0 deleted" in project.run("sync").stdout
    a, b = by_origin(dump(cyr, source)), by_origin(dump(rad, target))
    originals = {o.uid: o for o in on_cyrus + on_radicale}
    assert len(dump(cyr, source)) == len(dump(rad, target)) == 60
    assert a.keys() == b.keys() == originals.keys()
    for uid, original in originals.items():
        assert view(a[uid]) == view(original), uid
        assert view(b[uid]) == view(original), uid

    stamps = (etags(cyr, source), etags(rad, target))
    assert "mirror: ok: 0 created, 0 updated, 0 deleted" in project.run("sync").stdout
    assert (etags(cyr, source), etags(rad, target)) == stamps

    # Edits of originals and of copies on either side, and deletes, flow to the other side.
    a_objs, b_objs = dump(cyr, source), dump(rad, target)
    changes = {
        f"c{tag}-5@calsyncd.test": (cyr, a_objs, {"title": "Renamed on Cyrus"}),
        f"c{tag}-7@calsyncd.test": (rad, b_objs, {"location": "Moved on Radicale"}),
        f"r{tag}-45@calsyncd.test": (cyr, a_objs, {"description": "Noted on Cyrus"}),
    }
    for uid, (server, objs, fields) in changes.items():
        href = href_of(objs, uid)
        put_at(server, href, edit(objs[href], **fields))
    delete(cyr, href_of(a_objs, f"c{tag}-11@calsyncd.test"))  # an original
    delete(cyr, href_of(a_objs, f"r{tag}-42@calsyncd.test"))  # a copy
    out = project.run("sync").stdout
    assert "mirror: ok: 0 created, 3 updated, 2 deleted" in out
    a, b = by_origin(dump(cyr, source)), by_origin(dump(rad, target))
    assert a.keys() == b.keys()
    assert len(a) == 58
    for uid, (_, _, fields) in changes.items():
        for side in (a, b):
            master = side[uid].master
            assert master is not None
            for name, value in fields.items():
                assert getattr(master, name) == value, (uid, name)
    assert project.run_json("plan") == {"rules": {"mirror": {"actions": [], "error": None}}}


def test_an_object_cyrus_refuses_is_named_and_the_rest_syncs(project: DavProject) -> None:
    """Cyrus refuses an event that ends before it starts (``valid-calendar-data``), which
    calsyncd and other servers take: that copy fails alone, by name, every cycle."""
    cyr = cyrus(project)
    target = cyr.make_calendar()
    project.write_rules(INTO_CYRUS.format(target=target))
    notes = project.folder("notes")
    notes.mkdir(parents=True)
    fine = [event(f"fine-{n}@x.example", f"Fine {n}", day=n) for n in range(3)]
    start = datetime(2030, 5, 6, 10, tzinfo=UTC)
    backwards = event("backwards@x.example", "Ends before it starts")
    assert backwards.master is not None
    backwards = replace(
        backwards, master=replace(backwards.master, start=start, end=start - timedelta(hours=1))
    )
    for obj in [*fine, backwards]:
        (notes / f"{obj.uid}.ics").write_bytes(serialize_object(obj))

    for _ in range(2):
        done = project.run("sync", check=1)
        assert done.stdout.splitlines()[0].startswith("up: 1 items failed: ")
        assert "access denied" not in done.stdout + done.stderr
        skipped = [line for line in done.stderr.splitlines() if line.startswith("  skipped:")]
        assert len(skipped) == 1, done.stderr
        assert "backwards@x.example'" in skipped[0]  # the UID of the copy's original
        assert "the server found its iCalendar data invalid (valid-calendar-data)" in skipped[0]
        logged = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
        assert any(entry.get("title") == "Ends before it starts" for entry in logged), logged
    copies = by_origin(dump(cyr, target))
    assert sorted(copies) == sorted(o.uid for o in fine)


def leaked(blocks: list[CalendarObject], originals: list[CalendarObject]) -> list[str]:
    """The UIDs, titles, descriptions and locations of ``originals`` found in ``blocks``."""
    text = "".join(serialize_object(b).decode() for b in blocks)
    words = {o.uid for o in originals} | {
        v for o in originals for e in o.events for v in (e.title, e.description, e.location) if v
    }
    return sorted(w for w in words if w in text)


BLOCK_EACH_OTHER = """
rules:
  - name: blocks
    source: {{connection: cyr, calendar: {work}}}
    target: {{connection: cyr, calendar: {family}}}
    direction: two-way
    fields: busy-block
    window: {{past: 3650d, future: 3650d}}
  - name: mirror
    source: {{connection: rad, calendar: {cases}}}
    target: {{connection: cyr, calendar: {home}}}
    direction: two-way
    window: {{past: 3650d, future: 3650d}}
"""


def test_two_way_busy_blocks_in_one_account_after_an_upgrade_that_lost_its_database(
    project: DavProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The version before own UIDs: every busy block between two calendars of one Cyrus
    account refused; full copies between Radicale and Cyrus made with their originals' UIDs.
    Upgraded with the state database lost: the blocks are made, the old copies adopted by
    their marker and not rewritten, one copy of each original everywhere."""
    cyr, rad = cyrus(project), project.radicale
    tag = uuid.uuid4().hex[:8]
    paths = {name: cyr.make_calendar() for name in ("work", "family", "home")}
    paths["cases"] = rad.make_calendar()
    try:
        work, family = objects(5, f"w{tag}"), objects(3, f"f{tag}", offset=5)
        cases, home = objects(4, f"c{tag}", offset=8), objects(2, f"h{tag}", offset=12)
        seed(cyr, paths["work"], work)
        seed(cyr, paths["family"], family)
        seed(rad, paths["cases"], cases)
        seed(cyr, paths["home"], home)
        project.write_rules(BLOCK_EACH_OTHER.format(**paths))
        monkeypatch.setenv(PASSWORD_ENV, PASSWORD)

        old = {r.rule: r for r in run_old_version(project.config, project.state)}
        assert len(old["blocks"].outcome.item_errors) == 8
        assert all("once per account" in m for m in old["blocks"].outcome.item_errors)
        assert old["mirror"].ok
        mirrored = (etags(rad, paths["cases"]), etags(cyr, paths["home"]))
        for leftover in project.state.parent.glob("calsyncd.db*"):
            leftover.unlink()

        out = project.run("sync").stdout
        assert "blocks: ok: 8 created, 0 updated, 0 deleted" in out, out
        assert "mirror: ok: 0 created, 0 updated, 0 deleted" in out, out
        for side, originals, theirs in (("work", work, family), ("family", family, work)):
            found = dump(cyr, paths[side])
            assert len(found) == len(originals) + len(theirs)
            blocks = [o for o in found.values() if o.marker is not None]
            assert len(blocks) == len(theirs)
            assert all(b.marker is not None and b.marker.is_anonymous for b in blocks)
            # Nothing of the original: no UID, title, description or location. (Blocks made
            # backwards, from family to work, have no title at all: reverse copies use
            # reverse_fields, and a busy block keeps no field forward; see docs/sync.md.)
            assert {e.title for b in blocks for e in b.events} <= {"Busy", None}
            assert leaked(blocks, theirs) == []
        assert (etags(rad, paths["cases"]), etags(cyr, paths["home"])) == mirrored
        for side, server, originals in (("cases", rad, home), ("home", cyr, cases)):
            copies = [o for o in dump(server, paths[side]).values() if o.marker is not None]
            assert sorted(c.marker.origin or "" for c in copies if c.marker) == sorted(
                o.uid for o in originals
            )

        stamps = {name: etags(rad if name == "cases" else cyr, p) for name, p in paths.items()}
        again = project.run("sync").stdout
        assert again.count("ok: 0 created, 0 updated, 0 deleted") == 2, again
        assert {
            name: etags(rad if name == "cases" else cyr, p) for name, p in paths.items()
        } == stamps
    finally:
        for name in ("work", "family", "home"):
            cyr.remove_calendar(paths[name])

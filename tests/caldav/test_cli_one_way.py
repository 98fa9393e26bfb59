"""`calsyncd sync` one way from a CalDAV calendar to a local folder, and from a local folder
to a CalDAV calendar, through the command line."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from caldav.helpers import by_origin, delete, dump, href_of, put_at, seed
from caldav.project import DavProject, make_project
from caldav.samples import objects, view
from caldav.servers import DavServer
from calsyncd.model.event import CalendarObject
from calsyncd.model.ical import parse_object, serialize_object

RULES = """
rules:
  - name: down
    source: {{connection: rad, calendar: {source}}}
    target: {{connection: loc, calendar: mirror}}
    window: {{past: 3650d, future: 3650d}}
    fields: {{attendees: keep}}
  - name: up
    source: {{connection: loc, calendar: notes}}
    target: {{connection: xan, calendar: {target}}}
    window: {{past: 3650d, future: 3650d}}
    fields: {{attendees: keep}}
"""
LATER = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture
def project(tmp_path: Path, radicale_server: DavServer, xandikos_server: DavServer) -> DavProject:
    return make_project(tmp_path / "project", radicale_server, xandikos_server)


def local(project: DavProject, name: str) -> dict[str, CalendarObject]:
    folder = project.folder(name)
    return {p.name: parse_object(p.read_bytes(), source=p.name) for p in folder.glob("*.ics")}


def retitled(obj: CalendarObject, title: str) -> CalendarObject:
    assert obj.master is not None
    return replace(obj, master=replace(obj.master, title=title, last_modified=LATER))


def test_caldav_to_local_folder_and_back(project: DavProject) -> None:
    rad, xan = project.radicale, project.xandikos
    source = rad.make_calendar(f"down-{uuid.uuid4().hex[:8]}")
    target = xan.make_calendar()
    project.write_rules(RULES.format(source=source, target=target))
    down, up = objects(40, "down"), objects(20, "up", offset=40)
    seed(rad, source, down)
    project.folder("notes").mkdir(parents=True)
    for obj in up:
        (project.folder("notes") / f"{obj.uid}.ics").write_bytes(serialize_object(obj))

    out = project.run("sync").stdout
    assert "down: ok: 40 created" in out
    assert "up: ok: 20 created" in out
    mirror, copies = by_origin(local(project, "mirror")), by_origin(dump(xan, target))
    assert {uid: view(o) for uid, o in mirror.items()} == {o.uid: view(o) for o in down}
    assert {uid: view(o) for uid, o in copies.items()} == {o.uid: view(o) for o in up}

    # Edits and deletes at the sources propagate; a copy edited on the target is put back.
    rad_objs = dump(rad, source)
    first, second = (
        href_of(rad_objs, "down-3@calsyncd.test"),
        href_of(rad_objs, "down-4@calsyncd.test"),
    )
    put_at(rad, first, retitled(rad_objs[first], "Edited on Radicale"))
    delete(rad, second)
    notes = project.folder("notes")
    (notes / "up-43@calsyncd.test.ics").write_bytes(
        serialize_object(retitled(local(project, "notes")["up-43@calsyncd.test.ics"], "Edited"))
    )
    (notes / "up-44@calsyncd.test.ics").unlink()
    xan_objs = dump(xan, target)
    tampered = href_of(xan_objs, "up-45@calsyncd.test")
    put_at(xan, tampered, retitled(xan_objs[tampered], "Changed on the copy"))

    project.run("sync")
    mirror, copies = by_origin(local(project, "mirror")), by_origin(dump(xan, target))
    assert mirror["down-3@calsyncd.test"].first.title == "Edited on Radicale"
    assert "down-4@calsyncd.test" not in mirror
    assert len(mirror) == 39
    assert copies["up-43@calsyncd.test"].first.title == "Edited"
    assert "up-44@calsyncd.test" not in copies
    assert view(copies["up-45@calsyncd.test"]) == view(up[5])
    assert len(copies) == 19
    assert project.run_json("plan") == {
        "rules": {
            "down": {"actions": [], "error": None},
            "up": {"actions": [], "error": None},
        }
    }

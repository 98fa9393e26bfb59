"""`calsyncd sync`, `plan`, `status`, `conflicts` and `resolve` through the real command line,
on local calendar folders."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from calsyncd.model.event import CalendarObject, Event
from cli.conftest import Project
from cli.samples import content, fifty_objects

TWO_WAY = """
rules:
  - name: mirror
    source: {{connection: loc, calendar: a}}
    target: {{connection: loc, calendar: b}}
    direction: two-way
    window: {{past: 3650d, future: 3650d}}
    fields: {{attendees: keep}}
    conflict: {conflict}
"""


def by_origin(objects: dict[str, CalendarObject]) -> dict[str, CalendarObject]:
    """Originals by UID and copies by the UID of their original."""
    return {(o.marker.origin if o.marker else o.uid): o for o in objects.values()}


def edit(obj: CalendarObject, when: datetime, **changes: object) -> CalendarObject:
    master = obj.master
    assert master is not None
    return replace(obj, master=replace(master, last_modified=when, **changes))  # type: ignore[arg-type]


def seed(project: Project, conflict: str = "newest-wins") -> list[CalendarObject]:
    project.write_rules(TWO_WAY.format(conflict=conflict))
    objects = fifty_objects()
    for i, obj in enumerate(objects):
        project.put("a", f"o{i:02}.ics", obj)
    project.calendar("b").mkdir()
    return objects


def test_two_way_fifty_objects_field_for_field_then_nothing_to_do(project: Project) -> None:
    originals = seed(project)
    project.run("sync")
    a, b = by_origin(project.objects("a")), by_origin(project.objects("b"))
    assert len(b) == 50 == len(project.objects("b"))
    assert a.keys() == b.keys() == {o.uid for o in originals}
    for uid, original in a.items():
        assert content(b[uid]) == content(original), uid
        assert b[uid].marker is not None
        assert b[uid].marker.rule == "mirror"
    series = b["series-review@firm.example"]
    assert series.master is not None
    assert len(series.overrides) == 1
    assert series.master.exdates
    assert series.master.start.tzinfo.key == "Europe/Berlin"

    stamps = (project.stamps("a"), project.stamps("b"))
    assert "mirror: ok: 0 created, 0 updated, 0 deleted" in project.run("sync").stdout
    assert project.run_json("plan") == {"rules": {"mirror": {"actions": [], "error": None}}}
    project.run("sync")
    assert (project.stamps("a"), project.stamps("b")) == stamps


def test_edits_and_deletes_propagate_both_ways(project: Project) -> None:
    seed(project)
    project.run("sync")
    later = datetime(2026, 11, 20, tzinfo=UTC)
    a_name = "o05.ics"
    original = project.objects("a")[a_name]
    project.put("a", a_name, edit(original, later, title="Renamed at the source"))
    copies = {o.marker.origin: name for name, o in project.objects("b").items() if o.marker}
    other_copy = copies["appt-10@firm.example"]
    copy = project.objects("b")[other_copy]
    project.put("b", other_copy, edit(copy, later, location="Moved on the target"))

    project.run("sync")
    b = by_origin(project.objects("b"))
    a = by_origin(project.objects("a"))
    assert b[original.uid].first.title == "Renamed at the source"
    assert a["appt-10@firm.example"].first.location == "Moved on the target"

    (project.calendar("a") / a_name).unlink()
    (project.calendar("b") / other_copy).unlink()
    project.run("sync")
    a = by_origin(project.objects("a"))
    b = by_origin(project.objects("b"))
    assert original.uid not in b
    assert "appt-10@firm.example" not in a
    assert a.keys() == b.keys()
    assert len(a) == 48


def test_merge_keeps_edits_of_different_fields(project: Project) -> None:
    seed(project, conflict="merge")
    project.run("sync")
    later = datetime(2026, 11, 20, tzinfo=UTC)
    name = "o07.ics"
    original = project.objects("a")[name]
    project.put("a", name, edit(original, later, title="Title from the source"))
    copy_name = next(
        n for n, o in project.objects("b").items() if o.marker and o.marker.origin == original.uid
    )
    copy = project.objects("b")[copy_name]
    project.put("b", copy_name, edit(copy, later, location="Location from the target"))

    project.run("sync")
    for side in ("a", "b"):
        merged = by_origin(project.objects(side))[original.uid].first
        assert (merged.title, merged.location) == (
            "Title from the source",
            "Location from the target",
        )


def test_manual_holds_both_versions_until_resolved(project: Project) -> None:
    seed(project, conflict="manual")
    project.run("sync")
    later = datetime(2026, 11, 20, tzinfo=UTC)
    name = "o08.ics"
    original = project.objects("a")[name]
    project.put("a", name, edit(original, later, title="Source version"))
    copy_name = next(
        n for n, o in project.objects("b").items() if o.marker and o.marker.origin == original.uid
    )
    project.put(
        "b", copy_name, edit(project.objects("b")[copy_name], later, title="Target version")
    )

    project.run("sync")
    assert project.objects("a")[name].first.title == "Source version"
    assert project.objects("b")[copy_name].first.title == "Target version"
    held = project.run_json("conflicts")["conflicts"]
    assert len(held) == 1
    assert held[0]["source"]["title"] == "Source version"
    assert held[0]["target"]["title"] == "Target version"
    assert project.run_json("status")["rules"]["mirror"]["counts"]["conflicts"] == 1

    project.run("resolve", "mirror", held[0]["item"], "--take", "target")
    assert project.objects("a")[name].first.title == "Target version"
    assert project.objects("b")[copy_name].first.title == "Target version"
    assert project.run_json("conflicts") == {"conflicts": []}
    assert project.run_json("plan")["rules"]["mirror"]["actions"] == []


def test_busy_block_copies_reveal_nothing_but_time(project: Project) -> None:
    project.write_rules(
        "rules:\n  - name: busy\n    source: {connection: loc, calendar: work}\n"
        "    target: {connection: loc, calendar: home}\n    fields: busy-block\n"
        "    window: {past: 3650d, future: 3650d}\n"
    )
    originals = fifty_objects()
    for i, obj in enumerate(originals):
        project.put("work", f"w{i}.ics", obj)
    project.run("sync")
    copies = project.objects("home")
    assert len(copies) == 50
    for copy in copies.values():
        for event in copy.events:
            assert event.title == "Busy"
            assert (event.description, event.location, event.url) == (None, None, None)
            assert (event.attendees, event.organizer, event.categories) == ((), None, ())
            assert event.show_as.value == "busy"
            assert event.visibility.value == "private"
    text = b"".join(p.read_bytes() for p in project.calendar("home").glob("*.ics"))
    for secret in (b"Case 10", b"Office", b"client@example.org", b"cases.example"):
        assert secret not in text


def test_mass_delete_is_held_until_allowed(project: Project) -> None:
    project.write_rules(
        "rules:\n  - name: guarded\n    source: {connection: loc, calendar: a}\n"
        "    target: {connection: loc, calendar: b}\n    window: {past: 3650d, future: 3650d}\n"
    )
    for i in range(10):
        start = datetime(2027, 1, 1 + i, 9, tzinfo=UTC)
        project.put("a", f"e{i}.ics", CalendarObject(f"e{i}", Event(start=start, title=f"E{i}")))
    project.run("sync")
    assert len(project.objects("b")) == 10
    for i in range(8):
        (project.calendar("a") / f"e{i}.ics").unlink()

    held = project.run("sync", check=1)
    assert "held" in held.stdout
    assert "--allow-mass-delete" in held.stdout
    assert len(project.objects("b")) == 10
    status = project.run_json("status")["rules"]["guarded"]
    assert status["state"] == "held"
    assert "8 deletions" in status["last_error"]
    plan = project.run_json("plan")["rules"]["guarded"]["actions"]
    assert [a["op"] for a in plan] == ["hold"]

    project.run("sync", "--allow-mass-delete")
    assert len(project.objects("b")) == 2
    assert project.run_json("status")["rules"]["guarded"]["state"] == "ok"


def test_plan_writes_nothing_and_prints_the_contract_document(project: Project) -> None:
    seed(project)
    before = project.stamps("a")
    document = project.run_json("plan")
    actions = document["rules"]["mirror"]["actions"]
    assert len(actions) == 50
    assert {a["op"] for a in actions} == {"create"}
    assert {a["side"] for a in actions} == {"target"}
    first = next(a for a in actions if a["title"] == "Hearing in New York")
    assert first["start"] == "2027-03-15T14:00-04:00"
    assert set(first) == {"op", "side", "item", "title", "start", "fields"}
    assert not project.state.exists()
    assert project.objects("b") == {}
    assert project.stamps("a") == before
    human = project.run("plan").stdout
    assert human.startswith("mirror: 50 create")
    assert "Hearing in New York" in human


def test_unknown_rule_and_broken_config_are_one_line_errors(project: Project) -> None:
    seed(project)
    done = project.run("sync", "--rule", "nope", check=1)
    assert done.stderr.strip() == "no rule named 'nope' (rules: mirror)"
    (project.root / "rules" / "rules.yaml").write_text("rules:\n  - name: x\n    sorce: {}\n")
    done = project.run("sync", check=1)
    assert "rules.yaml:3:5:" in done.stderr


def test_malformed_file_is_skipped_by_name_and_the_rest_syncs(project: Project) -> None:
    seed(project)
    (project.calendar("a") / "broken.ics").write_text("BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:x\n")
    done = project.run("sync")
    assert "broken.ics" in done.stderr
    assert len(project.objects("b")) == 50
    again = project.run("sync")
    assert "broken.ics" in again.stderr
    assert len(project.objects("b")) == 50


def test_unreachable_server_fails_its_rule_only(project: Project) -> None:
    project.write_rules(
        "  down: {type: ics, url: 'http://127.0.0.1:9/feed.ics'}\n"
        "rules:\n"
        "  - name: from-down\n    source: {connection: down}\n"
        "    target: {connection: loc, calendar: b}\n"
        "  - name: fine\n    source: {connection: loc, calendar: a}\n"
        "    target: {connection: loc, calendar: c}\n    window: {past: 3650d, future: 3650d}\n"
    )
    start = datetime(2027, 1, 1, 9, tzinfo=UTC)
    project.put("a", "e.ics", CalendarObject("e", Event(start=start, title="E")))
    done = project.run("sync", check=1)
    lines = done.stdout.splitlines()
    assert lines[0].startswith("from-down: failed: down: ")
    assert "127.0.0.1:9" in lines[0]
    assert lines[1] == "fine: ok: 1 created, 0 updated, 0 deleted"
    assert project.run_json("status")["rules"]["from-down"]["state"] == "error"

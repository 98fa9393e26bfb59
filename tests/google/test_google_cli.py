"""Google ↔ local through the real command line (``calsyncd sync`` in a subprocess) against the
emulator: a series with a moved and a cancelled occurrence, an all-day and a zoned event
make the trip Google → local folder → Google without a field changing."""

from __future__ import annotations

from dataclasses import replace

from cli.conftest import Project
from emulators.fixtures import USER, GoogleSetup
from emulators.google import foreign
from google_helpers import (
    WRITES,
    origin_uid,
    read_google,
    stored_events,
    trip_objects,
    view,
    write_rules,
)

from calsyncd.model.ical import serialize_object

TWO_WAY = f"""
rules:
  - name: mirror
    source: {{connection: gcal, calendar: {USER}}}
    target: {{connection: loc, calendar: mirror}}
    direction: two-way
    window: {{past: 3650d, future: 3650d}}
    fields: {{attendees: keep}}
"""

CHAIN = f"""
rules:
  - name: out
    source: {{connection: gcal, calendar: {USER}}}
    target: {{connection: loc, calendar: mirror}}
    window: {{past: 3650d, future: 3650d}}
    fields: {{attendees: keep}}
    uid: keep
  - name: back
    source: {{connection: loc, calendar: import}}
    target: {{connection: gcal, calendar: back@example.com}}
    window: {{past: 3650d, future: 3650d}}
    fields: {{attendees: keep}}
"""


def seed(google: GoogleSetup) -> dict[str, str]:
    return {
        obj.uid: foreign.seed(google.emulator.store, google.calendar_id, obj)
        for obj in trip_objects()
    }


def test_two_way_copies_every_field_and_a_second_cycle_writes_nothing(
    project: Project, google: GoogleSetup
) -> None:
    seed(google)
    write_rules(project, google, TWO_WAY)
    project.run("sync")
    originals = read_google(google)
    copies = {origin_uid(o): o for o in project.objects("mirror").values()}
    assert copies.keys() == originals.keys() == {o.uid for o in trip_objects()}
    for uid, item in originals.items():
        assert view(copies[uid]) == view(item.obj), uid
        assert copies[uid].marker is not None
    series = copies["series-trip@firm.example"]
    assert len(series.overrides) == 2
    for obj in trip_objects():  # and Google kept what the other client wrote
        assert view(originals[obj.uid].obj) == view(obj)

    before = stored_events(google)
    google.emulator.reset_log()
    assert "mirror: ok: 0 created, 0 updated, 0 deleted" in project.run("sync").stdout
    assert stored_events(google) == before
    operations = google.emulator.operations()
    assert operations["events.list"] == 1, operations
    assert not any(operations[w] for w in WRITES), operations


def test_an_edit_of_the_copy_changes_only_that_field_on_google(
    project: Project, google: GoogleSetup
) -> None:
    ids = seed(google)
    write_rules(project, google, TWO_WAY)
    project.run("sync")
    before = stored_events(google)
    name, copy = next(
        (n, o)
        for n, o in project.objects("mirror").items()
        if origin_uid(o) == "zoned-trip@firm.example"
    )
    assert copy.master is not None
    edited = replace(copy, master=replace(copy.master, location="Room 12, City Civil Court"))
    (project.calendar("mirror") / name).write_bytes(serialize_object(edited))
    assert "1 updated" in project.run("sync").stdout
    after = stored_events(google)
    event_id = ids["zoned-trip@firm.example"]
    changed = {
        k
        for k in before[event_id].keys() | after[event_id].keys()
        if before[event_id].get(k) != after[event_id].get(k)
    }
    assert changed == {"location", "etag", "updated", "extendedProperties"}
    assert after[event_id]["location"] == "Room 12, City Civil Court"
    assert {k: v for k, v in after.items() if k != event_id} == {
        k: v for k, v in before.items() if k != event_id
    }
    writes = [r for r in google.emulator.requests if r.operation in WRITES]
    assert writes
    assert all(r.query.get("sendUpdates") == ["none"] for r in writes)


def test_google_to_local_to_google_round_trip_is_unchanged(
    project: Project, google: GoogleSetup
) -> None:
    """Out to a folder, imported from there (as a person would: markers gone) into another
    Google calendar, and every object there says what the first calendar says."""
    google.emulator.add_calendar("back@example.com", time_zone="America/New_York")
    seed(google)
    write_rules(project, google, CHAIN)
    project.run("sync", "--rule", "out")
    imported = project.calendar("import")
    imported.mkdir()
    for name, obj in project.objects("mirror").items():
        (imported / name).write_bytes(serialize_object(obj.with_marker(None)))
    project.run("sync", "--rule", "back")
    first = read_google(google)
    second = read_google(google, "back@example.com")
    assert first.keys() == second.keys() == {o.uid for o in trip_objects()}
    for uid in first:
        assert view(second[uid].obj) == view(first[uid].obj), uid
        assert second[uid].obj.marker is not None
        assert second[uid].obj.marker.rule == "back"
    assert len(second["series-trip@firm.example"].obj.overrides) == 2

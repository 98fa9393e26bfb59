"""Google → CalDAV (Radicale) → Google through the real command line (``calsyncd sync`` in a
subprocess): a series with a moved and a cancelled occurrence, an all-day and a zoned event
come back to Google as they left it, field by field, zone names included."""

from __future__ import annotations

import json

import pytest
from caldav.fixtures import radicale_server
from caldav.helpers import dump, put
from caldav.project import PASSWORD_ENV
from caldav.servers import PASSWORD, DavServer
from caldav.servers import USER as DAV_USER
from cli.conftest import Project
from conformance import test_google as google_conformance
from conformance.samples import object_view
from emulators.fixtures import USER, GoogleSetup
from emulators.google import foreign
from google_helpers import read_google, stored_events, trip_objects, write_rules

from calsyncd.model.event import CalendarObject
from calsyncd.providers.base import Item

__all__ = ["radicale_server"]  # the fixture used below

UNSUPPORTED = google_conformance.TestGoogleCalendar.unsupported_fields
"""Model fields Google does not store as given: the only ones allowed to differ."""
BACK = "back@example.com"


def chain(mirror: str, imported: str) -> str:
    """Google → ``mirror`` (copies, with markers, keeping the UIDs); ``imported`` (the same
    objects without them) → the other Google calendar."""
    return f"""
rules:
  - name: out
    source: {{connection: gcal, calendar: {USER}}}
    target: {{connection: rad, calendar: {mirror}}}
    window: {{past: 3650d, future: 3650d}}
    fields: {{attendees: keep}}
    uid: keep
  - name: back
    source: {{connection: rad, calendar: {imported}}}
    target: {{connection: gcal, calendar: {BACK}}}
    window: {{past: 3650d, future: 3650d}}
    fields: {{attendees: keep}}
"""


def view(obj: CalendarObject) -> dict[str, object]:
    """Every field Google keeps (times as wall time + zone name), not the copy marker (nor
    the UID, which a copy has of its own)."""
    return object_view(obj, UNSUPPORTED | {"marker", "uid"})


def wire_times(
    setup: GoogleSetup, calendar_id: str, items: dict[str, Item]
) -> dict[tuple[str, str], dict[str, object]]:
    """The times (``timeZone`` names included), recurrence lines and status of every event
    Google stores for ``items`` — masters and exceptions — as the API sends them, by (UID,
    original start)."""
    uid_of = {item.id: uid for uid, item in items.items()}
    return {
        (
            uid_of[event.get("recurringEventId", event["id"])],
            json.dumps(event.get("originalStartTime"), sort_keys=True),
        ): {
            key: event.get(key)
            for key in ("start", "end", "originalStartTime", "recurrence", "status")
        }
        for event in stored_events(setup, calendar_id).values()
    }


def radicale_connection(server: DavServer) -> str:
    return (
        f"  rad: {{type: caldav, url: '{server.url}', username: {DAV_USER},"
        f" password: '${{env:{PASSWORD_ENV}}}'}}\n"
    )


def test_google_to_caldav_to_google_round_trip_is_unchanged(
    project: Project,
    google: GoogleSetup,
    radicale_server: DavServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Out to a Radicale calendar, put from there (as a person would: markers gone) into
    another Radicale calendar, imported from that into another Google calendar: every object
    there says what the first Google calendar says."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)  # the CLI subprocess inherits it
    google.emulator.add_calendar(BACK, time_zone="America/New_York")
    for obj in trip_objects():
        foreign.seed(google.emulator.store, google.calendar_id, obj)
    mirror = radicale_server.make_calendar()
    imported = radicale_server.make_calendar()
    write_rules(
        project,
        google,
        chain(mirror, imported),
        connections=radicale_connection(radicale_server),
    )

    out = project.run("sync", "--rule", "out")
    assert "out: ok: 3 created" in out.stdout, out.stdout
    assert PASSWORD not in out.stdout + out.stderr
    first = read_google(google)
    assert first.keys() == {o.uid for o in trip_objects()}
    for obj in trip_objects():  # Google kept what the other client wrote
        assert view(first[obj.uid].obj) == view(obj), obj.uid

    copies = {o.uid: o for o in dump(radicale_server, mirror).values()}
    assert copies.keys() == first.keys()
    for uid, copy in copies.items():
        assert copy.marker is not None, uid
        assert copy.marker.rule == "out"
        assert view(copy) == view(first[uid].obj), uid

    for copy in copies.values():
        put(radicale_server, imported, copy.with_marker(None))
    back = project.run("sync", "--rule", "back")
    assert "back: ok: 3 created" in back.stdout, back.stdout
    assert PASSWORD not in back.stdout + back.stderr

    second = read_google(google, BACK)
    assert second.keys() == first.keys()
    for uid, item in first.items():
        got = second[uid].obj
        assert view(got) == view(item.obj), uid
        assert got.marker is not None
        assert got.marker.rule == "back"
    series = second["series-trip@firm.example"].obj
    assert len(series.overrides) == 2
    sent = wire_times(google, google.calendar_id, first)
    assert len(sent) == 5  # three masters, the moved and the cancelled occurrence
    assert wire_times(google, BACK, second) == sent
    assert read_google(google).keys() == first.keys()  # the source calendar gained nothing

"""Copies between two calendars of one Cyrus account — "work blocks family" — through the
command line. Cyrus (Fastmail's server; iCloud alike) allows a UID once per *account*: a copy
that keeps its original's UID is refused there (``unique-scheduling-object-resource``), every
cycle. Copies have UIDs of their own, so busy blocks and full copies, one-way and two-way, go
through; and after an upgrade from copies made the old way nothing is duplicated.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sync.old_version import run_old_version

from caldav.helpers import by_origin, dump, etags, seed
from caldav.project import PASSWORD_ENV, DavProject, make_project
from caldav.samples import objects, view
from caldav.servers import PASSWORD, DavServer
from calsyncd.model.event import CalendarObject
from calsyncd.model.ical import serialize_object

WINDOW = "window: {{past: 3650d, future: 3650d}}"
ONE_ACCOUNT = f"""
rules:
  - name: work-blocks-family
    source: {{{{connection: cyr, calendar: {{work}}}}}}
    target: {{{{connection: cyr, calendar: {{family}}}}}}
    fields: busy-block
    {WINDOW}
  - name: archive
    source: {{{{connection: cyr, calendar: {{work}}}}}}
    target: {{{{connection: cyr, calendar: {{archive}}}}}}
    fields: {{{{attendees: keep}}}}
    {WINDOW}{{uid}}
  - name: shared
    source: {{{{connection: cyr, calendar: {{home}}}}}}
    target: {{{{connection: cyr, calendar: {{partner}}}}}}
    direction: two-way
    {WINDOW}
"""


@pytest.fixture
def project(
    tmp_path: Path,
    radicale_server: DavServer,
    xandikos_server: DavServer,
    cyrus_server: DavServer,
) -> DavProject:
    return make_project(tmp_path / "project", radicale_server, xandikos_server, cyrus_server)


@pytest.fixture
def calendars(cyrus_server: DavServer) -> Iterator[dict[str, str]]:
    """Five new calendars of the test account (removed after the test: the account is the
    session's, and a UID may exist in it once)."""
    made = {name: cyrus_server.make_calendar() for name in ("work", "family", "archive")}
    made |= {name: cyrus_server.make_calendar() for name in ("home", "partner")}
    yield made
    for path in made.values():
        cyrus_server.remove_calendar(path)


def texts(found: dict[str, CalendarObject]) -> str:
    return "".join(serialize_object(o).decode() for o in found.values())


def assert_one_copy_each(
    copies: dict[str, CalendarObject], originals: list[CalendarObject]
) -> None:
    origins = Counter(o.marker.origin for o in copies.values() if o.marker is not None)
    assert sorted(origins) == sorted(o.uid for o in originals)
    assert set(origins.values()) == {1}


def test_copies_between_calendars_of_one_account(
    project: DavProject, calendars: dict[str, str]
) -> None:
    cyr = project.cyrus
    assert cyr is not None
    tag = uuid.uuid4().hex[:8]
    work, home, partner = objects(10, f"w{tag}"), objects(4, f"h{tag}"), objects(3, f"p{tag}")
    seed(cyr, calendars["work"], work)
    seed(cyr, calendars["home"], home)
    seed(cyr, calendars["partner"], partner)

    # With the original's UID (uid: keep), Cyrus refuses every copy, named, every cycle.
    project.write_rules(ONE_ACCOUNT.format(**calendars, uid="\n    uid: keep"))
    refused = project.run("sync", "--rule", "archive", check=1)
    assert "once per account" in refused.stdout + refused.stderr, refused
    assert dump(cyr, calendars["archive"]) == {}

    # With UIDs of their own (the default), every copy is made.
    project.write_rules(ONE_ACCOUNT.format(**calendars, uid=""))
    out = project.run("sync").stdout
    assert "work-blocks-family: ok: 10 created, 0 updated, 0 deleted" in out, out
    assert "archive: ok: 10 created, 0 updated, 0 deleted" in out, out
    assert "shared: ok: 7 created, 0 updated, 0 deleted" in out, out

    blocks = dump(cyr, calendars["family"])
    assert len(blocks) == 10
    for block in blocks.values():
        assert block.marker is not None
        assert block.marker.is_anonymous
        assert {e.title for e in block.events} == {"Busy"}
    body = texts(blocks)
    assert not [o.uid for o in work if o.uid in body]
    assert "work-blocks-family" not in body

    archive = dump(cyr, calendars["archive"])
    assert_one_copy_each(archive, work)
    originals = {o.uid: o for o in work}
    for uid, copy in by_origin(archive).items():
        assert copy.uid != uid
        assert view(copy) == view(originals[uid]), uid

    both = [*home, *partner]
    for side in ("home", "partner"):
        found = dump(cyr, calendars[side])
        assert len(found) == len(both)
        assert by_origin(found).keys() == {o.uid for o in both}

    # A second run: nothing to do, nothing written.
    before = {name: etags(cyr, path) for name, path in calendars.items()}
    again = project.run("sync").stdout
    assert again.count("ok: 0 created, 0 updated, 0 deleted") == 3, again
    assert {name: etags(cyr, path) for name, path in calendars.items()} == before


UPGRADE = f"""
rules:
  - name: work-blocks-family
    source: {{{{connection: cyr, calendar: {{work}}}}}}
    target: {{{{connection: cyr, calendar: {{family}}}}}}
    fields: busy-block
    {WINDOW}
  - name: radicale-blocks
    source: {{{{connection: rad, calendar: {{elsewhere}}}}}}
    target: {{{{connection: cyr, calendar: {{archive}}}}}}
    fields: busy-block
    {WINDOW}
  - name: mirror
    source: {{{{connection: rad, calendar: {{cases}}}}}}
    target: {{{{connection: cyr, calendar: {{home}}}}}}
    direction: two-way
    {WINDOW}
"""


def test_upgrade_from_copies_with_their_originals_uid(
    project: DavProject, calendars: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: busy blocks within the account were refused every cycle; copies from another
    server were written with the original's UID and marker. After the upgrade: the refused
    ones are made, the old busy blocks replaced by anonymous ones, the marked copies left as
    they are — one copy per original everywhere."""
    cyr, rad = project.cyrus, project.radicale
    assert cyr is not None
    tag = uuid.uuid4().hex[:8]
    elsewhere, cases = rad.make_calendar(), rad.make_calendar()
    work, remote, mirrored = objects(5, f"w{tag}"), objects(4, f"e{tag}"), objects(3, f"c{tag}")
    seed(cyr, calendars["work"], work)
    seed(rad, elsewhere, remote)
    seed(rad, cases, mirrored)
    project.write_rules(UPGRADE.format(**calendars, elsewhere=elsewhere, cases=cases))
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)

    results = {r.rule: r for r in run_old_version(project.config, project.state)}
    refusals = results["work-blocks-family"].outcome.item_errors
    assert len(refusals) == 5
    assert all("once per account" in message for message in refusals), refusals
    assert results["radicale-blocks"].ok
    assert results["mirror"].ok
    old_blocks = dump(cyr, calendars["archive"])
    assert sorted(o.uid for o in old_blocks.values()) == sorted(o.uid for o in remote)
    mirror_tags = etags(cyr, calendars["home"])

    out = project.run("sync").stdout
    assert "work-blocks-family: ok: 5 created" in out, out
    assert "radicale-blocks: ok: 4 created, 0 updated, 4 deleted" in out, out
    assert "mirror: ok: 0 created, 0 updated, 0 deleted" in out, out

    for calendar, originals in (("family", work), ("archive", remote)):
        blocks = dump(cyr, calendars[calendar])
        assert len(blocks) == len(originals)
        assert all(b.marker is not None and b.marker.is_anonymous for b in blocks.values())
        assert not [o.uid for o in originals if o.uid in texts(blocks)]
    assert etags(cyr, calendars["home"]) == mirror_tags  # marked copies: not rewritten
    assert_one_copy_each(dump(cyr, calendars["home"]), mirrored)

    again = project.run("sync").stdout
    assert again.count("ok: 0 created, 0 updated, 0 deleted") == 3, again

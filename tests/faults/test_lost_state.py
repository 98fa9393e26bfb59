"""The state database deleted while both calendars changed.

A Google calendar (the emulator) and a Radicale calendar with 80 originals each are synced
two-way; then other clients add, edit and delete originals on both sides, and the state
database is deleted (as a lost disk or a careless ``rm`` would). The next cycle lists both
sides in full and rebuilds the state from the copies' markers: unchanged copies are adopted
where they are, not written again; copies of edited originals are updated, copies of
deleted ones deleted, new originals copied — each exactly once, in that first cycle: the
deletion guard counts the pairs adopted in it as synced. (A lost state database after a crash
is part of ``test_sigkill_caldav.py``.)
"""

from __future__ import annotations

from caldav.servers import DavServer
from cli.conftest import Project
from emulators.fixtures import USER, GoogleSetup

from faults.support import (
    GoogleAndDav,
    Stopwatch,
    dav_connection,
    google_connection,
    report,
    two_way,
    write_rules,
)

EACH_SIDE = 80
ADDED, EDITED, REMOVED = 5, 5, 3
"""Per side, while the state database is gone."""


def test_the_state_database_is_deleted(
    project: Project, google: GoogleSetup, radicale_server: DavServer
) -> None:
    clock = Stopwatch()
    calendars = GoogleAndDav.seeded(google, radicale_server, EACH_SIDE)
    write_rules(
        project,
        [google_connection("gcal", google), dav_connection("rad", radicale_server)],
        [two_way("lost", f"gcal:{USER}", f"rad:{calendars.path}")],
    )
    assert "lost: ok: 160 created" in project.run("sync").stdout
    seeded = set(calendars.expected)
    calendars.remove(REMOVED)
    calendars.edit(EDITED)
    calendars.add(ADDED, ADDED)
    before = calendars.etags()
    deleted = list(project.state.parent.glob("calsyncd.db*"))
    assert deleted
    for path in deleted:
        path.unlink()

    # The copies found in place are adopted, and count as synced pairs for the deletion
    # guard: the few copies of deleted originals are deleted in the same cycle.
    rebuilt = project.run("sync").stdout
    created, updated, deleted_copies = 2 * ADDED, 2 * EDITED, 2 * REMOVED
    assert f"lost: ok: {created} created, {updated} updated, {deleted_copies} deleted" in rebuilt
    assert "lost: ok: 0 created, 0 updated, 0 deleted" in project.run("sync").stdout
    figures = calendars.check()
    after = calendars.etags()
    untouched = {(side, uid) for side in ("google", "caldav") for uid in seeded - calendars.touched}
    assert len(untouched) == 2 * 2 * (EACH_SIDE - EDITED - REMOVED)
    rewritten = sorted(key for key in untouched if after.get(key) != before[key])
    assert rewritten == [], rewritten
    report(
        "state-database-deleted",
        events=len(calendars.expected),
        copies_adopted=len(untouched) // 2,
        changes_while_lost=len(calendars.touched),
        rewritten=len(rewritten),
        **figures,
        time=clock,
    )

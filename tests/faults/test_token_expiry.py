"""Sync tokens expiring while the daemon runs.

``calsyncd run`` syncs a Google calendar (the emulator) two-way with a Radicale calendar
(behind a :class:`FaultProxy` that injects nothing and records every answer), a cycle a
second. Eight times, while other clients create, edit and delete events on both sides, the
sync tokens of both calendars expire at a random moment — within a cycle or between two:
Google answers the next incremental listing 410 ``fullSyncRequired``; Radicale, whose token
store is removed as its ``max_sync_token_age`` would, answers 403 ``valid-sync-token``.
Each time the daemon lists in full and goes on: both sides end with every live original
exactly once, as last edited, the daemon never stops, and SIGTERM ends it with exit 0.
"""

from __future__ import annotations

import random
import shutil
import time
from functools import partial

from caldav.servers import DavServer, storage
from cli.conftest import Project
from daemon.conftest import wait_until
from emulators.fixtures import USER, GoogleSetup

from faults.proxy import FaultProxy
from faults.support import (
    GoogleAndDav,
    Stopwatch,
    dav_connection,
    google_connection,
    report,
    running_daemon,
    two_way,
    wait_for_quiet_cycles,
    write_rules,
)

EXPIRIES = 8


def expire_radicale_tokens(server: DavServer, path: str) -> None:
    """Forget every sync token Radicale issued for the calendar at ``path``."""
    name = path.rstrip("/").rsplit("/", 1)[1]
    tokens = storage(server.kind, server.folder) / name / ".Radicale.cache" / "sync-token"
    shutil.rmtree(tokens, ignore_errors=True)


def test_sync_tokens_expire_while_the_daemon_runs(
    project: Project, google: GoogleSetup, radicale_server: DavServer
) -> None:
    clock = Stopwatch()
    calendars = GoogleAndDav.seeded(google, radicale_server, 40)
    google.emulator.latency = (0.002, 0.01)  # cycles long enough for an expiry to land inside
    rng = random.Random(410)
    during_cycle = 0

    def refusals() -> int:
        return google.emulator.count("events.list", status=410)

    def refused_since(count: int) -> bool:
        return refusals() > count

    with FaultProxy(radicale_server.url) as proxy:
        write_rules(
            project,
            [google_connection("gcal", google), dav_connection("rad", radicale_server, proxy.url)],
            [two_way("expiry", f"gcal:{USER}", f"rad:{calendars.path}")],
        )
        with running_daemon(project, interval="1s") as daemon:
            wait_until(calendars.converged, 60, "the first sync")
            for _ in range(EXPIRIES):
                calendars.remove(1)
                calendars.edit(2)
                calendars.add(3, 3)
                time.sleep(rng.uniform(0.0, 0.8))
                if daemon.status()["rules"]["expiry"]["state"] == "syncing":
                    during_cycle += 1
                before = refusals()
                google.emulator.store.expire_sync_tokens(USER)
                expire_radicale_tokens(radicale_server, calendars.path)
                daemon.post("/rules/expiry/sync")  # the next listing meets the expired token
                wait_until(partial(refused_since, before), 30, "a listing with the expired token")
                wait_until(calendars.converged, 30, "the changes to sync")
            # Radicale checks a token only when the calendar changed since: one more change.
            calendars.add(0, 1)
            wait_until(calendars.converged, 30, "the last change to sync")
            wait_for_quiet_cycles(daemon, "expiry")
            assert daemon.stop() == 0
            assert "Traceback" not in daemon.text
        rejected_by_radicale = proxy.statuses("REPORT", "sync-collection")[403]
    rejected_by_google = refusals()

    assert rejected_by_google >= EXPIRIES, rejected_by_google
    assert rejected_by_radicale >= EXPIRIES // 2, rejected_by_radicale
    figures = calendars.check()
    report(
        "sync-token-expiry",
        expiries=EXPIRIES,
        expiries_during_a_cycle=during_cycle,
        google_410=rejected_by_google,
        radicale_403=rejected_by_radicale,
        events=len(calendars.expected),
        **figures,
        time=clock,
    )

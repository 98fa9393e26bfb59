"""Storms of 429, 403 rate limits, 5xx and dropped connections on both sides of a two-way rule.

A Google calendar (the emulator) and a Radicale calendar (behind :class:`FaultProxy`) hold
100 originals each and sync two-way through ``calsyncd sync`` runs while a fifth of all
requests on *both* sides fail: answered 429 or 503 with ``Retry-After``, 403
``rateLimitExceeded``/``userRateLimitExceeded`` (Google), 500/502, or dropped — before the
server saw the request, or after it made the change (the answer lost: a create that is
retried meets the copy it made). Runs are repeated until one has nothing left to do; then
both sides are changed (new events, edits, deletes on each side) and the storm goes on
until the rule is quiet again. Both sides then hold each live original exactly once, with the
content of its latest edit, and with the storm over a last run writes nothing.
"""

from __future__ import annotations

from collections import Counter

from caldav.servers import DavServer
from cli.conftest import Project
from emulators.fixtures import USER, GoogleSetup
from emulators.google import FAULT_KINDS, Faults

from faults.proxy import CALDAV_FAULTS, FaultProxy
from faults.support import (
    GoogleAndDav,
    Stopwatch,
    dav_connection,
    google_connection,
    report,
    sync_until_quiet,
    two_way,
    write_rules,
)

EACH_SIDE = 100
RATE = 0.2
MIN_FAULTS = 30
"""Faults that must have been injected on each side (a fifth of its requests)."""


def test_both_sides_storming_at_once(
    project: Project, google: GoogleSetup, radicale_server: DavServer
) -> None:
    clock = Stopwatch()
    calendars = GoogleAndDav.seeded(google, radicale_server, EACH_SIDE)
    google.emulator.faults = Faults(rate=RATE, seed=4242)
    storm = Faults(rate=RATE, kinds=CALDAV_FAULTS, seed=2424)
    with FaultProxy(radicale_server.url, storm) as proxy:
        write_rules(
            project,
            [google_connection("gcal", google), dav_connection("rad", radicale_server, proxy.url)],
            [two_way("storm", f"gcal:{USER}", f"rad:{calendars.path}")],
        )
        runs = sync_until_quiet(project, "storm")
        calendars.edit(10)
        calendars.remove(5)
        calendars.add(10, 10)
        runs += sync_until_quiet(project, "storm")

        google.emulator.faults = Faults()
        proxy.faults = Faults()
        assert "storm: ok: 0 created, 0 updated, 0 deleted" in project.run("sync").stdout
        caldav_faults = proxy.faulted()
    google_faults = Counter(r.fault for r in google.emulator.requests if r.fault)

    assert set(google_faults) == set(FAULT_KINDS), google_faults
    assert set(caldav_faults) == set(CALDAV_FAULTS), caldav_faults
    assert google_faults.total() >= MIN_FAULTS, google_faults
    assert caldav_faults.total() >= MIN_FAULTS, caldav_faults
    figures = calendars.check()
    report(
        "storms",
        events=len(calendars.expected),
        runs=len(runs) + 1,
        google_faults=google_faults.total(),
        caldav_faults=caldav_faults.total(),
        **figures,
        time=clock,
    )

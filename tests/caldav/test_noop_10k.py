"""A no-op cycle on 10,000 events asks each side for its ctag (one PROPFIND) and nothing else.

A two-way rule between a Radicale calendar of 10,000 originals and a Xandikos calendar of
their 10,000 copies. Both are written straight into the servers' storage before they start
(creating them over HTTP takes many minutes: Radicale slows to ~16 creates/s as a calendar
grows). The copies are what calsyncd would have made, so the first cycle (full listings,
empty state) adopts them all without a write; the cycles after it are the no-op cycles
measured here, in-process, on a client whose transport records every request.
``CALSYNCD_TEST_BIG=500`` runs the same test on fewer events.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest
from conformance.samples import BERLIN

from caldav.helpers import Recorder, client
from caldav.project import PASSWORD_ENV, make_project
from caldav.servers import PASSWORD, DavServer, prefill, start
from calsyncd.config import Config, load_config
from calsyncd.config.rules import Rule
from calsyncd.model.event import CalendarObject, Event, Marker
from calsyncd.model.ical import serialize_object
from calsyncd.state.store import StateStore
from calsyncd.sync.keys import copy_key
from calsyncd.sync.service import SyncService

EVENTS = int(os.environ.get("CALSYNCD_TEST_BIG", "10000"))
RULE = """
rules:
  - name: big
    source: {connection: rad, calendar: big}
    target: {connection: xan, calendar: big}
    direction: two-way
    window: {past: 3650d, future: 3650d}
"""


def original(n: int) -> CalendarObject:
    zone = UTC if n % 4 else BERLIN
    start = datetime(2027, 1, 1, 8, tzinfo=zone) + timedelta(hours=7 * n)
    event = Event(
        start=start,
        end=start + timedelta(minutes=45),
        title=f"Event {n}",
        location="Room 1" if n % 3 else None,
        last_modified=datetime(2026, 11, 1, tzinfo=UTC),
    )
    return CalendarObject(uid=f"big-{n}@calsyncd.test", master=event)


def copy_of(obj: CalendarObject) -> CalendarObject:
    """The copy calsyncd makes of a plain event: the same event, marked."""
    return obj.with_marker(Marker("big", obj.uid, copy_key("big", "source", obj.uid)))


def file_name(obj: CalendarObject) -> str:
    return hashlib.sha256(obj.uid.encode()).hexdigest()[:20] + ".ics"


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[DavServer, DavServer]]:
    originals = [original(n) for n in range(EVENTS)]
    calendars = {
        "radicale": {file_name(o): serialize_object(o) for o in originals},
        "xandikos": {file_name(o): serialize_object(copy_of(o)) for o in originals},
    }
    with ThreadPoolExecutor(max_workers=2) as pool:  # Radicale's cache is built by a subprocess
        done = [
            pool.submit(prefill, k, tmp_path / k, "big", files) for k, files in calendars.items()
        ]
        for future in done:
            future.result()
    radicale = start("radicale", tmp_path / "radicale")
    try:
        xandikos = start("xandikos", tmp_path / "xandikos")
        try:
            yield radicale, xandikos
        finally:
            xandikos.stop()
    finally:
        radicale.stop()


@dataclass
class Measured:
    first: float = 0.0
    noop: list[float] = field(default_factory=list)
    requests: list[list[tuple[str, str, str]]] = field(default_factory=list)


async def timed(service: SyncService, rule: Rule) -> float:
    """Run one cycle, which must succeed without a write; its duration."""
    started = time.perf_counter()
    result = await service.cycle(rule)
    elapsed = time.perf_counter() - started
    assert result.ok, result.error
    assert (result.outcome.created, result.outcome.updated, result.outcome.deleted) == (0, 0, 0)
    return elapsed


async def measure(config: Config, state: Path, recorder: Recorder, noops: int) -> Measured:
    measured = Measured()
    store = StateStore.open(state)
    try:
        async with client(recorder) as http:
            service = SyncService(config.connections, store, http)
            rule = config.rules["big"]
            measured.first = await timed(service, rule)  # full listings, adoption
            assert store.pair_count("big") == EVENTS
            for _ in range(noops):
                recorder.clear()
                measured.noop.append(await timed(service, rule))
                measured.requests.append(
                    sorted((s.method, s.path, s.report or "") for s in recorder.sent)
                )
    finally:
        store.close()
    return measured


@pytest.mark.slow
def test_noop_cycle_on_10k_events_is_one_ctag_propfind_per_side(
    tmp_path: Path,
    servers: tuple[DavServer, DavServer],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = make_project(tmp_path / "project", *servers)
    project.write_rules(RULE)
    project.state.parent.mkdir(parents=True)
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    measured = anyio.run(measure, load_config(project.config), project.state, Recorder(), 3)
    for requests in measured.requests:
        assert requests == [
            ("PROPFIND", "/alice/big/", ""),
            ("PROPFIND", "/alice/calendars/big/", ""),
        ]
    with capsys.disabled():
        noop = ", ".join(f"{t:.3f}" for t in measured.noop)
        print(f"\n{EVENTS} events: first cycle (adopt) {measured.first:.1f} s; no-op {noop} s")

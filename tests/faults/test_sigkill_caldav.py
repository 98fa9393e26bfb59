"""SIGKILL of ``calsyncd sync`` at random moments during a 2,000-event two-way CalDAV sync.

A Radicale calendar with 1,900 events (series with moved and cancelled occurrences, all-day
events, five time zones, attendees, unicode) syncs two-way with a local calendar holding 100
more. Each of 20 rounds starts ``calsyncd sync`` and kills it with SIGKILL either after a
random time or once a random number of new objects reached the disk — in start-up, in the
listings or in the middle of the writes (1,900 local copies, 100 CalDAV PUTs with
``If-None-Match: *``); the next round is the rerun. A recording :class:`FaultProxy` in front
of Radicale counts the PUTs the server was still handling when the client died: made, never
acknowledged. After the kill of round 10 the state database is deleted as well. A last run
finishes the work; then both calendars hold each of the 2,000 events exactly once, with
every field as the original has it, and the next cycle has nothing to do.

Radicale's storage lives on tmpfs when there is one: Radicale fsyncs twice per write and
checks every PUT against all the calendar's UIDs, so on a disk its writes alone take a
minute; the test measures calsyncd, not the disk.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from caldav.helpers import dump
from caldav.samples import objects, view
from caldav.servers import DavServer, prefill, start, storage
from cli.conftest import Project

from calsyncd.model.event import CalendarObject
from calsyncd.model.ical import serialize_object
from faults.proxy import FaultProxy
from faults.support import (
    Stopwatch,
    assert_exactly_once,
    by_origin,
    dav_connection,
    report,
    start_sync,
    two_way,
    write_rules,
)

ON_RADICALE = 1900
IN_FOLDER = 100
EVENTS = ON_RADICALE + IN_FOLDER
ROUNDS = 20
LOSE_STATE_AFTER = 10
"""After this round's kill the state database is deleted too."""
MIN_MID_WRITE = 10
"""Kills that must land while copies were being written (the rest land in start-up or in
the listings, or after the work was done)."""
CALENDAR = "court"


@dataclass(frozen=True)
class BigCalendar:
    server: DavServer
    path: str
    originals: list[CalendarObject]

    def on_disk(self) -> int:
        return ics_files(storage("radicale", self.server.folder) / CALENDAR)


def ics_files(folder: Path) -> int:
    """How many objects a calendar folder holds (cheap enough to poll every 10 ms)."""
    return sum(1 for name in os.listdir(folder) if name.endswith(".ics"))


def _scratch_folder(tmp_path: Path) -> Path:
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return Path(tempfile.mkdtemp(prefix="calsyncd-faults-", dir=shm))
    return tmp_path / "radicale"


def _file_name(obj: CalendarObject) -> str:
    return hashlib.sha256(obj.uid.encode()).hexdigest()[:16] + ".ics"


@pytest.fixture
def big_calendar(tmp_path: Path) -> Iterator[BigCalendar]:
    """A Radicale of its own whose calendar is written into the storage before it starts."""
    folder = _scratch_folder(tmp_path)
    originals = objects(ON_RADICALE, "rad")
    path = prefill(
        "radicale", folder, CALENDAR, {_file_name(o): serialize_object(o) for o in originals}
    )
    server = start("radicale", folder)
    try:
        yield BigCalendar(server, path, originals)
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class Kill:
    before: int
    """Objects on both sides when the sync started."""
    at: int
    """… and when it was killed."""
    puts: int
    """CalDAV PUTs the server was handling at that moment (it finishes them; calsyncd never
    hears of it)."""

    @property
    def mid_write(self) -> bool:
        return self.before < self.at < 2 * EVENTS


def kill_at_random_moment(
    project: Project, count: Callable[[], int], proxy: FaultProxy, rng: random.Random
) -> Kill | None:
    """Start a sync and SIGKILL it: one time in four after a random time (mostly in start-up
    and the listings), else once a random number of new objects exist (in the writes).
    ``None`` if it finished before."""
    before = count()
    by_time = rng.random() < 0.25
    deadline = time.monotonic() + (rng.uniform(0.2, 3.0) if by_time else 60.0)
    threshold = 2 * EVENTS + 1 if by_time else before + rng.randrange(1, 100)
    process = start_sync(project)
    try:
        while process.poll() is None:
            if count() >= threshold or time.monotonic() > deadline:
                process.send_signal(signal.SIGKILL)
                puts = proxy.in_flight("PUT")
                process.wait(30)
                return Kill(before, count(), puts)
            time.sleep(0.01)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)
    return None


def test_sigkill_during_a_2000_event_caldav_sync(
    project: Project, big_calendar: BigCalendar
) -> None:
    clock = Stopwatch()
    local = objects(IN_FOLDER, "loc", offset=ON_RADICALE)
    folder = project.calendar(CALENDAR)
    folder.mkdir()
    for obj in local:
        (folder / _file_name(obj)).write_bytes(serialize_object(obj))

    def count() -> int:
        return big_calendar.on_disk() + ics_files(folder)

    rng = random.Random(20261121)
    kills: list[Kill | None] = []
    with FaultProxy(big_calendar.server.url) as proxy:  # injects nothing: it watches the PUTs
        write_rules(
            project,
            [dav_connection("rad", big_calendar.server, proxy.url)],
            [two_way("crash", f"rad:{big_calendar.path}", f"loc:{CALENDAR}",
                     fields="{attendees: keep}")],
        )  # fmt: skip
        for round_number in range(1, ROUNDS + 1):
            kills.append(kill_at_random_moment(project, count, proxy, rng))
            if round_number == LOSE_STATE_AFTER:
                for leftover in project.state.parent.glob("calsyncd.db*"):
                    leftover.unlink()
        landed = [k for k in kills if k is not None]
        mid_write = [k for k in landed if k.mid_write]
        assert len(mid_write) >= MIN_MID_WRITE, kills
        assert any(k.puts for k in landed), kills
        assert count() < 2 * EVENTS, "the kills left nothing for the last run to do"

        finished = project.run("sync")
        assert finished.stdout.startswith("crash: ok: ")
        # The echo of the last writes (the server's change feed shows them): nothing to do.
        assert "crash: ok: 0 created, 0 updated, 0 deleted" in project.run("sync").stdout

    on_radicale = dump(big_calendar.server, big_calendar.path)
    in_folder = project.objects(CALENDAR)
    originals = {o.uid: o for o in big_calendar.originals + local}
    figures = assert_exactly_once(
        {"radicale": on_radicale.values(), "local": in_folder.values()}, originals
    )
    for side in (by_origin(on_radicale.values()), by_origin(in_folder.values())):
        for uid, original in originals.items():
            assert view(side[uid]) == view(original), uid
    report(
        "sigkill-caldav",
        events=EVENTS,
        rounds=ROUNDS,
        kills=len(landed),
        kills_mid_write=len(mid_write),
        kills_with_caldav_puts_in_flight=sum(1 for k in landed if k.puts),
        caldav_puts_cut_off=sum(k.puts for k in landed),
        state_database_deleted=1,
        **figures,
        time=clock,
    )

"""Crash safety of `calsyncd sync`: killed with SIGKILL at random moments, then run again, it
ends with exactly one copy per original; with its state database lost, it adopts the copies
instead of duplicating them."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from calsyncd.model.event import CalendarObject, Event
from cli.conftest import Project

EVENTS = 2000
KILLS = 12


def start_sync(project: Project) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "calsyncd", "--config", str(project.config), "sync"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def copies_made(project: Project) -> int:
    return sum(1 for _ in project.calendar("b").glob("*.ics"))


def kill_at_random_moment(project: Project, rng: random.Random) -> int | None:
    """Kill a running sync either after a random time or once it made a random number of
    copies, so kills land in start-up, listing and the middle of the writes. Returns how
    many copies existed when the kill landed (``None`` if the sync finished first)."""
    process = start_sync(project)
    made = copies_made(project)
    threshold = made + rng.randrange(1, 400)
    deadline = time.monotonic() + rng.uniform(0.2, 3.0)
    killed_at = None
    try:
        while process.poll() is None:
            if time.monotonic() > deadline or copies_made(project) >= threshold:
                os.kill(process.pid, signal.SIGKILL)
                killed_at = copies_made(project)
                break
            time.sleep(0.01)
    finally:
        process.wait(timeout=60)
    return killed_at


def assert_one_copy_each(project: Project) -> None:
    copies = project.objects("b").values()
    origins = Counter(c.marker.origin for c in copies if c.marker is not None)
    assert len(copies) == EVENTS
    assert len(origins) == EVENTS
    assert max(origins.values()) == 1


def test_repeated_sigkill_then_rerun_leaves_no_duplicate(project: Project) -> None:
    project.write_rules(
        "rules:\n  - name: crash\n    source: {connection: loc, calendar: a}\n"
        "    target: {connection: loc, calendar: b}\n    window: {past: 3650d, future: 3650d}\n"
    )
    base = datetime(2027, 1, 1, 8, tzinfo=UTC)
    for i in range(EVENTS):
        start = base + timedelta(hours=i)
        event = Event(start=start, end=start + timedelta(minutes=45), title=f"Event {i}")
        project.put("a", f"e{i:05}.ics", CalendarObject(f"event-{i}@crash.example", event))
    project.calendar("b").mkdir()

    rng = random.Random(20261121)
    kills = [kill_at_random_moment(project, rng) for _ in range(KILLS)]
    mid_write = [k for k in kills if k is not None and 0 < k < EVENTS]
    assert len(mid_write) >= KILLS // 2, kills
    project.run("sync")
    project.run("sync")  # the echo of the last writes: nothing to do
    assert_one_copy_each(project)
    assert project.run_json("plan")["rules"]["crash"]["actions"] == []

    stamps = project.stamps("b")
    for leftover in project.state.parent.glob("calsyncd.db*"):
        leftover.unlink()
    project.run("sync")
    assert_one_copy_each(project)
    assert project.stamps("b") == stamps  # adopted, not rewritten
    assert project.run_json("plan")["rules"]["crash"]["actions"] == []

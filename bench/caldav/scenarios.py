"""The scenarios, each tool run the same way on its own calendars, alternating run by run.

- ``initial_copy`` (a): N events from a prefilled Radicale calendar into a new, empty
  calendar (on Xandikos and/or Radicale): ``calsyncd sync`` of a one-way rule, ``vdirsyncer
  sync`` of a pair whose other side is empty, and the raw loop of the same N PUTs. A fresh
  target calendar (and fresh tool state) each run; each must end holding exactly N events.
- ``by_size`` at each calendar size: four calendars are prefilled — for calsyncd, originals
  on Radicale and its marked copies on Xandikos; for vdirsyncer, the same plain events on
  both — and each tool's first sync (measured, but not a target) must write nothing and leave
  every etag as it was. Then (b) no-op syncs, (c) at the edit size, rounds of 10 edits made
  over HTTP to originals on Radicale, each followed by one sync that must carry exactly those
  to Xandikos, and (e) the same no-op cycles and edit rounds in the calsyncd daemon, timed by
  its own metrics — and the daemon's no-op cycles once more on a rule with Xandikos on both
  sides (two more calendars there), since a quiet cycle costs what the slower server needs to
  say "nothing changed": Radicale reads every item for its ctag, Xandikos does not. (d) is
  every whole-process run's peak RSS.

A tool run that fails, or writes other than what it must, is recorded as failed (with what
the tool said) and left out of the medians; the report shows it. After a failed edit round,
untimed syncs bring the calendars back in step before the next round.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bench.caldav import dav, fill
from bench.caldav.calsyncd_tool import CalsyncdProject, rule
from bench.caldav.daemon import Cycle, Daemon
from bench.caldav.proc import Outcome
from bench.caldav.servers import Kind, Server, free_port, prefill, start
from bench.caldav.vdirsyncer_tool import VdirsyncerProject

RULE = "big"
XANDIKOS_RULE = "xx"
"""The daemon's rule with Xandikos on both sides (calendars ``xx-src`` and ``xx-dst``)."""
EDITS = 10
CATCH_UP = 3
CONNECTION: dict[Kind, str] = {"radicale": "rad", "xandikos": "xan"}

Sample = dict[str, Any]
"""One measured run: ``seconds``; ``peak_rss_kib`` for a whole process; ``failed`` (why)."""
Samples = dict[str, list[Sample]]
"""Runs by tool: ``calsyncd``, ``vdirsyncer``, ``daemon``, ``raw``."""
Sync = Callable[[], Outcome]


@dataclass(frozen=True)
class Settings:
    sizes: tuple[int, ...]
    reps: int
    copy_events: int
    copy_targets: tuple[Kind, ...]
    edit_size: int
    daemon_cycles: int
    vdirsyncer: Path


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def expect(what: str, got: object, wanted: object) -> None:
    """A premise of the benchmark; when it does not hold, the figures would mean nothing."""
    if got != wanted:
        raise AssertionError(f"{what}: expected {wanted!r}, got {got!r}")


def timed(what: str, outcome: Outcome, writes: int, check: Callable[[], str | None]) -> Sample:
    """A whole-process run as a sample: failed when the tool failed, wrote other than
    ``writes`` items, or ``check`` (of the calendars, after it) found a problem."""
    sample: Sample = {
        "seconds": outcome.run.seconds,
        "peak_rss_kib": outcome.run.peak_rss_kib,
    }
    problem = outcome.error
    if problem is None and outcome.writes != writes:
        problem = f"wrote {outcome.writes} items, expected {writes}"
    problem = problem or check()
    if problem is not None:
        sample["failed"] = problem
        say(f"{what}: FAILED after {outcome.run.seconds:.2f} s: {problem}")
    else:
        say(f"{what}: {outcome.run.seconds:.2f} s, peak RSS {outcome.run.peak_rss_kib >> 10} MiB")
    return sample


def daemon_sample(what: str, cycle: Cycle, writes: int, check: Callable[[], str | None]) -> Sample:
    sample: Sample = {"seconds": cycle.seconds}
    problem = cycle.error
    if problem is None and cycle.writes != writes:
        problem = f"wrote {cycle.writes} items, expected {writes}"
    problem = problem or check()
    if problem is not None:
        sample["failed"] = problem
        say(f"{what}: FAILED after {cycle.seconds:.3f} s: {problem}")
    else:
        say(f"{what}: {cycle.seconds * 1000:.0f} ms (in-process)")
    return sample


def nothing() -> str | None:
    return None


# -- (a) initial copy -------------------------------------------------------------------------


def initial_copy(settings: Settings, root: Path) -> dict[str, Samples]:
    """{target kind: samples}; the source is one prefilled Radicale calendar."""
    files = fill.plain(settings.copy_events)
    prefill("radicale", root / "radicale", {"src": files})
    radicale = start("radicale", root / "radicale")
    try:
        xandikos = start("xandikos", root / "xandikos")
        try:
            servers = {"radicale": radicale, "xandikos": xandikos}
            return {
                kind: _copy_into(settings, root, servers, kind, files)
                for kind in settings.copy_targets
            }
        finally:
            xandikos.stop()
    finally:
        radicale.stop()


def _copy_into(
    settings: Settings,
    root: Path,
    servers: dict[Kind, Server],
    kind: Kind,
    files: dict[str, bytes],
) -> Samples:
    target = servers[kind]
    count = len(files)
    samples: Samples = {"calsyncd": [], "vdirsyncer": [], "raw": []}

    def holds_all(calendar: str) -> Callable[[], str | None]:
        def check() -> str | None:
            found = len(dav.etags(target, calendar))
            return None if found == count else f"the copy holds {found} of {count} events"

        return check

    for rep in range(settings.reps):
        what = f"initial copy of {count} -> {kind}, run {rep + 1}/{settings.reps}"
        name = f"calsyncd-{rep}"
        target.make_calendar(name)
        project = CalsyncdProject(
            root / f"calsyncd-{kind}-{rep}", servers["radicale"], servers["xandikos"]
        )
        project.write(rule("copy", "rad:src", f"{CONNECTION[kind]}:{name}", "one-way"))
        samples["calsyncd"].append(
            timed(f"{what}: calsyncd", project.sync(), count, holds_all(name))
        )

        name = f"vdirsyncer-{rep}"
        target.make_calendar(name)
        pair = VdirsyncerProject(root / f"vdirsyncer-{kind}-{rep}", settings.vdirsyncer)
        pair.write(servers["radicale"], "src", target, name)
        pair.discover()
        samples["vdirsyncer"].append(
            timed(f"{what}: vdirsyncer", pair.sync(), count, holds_all(name))
        )

        name = f"raw-{rep}"
        target.make_calendar(name)
        seconds = dav.raw_put_loop(target, name, files)
        expect("events after the raw loop", len(dav.etags(target, name)), count)
        samples["raw"].append({"seconds": seconds})
        say(f"{what}: raw PUT loop: {seconds:.2f} s")
    return samples


# -- (b), (c), (e) at one calendar size ---------------------------------------------------------


@dataclass
class SizeResult:
    first: Samples
    noop: Samples
    edits: Samples | None


def by_size(settings: Settings, root: Path, size: int) -> SizeResult:
    started = time.perf_counter()
    originals = fill.plain(size)
    calendars: dict[Kind, dict[str, dict[str, bytes]]] = {
        "radicale": {"calsyncd": originals, "vdirsyncer": originals},
        "xandikos": {
            "calsyncd": fill.marked(size, RULE),
            "vdirsyncer": originals,
            "xx-src": originals,
            "xx-dst": fill.marked(size, XANDIKOS_RULE),
        },
    }
    with ThreadPoolExecutor(max_workers=2) as pool:  # Radicale's cache: a subprocess
        jobs = [pool.submit(prefill, k, root / k, c) for k, c in calendars.items()]
        for job in jobs:
            job.result()
    say(f"{size} events: prefilled 6 calendars in {time.perf_counter() - started:.0f} s")
    radicale = start("radicale", root / "radicale")
    try:
        xandikos = start("xandikos", root / "xandikos")
        try:
            return _Size(settings, root, size, radicale, xandikos).measure()
        finally:
            xandikos.stop()
    finally:
        radicale.stop()


class _Size:
    """The measurements on one size's servers, in order."""

    def __init__(
        self, settings: Settings, root: Path, size: int, radicale: Server, xandikos: Server
    ) -> None:
        self.settings = settings
        self.root = root
        self.size = size
        self.radicale = radicale
        self.xandikos = xandikos
        self.project = CalsyncdProject(root / "calsyncd", radicale, xandikos)
        self.project.write(
            rule(RULE, "rad:calsyncd", "xan:calsyncd", "two-way"), health_port=free_port()
        )
        self.pair = VdirsyncerProject(root / "vdirsyncer", settings.vdirsyncer)
        self.pair.write(radicale, "vdirsyncer", xandikos, "vdirsyncer")
        self.pair.discover()
        self.tools: dict[str, Sync] = {"calsyncd": self.project.sync, "vdirsyncer": self.pair.sync}

    def measure(self) -> SizeResult:
        first = self.first_syncs()
        noop: Samples = {tool: [] for tool in self.tools}
        for rep in range(self.settings.reps):
            for tool, sync in self.tools.items():
                what = f"{self.size} events: no-op {tool} sync {rep + 1}/{self.settings.reps}"
                noop[tool].append(timed(what, sync(), 0, nothing))
        edits = self.edit_rounds() if self.size == self.settings.edit_size else None
        with Daemon(self.project, RULE) as daemon:
            noop["daemon"] = [
                daemon_sample(
                    f"{self.size} events: daemon no-op cycle {n + 1}", daemon.cycle(), 0, nothing
                )
                for n in range(self.settings.daemon_cycles)
            ]
            if edits is not None:
                edits["daemon"] = self.daemon_edit_rounds(daemon)
        noop["daemon_xandikos"] = self.xandikos_daemon_noops()
        return SizeResult(first, noop, edits)

    def xandikos_daemon_noops(self) -> list[Sample]:
        """The daemon's no-op cycles on a rule with Xandikos on both sides (its start-up
        cycle adopts the prefilled copies)."""
        project = CalsyncdProject(self.root / "calsyncd-xandikos", self.radicale, self.xandikos)
        project.write(
            rule(XANDIKOS_RULE, "xan:xx-src", "xan:xx-dst", "two-way"), health_port=free_port()
        )
        with Daemon(project, XANDIKOS_RULE) as daemon:
            return [
                daemon_sample(
                    f"{self.size} events: daemon no-op cycle {n + 1}, Xandikos on both sides",
                    daemon.cycle(),
                    0,
                    nothing,
                )
                for n in range(self.settings.daemon_cycles)
            ]

    def first_syncs(self) -> Samples:
        """Each tool's first sync, which must find its calendars in sync: no write, and
        every etag on both servers as it was."""
        calendars = [
            (server, calendar)
            for server in (self.radicale, self.xandikos)
            for calendar in self.tools
        ]
        before = {(s.kind, c): dav.etags(s, c) for s, c in calendars}
        for (kind, calendar), found in before.items():
            expect(f"events in {kind}/{calendar}", len(found), self.size)
        first: Samples = {}
        for tool, sync in self.tools.items():
            what = f"{self.size} events: first {tool} sync (nothing to write)"
            first[tool] = [sample := timed(what, sync(), 0, nothing)]
            expect(f"{tool}'s first sync", sample.get("failed"), None)
        after = {(s.kind, c): dav.etags(s, c) for s, c in calendars}
        expect("etags unchanged by both first syncs", after == before, True)
        return first

    def edit_rounds(self) -> Samples:
        edits: Samples = {tool: [] for tool in self.tools}
        for rep in range(self.settings.reps):
            round_ = rep + 1
            for tool, sync in self.tools.items():
                changed = self.edit(tool, round_)
                what = f"{self.size} events: {EDITS} edits, {tool} sync, round {round_}"
                sample = timed(what, sync(), EDITS, partial(self.arrived, tool, changed, round_))
                edits[tool].append(sample)
                if "failed" in sample:
                    self.catch_up(tool, partial(_error, sync), changed, round_)
        return edits

    def daemon_edit_rounds(self, daemon: Daemon) -> list[Sample]:
        samples = []
        for rep in range(self.settings.reps):
            round_ = self.settings.reps + rep + 1
            changed = self.edit("calsyncd", round_)
            what = f"{self.size} events: daemon cycle after {EDITS} edits, round {round_}"
            sample = daemon_sample(
                what, daemon.cycle(), EDITS, partial(self.arrived, "calsyncd", changed, round_)
            )
            samples.append(sample)
            if "failed" in sample:
                self.catch_up("daemon", partial(_cycle_error, daemon), changed, round_)
        return samples

    def edit(self, calendar: str, round_: int) -> list[int]:
        """Edit round ``round_``'s events among the originals, as another client would."""
        changed = fill.edit_set(self.size, round_, EDITS)
        files = {fill.file_name(n): fill.edited(n, round_) for n in changed}
        dav.put_all(self.radicale, calendar, files)
        return changed

    def arrived(self, calendar: str, changed: list[int], round_: int) -> str | None:
        names = [fill.file_name(n) for n in changed]
        found = dav.summaries_by_uid(self.xandikos, calendar, names)
        wanted = {fill.original(n).uid: fill.edited_title(n, round_) for n in changed}
        missing = sorted(uid for uid, title in wanted.items() if found.get(uid) != title)
        return f"edits missing on Xandikos: {missing}" if missing else None

    def catch_up(
        self, tool: str, sync: Callable[[], str | None], changed: list[int], round_: int
    ) -> None:
        """Untimed syncs (``sync`` returns why it failed) after a failed round, until the
        edits are across."""
        calendar = "vdirsyncer" if tool == "vdirsyncer" else "calsyncd"
        problem = None
        for attempt in range(CATCH_UP):
            problem = sync() or self.arrived(calendar, changed, round_)
            say(f"{tool}: catch-up sync {attempt + 1}: {problem or 'edits across'}")
            if problem is None:
                return
        raise RuntimeError(f"{tool} did not bring round {round_}'s edits across: {problem}")


def _error(sync: Sync) -> str | None:
    return sync().error


def _cycle_error(daemon: Daemon) -> str | None:
    return daemon.cycle().error


def run_all(settings: Settings, root: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """Every scenario: raw samples as the JSON file records them, and the scenarios that
    could not complete ({scenario: why}); one failing does not stop the others."""
    raw: dict[str, Any] = {"initial_copy": {}, "first_sync": {}, "noop": {}, "edits": {}}
    errors: dict[str, str] = {}
    try:
        raw["initial_copy"] = initial_copy(settings, root / "copy")
    except Exception as exc:
        errors["initial copy"] = f"{type(exc).__name__}: {exc}"
        say(f"initial copy did not complete: {exc}")
    for size in settings.sizes:
        try:
            result = by_size(settings, root / f"size-{size}", size)
        except Exception as exc:
            errors[f"{size} events"] = f"{type(exc).__name__}: {exc}"
            say(f"{size} events did not complete: {exc}")
            continue
        raw["first_sync"][str(size)] = result.first
        raw["noop"][str(size)] = result.noop
        if result.edits is not None:
            raw["edits"][str(size)] = result.edits
    return raw, errors

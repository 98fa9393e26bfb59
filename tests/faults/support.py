"""Helpers of the fault suite.

- Rule files whose connections reach the test servers by URL (the server itself, or a
  :class:`~faults.proxy.FaultProxy` in front of it), for the command-line project of
  ``tests/cli`` (:class:`cli.conftest.Project`).
- ``calsyncd sync`` and ``calsyncd run`` as real processes.
- Reading each side back, independently of calsyncd's state.
- The tally every fault test ends with: per side, how many origins have more than one object
  (duplicates), which expected origins have none (lost), and which objects should not be
  there at all — and the one-line figures the tests print (``pytest -s``) and the session
  summary shows, quoted in ``docs/reliability.md``.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import anyio
from caldav.helpers import delete, dump, etags, put_at, seed
from caldav.servers import PASSWORD, DavServer
from caldav.servers import USER as DAV_USER
from cli.conftest import Project
from daemon.conftest import Daemon, clean_env, wait_until
from emulators.fixtures import USER, GoogleSetup
from emulators.google import foreign
from figures import report_figures

from calsyncd.model.event import CalendarObject, Event
from calsyncd.providers.base import Item

PASSWORD_FILE = "secrets/dav-password"
"""Next to ``rules/``: the Radicale password, read through ``${file:…}``."""
WINDOW = "{past: 3650d, future: 3650d}"

# -- rule files --------------------------------------------------------------------------------


def dav_connection(name: str, server: DavServer, url: str | None = None) -> str:
    """A ``caldav`` connection to ``server`` at ``url`` (default: the server itself)."""
    url = url or server.url
    if server.auth is None:
        return f"  {name}: {{type: caldav, url: '{url}'}}\n"
    return (
        f"  {name}: {{type: caldav, url: '{url}', username: {DAV_USER},"
        f" password: '${{file:../{PASSWORD_FILE}}}'}}\n"
    )


def google_connection(name: str, setup: GoogleSetup) -> str:
    return (
        f"  {name}: {{type: google, credentials: '{setup.key_file}', subject: {setup.subject},"
        f" base_url: '{setup.emulator.base_url}', auth_url: '{setup.emulator.token_url}',"
        " max_concurrency: 8}\n"
    )


def rule(name: str, source: str, target: str, **options: str) -> str:
    """A rule (one-way unless ``direction`` says) between ``connection:calendar`` specs;
    ``options`` are more keys."""

    def side(spec: str) -> str:
        connection, _, calendar = spec.partition(":")
        return f"{{connection: {connection}, calendar: '{calendar}'}}"

    lines = [
        f"  - name: {name}",
        f"    source: {side(source)}",
        f"    target: {side(target)}",
        f"    window: {WINDOW}",
        *(f"    {key}: {value}" for key, value in options.items()),
    ]
    return "\n".join(lines) + "\n"


def two_way(name: str, source: str, target: str, **options: str) -> str:
    """A two-way rule between ``connection:calendar`` specs; ``options`` are more keys."""
    return rule(name, source, target, direction="two-way", **options)


def write_rules(project: Project, connections: Iterable[str], rules: Iterable[str]) -> None:
    """The project's rule file: ``loc`` (its local folders) plus ``connections``, and
    ``rules``; the Radicale password goes in a file the connections reference."""
    secret = project.root / PASSWORD_FILE
    secret.parent.mkdir(exist_ok=True)
    secret.write_text(PASSWORD + "\n")
    project.write_rules("".join(connections) + "rules:\n" + "".join(rules))


# -- processes ---------------------------------------------------------------------------------


def command(project: Project, *args: str) -> list[str]:
    return [sys.executable, "-m", "calsyncd", "--config", str(project.config), *args]


def start_sync(project: Project) -> subprocess.Popen[bytes]:
    """``calsyncd sync`` in the background (to be killed)."""
    return subprocess.Popen(
        command(project, "sync"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=clean_env(),
    )


def sync_until_quiet(project: Project, rule: str, attempts: int = 8) -> list[str]:
    """Run ``calsyncd sync`` until a cycle of ``rule`` succeeds with nothing to do; the
    outcome lines of every run (faults may fail a few items per run: they are retried)."""
    quiet = f"{rule}: ok: 0 created, 0 updated, 0 deleted"
    lines: list[str] = []
    for _ in range(attempts):
        done = project.run("sync", check=None)
        assert done.returncode in (0, 1), done.stderr
        lines.append(done.stdout.strip())
        if quiet in done.stdout.splitlines():
            return lines
    raise AssertionError(f"no quiet cycle after {attempts} runs: {lines}")


DAEMON_SETTINGS = """\
rules: ../rules
state: ../state/calsyncd.db
health: {{listen: "127.0.0.1:0"}}
log: {{level: info, format: json}}
defaults: {{interval: {interval}}}
shutdown_timeout: {shutdown_timeout}
"""


@contextmanager
def running_daemon(
    project: Project, *, interval: str = "1s", shutdown_timeout: str = "10s", **env: str
) -> Iterator[Daemon]:
    """``calsyncd run`` on ``project`` (health on a free port); killed if still running at the
    end. ``env`` is added to the daemon's environment."""
    project.config.write_text(
        DAEMON_SETTINGS.format(interval=interval, shutdown_timeout=shutdown_timeout)
    )
    process = subprocess.Popen(
        command(project, "run"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(HOME=str(project.root), **env),
        cwd=project.root,
    )
    daemon = Daemon(process)
    daemon.start_reading()
    try:
        found = wait_until(
            lambda: daemon.events("http listening") or process.poll() is not None,
            20,
            "the daemon to listen",
        )
        assert isinstance(found, list), daemon.text
        daemon.port = int(found[0]["port"])
        yield daemon
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(10)
        daemon.close()


def changes_total(daemon: Daemon, rule: str) -> float:
    """Writes the daemon made for ``rule`` so far (creates + updates + deletes)."""
    total = 0.0
    for op in ("create", "update", "delete"):
        total += daemon.metric(f'calsyncd_changes_total{{op="{op}",rule="{rule}"}}') or 0.0
    return total


def cycles_ok(daemon: Daemon, rule: str) -> float:
    return daemon.metric(f'calsyncd_reconcile_total{{result="ok",rule="{rule}"}}') or 0.0


def wait_for_quiet_cycles(daemon: Daemon, rule: str, timeout: float = 60.0) -> None:
    """Until two successful cycles in a row changed nothing."""

    def quiet() -> bool:
        before_ok, before_changes = cycles_ok(daemon, rule), changes_total(daemon, rule)
        wait_until(lambda: cycles_ok(daemon, rule) >= before_ok + 2, timeout, "two cycles")
        return changes_total(daemon, rule) == before_changes

    wait_until(quiet, timeout, f"quiet cycles of {rule}")


# -- reading the sides back --------------------------------------------------------------------


def google_items(setup: GoogleSetup) -> list[Item]:
    """Every object of the emulated calendar with its etag, read with the provider; the
    emulator's faults are off meanwhile (the test reads, calsyncd is not being tested)."""

    async def read() -> list[Item]:
        async with setup.calendar() as calendar:
            changes = await calendar.list_changes(None)
        assert changes.skipped == [], changes.skipped
        return changes.items

    faults, setup.emulator.faults = setup.emulator.faults, type(setup.emulator.faults)()
    try:
        return anyio.run(read)
    finally:
        setup.emulator.faults = faults


def google_objects(setup: GoogleSetup) -> list[CalendarObject]:
    return [item.obj for item in google_items(setup)]


def origin(obj: CalendarObject) -> str:
    """The UID of the original an object is (or copies)."""
    return obj.marker.origin if obj.marker is not None else obj.uid


def by_origin(objects: Iterable[CalendarObject]) -> dict[str, CalendarObject]:
    return {origin(o): o for o in objects}


# -- the tally ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    """One side compared with the origins it must hold (each exactly once)."""

    side: str
    objects: int
    duplicates: int
    lost: tuple[str, ...]
    unexpected: tuple[str, ...]


def tally(side: str, objects: Collection[CalendarObject], expected: Collection[str]) -> Tally:
    counts = Counter(origin(o) for o in objects)
    return Tally(
        side=side,
        objects=len(objects),
        duplicates=sum(n - 1 for n in counts.values()),
        lost=tuple(sorted(set(expected) - counts.keys())),
        unexpected=tuple(sorted(counts.keys() - set(expected))),
    )


def assert_exactly_once(
    sides: Mapping[str, Collection[CalendarObject]], expected: Collection[str]
) -> dict[str, int]:
    """Every side holds each expected origin exactly once and nothing else; returns the
    ``duplicates``/``lost`` figures (zeros, counted — not assumed)."""
    tallies = [tally(side, objects, expected) for side, objects in sides.items()]
    for t in tallies:
        assert (t.duplicates, t.lost, t.unexpected) == (0, (), ()), t
    return {
        "duplicates": sum(t.duplicates for t in tallies),
        "lost": sum(len(t.lost) for t in tallies),
    }


def report(name: str, **figures: object) -> str:
    """Print a test's figures as one line and keep it for the session summary."""
    return report_figures("fault-injection figures", "FAULTS", name, **figures)


class Stopwatch:
    """Seconds since it was made, as ``12.3s``."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __str__(self) -> str:
        return f"{time.monotonic() - self.started:.1f}s"


# -- events ------------------------------------------------------------------------------------

BASE = datetime(2030, 3, 4, 8, tzinfo=UTC)


def essence(obj: CalendarObject) -> tuple[object, ...]:
    """What a copy must agree on with its original, whichever provider stores it."""
    event = obj.master
    assert event is not None, obj.uid
    instants = (w.timestamp() if isinstance(w, datetime) else w for w in (event.start, event.end))
    return (event.title, event.location, event.description, *instants)


def retitled(obj: CalendarObject, title: str) -> CalendarObject:
    assert obj.master is not None
    return replace(obj, master=replace(obj.master, title=title))


def simple_event(uid: str, n: int) -> CalendarObject:
    """A one-hour event, ``n`` hours after a fixed start, with fields every provider keeps."""
    start = BASE + timedelta(hours=n)
    master = Event(
        start=start,
        end=start + timedelta(hours=1),
        title=f"Event {n}",
        location=f"Room {n % 17}",
        description=f"Case {n}\nsecond line",
    )
    return CalendarObject(uid, master)


# -- a Google calendar and a CalDAV calendar, two-way ----------------------------------------


@dataclass
class GoogleAndDav:
    """Originals on a Google calendar and on a CalDAV calendar, changed as other clients
    would; ``expected`` is what a two-way rule between them must leave on both sides (every
    live original by UID, as last edited)."""

    google: GoogleSetup
    server: DavServer
    path: str
    expected: dict[str, CalendarObject]
    google_ids: dict[str, str]
    made: int = 0
    edits: int = 0
    touched: set[str] = field(default_factory=set)
    """Originals added, edited or removed since :meth:`seeded` (their copies change too)."""

    @classmethod
    def seeded(cls, google: GoogleSetup, server: DavServer, each: int) -> GoogleAndDav:
        made = cls(google, server, server.make_calendar(), {}, {})
        made.add(each, each)
        made.touched.clear()
        return made

    def originals(self, side: str) -> list[str]:
        """The UIDs of ``side``'s live originals, oldest first."""
        mine = [uid for uid in self.expected if uid.startswith(f"{side}-")]
        return sorted(mine, key=lambda uid: int(uid.partition("-")[2].partition("@")[0]))

    def add(self, on_google: int, on_dav: int) -> None:
        """New originals on each side."""
        news: dict[str, list[CalendarObject]] = {"google": [], "dav": []}
        for side, count in (("google", on_google), ("dav", on_dav)):
            for _ in range(count):
                self.made += 1
                news[side].append(simple_event(f"{side}-{self.made}@faults.example", self.made))
        for obj in news["google"]:
            self.google_ids[obj.uid] = foreign.seed(self.google.emulator.store, USER, obj)
        seed(self.server, self.path, news["dav"])
        self.expected.update({o.uid: o for o in news["google"] + news["dav"]})
        self.touched.update(o.uid for o in news["google"] + news["dav"])

    def edit(self, count: int) -> None:
        """Retitle ``count`` originals on each side."""
        hrefs = {origin(o): href for href, o in dump(self.server, self.path).items()}
        for side in ("google", "dav"):
            for uid in self.originals(side)[:count]:
                self.edits += 1
                self.touched.add(uid)
                self.expected[uid] = edited = retitled(self.expected[uid], f"Edit {self.edits}")
                if side == "google":
                    store = self.google.emulator.store
                    foreign.replace(store, USER, self.google_ids[uid], edited)
                else:
                    put_at(self.server, hrefs[uid], edited)

    def remove(self, count: int) -> None:
        """Delete the ``count`` newest originals on each side."""
        hrefs = {origin(o): href for href, o in dump(self.server, self.path).items()}
        for side in ("google", "dav"):
            for uid in self.originals(side)[-count:]:
                del self.expected[uid]
                self.touched.add(uid)
                if side == "google":
                    self.google.emulator.store.delete(USER, self.google_ids.pop(uid), if_match=None)
                else:
                    delete(self.server, hrefs[uid])

    def sides(self) -> dict[str, list[CalendarObject]]:
        return {
            "google": google_objects(self.google),
            "caldav": list(dump(self.server, self.path).values()),
        }

    def check(self) -> dict[str, int]:
        """Both sides hold every expected original once, as last edited; the figures."""
        sides = self.sides()
        figures = assert_exactly_once(sides, self.expected)
        for objects in sides.values():
            found = by_origin(objects)
            for uid, original in self.expected.items():
                assert essence(found[uid]) == essence(original), uid
        return figures

    def etags(self) -> dict[tuple[str, str], str]:
        """The etag of every object on both sides, by side and origin."""
        found = {("google", origin(item.obj)): item.etag for item in google_items(self.google)}
        tags = etags(self.server, self.path)
        for href, obj in dump(self.server, self.path).items():
            found["caldav", origin(obj)] = tags[href]
        return found

    def converged(self) -> bool:
        try:
            self.check()
        except AssertionError:
            return False
        return True

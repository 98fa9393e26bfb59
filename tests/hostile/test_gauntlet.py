"""Every hostile peer at once, against one running daemon (issue 11, "done when").

One ``calsyncd run`` holds a rule per hostile kind, each reading its own peer, all cycling
every second at the same time:

- CalDAV (a real Radicale behind the fault proxy, one calendar per kind): a 200 MB PROPFIND
  answer (its connection's timeout long enough for the size limit to be what stops it), a
  sync answer dripping a byte a second, a ``507`` loop without progress, an entity bomb;
- ICS feeds (served by the proxy alone): one dripping a byte a second, 16,000 nested
  components, a feed past the 6 MiB cap, an endless ``FREQ=SECONDLY`` invitation (and the
  same rule inside a custom VTIMEZONE), an object whose ``DURATION`` overflows — the last
  three next to good events;
- and, half-way, a YAML alias bomb dropped into the rules folder.

Next to them a local rule must go on copying what is added meanwhile. Throughout, the
daemon answers ``/healthz`` within 1 s and stays under 300 MiB; SIGTERM ends it within its
``shutdown_timeout``, with no traceback in its log. Each hostile rule ends in the state its
peer deserves: failed with the reason named, or synced with the bad object skipped by name.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from caldav.servers import DavServer
from cli.conftest import Project
from daemon.conftest import ics, wait_until
from faults.proxy import FaultProxy, Reply, Seen
from faults.support import write_rules

from hostile.bodies import (
    FEED_HEAD,
    MULTISTATUS_HEAD,
    XML,
    drip,
    huge_multistatus,
    loop_507,
    quadratic_blowup,
)
from hostile.support import hostile_daemon, report
from hostile.test_http import dav_connection
from hostile.test_rule_files import BOMB

NOWHERE = "http://127.0.0.1:9/"
SHUTDOWN = 3.0
FMT = "%Y%m%dT%H%M%SZ"


def vevent(uid: str, body: str) -> str:
    return f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20250101T000000Z\r\n{body}END:VEVENT\r\n"


def good(prefix: str, count: int = 3) -> str:
    """``count`` one-hour events in the coming days."""
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    return "".join(
        vevent(
            f"{prefix}-{n}@gauntlet.example",
            f"DTSTART:{start + timedelta(days=n):{FMT}}\r\n"
            f"DTEND:{start + timedelta(days=n, hours=1):{FMT}}\r\nSUMMARY:Good {n}\r\n",
        )
        for n in range(count)
    )


def feed(body: str) -> bytes:
    return FEED_HEAD + body.encode() + b"END:VCALENDAR\r\n"


NESTED = "".join(f"BEGIN:X{n}\r\n" for n in range(16_000)) + "".join(
    f"END:X{n}\r\n" for n in reversed(range(16_000))
)
EVIL_ZONE = (
    "BEGIN:VTIMEZONE\r\nTZID:Evil/Seconds\r\nBEGIN:STANDARD\r\nDTSTART:20000101T000000\r\n"
    "TZOFFSETFROM:+0000\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=SECONDLY\r\nEND:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
)
FEEDS: dict[str, bytes] = {
    "nested": feed(good("nested") + vevent("deep@gauntlet.example", NESTED)),
    "big": feed(good("big", 1) + vevent("pad@gauntlet.example", "X-PAD:" + "x" * 7_000_000)),
    "secondly": feed(
        EVIL_ZONE
        + good("secondly")
        + vevent(
            "secondly@gauntlet.example",
            "DTSTART:20200101T000000Z\r\nDTEND:20200101T000001Z\r\nRRULE:FREQ=SECONDLY\r\n",
        )
        + vevent(
            "zoned@gauntlet.example",
            "DTSTART;TZID=Evil/Seconds:20300101T100000\r\nSUMMARY:zoned\r\n",
        )
    ),
    "overflow": feed(
        good("overflow")
        + vevent(
            "overflow@gauntlet.example",
            "DTSTART:20300101T100000Z\r\nDURATION:P999999999999999999W\r\n",
        )
    ),
}
FAILING = {  # rule: what its last error must say
    "dav-huge": "answer larger than",
    "dav-drip": "no complete answer within 2s",
    "dav-loop": "507",
    "dav-bomb": "DTD",
    "feed-drip": "no complete answer within 2s",
    "feed-big": "larger than",
}
SKIPPING = {"feed-nested": 3, "feed-secondly": 3, "feed-overflow": 3}
"""Rules that sync their good events (this many) and skip the bad object by name."""


def test_every_hostile_peer_at_once(project: Project, radicale_server: DavServer) -> None:
    calendars = {kind: radicale_server.make_calendar() for kind in ("huge", "drip", "loop", "bomb")}
    rounds = iter(range(10**9))

    def dav(seen: Seen) -> Reply | None:
        path, sync = seen.path, seen.report == "sync-collection"
        if seen.method == "PROPFIND" and path == calendars["huge"]:
            return Reply(207, huge_multistatus(200 * 1000 * 1000), headers=XML)
        if sync and path == calendars["drip"]:
            return Reply(207, drip(MULTISTATUS_HEAD), headers=XML, drip=1.0)
        if sync and path == calendars["loop"]:
            body = loop_507(calendars["loop"], 0 if next(rounds) % 2 else 1)
            return Reply(207, [body], headers=XML, length=len(body))
        if sync and path == calendars["bomb"]:
            body = quadratic_blowup()
            return Reply(207, [body], headers=XML, length=len(body))
        return None

    def feeds(seen: Seen) -> Reply:
        name = seen.path.strip("/").removesuffix(".ics")
        if name == "drip":
            return Reply(200, drip(FEED_HEAD), drip=1.0)
        body = FEEDS[name]
        return Reply(200, [body], headers={"Content-Type": "text/calendar"}, length=len(body))

    with FaultProxy(radicale_server.url) as dav_proxy, FaultProxy(NOWHERE) as feed_proxy:
        dav_proxy.tamper, feed_proxy.tamper = dav, feeds
        big = dav_connection(dav_proxy.url, timeout="20s").replace("  rad:", "  rad-big:")
        connections = [dav_connection(dav_proxy.url), big] + [
            f"  f-{name}: {{type: ics, url: '{feed_proxy.url}{name}.ics', timeout: 2s}}\n"
            for name in ("drip", *FEEDS)
        ]
        rules = [
            rule(project, f"dav-{kind}", "rad-big" if kind == "huge" else "rad", calendar)
            for kind, calendar in calendars.items()
        ]
        rules += [rule(project, f"feed-{name}", f"f-{name}") for name in ("drip", *FEEDS)]
        rules.append(rule(project, "local", "loc", "a"))
        project.calendar("a").mkdir()
        (project.calendar("a") / "one.ics").write_text(ics("one@test", "First"))
        write_rules(project, connections, rules)

        with hostile_daemon(project, shutdown_timeout=f"{SHUTDOWN:g}s") as running:
            daemon = running.daemon
            started = time.monotonic()
            settled = wait_until(lambda: all_settled(daemon.status()), 60, "every rule to settle")
            settled_after = time.monotonic() - started
            add_and_wait(project, "two")
            (project.root / "rules" / "bomb.yaml").write_text(BOMB)
            wait_until(lambda: daemon.status()["config"]["error"], 15, "the bomb refused")
            add_and_wait(project, "three")
            time.sleep(3)  # a few more rounds of everything at once, under the health watch
            cycles = sum_metric(daemon.get("/metrics").text, "calsyncd_reconcile_total")
            running.stop(within=SHUTDOWN)
    for name, expected in FAILING.items():
        assert settled[name]["last_success"] is None, (name, settled[name])
        assert expected in settled[name]["last_error"], (name, settled[name])
    for name, good_count in SKIPPING.items():
        assert len(list(project.calendar(name).glob("*.ics"))) == good_count, name
    skipped = " ".join(str(e.get("problem")) for e in daemon.events("item skipped"))
    for uid in ("deep@", "secondly@", "zoned@", "overflow@"):
        assert uid in skipped, uid
    report(
        "every hostile peer at once (daemon)",
        hostile_rules=len(FAILING) + len(SKIPPING),
        cycles=int(cycles),
        settled_s=round(settled_after, 1),
        **running.figures,
    )


def rule(project: Project, name: str, connection: str, calendar: str | None = None) -> str:
    project.calendar(name).mkdir(parents=True, exist_ok=True)
    source = f"{{connection: {connection}" + (f", calendar: '{calendar}'}}" if calendar else "}")
    return (
        f"  - name: {name}\n    source: {source}\n"
        f"    target: {{connection: loc, calendar: {name}}}\n"
        "    window: {past: 30d, future: 3650d}\n"
    )


def all_settled(status: dict[str, Any]) -> dict[str, Any] | None:
    """The rules once every one of them has finished a cycle the way its peer makes it."""
    rules = status["rules"]
    failed = all(rules[name]["last_error"] for name in FAILING)
    synced = all(rules[name]["last_success"] for name in (*SKIPPING, "local"))
    return rules if failed and synced else None


def add_and_wait(project: Project, uid: str) -> None:
    (project.calendar("a") / f"{uid}.ics").write_text(ics(f"{uid}@test", uid.title()))
    wait_until(
        lambda: any(uid.title() in p.read_text() for p in project.calendar("local").glob("*.ics")),
        10,
        f"the local rule to copy {uid}",
    )


def sum_metric(text: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{")
    )

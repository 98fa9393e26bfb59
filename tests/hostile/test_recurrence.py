"""Recurrence rules that never end: in an invitation, in a custom VTIMEZONE, at their worst.

Issue 11, finding 4: an invitation with ``RRULE:FREQ=SECONDLY`` and no end used to make the
window check run for minutes on the event loop (``/healthz`` silent, SIGTERM ignored), and
the same rule in a VTIMEZONE observance took 742 MiB. Each test here puts such objects next
to good events in a feed served over HTTP and in a local folder and checks that:

- the daemon keeps answering ``/healthz`` within 1 s, stays under 300 MiB and stops within
  ``shutdown_timeout`` on SIGTERM, with no traceback;
- every good event is copied, and the log names each bad event (its UID) with the reason it
  was skipped;
- the worst rules dateutil can be given (filters that never match, which loop inside one
  step; huge COUNT, INTERVAL, BYSETPOS; UNTIL in year 9999) cost a bounded time each.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cli.conftest import Project
from conformance.feedserver import FeedServer
from daemon.conftest import wait_until

from calsyncd.model.ical import parse_object
from hostile.support import HostileDaemon, assert_no_traceback, calsyncd, hostile_daemon, report

GOOD = 5
SHUTDOWN = 3.0
WINDOW = "{past: 30d, future: 365d}"
FMT = "%Y%m%dT%H%M%SZ"
SECONDLY = "DTSTART:20200101T000000Z\r\nDTEND:20200101T000001Z\r\nRRULE:FREQ=SECONDLY\r\n"
EVIL_ZONE = (
    "BEGIN:VTIMEZONE\r\nTZID:Every Second\r\n"
    "BEGIN:STANDARD\r\nDTSTART:20200101T000000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0000\r\n"
    "RRULE:FREQ=SECONDLY\r\nEND:STANDARD\r\n"
    "BEGIN:DAYLIGHT\r\nDTSTART:20200101T000000\r\nTZOFFSETFROM:+0000\r\nTZOFFSETTO:+0100\r\n"
    "RRULE:FREQ=SECONDLY\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
)
WORST = {
    # UID: the recurrence of an event that started years before the window. These cost
    # more than an object may: each is skipped, named.
    "secondly-feb-30@worst.example": "RRULE:FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30",
    "daily-feb-30@worst.example": "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
    "minutely-setpos@worst.example": "RRULE:FREQ=MINUTELY;BYSETPOS=1,-1;BYMONTH=2;BYMONTHDAY=30",
    "secondly-count@worst.example": "RRULE:FREQ=SECONDLY;COUNT=1000000000",
    "secondly-until@worst.example": "RRULE:FREQ=SECONDLY;UNTIL=99991231T235959Z",
    "hourly-leap-day@worst.example": (
        "RRULE:FREQ=SECONDLY;BYSECOND=59;BYMINUTE=59;BYHOUR=23;BYMONTH=2;BYMONTHDAY=29"
    ),
    "yearly-every-second@worst.example": (
        "RRULE:FREQ=YEARLY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23"
        ";BYMINUTE=" + ",".join(str(m) for m in range(60)) + ";BYSECOND=0,30"
    ),
}
CHEAP = {
    # These look as bad and are not: they are answered in a moment (copied or out of window).
    "minutely-interval@cheap.example": "RRULE:FREQ=MINUTELY;INTERVAL=7;BYHOUR=3;BYMINUTE=1",
    "daily-interval@cheap.example": "RRULE:FREQ=DAILY;INTERVAL=999999999999999999999",
    "yearly-feb-30@cheap.example": "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
}


def stamp(when: datetime) -> str:
    return when.strftime(FMT)


def vevent(uid: str, body: str) -> str:
    stamp = "DTSTAMP:20261101T000000Z\r\n"
    return f"BEGIN:VEVENT\r\nUID:{uid}\r\n{stamp}{body}SUMMARY:x\r\nEND:VEVENT\r\n"


def good_vevent(uid: str, n: int) -> str:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2, hours=n)
    return vevent(uid, f"DTSTART:{stamp(start)}\r\nDTEND:{stamp(start + timedelta(hours=1))}\r\n")


def vcalendar(*parts: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//hostile//EN\r\n"
        + "".join(parts)
        + ("END:VCALENDAR\r\n")
    )


def good_uids(prefix: str) -> set[str]:
    return {f"{prefix}-{n}@good.example" for n in range(GOOD)}


def write_folder(folder: Path, prefix: str, bad: dict[str, str], zones: str = "") -> None:
    """Good events and ``bad`` ones (UID → VEVENT body), one file each."""
    folder.mkdir(parents=True, exist_ok=True)
    for n, uid in enumerate(sorted(good_uids(prefix))):
        (folder / f"{prefix}-{n}.ics").write_text(vcalendar(good_vevent(uid, n)), newline="")
    for n, (uid, body) in enumerate(bad.items()):
        (folder / f"bad-{n}.ics").write_text(vcalendar(zones, vevent(uid, body)), newline="")


def write_feed(path: Path, prefix: str, bad: dict[str, str], zones: str = "") -> None:
    good = [good_vevent(uid, n) for n, uid in enumerate(sorted(good_uids(prefix)))]
    bad_events = [vevent(uid, body) for uid, body in bad.items()]
    path.write_text(vcalendar(zones, *good[:2], *bad_events, *good[2:]), newline="")


def copies(folder: Path) -> set[str]:
    found = set()
    for path in folder.glob("*.ics"):
        try:
            obj = parse_object(path.read_bytes(), source=path.name)
            found.add(obj.marker.origin if obj.marker and obj.marker.origin else obj.uid)
        except ValueError:  # being written
            continue
    return found


def rule(name: str, source: str, target: str) -> str:
    return (
        f"  - name: {name}\n    source: {source}\n"
        f"    target: {{connection: loc, calendar: {target}}}\n    window: {WINDOW}\n"
    )


def feed_and_folder_rules(project: Project, url: str) -> None:
    for folder in ("feed-copy", "inbox-copy"):
        project.calendar(folder).mkdir()
    project.write_rules(
        f"  feed: {{type: ics, url: '{url}'}}\n"
        "rules:\n"
        + rule("feed", "{connection: feed}", "feed-copy")
        + rule("inbox", "{connection: loc, calendar: inbox}", "inbox-copy")
    )


def skipped_problems(hostile: HostileDaemon) -> list[str]:
    return [str(e.get("problem")) for e in hostile.daemon.events("item skipped")]


def run_until_synced(
    project: Project, hostile: HostileDaemon, bad: list[str], timeout: float = 30.0
) -> float:
    """Seconds until both copies hold every good event and the log named every bad UID in
    two cycles of each rule (it is read again each cycle)."""
    started = datetime.now(UTC)

    def done() -> bool:
        problems = skipped_problems(hostile)
        return (
            copies(project.calendar("feed-copy")) == good_uids("feed")
            and copies(project.calendar("inbox-copy")) == good_uids("inbox")
            and all(sum(uid in p for p in problems) >= 4 for uid in bad)
        )

    wait_until(done, timeout, "the good events copied and the bad ones named")
    return (datetime.now(UTC) - started).total_seconds()


def figures(hostile: HostileDaemon, synced_in: float) -> dict[str, Any]:
    return {"synced_in": f"{synced_in:.1f}s", **hostile.figures}


def test_endless_secondly_invitation_in_a_feed_and_a_folder(
    project: Project, tmp_path: Path
) -> None:
    bad = {"every-second@evil.example": SECONDLY}
    feed = tmp_path / "feed.ics"
    write_feed(feed, "feed", bad)
    write_folder(project.calendar("inbox"), "inbox", bad)
    with FeedServer({"/feed.ics": feed}) as server:
        feed_and_folder_rules(project, server.url("/feed.ics"))
        with hostile_daemon(project, shutdown_timeout=f"{SHUTDOWN:.0f}s") as hostile:
            synced_in = run_until_synced(project, hostile, list(bad))
            hostile.stop(within=SHUTDOWN)
    problems = [p for p in skipped_problems(hostile) if "every-second@evil.example" in p]
    assert any("RRULE" in p or "recurrence" in p for p in problems), problems
    report("4 FREQ=SECONDLY invitation (feed + folder, daemon)", **figures(hostile, synced_in))


def test_sigterm_while_many_endless_invitations_are_expanded(
    project: Project, tmp_path: Path
) -> None:
    """A feed of 400 such invitations: a minute of expansion, each object within its
    budget. The daemon answers meanwhile, and SIGTERM stops it mid-work in time: the
    worker thread stops at its next budget check once the cycle is cancelled."""
    bad = {f"every-second-{n}@evil.example": SECONDLY for n in range(400)}
    feed = tmp_path / "feed.ics"
    write_feed(feed, "feed", bad)
    with FeedServer({"/feed.ics": feed}) as server:
        project.calendar("feed-copy").mkdir()
        project.write_rules(
            f"  feed: {{type: ics, url: '{server.url('/feed.ics')}'}}\n"
            "rules:\n" + rule("feed", "{connection: feed}", "feed-copy")
        )
        with hostile_daemon(project, shutdown_timeout=f"{SHUTDOWN:.0f}s") as hostile:
            wait_until(lambda: server.counts[200] > 0, 10, "the feed fetched")
            wait_until(lambda: hostile.watch.samples >= 10, 10, "two seconds of /healthz")
            assert not hostile.daemon.events("cycle done"), "the expansion ended too soon"
            hostile.stop(within=SHUTDOWN)
    report("4 SIGTERM amid 400 FREQ=SECONDLY invitations (daemon)", **hostile.figures)


def test_endless_rule_in_a_custom_vtimezone(project: Project, tmp_path: Path) -> None:
    bad = {"every-second-zone@evil.example": "DTSTART;TZID=Every Second:20270101T100000\r\n"}
    feed = tmp_path / "feed.ics"
    write_feed(feed, "feed", bad, EVIL_ZONE)
    write_folder(project.calendar("inbox"), "inbox", bad, EVIL_ZONE)
    with FeedServer({"/feed.ics": feed}) as server:
        feed_and_folder_rules(project, server.url("/feed.ics"))
        with hostile_daemon(project, shutdown_timeout=f"{SHUTDOWN:.0f}s") as hostile:
            synced_in = run_until_synced(project, hostile, list(bad))
            hostile.stop(within=SHUTDOWN)
    problems = [p for p in skipped_problems(hostile) if "every-second-zone@evil.example" in p]
    assert any("Every Second" in p for p in problems), problems
    report("4 FREQ=SECONDLY in a VTIMEZONE (feed + folder, daemon)", **figures(hostile, synced_in))


def test_worst_case_rules_cost_a_bounded_time_each(project: Project, tmp_path: Path) -> None:
    """Each rule twice (feed and folder) in one ``sync``: a few seconds in all."""
    rules = {**WORST, **CHEAP}
    bad = {uid: f"DTSTART:20200101T000000Z\r\n{rule}\r\n" for uid, rule in rules.items()}
    feed = tmp_path / "feed.ics"
    write_feed(feed, "feed", bad)
    write_folder(project.calendar("inbox"), "inbox", bad)
    with FeedServer({"/feed.ics": feed}) as server:
        feed_and_folder_rules(project, server.url("/feed.ics"))
        done = calsyncd(project, "sync", timeout=60)
    assert_no_traceback(done.output)
    assert done.returncode == 0, done.output
    assert copies(project.calendar("feed-copy")) >= good_uids("feed")
    assert copies(project.calendar("inbox-copy")) >= good_uids("inbox")
    skipped = [line for line in done.stderr.splitlines() if "skipped:" in line]
    named = {uid for uid in rules if sum(uid in line for line in skipped) == 2}
    assert named == set(WORST), done.stderr
    assert done.seconds < 20, done.seconds
    report(
        "4 worst-case RRULEs (feed + folder, sync)",
        rules=len(rules),
        skipped_named=2 * len(named),
        time=f"{done.seconds:.1f}s",
        peak_rss=f"{done.peak_rss_mib:.0f} MiB",
    )

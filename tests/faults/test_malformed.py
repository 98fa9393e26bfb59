"""Malformed iCalendar objects in a feed and in a calendar folder, through ``calsyncd sync``.

A feed served over HTTP and a local calendar folder each hold good events and objects that
cannot be read: invalid or missing dates, an unknown time zone, unreadable lines, bad
durations, exceptions and exclusions, a VEVENT without UID; in the folder also a truncated
file, an empty one, binary garbage and a UTF-16 file. Every cycle skips each of them with a
message that names it (the UID, ``VEVENT #n`` or the file), syncs every good event, deletes
nothing on their account, and a second cycle does the same without a write.

An RRULE that cannot be expanded from its start is skipped like any unreadable object.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from caldav.helpers import dump, seed
from caldav.servers import DavServer
from cli.conftest import Project
from conformance.feedserver import FeedServer

from calsyncd.model.ical import parse_object, serialize_object
from faults.support import (
    Stopwatch,
    assert_exactly_once,
    dav_connection,
    report,
    simple_event,
    two_way,
    write_rules,
)

GOOD = 30
STAMP = "DTSTAMP:20261101T000000Z\r\n"

BROKEN_EVENTS = {
    # UID: the VEVENT's properties after UID and DTSTAMP
    "bad-start@faults.example": "DTSTART:20301345T990000Z\r\nSUMMARY:bad start\r\n",
    "no-start@faults.example": "SUMMARY:no start\r\n",
    "unknown-zone@faults.example": (
        "DTSTART;TZID=Nowhere/Atlantis:20300101T100000\r\nSUMMARY:unknown zone\r\n"
    ),
    "bad-line@faults.example": "DTSTART:20300101T100000Z\r\nSUMMARY no colon\r\n",
    "bad-duration@faults.example": "DTSTART:20300101T100000Z\r\nDURATION:PTXH\r\nSUMMARY:x\r\n",
    "bad-exdate@faults.example": (
        "DTSTART:20300101T100000Z\r\nRRULE:FREQ=DAILY;COUNT=3\r\nEXDATE:notadate\r\nSUMMARY:x\r\n"
    ),
    "bad-recurrence-id@faults.example": (
        "DTSTART:20300101T100000Z\r\nRECURRENCE-ID:yesterday\r\nSUMMARY:x\r\n"
    ),
}
NO_UID = "DTSTART:garbage\r\nSUMMARY:no uid\r\n"


def vevent(uid: str | None, body: str) -> str:
    return "BEGIN:VEVENT\r\n" + (f"UID:{uid}\r\n" if uid else "") + STAMP + body + "END:VEVENT\r\n"


def vcalendar(*events: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//faults//EN\r\n"
        + "".join(events)
        + ("END:VCALENDAR\r\n")
    )


def good_events(prefix: str, count: int) -> list[str]:
    """``count`` events as VEVENT texts, through calsyncd's own writer."""
    texts = []
    for n in range(count):
        ics = serialize_object(simple_event(f"{prefix}-{n}@faults.example", n)).decode()
        texts.append(ics.split("BEGIN:VEVENT", 1)[1].rsplit("END:VEVENT", 1)[0])
    return ["BEGIN:VEVENT" + text + "END:VEVENT\r\n" for text in texts]


def test_a_feed_with_malformed_objects(
    project: Project, radicale_server: DavServer, tmp_path: Path
) -> None:
    clock = Stopwatch()
    feed = tmp_path / "feed.ics"
    broken = [vevent(uid, body) for uid, body in BROKEN_EVENTS.items()] + [vevent(None, NO_UID)]
    good = good_events("feed", GOOD + 1)
    feed.write_text(vcalendar(*good[:10], *broken, *good[10:GOOD]), newline="")
    target = radicale_server.make_calendar()
    with FeedServer({"/feed.ics": feed}) as server:
        write_rules(
            project,
            [f"  feed: {{type: ics, url: '{server.url('/feed.ics')}'}}\n",
             dav_connection("rad", radicale_server)],
            ["  - name: feed\n    source: {connection: feed}\n"
             f"    target: {{connection: rad, calendar: '{target}'}}\n"
             "    window: {past: 3650d, future: 3650d}\n"],
        )  # fmt: skip
        first = project.run("sync")
        unchanged = project.run("sync")  # the server answers 304
        feed.write_text(vcalendar(*good[:10], *broken, *good[10:]), newline="")
        changed = project.run("sync")
    assert f"feed: ok: {GOOD} created, 0 updated, 0 deleted" in first.stdout
    assert "feed: ok: 0 created, 0 updated, 0 deleted" in unchanged.stdout
    assert "feed: ok: 1 created, 0 updated, 0 deleted" in changed.stdout
    for run in (first, unchanged, changed):
        for uid in BROKEN_EVENTS:
            assert uid in run.stderr, (uid, run.stderr)
        assert "VEVENT #" in run.stderr
    copies = dump(radicale_server, target).values()
    expected = {f"feed-{n}@faults.example" for n in range(GOOD + 1)}
    figures = assert_exactly_once({"radicale": copies}, expected)
    report(
        "malformed-feed",
        objects=len(good) + len(broken),
        malformed_skipped=len(broken),
        synced=len(copies),
        **figures,
        time=clock,
    )


BROKEN_FILES = {
    "truncated.ics": b"BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:x\n",
    "empty.ics": b"",
    "garbage.ics": bytes(range(256)) * 4,
    "no-start.ics": vcalendar(vevent("file-no-start@faults.example", "SUMMARY:x\r\n")).encode(),
    "unknown-zone.ics": vcalendar(
        vevent("file-zone@faults.example", BROKEN_EVENTS["unknown-zone@faults.example"])
    ).encode(),
    "bad-duration.ics": vcalendar(
        vevent("file-duration@faults.example", BROKEN_EVENTS["bad-duration@faults.example"])
    ).encode(),
    "utf16.ics": vcalendar(vevent("file-utf16@faults.example", NO_UID)).encode("utf-16"),
}


def test_a_calendar_folder_with_malformed_files(
    project: Project, radicale_server: DavServer
) -> None:
    clock = Stopwatch()
    folder = project.calendar("inbox")
    folder.mkdir()
    local = [simple_event(f"file-{n}@faults.example", n) for n in range(GOOD)]
    for obj in local:
        (folder / f"{obj.uid.split('@')[0]}.ics").write_bytes(serialize_object(obj))
    for name, data in BROKEN_FILES.items():
        (folder / name).write_bytes(data)
    remote = [simple_event(f"dav-{n}@faults.example", 100 + n) for n in range(10)]
    path = radicale_server.make_calendar()
    seed(radicale_server, path, remote)
    write_rules(
        project,
        [dav_connection("rad", radicale_server)],
        [two_way("folder", "loc:inbox", f"rad:{path}")],
    )
    first = project.run("sync")
    second = project.run("sync")
    assert f"folder: ok: {GOOD + len(remote)} created, 0 updated, 0 deleted" in first.stdout
    assert "folder: ok: 0 created, 0 updated, 0 deleted" in second.stdout
    for run in (first, second):
        for name in BROKEN_FILES:
            assert name in run.stderr, (name, run.stderr)
    for name, data in BROKEN_FILES.items():  # left as they were
        assert (folder / name).read_bytes() == data, name
    readable = [
        parse_object(p.read_bytes(), source=p.name)
        for p in folder.glob("*.ics")
        if p.name not in BROKEN_FILES
    ]
    expected = {o.uid for o in local + remote}
    figures = assert_exactly_once(
        {"folder": readable, "radicale": dump(radicale_server, path).values()}, expected
    )
    report(
        "malformed-folder",
        files=GOOD + len(BROKEN_FILES),
        malformed_skipped=len(BROKEN_FILES),
        synced=len(expected),
        **figures,
        time=clock,
    )


@pytest.mark.parametrize(
    "rrule", ["FREQ=SOMETIMES", "FREQ=DAILY;UNTIL=garbage", "FREQ=WEEKLY;BYDAY=XX"]
)
def test_an_unreadable_rrule_is_skipped_and_the_rest_syncs(project: Project, rrule: str) -> None:
    folder = project.calendar("inbox")
    folder.mkdir()
    for n in range(5):
        obj = simple_event(f"file-{n}@faults.example", n)
        (folder / f"file-{n}.ics").write_bytes(serialize_object(obj))
    body = f"DTSTART:20300101T100000Z\r\nRRULE:{rrule}\r\nSUMMARY:x\r\n"
    (folder / "bad-rrule.ics").write_text(vcalendar(vevent("rrule@faults.example", body)))
    project.write_rules(
        "rules:\n  - name: folder\n    source: {connection: loc, calendar: inbox}\n"
        "    target: {connection: loc, calendar: copies}\n"
        "    window: {past: 3650d, future: 3650d}\n"
    )
    done = project.run("sync")
    assert "folder: ok: 5 created" in done.stdout
    assert "bad-rrule.ics" in done.stderr

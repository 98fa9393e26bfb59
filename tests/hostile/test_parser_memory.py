"""What reading a feed costs in memory: nested components, many events, a feed at the cap.

Issue 11, findings 5 and 6: a 187 KiB feed of nested ``BEGIN:X`` took 1.2 GiB (every
component copied its children's lines: quadratic), and a feed cost about 62 bytes of RSS per
byte (the token list, the component tree and the model objects of the whole document were
held at once), so the 64 MiB cap allowed some 3.9 GiB. Each test runs ``calsyncd sync`` on a
feed served over HTTP and measures that process's peak RSS:

- nesting deeper than the reader's limit skips that one object, named; the rest syncs;
- the RSS a feed of ordinary events adds per feed byte, from a small and a larger feed;
- a feed at both caps (bytes and events) stays under 300 MiB; one byte or one event more
  is refused with a clear error naming the limit.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cli.conftest import Project
from conformance.feedserver import FeedServer

from calsyncd.model.ical import parse_object
from calsyncd.providers.ics import MAX_FEED_BYTES, MAX_FEED_EVENTS
from hostile.support import RSS_LIMIT_MIB, Measured, assert_no_traceback, calsyncd, report

MIB = 1024 * 1024
WINDOW = "{past: 30d, future: 30d}"
"""Around today: a feed of years of events has a few in the window, as real ones do."""
BYTES_PER_FEED_BYTE = 12.0
"""The most RSS one byte of feed may add to ``calsyncd sync``."""


def vcalendar(body: str) -> bytes:
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//hostile//EN\r\n"
    return f"{head}{body}END:VCALENDAR\r\n".encode()


def ordinary_event(n: int, notes: str = "") -> str:
    """An event as calendar exports write them (zone, organizer, attendee, folded text),
    one of 3000 days from four years ago; every tenth a weekly series. ``notes`` lengthen
    its description."""
    first = datetime.now(UTC).date() - timedelta(days=1500)
    day = (first + timedelta(days=n % 3000)).strftime("%Y%m%d")
    series = "RRULE:FREQ=WEEKLY;COUNT=10\r\n" if n % 10 == 0 else ""
    return (
        f"BEGIN:VEVENT\r\nUID:event-{n:07d}@feed.example\r\nDTSTAMP:20250101T000000Z\r\n"
        f"DTSTART;TZID=Europe/Berlin:{day}T090000\r\nDTEND;TZID=Europe/Berlin:{day}T100000\r\n"
        f"{series}SUMMARY:Meeting {n} about the quarterly planning\r\n"
        "DESCRIPTION:Agenda: review of the figures\\, the plan for next quarter and any \r\n"
        f" other business. Bring your notes.{notes}\r\n"
        f"LOCATION:Room {n % 40}\r\nCATEGORIES:Work\r\n"
        f"ORGANIZER;CN=Organizer {n % 7}:mailto:org{n % 7}@example.org\r\n"
        f"ATTENDEE;CN=Person {n % 13};PARTSTAT=ACCEPTED:mailto:p{n % 13}@example.org\r\n"
        "END:VEVENT\r\n"
    )


def ordinary_feed(size: int) -> bytes:
    """A feed of ordinary events of at most ``size`` bytes (as close as whole events go)."""
    frame = len(vcalendar(""))
    events: list[str] = []
    total = frame
    while True:
        event = ordinary_event(len(events))
        if total + len(event) > size:
            break
        events.append(event)
        total += len(event)
    return vcalendar("".join(events))


def feed_at(size: int, events: int) -> bytes:
    """A feed of ``events`` ordinary events, their descriptions lengthened to make ``size``
    bytes (in long lines: readers take any length)."""
    plain = len(vcalendar("")) + sum(len(ordinary_event(n)) for n in range(events))
    pad, extra = divmod(size - plain, events)
    data = vcalendar("".join(ordinary_event(n, "x" * (pad + (n < extra))) for n in range(events)))
    assert len(data) == size, (len(data), size)
    return data


def tiny_feed(events: int) -> bytes:
    return vcalendar(
        "".join(
            f"BEGIN:VEVENT\r\nUID:e{n}\r\nDTSTART:20200101T100000Z\r\nEND:VEVENT\r\n"
            for n in range(events)
        )
    )


def feed_rule(project: Project, url: str) -> None:
    project.calendar("copy").mkdir(exist_ok=True)
    project.write_rules(
        f"  feed: {{type: ics, url: '{url}'}}\n"
        "rules:\n  - name: feed\n    source: {connection: feed}\n"
        f"    target: {{connection: loc, calendar: copy}}\n    window: {WINDOW}\n"
    )


def sync_feed(project: Project, tmp_path: Path, data: bytes, name: str) -> Measured:
    """``calsyncd sync`` of one rule from ``data`` served over HTTP, in a fresh state."""
    feed = tmp_path / f"{name}.ics"
    feed.write_bytes(data)
    project.state.unlink(missing_ok=True)
    with FeedServer({f"/{name}.ics": feed}) as server:
        feed_rule(project, server.url(f"/{name}.ics"))
        done = calsyncd(project, "sync", timeout=120)
    assert_no_traceback(done.output)
    return done


def test_nesting_deeper_than_the_limit_skips_that_object(project: Project, tmp_path: Path) -> None:
    depth = 16_000  # 320 KiB of nesting: a MemoryError traceback before
    nested = "".join(f"BEGIN:X{n}\r\n" for n in range(depth))
    nested += "".join(f"END:X{n}\r\n" for n in reversed(range(depth)))
    start = date.today() + timedelta(days=2)
    events = [
        f"BEGIN:VEVENT\r\nUID:good-{n}@nested.example\r\nDTSTAMP:20250101T000000Z\r\n"
        f"DTSTART;VALUE=DATE:{(start + timedelta(days=n)).strftime('%Y%m%d')}\r\n"
        "SUMMARY:good\r\nEND:VEVENT\r\n"
        for n in range(3)
    ]
    deep = (
        "BEGIN:VEVENT\r\nUID:deep@nested.example\r\nDTSTAMP:20250101T000000Z\r\n"
        f"DTSTART;VALUE=DATE:{start.strftime('%Y%m%d')}\r\n{nested}END:VEVENT\r\n"
    )
    data = vcalendar(events[0] + deep + "".join(events[1:]))
    done = sync_feed(project, tmp_path, data, "nested")
    assert done.returncode == 0, done.output
    assert "feed: ok: 3 created" in done.stdout, done.output
    named = [line for line in done.stderr.splitlines() if "deep@nested.example" in line]
    assert named, done.stderr
    assert "nested deeper" in named[0], done.stderr
    assert done.peak_rss_mib < 150, done.peak_rss_mib
    copied = {
        (obj.marker.origin if obj.marker and obj.marker.origin else obj.uid)
        for p in project.calendar("copy").glob("*.ics")
        if (obj := parse_object(p.read_bytes(), source=p.name))
    }
    assert copied == {f"good-{n}@nested.example" for n in range(3)}
    report(
        "5 nested components",
        feed=f"{len(data) / 1024:.0f} KiB",
        depth=depth,
        time=f"{done.seconds:.1f}s",
        peak_rss=f"{done.peak_rss_mib:.0f} MiB",
    )


def test_rss_per_feed_byte(project: Project, tmp_path: Path) -> None:
    small, large = ordinary_feed(MIB // 4), ordinary_feed(4 * MIB)
    base = sync_feed(project, tmp_path, small, "small")
    big = sync_feed(project, tmp_path, large, "large")
    assert base.returncode == 0, base.output
    assert big.returncode == 0, big.output
    per_byte = (big.peak_rss_mib - base.peak_rss_mib) * MIB / (len(large) - len(small))
    assert per_byte < BYTES_PER_FEED_BYTE, per_byte
    report(
        "6 RSS per feed byte",
        feeds=f"{len(small) / MIB:.2f} + {len(large) / MIB:.2f} MiB",
        events=large.count(b"BEGIN:VEVENT"),
        peak_rss=f"{base.peak_rss_mib:.0f} / {big.peak_rss_mib:.0f} MiB",
        bytes_per_feed_byte=f"{per_byte:.1f}",
        time=f"{big.seconds:.1f}s",
    )


def test_a_feed_at_the_caps_stays_under_the_limit(project: Project, tmp_path: Path) -> None:
    data = feed_at(MAX_FEED_BYTES, MAX_FEED_EVENTS)
    at_cap = sync_feed(project, tmp_path, data, "cap")
    assert at_cap.returncode == 0, at_cap.output
    assert at_cap.peak_rss_mib < RSS_LIMIT_MIB, at_cap.peak_rss_mib
    byte_more = sync_feed(project, tmp_path, data + b" ", "bytes")
    event_more = sync_feed(project, tmp_path, tiny_feed(MAX_FEED_EVENTS + 1), "events")
    for over in (byte_more, event_more):
        assert over.returncode == 1, over.output
        assert "feed: failed:" in over.stdout, over.output
    assert f"larger than {MAX_FEED_BYTES} bytes" in byte_more.output, byte_more.output
    assert f"more than {MAX_FEED_EVENTS}" in event_more.output, event_more.output
    report(
        "6 feed at the caps",
        caps=f"{MAX_FEED_BYTES / MIB:.0f} MiB, {MAX_FEED_EVENTS} events",
        time=f"{at_cap.seconds:.1f}s",
        peak_rss=f"{at_cap.peak_rss_mib:.0f} MiB",
        exit_a_byte_more=byte_more.returncode,
        exit_an_event_more=event_more.returncode,
    )

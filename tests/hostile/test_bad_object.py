"""One object that makes the reader raise, among good ones, through ``calsyncd sync``.

Issue 11, finding 9 (the reader half): a ``DURATION:P999999999999999999W`` used to raise
``OverflowError`` out of the reader, and the whole command ended with a traceback, every
rule lost for one bad feed. Here a feed served over HTTP and a local folder each hold good
events and objects that raise *unexpected* exceptions deep in the reader or the window
check — integer and date overflows in a duration, past year 9999, in a custom VTIMEZONE
that starts in year 1, a BYDAY ordinal no index can hold — next to three clean rules. Every
rule syncs all its good events, each bad object is skipped with a message that names it,
``sync`` exits 0 (a skipped object is not a failed rule, as ``calsyncd sync`` defines it)
and nothing prints a traceback.
"""

from __future__ import annotations

from pathlib import Path

from cli.conftest import Project
from conformance.feedserver import FeedServer
from faults.support import simple_event

from calsyncd.model.ical import parse_object, serialize_object
from hostile.support import assert_no_traceback, calsyncd, report

GOOD = 6
CLEAN_RULES = 3
WINDOW = "{past: 3650d, future: 3650d}"
EARLY_ZONE = (
    "BEGIN:VTIMEZONE\r\nTZID:Early Zone\r\nBEGIN:STANDARD\r\nDTSTART:00010101T000000\r\n"
    "TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
)
BAD = {
    # UID: the VEVENT's properties after UID (each raised something other than a parse error)
    "duration-overflow@bad.example": (
        "DTSTART:20300101T100000Z\r\nDURATION:P999999999999999999W\r\n"
    ),
    "end-after-9999@bad.example": "DTSTART:99991231T100000Z\r\nDURATION:P2D\r\n",
    "zone-before-year-1@bad.example": "DTSTART;TZID=Early Zone:20300101T100000\r\n",
    "byday-overflow@bad.example": (
        "DTSTART:20300101T100000Z\r\nRRULE:FREQ=MONTHLY;BYDAY=99999999999999999999MO\r\n"
    ),
}


def vevent(uid: str, body: str) -> str:
    stamp = "DTSTAMP:20261101T000000Z\r\n"
    return f"BEGIN:VEVENT\r\nUID:{uid}\r\n{stamp}{body}SUMMARY:x\r\nEND:VEVENT\r\n"


def vcalendar(*parts: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//hostile//EN\r\n"
        + "".join(parts)
        + ("END:VCALENDAR\r\n")
    )


def good_vevents(prefix: str) -> list[str]:
    """``GOOD`` events as VEVENT texts, written by calsyncd's own writer."""
    texts = []
    for n in range(GOOD):
        ics = serialize_object(simple_event(f"{prefix}-{n}@good.example", n)).decode()
        texts.append("BEGIN:VEVENT" + ics.split("BEGIN:VEVENT", 1)[1].rsplit("END:VEVENT", 1)[0])
    return [text + "END:VEVENT\r\n" for text in texts]


def put_good(folder: Path, prefix: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(GOOD):
        uid = f"{prefix}-{n}@good.example"
        (folder / f"{prefix}-{n}.ics").write_bytes(serialize_object(simple_event(uid, n)))


def uids(folder: Path) -> set[str]:
    """The UIDs of the originals the folder holds copies of (copies have their own)."""
    objects = [parse_object(p.read_bytes(), source=p.name) for p in folder.glob("*.ics")]
    return {o.marker.origin if o.marker and o.marker.origin else o.uid for o in objects}


def rule(name: str, source: str, target: str) -> str:
    """A one-way rule into the local folder ``target`` (made here: it exists before)."""
    return (
        f"  - name: {name}\n    source: {source}\n"
        f"    target: {{connection: loc, calendar: {target}}}\n    window: {WINDOW}\n"
    )


def test_objects_that_raise_in_the_reader_are_skipped_one_by_one(
    project: Project, tmp_path: Path
) -> None:
    feed = tmp_path / "feed.ics"
    good = good_vevents("feed")
    bad = [vevent(uid, body) for uid, body in BAD.items()]
    feed.write_text(vcalendar(EARLY_ZONE, *good[:3], *bad, *good[3:]), newline="")
    inbox = project.calendar("inbox")
    put_good(inbox, "inbox")
    for n, (uid, body) in enumerate(BAD.items()):
        text = vcalendar(EARLY_ZONE if "Early Zone" in body else "", vevent(uid, body))
        (inbox / f"bad-{n}.ics").write_text(text, newline="")
    for n in range(CLEAN_RULES):
        put_good(project.calendar(f"clean-{n}"), f"clean-{n}")
        project.calendar(f"clean-{n}-copy").mkdir()
    for copies in ("feed-copy", "inbox-copy"):
        project.calendar(copies).mkdir()
    with FeedServer({"/feed.ics": feed}) as server:
        project.write_rules(
            f"  feed: {{type: ics, url: '{server.url('/feed.ics')}'}}\n"
            "rules:\n"
            + rule("feed", "{connection: feed}", "feed-copy")
            + rule("inbox", "{connection: loc, calendar: inbox}", "inbox-copy")
            + "".join(
                rule(f"clean-{n}", f"{{connection: loc, calendar: clean-{n}}}", f"clean-{n}-copy")
                for n in range(CLEAN_RULES)
            )
        )
        first = calsyncd(project, "sync", timeout=60)
        second = calsyncd(project, "sync", timeout=60)
    assert_no_traceback(first.output, second.output)
    assert first.returncode == 0, first.output
    assert second.returncode == 0, second.output
    names = ["feed", "inbox", *(f"clean-{n}" for n in range(CLEAN_RULES))]
    for name in names:
        assert f"{name}: ok: {GOOD} created, 0 updated, 0 deleted" in first.stdout, first.output
        assert f"{name}: ok: 0 created, 0 updated, 0 deleted" in second.stdout, second.output
    skipped = [line for line in first.stderr.splitlines() if "skipped:" in line]
    for uid in BAD:
        assert any(uid in line for line in skipped), (uid, first.stderr)
        assert uid in second.stderr, (uid, second.stderr)
    for n in range(len(BAD)):
        assert any(f"bad-{n}.ics" in line for line in skipped), (n, first.stderr)
    assert uids(project.calendar("feed-copy")) == {f"feed-{n}@good.example" for n in range(GOOD)}
    assert uids(project.calendar("inbox-copy")) == {f"inbox-{n}@good.example" for n in range(GOOD)}
    report(
        "9 one bad object (feed + folder, 5 rules)",
        rules=len(names),
        bad_objects=2 * len(BAD),
        skipped_named=2 * len(BAD),
        synced=GOOD * len(names),
        exit=first.returncode,
        time=f"{first.seconds:.1f}s",
        peak_rss=f"{first.peak_rss_mib:.0f} MiB",
    )

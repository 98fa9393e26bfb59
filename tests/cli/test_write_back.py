"""What a two-way rule writes back into an original (issue 12, "write-back metadata").

An original as Apple, Outlook, Google and Thunderbird leave them — their X- properties, an
alarm of their own, a SEQUENCE and an old LAST-MODIFIED — is copied two-way into a second
folder (and, in the CalDAV variant, into a real Radicale calendar); then the copy is edited
there, as another client would, and ``calsyncd sync`` writes the edit back. The rewritten
original must look like an edit a calendar client made: LAST-MODIFIED and DTSTAMP at the
time of the write, SEQUENCE one higher when the time (or the recurrence) changed and not
otherwise (RFC 5546), and every line the model does not interpret — every X- property and
the foreign alarm — exactly as it was, byte for byte (on Radicale: as the server stored it
before the write-back, since it re-serialises what it is given).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from caldav.fixtures import radicale_server
from caldav.helpers import get_raw, put_raw
from caldav.servers import DavServer
from faults.support import dav_connection, two_way, write_rules

from calsyncd.model.ical import parse_object
from cli.conftest import Project

UID = "review-2031@firm.example"
FOREIGN = [
    # Apple
    "X-APPLE-STRUCTURED-LOCATION;VALUE=URI;X-ADDRESS=Hauptstr. 1\\, Berlin;"
    'X-APPLE-RADIUS=70.5;X-TITLE="Court House":geo:52.52,13.40',
    "X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC",
    "X-APPLE-CREATOR-IDENTITY:com.apple.calendar",
    # Outlook / Exchange
    "X-MICROSOFT-CDO-BUSYSTATUS:BUSY",
    "X-MICROSOFT-CDO-IMPORTANCE:1",
    "X-MICROSOFT-DISALLOW-COUNTER:FALSE",
    # Google
    "X-GOOGLE-HANGOUT:https://hangouts.example/kept",
    # Thunderbird
    "X-MOZ-GENERATION:4",
    "X-MOZ-LASTACK:20310101T000000Z",
]
ALARM = [
    "BEGIN:VALARM",
    "ACTION:AUDIO",
    "TRIGGER;RELATED=END:PT5M",
    "ATTACH;FMTTYPE=audio/basic:https://sounds.example/ding.au",
    "X-APPLE-DEFAULT-ALARM:TRUE",
    "END:VALARM",
]
ORIGINAL = "\r\n".join(
    [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Apple Inc.//macOS 15.1//EN",
        "BEGIN:VEVENT",
        f"UID:{UID}",
        "DTSTAMP:20250101T100000Z",
        "CREATED:20250101T090000Z",
        "LAST-MODIFIED:20250101T100000Z",
        "SEQUENCE:3",
        "DTSTART:20310310T090000Z",
        "DTEND:20310310T100000Z",
        "SUMMARY:Case review",
        *FOREIGN,
        *ALARM,
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
)


def unfolded(text: str) -> list[str]:
    return re.sub(r"\r?\n[ \t]", "", text).splitlines()


def prop(lines: list[str], name: str) -> str | None:
    return next((line.split(":", 1)[1] for line in lines if line.startswith(name + ":")), None)


def stamp(value: str | None) -> datetime:
    assert value is not None
    return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def edited_copy(text: str, *, move: bool) -> str:
    """The copy as another client leaves it after an edit: a new title (and start)."""
    text = text.replace(
        "SUMMARY:Case review",
        "SUMMARY:Case review (moved)" if move else "SUMMARY:Case review, agenda",
    )
    if move:
        text = text.replace("DTSTART:20310310T090000Z", "DTSTART:20310311T090000Z")
        text = text.replace("DTEND:20310310T100000Z", "DTEND:20310311T100000Z")
    return text


def foreign(text: str) -> tuple[list[str], list[str]]:
    """The X- lines outside alarms, and the alarm, as ``text`` has them."""
    lines = unfolded(text)
    start = lines.index("BEGIN:VALARM")
    alarm = lines[start : lines.index("END:VALARM", start) + 1]
    return [line for line in lines if line.startswith("X-") and line not in alarm], alarm


def check_written_back(
    text: str, *, sequence: int, since: datetime, kept: tuple[list[str], list[str]]
) -> None:
    lines = unfolded(text)
    modified = stamp(prop(lines, "LAST-MODIFIED"))
    assert since - timedelta(seconds=1) <= modified <= datetime.now(UTC), modified
    assert prop(lines, "DTSTAMP") == prop(lines, "LAST-MODIFIED")
    assert prop(lines, "SEQUENCE") == str(sequence)
    assert prop(lines, "CREATED") == "20250101T090000Z"
    assert foreign(text) == kept


@pytest.mark.parametrize("move", [False, True], ids=["title-edited", "time-moved"])
def test_a_write_back_looks_like_a_clients_edit(project: Project, move: bool) -> None:
    project.write_rules(
        "rules:\n" + two_way("mirror", "loc:a", "loc:b", fields="{attendees: keep}")
    )
    original = project.calendar("a") / "review.ics"
    original.parent.mkdir(parents=True)
    original.write_text(ORIGINAL)
    project.calendar("b").mkdir()
    project.run("sync")
    (copy,) = project.calendar("b").glob("*.ics")
    # A copy carries its original's times (so newest-wins compares like with like).
    assert prop(unfolded(copy.read_text()), "LAST-MODIFIED") == "20250101T100000Z"
    copy.write_text(edited_copy(copy.read_text(), move=move))
    before = datetime.now(UTC).replace(microsecond=0)
    project.run("sync")
    text = original.read_text()
    assert ("Case review (moved)" if move else "Case review\\, agenda") in text
    check_written_back(text, sequence=4 if move else 3, since=before, kept=(FOREIGN, ALARM))
    assert "nothing to do" in project.run("plan").stdout  # the write-back is no new change


def test_a_write_back_to_a_caldav_original(project: Project, radicale_server: DavServer) -> None:
    path = radicale_server.make_calendar()
    href = f"{path}review.ics"
    put_raw(radicale_server, href, ORIGINAL)
    # Radicale stores what it re-serialises (its own property order and quoting): what must
    # survive is what the server held before the write-back.
    kept = foreign(get_raw(radicale_server, href))
    assert len(kept[0]) == len(FOREIGN)
    write_rules(
        project,
        [dav_connection("rad", radicale_server)],
        [two_way("mirror", f"rad:{path}", "loc:b")],
    )
    project.calendar("b").mkdir()
    project.run("sync")
    (copy,) = project.calendar("b").glob("*.ics")
    copy.write_text(edited_copy(copy.read_text(), move=True))
    before = datetime.now(UTC).replace(microsecond=0)
    project.run("sync")
    stored = get_raw(radicale_server, href)
    check_written_back(stored, sequence=4, since=before, kept=kept)
    assert parse_object(stored, source=href).master.title == "Case review (moved)"  # type: ignore[union-attr]


__all__ = ["radicale_server"]

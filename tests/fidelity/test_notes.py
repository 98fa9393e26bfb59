"""What the reader leaves out or chooses is said, from every provider that reads iCalendar.

The corpus test proves it for feeds (``ics``); here a corpus file sits in a local calendar
folder, one object per file as vdir keeps them, and one ``calsyncd sync`` copies it: the copy
is made and the log says, naming the file and the UID, which line was left out.
"""

from __future__ import annotations

import json

from cli.conftest import Project

from fidelity.test_corpus import CORPUS

ITEM = "apple-radius-colonless-series.ics"
UID = "C2D3E4F5-A6B7-4829-A03B-4C5D6E7F8091"


def test_a_local_folder_says_what_it_left_out(project: Project) -> None:
    source = project.calendar("apple")
    source.mkdir(parents=True)
    (source / ITEM).write_bytes((CORPUS / ITEM).read_bytes())
    project.calendar("copies").mkdir()
    project.write_rules(
        "rules:\n  - name: apple\n    source: {connection: loc, calendar: apple}\n"
        "    target: {connection: loc, calendar: copies}\n"
        "    window: {past: 36500d, future: 36500d}\n"
    )
    done = project.run("sync")
    (copy,) = project.objects("copies").values()
    assert copy.marker is not None
    assert copy.marker.origin == UID
    logged = [json.loads(line) for line in done.stderr.splitlines()]
    notes = [entry for entry in logged if entry.get("event") == "item read with a change"]
    assert [entry["rule"] for entry in notes] == ["apple"]
    assert [entry["problem"] for entry in notes] == [
        f"{source / ITEM}: UID {UID!r}: VEVENT #1: the unreadable line 'X-APPLE-RADIUS=141.2' "
        "is left out"
    ], done.stderr

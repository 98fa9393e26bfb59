"""Rules that would destroy or scatter data, through ``calsyncd check``/``plan``/``sync``.

Issue 11, findings 10-13, played by a careless operator:

- a rule whose target is its source spelled differently (10): ``check`` refuses it at the
  target; a CalDAV collection named on one side and given as a path on the other (only
  discovery can tell) fails before any write;
- a local calendar name that climbs out of its connection's folder (11);
- a side whose listing deletes everything it held, even incrementally and even with
  ``max_deletes: 100%`` (12), on a local folder and on a real Radicale;
- a mistyped calendar name (13): an error naming it, ``plan`` writing nothing.

Each test counts what a careless run would have destroyed (originals rewritten, files written
outside, copies deleted) and prints it with the exit codes and its time.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from cli.conftest import Project
from faults.support import simple_event

from calsyncd.model.ical import serialize_object
from hostile.support import Measured, assert_no_traceback, calsyncd, report

WINDOW = "{past: 3650d, future: 3650d}"
PLACE = re.compile(r"rules\.yaml:(\d+):(\d+): ")


def put_events(folder: Path, count: int, prefix: str = "ev") -> dict[str, bytes]:
    """``count`` events as files of ``folder``; their bytes by file name."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {}
    for n in range(count):
        data = serialize_object(simple_event(f"{prefix}-{n}@data.example", n))
        (folder / f"{prefix}-{n}.ics").write_bytes(data)
        files[f"{prefix}-{n}.ics"] = data
    return files


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.ics"))} if folder.is_dir() else {}


def rewritten(folder: Path, before: dict[str, bytes]) -> int:
    """How many of ``before``'s files are gone or changed."""
    now = snapshot(folder)
    return sum(1 for name, data in before.items() if now.get(name) != data)


def problem_line(done: Measured) -> tuple[int, int, str]:
    """The line and column of the one ``rules.yaml:LINE:COL: message`` line ``check``
    printed, and that line."""
    lines = [line for line in done.output.splitlines() if PLACE.search(line)]
    assert len(lines) == 1, done.output
    match = PLACE.search(lines[0])
    assert match is not None
    return int(match[1]), int(match[2]), lines[0]


def peak(*runs: Measured) -> float:
    """The highest peak RSS of ``runs``, in MiB."""
    return round(max(run.peak_rss_mib for run in runs), 1)


def line_of(text: str, needle: str) -> int:
    """The 1-based line of ``text`` holding ``needle``."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def rule(name: str, source: str, target: str, **options: str) -> str:
    """A rule (one-way unless ``direction`` says) between ``connection:calendar`` specs."""

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


# -- 10: the target is the source, spelled differently ---------------------------------------


def test_target_that_is_the_source_spelled_differently_is_refused(project: Project) -> None:
    """Two connections reach one folder (a second spelling, a symlink): with ``busy-block``
    every title would become "Busy". ``check`` names the rule's target; ``plan``/``sync``
    refuse the configuration; no original is touched."""
    started = time.monotonic()
    originals = put_events(project.calendar("src"), 3)
    (project.root / "link").symlink_to(project.root / "calendars")
    runs: list[Measured] = []
    for alias in ("../calendars/./", "../link"):
        text = (
            "connections:\n"
            "  loc: {type: local, path: ../calendars}\n"
            f"  alias: {{type: local, path: '{alias}'}}\n"
            "rules:\n" + rule("mirror", "loc:src", "alias:src", fields="busy-block")
        )
        (project.root / "rules" / "rules.yaml").write_text(text)
        check = calsyncd(project, "check")
        line, column, message = problem_line(check)
        assert check.returncode == 1, check.output
        assert (line, column) == (line_of(text, "target:"), 5), message
        assert "target" in message
        assert "same calendar as the source" in message, message
        sync = calsyncd(project, "sync")
        assert sync.returncode != 0, sync.output
        assert_no_traceback(check.output, sync.output)
        runs += [check, sync]
    assert rewritten(project.calendar("src"), originals) == 0
    report(
        "10 target is the source (local, 2 spellings)",
        originals_rewritten=rewritten(project.calendar("src"), originals),
        exit_codes="/".join(str(run.returncode) for run in runs),
        peak_rss_mib=peak(*runs),
        time=f"{time.monotonic() - started:.1f}s",
    )


# -- 11: a local calendar name that leaves its connection's folder ---------------------------


def test_local_calendar_names_stay_inside_their_connection(project: Project) -> None:
    started = time.monotonic()
    put_events(project.calendar("src"), 2)
    outside = project.root.parent / "outside"
    runs: list[Measured] = []
    for calendar in ("../../outside", str(outside), "a/b", "..", "."):
        text = "connections:\n  loc: {type: local, path: ../calendars}\nrules:\n" + rule(
            "escape", "loc:src", f"loc:{calendar}"
        )
        (project.root / "rules" / "rules.yaml").write_text(text)
        check = calsyncd(project, "check")
        line, _, message = problem_line(check)
        assert check.returncode == 1, check.output
        assert line == line_of(text, "target:"), message
        assert "folder name" in message, message
        runs.append(check)
        if calendar in ("../../outside", str(outside)):  # sync: one run each way out
            sync = calsyncd(project, "sync")
            assert sync.returncode != 0, sync.output
            runs.append(sync)
    assert_no_traceback(*(run.output for run in runs))
    written = [p for p in project.root.parent.rglob("*.ics") if project.root not in p.parents]
    inside = sorted(p.name for p in project.root.rglob("*.ics"))
    assert written == []
    assert inside == ["ev-0.ics", "ev-1.ics"]
    report(
        "11 calendar names outside the connection",
        files_outside=len(written),
        names_tried=5,
        exit_codes="/".join(str(run.returncode) for run in runs),
        peak_rss_mib=peak(*runs),
        time=f"{time.monotonic() - started:.1f}s",
    )

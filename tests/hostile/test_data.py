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

from caldav.helpers import delete, dump, seed
from caldav.servers import DavServer
from cli.conftest import Project
from faults.support import dav_connection, rule, simple_event, write_rules

from calsyncd.model.ical import serialize_object
from hostile.support import Measured, assert_no_traceback, calsyncd, report

_ALL = "{max_deletes: 100%}"
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


def test_caldav_collection_by_name_and_by_path_fails_before_any_write(
    project: Project, radicale_server: DavServer
) -> None:
    """One Radicale collection, named on one side and given as its path on the other: only
    discovery tells they are the same, so ``check`` passes and the cycle refuses once both
    calendars are open — before any write; the originals keep their titles."""
    started = time.monotonic()
    path = radicale_server.make_calendar()
    name = path.rstrip("/").rpartition("/")[2]
    seed(radicale_server, path, [simple_event(f"dav-{n}@data.example", n) for n in range(3)])
    before = {href: obj.first.title for href, obj in dump(radicale_server, path).items()}
    write_rules(
        project,
        [dav_connection("rad", radicale_server)],
        [rule("mirror", f"rad:{name}", f"rad:{path}", fields="busy-block")],
    )
    check = calsyncd(project, "check")
    assert check.returncode == 0, check.output
    plan = calsyncd(project, "plan")
    sync = calsyncd(project, "sync")
    assert_no_traceback(plan.output, sync.output)
    for done in (plan, sync):
        assert done.returncode == 1, done.output
        assert "same calendar" in done.stdout, done.output
    after = {href: obj.first.title for href, obj in dump(radicale_server, path).items()}
    changed = sum(1 for href, title in before.items() if after.get(href) != title)
    assert changed == 0, (before, after)
    assert len(after) == len(before), (before, after)
    report(
        "10 target is the source (CalDAV name vs path)",
        originals_rewritten=changed,
        check_exit=check.returncode,
        plan_exit=plan.returncode,
        sync_exit=sync.returncode,
        peak_rss_mib=peak(check, plan, sync),
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


# -- 12: a side emptied, seen by an incremental listing --------------------------------------


def assert_held_for_the_likely_cause(done: Measured, side: str) -> None:
    assert done.returncode == 1, done.output
    text = done.stdout
    assert f"the {side} calendar is suddenly empty" in text, text
    cause = text.find("renamed, emptied or mistyped")
    assert 0 <= cause < text.find("--allow-mass-delete"), text


def test_emptied_folder_is_held_even_with_max_deletes_100_percent(project: Project) -> None:
    started = time.monotonic()
    put_events(project.calendar("src"), 5)
    project.write_rules("rules:\n" + rule("mirror", "loc:src", "loc:dst", guard=_ALL))
    first = calsyncd(project, "sync")
    assert first.returncode == 0, first.output
    copies = snapshot(project.calendar("dst"))
    assert len(copies) == 5
    for path in project.calendar("src").glob("*.ics"):
        path.unlink()
    plan = calsyncd(project, "plan")
    held = calsyncd(project, "sync")
    assert "would be held" in plan.stdout, plan.output
    assert_held_for_the_likely_cause(held, "source")
    deleted = len(copies) - len(snapshot(project.calendar("dst")))
    assert deleted == 0
    allowed = calsyncd(project, "sync", "--allow-mass-delete")
    assert allowed.returncode == 0, allowed.output
    assert snapshot(project.calendar("dst")) == {}
    assert_no_traceback(first.output, plan.output, held.output, allowed.output)
    report(
        "12 emptied folder, max_deletes 100%",
        copies_deleted=deleted,
        sync_exit=held.returncode,
        with_allow_mass_delete=f"{len(copies)} deleted, exit {allowed.returncode}",
        peak_rss_mib=peak(first, plan, held, allowed),
        time=f"{time.monotonic() - started:.1f}s",
    )


def test_caldav_calendar_emptied_on_the_server_is_held(
    project: Project, radicale_server: DavServer
) -> None:
    """Every member deleted on Radicale between two syncs: the sync-collection REPORT marks
    each 404. The two-way rule would delete every copy; it is held instead."""
    started = time.monotonic()
    path = radicale_server.make_calendar()
    events = [simple_event(f"dav-{n}@data.example", n) for n in range(4)]
    hrefs = seed(radicale_server, path, events)
    write_rules(
        project,
        [dav_connection("rad", radicale_server)],
        [rule("mirror", f"rad:{path}", "loc:dst", direction="two-way", guard=_ALL)],
    )
    first = calsyncd(project, "sync")
    assert first.returncode == 0, first.output
    copies = snapshot(project.calendar("dst"))
    assert len(copies) == 4
    for href in hrefs.values():
        delete(radicale_server, href)
    held = calsyncd(project, "sync")
    assert_held_for_the_likely_cause(held, "source")
    deleted = len(copies) - len(snapshot(project.calendar("dst")))
    assert deleted == 0
    assert_no_traceback(first.output, held.output)
    report(
        "12 CalDAV calendar emptied on the server (two-way, max_deletes 100%)",
        copies_deleted=deleted,
        sync_exit=held.returncode,
        peak_rss_mib=peak(first, held),
        time=f"{time.monotonic() - started:.1f}s",
    )


# -- 13: a mistyped calendar name ------------------------------------------------------------


def test_mistyped_calendar_is_an_error_and_plan_writes_nothing(project: Project) -> None:
    """``calendar: wrok`` for ``work``: an error naming it, never an empty calendar (which
    ``plan`` used to create, and which a rule that had synced would delete every copy for)."""
    started = time.monotonic()
    put_events(project.calendar("work"), 3)
    project.write_rules("rules:\n" + rule("mirror", "loc:wrok", "loc:copies"))
    plan = calsyncd(project, "plan")
    sync = calsyncd(project, "sync")
    for done in (plan, sync):
        assert done.returncode == 1, done.output
        assert 'did you mean "work"' in done.stdout, done.output
    folders = sorted(p.name for p in (project.root / "calendars").iterdir())
    made = len(folders) - 1
    assert folders == ["work"], folders

    # A new target (no copy made yet) is made by its first copy; plan shows what it would get.
    project.write_rules("rules:\n" + rule("mirror", "loc:work", "loc:copies"))
    fresh_plan = calsyncd(project, "plan")
    assert fresh_plan.returncode == 0, fresh_plan.output
    assert "3 create" in fresh_plan.stdout, fresh_plan.output
    assert not project.calendar("copies").exists()
    first = calsyncd(project, "sync")
    assert first.returncode == 0, first.output
    assert len(snapshot(project.calendar("copies"))) == 3

    # Synced before: a mistyped source is an error, not an empty calendar to delete from.
    project.write_rules("rules:\n" + rule("mirror", "loc:wrok", "loc:copies"))
    again = calsyncd(project, "sync")
    assert again.returncode == 1, again.output
    assert 'did you mean "work"' in again.stdout, again.output
    assert "allow-mass-delete" not in again.output
    # …and so is a target that does not exist once the rule has made copies.
    project.write_rules("rules:\n" + rule("mirror", "loc:work", "loc:cpoies"))
    lost = calsyncd(project, "sync")
    assert lost.returncode == 1, lost.output
    assert '"cpoies"' in lost.stdout, lost.output
    assert not project.calendar("cpoies").exists()
    kept = len(snapshot(project.calendar("copies")))
    assert kept == 3
    assert_no_traceback(plan.output, sync.output, fresh_plan.output, again.output, lost.output)
    report(
        "13 mistyped calendar names",
        folders_made=made,
        copies_deleted=3 - kept,
        exit_codes=f"plan {plan.returncode}, sync {sync.returncode}, synced-before "
        f"{again.returncode}/{lost.returncode}",
        peak_rss_mib=peak(plan, sync, fresh_plan, first, again, lost),
        time=f"{time.monotonic() - started:.1f}s",
    )

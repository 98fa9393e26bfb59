"""Copies with their own identity, through the real command line.

- The shipped example (``rules/examples.yaml`` on the demo calendars, as ``make run`` sets it
  up) publishes an anonymous busy feed: nothing in ``var/public/busy.ics`` — nor in the busy
  blocks of the personal calendar — names an original (UID, title, description, location), a
  rule or a calendar.
- An upgrade: copies made the way the version before own UIDs made them (the original's UID,
  the full marker, the plain key as file name; its state database, or none) are adopted with
  no duplicate; marked copies are left untouched, busy blocks replaced once by anonymous ones.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sync.old_version import run_old_version

from calsyncd.model.event import CalendarObject, Event
from calsyncd.model.ical import parse_calendar
from cli.conftest import Project

REPO = Path(__file__).parents[2]


def calendar_texts(path: Path) -> list[CalendarObject]:
    objects: list[CalendarObject] = []
    for file in sorted(path.rglob("*.ics")):
        objects += parse_calendar(file.read_bytes(), source=str(file)).objects
    return objects


def identifying(objects: list[CalendarObject]) -> set[str]:
    """Every UID, title, description and location of ``objects`` (their originals' words)."""
    found: set[str] = set()
    for obj in objects:
        found.add(obj.uid)
        for event in obj.events:
            found.update(v for v in (event.title, event.description, event.location) if v)
    return found


def leaks(text: str, words: set[str]) -> list[str]:
    """The ``words`` found in ``text`` as words (``work`` is not in "only works from")."""
    unfolded = text.replace("\r\n ", "").replace("\n ", "")
    return sorted(
        word
        for word in words
        if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", unfolded, re.IGNORECASE)
    )


# -- the shipped example ----------------------------------------------------------------------


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """The repository's settings, example rules and demo calendars, set up as ``make run``."""
    root = tmp_path / "demo"
    for folder in ("config", "rules", "examples"):
        shutil.copytree(REPO / folder, root / folder)
    (root / "var" / "public").mkdir(parents=True)
    shutil.copytree(REPO / "examples" / "calendars", root / "var" / "calendars")
    return root


def run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALSYNCD_")}
    done = subprocess.run(
        [sys.executable, "-m", "calsyncd", "--config", str(root / "config/calsyncd.yaml"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done


def test_the_example_busy_feed_names_no_original_rule_or_calendar(example: Path) -> None:
    run(example, "sync")
    feed = (example / "var/public/busy.ics").read_text()
    published = parse_calendar(feed, source="busy.ics").objects
    personal = list(calendar_texts(REPO / "examples/calendars/personal"))
    assert len(published) == len(personal) == 2  # the personal calendar's own events
    assert {e.title for o in published for e in o.events} == {"Busy"}
    words = identifying(calendar_texts(REPO / "examples"))
    assert "dentist-2027@home.example" in words
    assert "Dr. Weber" in words
    names = {"case-dates", "work-busy", "holidays", "publish-busy"}  # the rules
    names |= {"cases", "case-manager", "work", "personal", "demo"}  # calendars, connection
    names |= {"X-CALSYNCD-RULE", "X-CALSYNCD-ORIGIN", "CREATED", "LAST-MODIFIED"}
    assert leaks(feed, words | names) == []
    assert identifying(published) & words == set()  # also as read (text unescaped)
    assert feed.count("X-CALSYNCD-KEY:") == 2  # the opaque key is all a copy carries

    # The work calendar's busy blocks in the personal calendar are anonymous too.
    work = calendar_texts(REPO / "examples/calendars/work")
    blocks = [
        path
        for path in (example / "var/calendars/personal").glob("*.ics")
        if "SUMMARY:Busy" in path.read_text()
    ]
    assert len(blocks) == len(work)
    for path in blocks:
        assert leaks(path.read_text(), identifying(work) | names) == [], path
        assert not leaks(path.stem, {o.uid for o in work})  # nor does the file name

    # Stable: a second run changes nothing, and the feed keeps its bytes.
    run(example, "sync")
    assert (example / "var/public/busy.ics").read_text() == feed


# -- the upgrade --------------------------------------------------------------------------------

RULES = """
connections:
  loc:  {type: local, path: ../calendars}
  feed: {type: ics, path: ../public/busy.ics}
rules:
  - name: work-busy
    source: {connection: loc, calendar: work}
    target: {connection: loc, calendar: personal}
    fields: busy-block
    window: {past: 3650d, future: 3650d}
  - name: publish-busy
    source: {connection: loc, calendar: personal}
    target: {connection: feed}
    fields: busy-block
    window: {past: 3650d, future: 3650d}
  - name: mirror
    source: {connection: loc, calendar: cases}
    target: {connection: loc, calendar: manager}
    direction: two-way
    window: {past: 3650d, future: 3650d}
"""


def single(uid: str, title: str, day: int, **fields: object) -> CalendarObject:
    start = datetime(2027, 3, day, 9, tzinfo=UTC)
    master = Event(start=start, end=start.replace(hour=10), title=title, **fields)  # type: ignore[arg-type]
    return CalendarObject(uid=uid, master=master)


def seed(project: Project) -> list[CalendarObject]:
    (project.root / "rules" / "rules.yaml").write_text(RULES)
    (project.root / "public").mkdir()
    objects = {
        "work": [single("board@work.example", "Board review", 1, description="Figures")],
        "personal": [single("dentist@home.example", "Dentist", 2, location="Dr. Weber")],
        "cases": [single("hearing@firm.example", "Smith hearing", 3)],
        "manager": [single("call@firm.example", "Client call", 4)],
    }
    for calendar, found in objects.items():
        for n, obj in enumerate(found):
            project.put(calendar, f"original-{n}.ics", obj)
    return [obj for found in objects.values() for obj in found]


def copies_of(project: Project, calendar: str) -> list[CalendarObject]:
    return [o for o in project.objects(calendar).values() if o.marker is not None]


@pytest.mark.parametrize("lost_state", [False, True], ids=["state-kept", "state-lost"])
def test_upgrade_adopts_old_copies_with_no_duplicate(project: Project, lost_state: bool) -> None:
    originals = seed(project)
    assert all(r.ok for r in run_old_version(project.config, project.state))
    old_blocks = copies_of(project, "personal")
    assert [o.uid for o in old_blocks] == ["board@work.example"]  # the old way: its UID
    old_feed = (project.root / "public" / "busy.ics").read_text()
    assert "dentist@home.example" in old_feed
    assert "X-CALSYNCD-ORIGIN" in old_feed
    mirrored = {name: path.read_bytes() for name, path in mirror_files(project).items()}
    assert len(mirrored) == 4
    if lost_state:
        for leftover in project.state.parent.glob("calsyncd.db*"):
            leftover.unlink()

    project.run("sync")

    words = identifying(originals) | {"work-busy", "publish-busy", "X-CALSYNCD-ORIGIN"}
    (block,) = copies_of(project, "personal")
    assert block.marker is not None
    assert block.marker.is_anonymous
    block_file = project.calendar("personal") / f"{block.marker.key}.ics"
    assert leaks(block_file.read_text(), words) == []
    assert len(project.objects("personal")) == 2  # the dentist and one busy block
    feed = (project.root / "public" / "busy.ics").read_text()
    assert len(parse_calendar(feed, source="busy.ics").objects) == 1  # the dentist's block
    assert leaks(feed, words) == []
    # The marked copies of the two-way rule are left as they are: no rewrite on upgrade.
    assert {name: path.read_bytes() for name, path in mirror_files(project).items()} == mirrored

    before = {p: p.read_bytes() for p in project.root.rglob("*.ics")}
    plan = project.run_json("plan")
    assert all(r["actions"] == [] for r in plan["rules"].values()), plan
    project.run("sync")
    assert {p: p.read_bytes() for p in project.root.rglob("*.ics")} == before


def mirror_files(project: Project) -> dict[str, Path]:
    return {
        f"{calendar}/{path.name}": path
        for calendar in ("cases", "manager")
        for path in project.calendar(calendar).glob("*.ics")
    }


# -- rules that contradict themselves -------------------------------------------------------


def test_check_names_uid_keep_and_anonymous_false_that_would_identify_originals(
    project: Project,
) -> None:
    project.write_rules(
        "rules:\n"
        "  - name: blocks\n"
        "    source: {connection: loc, calendar: a}\n"
        "    target: {connection: loc, calendar: b}\n"
        "    fields: busy-block\n"
        "    uid: keep\n"
        "  - name: named\n"
        "    source: {connection: loc, calendar: a}\n"
        "    target: {connection: loc, calendar: c}\n"
        "    fields: busy-block\n"
        "    anonymous: false\n"
    )
    done = project.run("check", check=1)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if "rules.yaml:" in line]
    assert len(lines) == 2, lines
    assert lines[0].endswith(
        "rules.yaml:8:10: rules[0].uid: uid: keep would give a busy block its original's UID,"
        ' which identifies the original: remove uid: keep, got "keep"'
    ), lines
    assert "rules.yaml:13:16: rules[1].anonymous: busy blocks are always anonymous" in lines[1]


def test_uid_keep_into_a_published_file_is_one_clear_error(project: Project) -> None:
    (project.root / "public").mkdir()
    project.write_rules(
        "  feed: {type: ics, path: ../public/busy.ics}\n"
        "rules:\n"
        "  - name: publish\n"
        "    source: {connection: loc, calendar: a}\n"
        "    target: {connection: feed}\n"
        "    uid: keep\n"
    )
    project.put("a", "one.ics", single("one@home.example", "Private", 5))
    done = project.run("sync", check=1)
    assert "publish keeps its originals' UIDs (uid: keep)" in done.stdout + done.stderr
    assert "published calendar" in done.stdout + done.stderr
    assert not (project.root / "public" / "busy.ics").exists()

"""Fidelity with real-world calendars (issue 12): does each corpus file arrive whole?

The corpus (``corpus/``, described file by file in ``corpus/INDEX.md``) imitates exports of
Google, Outlook/Exchange, Thunderbird, Apple, Lotus Notes and Nextcloud, and files from other
projects' bug reports. Every file is served as an ICS feed by a real HTTP server on
loopback, one rule per file into its own local calendar folder, and one real
``calsyncd sync`` process runs all the rules. Then, per file, the occurrences of every event
on both sides — computed by ``recurring-ical-events`` in a process and venv of its own
(:mod:`fidelity.occurrences`), never by calsyncd's code — are compared over a fixed window.

A file **arrives whole** (``whole``) when every UID of the source is in the target (a copy
is matched by its ``X-CALSYNCD-ORIGIN`` marker, else its UID) with identical occurrences.
Otherwise calsyncd left an event out and said why (``skipped``, with its skip message) or
said nothing (``dropped``), or an event arrived with other occurrences (``differs``), or it
was kept but the expander cannot read the source event (``unjudged``, with the expander's
reason; unjudged files do not count in the rate).

What the reader left out or chose while keeping an event (a line without a colon, one of two
versions) it says in a warning, ``item read with a change``; the test requires one for every
file with a quirk of :data:`NAMED_QUIRKS` and shows them with the file's reasons.

The test prints one figure line, a per-file table and a per-quirk table (``pytest -s``; they
also go to ``fidelity.txt`` and ``fidelity.json`` in the test's tmp dir). It asserts that
the harness itself works (the control file arrives whole with the 12 occurrences the
expander must find in it), that no file makes ``sync`` print a traceback or lose its rule's
outcome line, and two ratchets to tighten with every fix: the arrival rate stays at or above
:data:`MEASURED_FLOOR` (issue 12's goal is 98%) and no more files than
:data:`SILENT_DROPS_CEILING` lose an event without a word (the goal is none).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import icalendar
from cli.conftest import Project
from conformance.feedserver import FeedServer
from figures import record

from fidelity.occurrences import Expansion, Job, expand_in_expander

CORPUS = Path(__file__).parent / "corpus"
INDEX = CORPUS / "INDEX.md"
WINDOW = (date(2000, 1, 1), date(2032, 1, 1))
"""Compared occurrences: every corpus date lies inside (birthday series start earlier)."""
RULE_WINDOW = "{past: 36500d, future: 36500d}"
"""The rules' window: a century either side of today, so every corpus object is in scope."""
CONTROL = "control-plain.ics"
CONTROL_OCCURRENCES = 12
MEASURED_FLOOR = 98.0
"""Arrival rate (percent of judged files) last measured; raise it as calsyncd gets better
(74.5 when this test was written). Issue 12's goal: 98."""
SILENT_DROPS_CEILING = 0
"""Files that lose an event without a skip message (1 when this test was written: an RRULE
whose UNTIL lies before DTSTART)."""
ORIGIN = "X-CALSYNCD-ORIGIN"
NAMED_QUIRKS = frozenset(
    {
        "colonless-line",
        "empty-rrule",
        "duplicate-uid",
        "duplicate-override",
        "until-before-dtstart",
        "rscale-non-gregorian",
    }
)
"""Quirks the reader cannot keep without leaving something out or choosing: a file with one
must get a skip message or a warning (``item read with a change``) naming what."""


@dataclass
class Verdict:
    """How one corpus file fared."""

    file: str
    status: str  # whole | skipped | dropped | differs | unjudged
    source_uids: int
    target_uids: int
    source_occurrences: int
    target_occurrences: int
    outcome: str  # the rule's line from ``sync``
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # "item read with a change"

    @property
    def whole(self) -> bool:
        return self.status == "whole"


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*.ics"))


def rule_name(file: Path) -> str:
    return file.stem


def index_rows() -> dict[str, list[str]]:
    """INDEX.md's rows: file name → its quirk tags."""
    rows: dict[str, list[str]] = {}
    for line in INDEX.read_text().splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 5 and cells[0].endswith(".ics"):
            rows[cells[0]] = [tag.strip() for tag in cells[2].split(",")]
    return rows


def test_index_lists_every_file() -> None:
    assert sorted(index_rows()) == [f.name for f in corpus_files()]


def test_every_file_is_read_by_icalendar() -> None:
    """The issue's population: files the icalendar library itself reads without an error."""
    for file in corpus_files():
        calendar = icalendar.Calendar.from_ical(file.read_bytes())
        assert calendar.walk("VEVENT"), file.name


def test_the_comparison_sees_a_changed_or_missing_copy(tmp_path: Path) -> None:
    """The harness is not vacuous: a copy moved by an hour differs, no copy is a drop."""
    control = CORPUS / CONTROL
    targets = {name: tmp_path / name for name in ("moved", "empty", "same")}
    for folder in targets.values():
        folder.mkdir()
    text = control.read_bytes().replace(b"20240402T080000Z", b"20240402T090000Z")
    (targets["moved"] / "copy.ics").write_bytes(text)
    (targets["same"] / "copy.ics").write_bytes(control.read_bytes())
    expanded = _expansions({name: (control, folder) for name, folder in targets.items()})
    verdict = _judge(control, expanded["moved"], {}, {})
    assert verdict.status == "differs", verdict
    assert "control-single@fidelity.test" in verdict.reasons[0], verdict
    assert _judge(control, expanded["empty"], {}, {}).status == "dropped"
    assert _judge(control, expanded["same"], {}, {}).whole


def test_the_corpus_arrives_whole(project: Project, tmp_path: Path) -> None:
    files = corpus_files()
    routes = {f"/{file.name}": file for file in files}
    with FeedServer(routes) as server:
        connections = "".join(
            f"  f-{rule_name(file)}: {{type: ics, url: '{server.url('/' + file.name)}'}}\n"
            for file in files
        )
        rules = "".join(
            f"  - name: {rule_name(file)}\n"
            f"    source: {{connection: f-{rule_name(file)}}}\n"
            f"    target: {{connection: loc, calendar: {rule_name(file)}}}\n"
            f"    window: {RULE_WINDOW}\n"
            for file in files
        )
        project.write_rules(connections + "rules:\n" + rules)
        for file in files:
            project.calendar(rule_name(file)).mkdir(parents=True)
        started = time.monotonic()
        done = project.run("sync", check=None)  # asserts that nothing printed a traceback
        sync_seconds = time.monotonic() - started

    outcomes = _outcome_lines(done.stdout)
    skipped = _log_messages(done.stderr, "item skipped")
    noted = _log_messages(done.stderr, "item read with a change")
    expanded = _expansions({rule_name(f): (f, project.calendar(rule_name(f))) for f in files})
    verdicts = [_judge(file, expanded[rule_name(file)], outcomes, skipped) for file in files]
    for verdict in verdicts:
        verdict.notes = [
            _short(note, verdict.file) for note in noted.get(rule_name(Path(verdict.file)), [])
        ]
    figures = _figures(verdicts, sync_seconds, done.returncode)
    table = _table(verdicts) + "\n\n" + _quirk_table(verdicts, index_rows())
    (tmp_path / "fidelity.txt").write_text(figures + "\n\n" + table + "\n")
    (tmp_path / "fidelity.json").write_text(
        json.dumps([asdict(v) for v in verdicts], indent=2, ensure_ascii=False)
    )
    record("fidelity figures", figures + f" (table: {tmp_path / 'fidelity.txt'})")
    print(f"\nFIDELITY {figures}\n\n{table}")

    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    assert not [f.name for f in files if rule_name(f) not in outcomes], done.stdout
    control = next(v for v in verdicts if v.file == CONTROL)
    assert control.source_occurrences == CONTROL_OCCURRENCES, control
    assert control.whole, control
    judged = [v for v in verdicts if v.status != "unjudged"]
    rate = 100 * sum(v.whole for v in judged) / len(judged)
    assert rate >= MEASURED_FLOOR, figures
    assert sum(v.status == "dropped" for v in verdicts) <= SILENT_DROPS_CEILING, figures
    quirks = index_rows()
    unnamed = [
        v.file
        for v in verdicts
        if NAMED_QUIRKS & set(quirks[v.file]) and not (v.notes or v.reasons)
    ]
    assert not unnamed, f"left out or chosen without a word: {unnamed}"


def _outcome_lines(stdout: str) -> dict[str, str]:
    """``RULE: ok: …`` / ``RULE: failed: …`` per rule."""
    lines: dict[str, str] = {}
    for line in stdout.splitlines():
        name, sep, rest = line.partition(": ")
        if sep and re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
            lines[name] = rest
    return lines


def _log_messages(stderr: str, event: str) -> dict[str, list[str]]:
    """The problem of every ``event`` line of the JSON log, by rule."""
    found: dict[str, list[str]] = {}
    for line in stderr.splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:  # the "  skipped: …" lines repeat the log
            continue
        if isinstance(entry, dict) and entry.get("event") == event:
            found.setdefault(entry.get("rule", "?"), []).append(str(entry.get("problem")))
    return found


def _expansions(sides: Mapping[str, tuple[Path, Path]]) -> dict[str, tuple[Expansion, Expansion]]:
    """For each name, the expansions of an original file and of its copies' folder, all
    computed in one run of the expander."""
    jobs: dict[str, Job] = {}
    for name, (file, target) in sides.items():
        jobs[f"{name}/source"] = Job([file], *WINDOW)
        jobs[f"{name}/copies"] = Job(sorted(target.glob("*.ics")), *WINDOW, origin_marker=ORIGIN)
    done = expand_in_expander(jobs)
    return {name: (done[f"{name}/source"], done[f"{name}/copies"]) for name in sides}


def _judge(
    file: Path,
    expanded: tuple[Expansion, Expansion],
    outcomes: dict[str, str],
    skipped: dict[str, list[str]],
) -> Verdict:
    source, copies = expanded
    name = rule_name(file)
    reasons = [_short(message, file.name) for message in skipped.get(name, [])]
    missing = sorted(source.uids - copies.uids)
    differing = [
        uid
        for uid in sorted(source.occurrences)
        if uid in copies.uids and copies.occurrences.get(uid) != source.occurrences[uid]
    ]
    unjudged = [uid for uid in sorted(source.failed) if uid in copies.uids]
    if missing:
        status = "skipped" if reasons else "dropped"
    elif differing:
        status = "differs"
        reasons += [_difference(uid, source, copies) for uid in differing]
    elif unjudged:
        status = "unjudged"
        reasons += [f"expander cannot read {uid!r}: {source.failed[uid]}" for uid in unjudged]
    else:
        status = "whole"
    if status == "dropped":
        reasons.append(f"not in the target, no skip message: {', '.join(missing)}")
    return Verdict(
        file=file.name,
        status=status,
        source_uids=len(source.uids),
        target_uids=len(copies.uids),
        source_occurrences=sum(len(o) for o in source.occurrences.values()),
        target_occurrences=sum(len(o) for o in copies.occurrences.values()),
        outcome=outcomes.get(name, "(no outcome line)"),
        reasons=reasons,
    )


def _short(message: str, file_name: str) -> str:
    """A skip message or a note without the feed URL (and side) that starts it."""
    return re.sub(r"^(?:source )?\S+" + re.escape(file_name) + r": ", "", message)


def _difference(uid: str, source: Expansion, copies: Expansion) -> str:
    if uid in copies.failed:
        return f"{uid!r}: expander cannot read the copy: {copies.failed[uid]}"
    want = Counter(source.occurrences[uid])
    got = Counter(copies.occurrences.get(uid, []))
    lost, added = sorted((want - got).elements()), sorted((got - want).elements())
    example = f"; e.g. lost {lost[0]}" if lost else ""
    example += f"; e.g. added {added[0]}" if added else ""
    return f"{uid!r}: {len(lost)} occurrences lost, {len(added)} added{example}"


def _figures(verdicts: list[Verdict], seconds: float, returncode: int) -> str:
    status = Counter(v.status for v in verdicts)
    judged = len(verdicts) - status["unjudged"]
    rate = 100 * status["whole"] / judged if judged else 0.0
    return (
        f"corpus: files {len(verdicts)}, judged {judged}, arrived whole {status['whole']}, "
        f"percentage {rate:.1f}%, differing occurrences {status['differs']}, "
        f"skipped with reason {status['skipped']}, dropped silently {status['dropped']}, "
        f"unjudged {status['unjudged']}, sync {seconds:.1f}s exit {returncode}"
    )


def _table(verdicts: list[Verdict]) -> str:
    lines = ["file | status | UIDs src/tgt | occurrences src/tgt | rule outcome | reasons, notes"]
    for v in verdicts:
        lines.append(
            f"{v.file} | {v.status} | {v.source_uids}/{v.target_uids} | "
            f"{v.source_occurrences}/{v.target_occurrences} | {v.outcome} | "
            + " // ".join(v.reasons + [f"(note) {note}" for note in v.notes])
        )
    return "\n".join(lines)


def _quirk_table(verdicts: list[Verdict], quirks: dict[str, list[str]]) -> str:
    files: Counter[str] = Counter()
    whole: Counter[str] = Counter()
    for v in verdicts:
        for tag in quirks.get(v.file, ["(not in INDEX.md)"]):
            files[tag] += 1
            whole[tag] += v.whole
    lines = ["quirk | files | arrived whole"]
    lines += [f"{tag} | {files[tag]} | {whole[tag]}" for tag in sorted(files)]
    return "\n".join(lines)

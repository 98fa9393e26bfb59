"""Occurrences of iCalendar events by an expander independent of calsyncd.

``recurring-ical-events`` (on ``icalendar`` and ``dateutil``) expands every event of a
calendar over a fixed window; nothing here imports calsyncd. Rules the harness adds, all
from the specifications rather than from calsyncd:

- An **occurrence** is ``(start, end, summary)``: aware times as UTC instants, floating times
  and dates kept as such (a floating time never equals an instant). Occurrences with
  ``STATUS:CANCELLED`` are left out: no client shows them, and a cancelled override and an
  EXDATE mean the same.
- Calendar-level ``X-WR-TIMEZONE`` applies to floating times (the expander does this).
- Several components with the same UID and RECURRENCE-ID (an export repeating an edited
  event): the latest wins by SEQUENCE, then LAST-MODIFIED, then DTSTAMP (RFC 5546 §2.1.5,
  the rule issue 12 asks for); on a full tie the first in the file.
- ``RSCALE=GREGORIAN`` with SKIP absent or ``OMIT`` is plain RFC 5545 (RFC 7529 3.1); the
  expander refuses any RSCALE, so such a rule is expanded without those two parts. Other
  scales and SKIP=BACKWARD/FORWARD stay as written (and the expander cannot judge them).
- Each UID is expanded on its own (with the calendar's properties and VTIMEZONEs), so one
  event the expander cannot read does not hide the others; its reason is kept instead.

The module runs as a script in a venv of its own (``.venv-expander``, made by ``make test``:
recurring-ical-events pins ``python-dateutil<3``, calsyncd runs on the current one), so the
expander shares neither code nor library versions with what it checks. It reads jobs as JSON
on stdin — ``{"name": {"files": [path, …], "start": "YYYY-MM-DD", "end": …, "marker": …}}``
— and writes each job's :class:`Expansion` as JSON on stdout; :func:`expand_in_expander`
is the test side of that exchange.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

EXPANDER_PYTHON = Path(
    os.environ.get(
        "FIDELITY_EXPANDER",
        Path(__file__).resolve().parents[2] / ".venv-expander" / "bin" / "python",
    )
)
"""The interpreter of the expander's venv (``make test`` makes it)."""

Occurrence = tuple[str, str, str]
"""(start, end, summary), as :func:`_instant` writes times."""

_OLDEST = datetime(1, 1, 1, tzinfo=UTC)


@dataclass
class Expansion:
    """The occurrences of each UID of one calendar text, or why a UID could not be expanded."""

    occurrences: dict[str, list[Occurrence]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def uids(self) -> set[str]:
        return set(self.occurrences) | set(self.failed)


@dataclass(frozen=True)
class Job:
    """The calendars of one side to expand: files, window, and the marker naming originals."""

    files: list[Path]
    start: date
    end: date
    origin_marker: str = ""


def expand_in_expander(jobs: Mapping[str, Job]) -> dict[str, Expansion]:
    """Run every job in one process of the expander's venv; its expansions by job name."""
    if not EXPANDER_PYTHON.exists():
        raise RuntimeError(
            f"no expander at {EXPANDER_PYTHON}: run `make test` (it makes .venv-expander)"
        )
    request = {
        name: {
            "files": [str(f) for f in job.files],
            "start": job.start.isoformat(),
            "end": job.end.isoformat(),
            "marker": job.origin_marker,
        }
        for name, job in jobs.items()
    }
    done = subprocess.run(
        [str(EXPANDER_PYTHON), __file__],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the expander failed: {done.stderr[-3000:]}")
    answer: dict[str, dict[str, Any]] = json.loads(done.stdout)
    return {
        name: Expansion(
            occurrences={
                uid: [(o[0], o[1], o[2]) for o in found]
                for uid, found in result["occurrences"].items()
            },
            failed=result["failed"],
            warnings=result["warnings"],
        )
        for name, result in answer.items()
    }


def expand(texts: Iterable[bytes], start: date, end: date, *, origin_marker: str = "") -> Expansion:
    """Expand every VEVENT of the calendars ``texts`` over ``[start, end)``.

    With ``origin_marker`` (an X- property name), an event is filed under that property's
    value when it has one, else under its UID: copies are compared with their originals
    whatever UID they carry.
    """
    result = Expansion()
    for text in texts:
        _forget_custom_zones()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _expand_calendar(text, start, end, origin_marker, result)
        result.warnings += [f"{w.category.__name__}: {w.message}" for w in caught]
    return result


def _expand_calendar(
    text: bytes, start: date, end: date, origin_marker: str, result: Expansion
) -> None:
    import icalendar
    import recurring_ical_events

    calendar = icalendar.Calendar.from_ical(text)
    zones = [c for c in calendar.subcomponents if c.name == "VTIMEZONE"]
    by_uid: dict[str, list[icalendar.Component]] = defaultdict(list)
    for component in calendar.subcomponents:
        if component.name == "VEVENT":
            uid = str(component.get("UID", ""))
            if origin_marker and component.get(origin_marker):
                uid = str(component.get(origin_marker))
            by_uid[uid].append(component)
    for uid, events in by_uid.items():
        single = icalendar.Calendar()
        single.update(calendar)
        single.subcomponents = [*zones, *map(_plain_gregorian, _latest_versions(events))]
        try:
            found = recurring_ical_events.of(single).between(start, end)
            occurrences = sorted(_occurrence(o) for o in found if o.get("STATUS") != "CANCELLED")
        except Exception as exc:  # the expander's limits are findings, not harness errors
            result.failed[uid] = f"{type(exc).__name__}: {exc}"
            continue
        result.occurrences.setdefault(uid, []).extend(occurrences)
        result.occurrences[uid].sort()


def _latest_versions(events: list[Any]) -> list[Any]:
    """One component per RECURRENCE-ID: the latest by SEQUENCE, LAST-MODIFIED, DTSTAMP."""
    latest: dict[str, Any] = {}
    for event in events:
        rid = _text(event.get("RECURRENCE-ID"))
        if rid not in latest or _version(event) > _version(latest[rid]):
            latest[rid] = event
    return list(latest.values())


def _plain_gregorian(event: Any) -> Any:
    """``event`` with ``RSCALE=GREGORIAN`` (and ``SKIP=OMIT``) left out of its RRULEs where
    no other SKIP is given: RFC 7529 defines that rule as the RFC 5545 one."""
    rules = event.get("RRULE")
    for rule in rules if isinstance(rules, list) else [rules] if rules is not None else []:
        scale = [str(value).upper() for value in rule.get("RSCALE", [])]
        skip = [str(value).upper() for value in rule.get("SKIP", ["OMIT"])]
        if scale == ["GREGORIAN"] and skip == ["OMIT"]:
            rule.pop("RSCALE")
            rule.pop("SKIP", None)
    return event


def _version(event: Any) -> tuple[int, datetime, datetime]:
    try:
        sequence = int(event.get("SEQUENCE", 0))
    except (TypeError, ValueError):
        sequence = 0
    return sequence, _stamp(event.get("LAST-MODIFIED")), _stamp(event.get("DTSTAMP"))


def _stamp(prop: object) -> datetime:
    value = getattr(prop, "dt", None)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return _OLDEST


def _text(prop: object) -> str:
    value = getattr(prop, "dt", None)
    return "" if value is None else _instant(value)


def _occurrence(event: Any) -> Occurrence:
    begin = event["DTSTART"].dt
    if "DTEND" in event:
        finish = event["DTEND"].dt
    elif "DURATION" in event:
        finish = begin + event["DURATION"].dt
    else:  # RFC 5545 §3.6.1: a date lasts one day, a date-time no time
        finish = begin + timedelta(days=1) if not isinstance(begin, datetime) else begin
    return _instant(begin), _instant(finish), str(event.get("SUMMARY", ""))


def _instant(value: date) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return "floating " + value.isoformat()
        return value.astimezone(UTC).isoformat()
    return "date " + value.isoformat()


def _forget_custom_zones() -> None:
    """Empty icalendar's process-wide cache of zones built from VTIMEZONEs.

    ``Calendar.from_ical`` caches a custom VTIMEZONE by TZID for the whole process, so a
    second calendar defining the same TZID differently would be read with the first one's
    rules. The cache has no public way to be emptied; where the attribute is gone, files
    simply share it (the corpus gives each custom zone its own TZID).
    """
    from icalendar.timezone import tzp

    cache = getattr(tzp, "_TZP__tz_cache", None)
    if isinstance(cache, dict):
        cache.clear()


def _main() -> None:
    """The expander's side: jobs as JSON on stdin, expansions as JSON on stdout."""
    jobs = json.load(sys.stdin)
    answer = {}
    for name, job in jobs.items():
        texts = [Path(f).read_bytes() for f in job["files"]]
        start, end = date.fromisoformat(job["start"]), date.fromisoformat(job["end"])
        answer[name] = asdict(expand(texts, start, end, origin_marker=job["marker"]))
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    _main()

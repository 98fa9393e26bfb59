"""One calendar object from the VEVENTs of its UID: the second stage of the reader.

The VEVENTs of one UID (:class:`Reading`, as :mod:`calsyncd.model.vevent` reads them) become one
:class:`~calsyncd.model.event.CalendarObject`:

- of several versions of one event — one UID without RECURRENCE-ID, or one RECURRENCE-ID,
  twice (an export repeating an edited event) — the latest by SEQUENCE, then LAST-MODIFIED,
  then DTSTAMP is kept (RFC 5546 2.1.5; the first in the text on a tie), and a note names
  the VEVENTs left out;
- a ``RECURRENCE-ID;RANGE=THISANDFUTURE`` override becomes an override of each later
  occurrence (:mod:`calsyncd.model.ranges`);
- an RRULE that ends before DTSTART is noted (DTSTART still counts, RFC 5545);
- the copy marker is taken from the master (or the first override).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from calsyncd.model.event import CalendarObject, Event, Marker, When, sort_key
from calsyncd.model.ranges import MAX_FUTURE_OVERRIDES, this_and_future
from calsyncd.model.recurrence import until_before

__all__ = ["MARKER_PROPERTIES", "Reading", "assemble"]

MARKER_PROPERTIES = {
    "X-CALSYNCD-RULE": "rule",
    "X-CALSYNCD-ORIGIN": "origin",
    "X-CALSYNCD-KEY": "key",
}


@dataclass(slots=True)
class Reading:
    """One VEVENT as read: the event, what the model does not keep but choosing needs, and
    the notes on what reading it left out."""

    uid: str
    event: Event
    marker: dict[str, str]
    notes: list[str] = field(default_factory=list)
    stamp: datetime | None = None  # DTSTAMP, which the model does not keep
    future: bool = False  # RECURRENCE-ID;RANGE=THISANDFUTURE
    number: int = 0  # VEVENT #n of the text
    calendar: int = 0  # which VCALENDAR of the text it is in


_OLDEST = datetime.min.replace(tzinfo=UTC)


def _version(reading: Reading) -> tuple[int, datetime, datetime]:
    """How recent a version of an event is (RFC 5546 2.1.5): SEQUENCE, then LAST-MODIFIED,
    then DTSTAMP; unknown counts as oldest."""
    event = reading.event
    modified = _OLDEST if event.last_modified is None else event.last_modified.astimezone(UTC)
    stamp = _OLDEST if reading.stamp is None else reading.stamp.astimezone(UTC)
    return event.sequence, modified, stamp


def _latest(versions: list[Reading], what: str, notes: list[str]) -> Reading:
    """The latest of several VEVENTs for one event (the first on a tie), said in ``notes``."""
    kept = max(versions, key=_version)  # the first of equals
    if len(versions) > 1:
        others = [f"VEVENT #{r.number}" for r in versions if r is not kept]
        verb = "is" if len(others) == 1 else "are"
        notes.append(
            f"{len(versions)} VEVENTs {what}: VEVENT #{kept.number} is kept, the latest by "
            f"SEQUENCE, LAST-MODIFIED and DTSTAMP; {', '.join(others)} {verb} left out"
        )
    return kept


def assemble(uid: str, group: list[Reading]) -> tuple[CalendarObject, list[str]]:
    """The object of one UID's VEVENTs, and the notes on what reading it left out."""
    notes: list[str] = []
    masters = [r for r in group if r.event.recurrence_id is None]
    if masters:
        masters = [_latest(masters, "without RECURRENCE-ID", notes)]
    by_rid: dict[When, list[Reading]] = {}
    for reading in group:
        if (rid := reading.event.recurrence_id) is not None:
            by_rid.setdefault(rid, []).append(reading)
    overrides = {
        rid: _latest(versions, f"with RECURRENCE-ID {rid.isoformat()}", notes)
        for rid, versions in by_rid.items()
    }
    kept = masters + list(overrides.values())
    notes[:0] = [note for r in group if any(r is k for k in kept) for note in r.notes]
    events = _ranges_applied(masters, overrides, notes)
    for rule in masters[0].event.rrules if masters else ():
        if (until := until_before(rule, masters[0].event.start)) is not None:
            notes.append(
                f"the RRULE ends (UNTIL={until}) before DTSTART and adds no occurrence; "
                "DTSTART still counts as one (RFC 5545), though some clients show none"
            )
    ordered = masters + sorted(overrides.values(), key=lambda r: sort_key(r.event.recurrence_id))
    marker = _marker(ordered[0].marker)

    def clean(event: Event) -> Event:
        if marker is None or not any(x.name in MARKER_PROPERTIES for x in event.extra):
            return event
        kept = tuple(x for x in event.extra if x.name not in MARKER_PROPERTIES)
        return replace(event, extra=kept)

    obj = CalendarObject(
        uid=uid,
        master=clean(masters[0].event) if masters else None,
        overrides={rid: clean(event) for rid, event in events.items()},
        marker=marker,
    )
    return obj, notes


def _marker(found: dict[str, str]) -> Marker | None:
    """The marker of the properties found: all three, or the key alone (an anonymous copy)."""
    if len(found) == len(MARKER_PROPERTIES):
        return Marker(**found)
    if set(found) == {"key"}:
        return Marker.anonymous(found["key"])
    return None


def _ranges_applied(
    masters: list[Reading], overrides: dict[When, Reading], notes: list[str]
) -> dict[When, Event]:
    """The overrides, with each RANGE=THISANDFUTURE one made an override of every later
    occurrence (:mod:`calsyncd.model.ranges`); where it stops short, a note says so."""
    events = {rid: reading.event for rid, reading in overrides.items()}
    ranges = [rid for rid, reading in overrides.items() if reading.future]
    if not ranges:
        return events
    if not masters:
        for rid in ranges:
            notes.append(
                f"VEVENT #{overrides[rid].number}: RECURRENCE-ID;RANGE=THISANDFUTURE "
                f"{rid.isoformat()} without its series: only that occurrence is kept"
            )
        return events
    expanded = this_and_future(masters[0].event, events, ranges)
    for rid, last in expanded.cut_short.items():
        notes.append(
            f"VEVENT #{overrides[rid].number}: RECURRENCE-ID;RANGE=THISANDFUTURE "
            f"{rid.isoformat()} is applied to the next {MAX_FUTURE_OVERRIDES} occurrences, up to "
            f"{last.isoformat()}; later ones keep the series' own time and fields"
        )
    return expanded.overrides

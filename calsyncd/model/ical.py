"""The iCalendar codec: RFC 5545 text to and from the canonical :class:`CalendarObject`.

Reading
    The text is read one component at a time (:mod:`calsyncd.model.components`: content lines
    with the ``icalendar`` package's tokenizer, one tree per VEVENT), each VEVENT is read into
    an event (:mod:`calsyncd.model.vevent`), and values are decoded with the package's property
    types (:mod:`calsyncd.model.values`). ``Calendar.from_ical`` is deliberately not used for
    reading: it resolves every TZID through a process-wide cache (a custom VTIMEZONE seen once
    changes how later calendars are read; vendor-prefixed TZIDs raise
    ``GloballyUniqueTZIDGuessed`` warnings), it keeps no source text, which the model needs to
    carry unknown properties *verbatim*, and it holds the whole document as a tree. Here every
    TZID is resolved by :func:`~calsyncd.model.timezones.zone_for_tzid` or by the calendar's own
    VTIMEZONE (:mod:`calsyncd.model.vtimezone`), so parsing has no hidden state; what stays in
    memory is the model objects, a few bytes per byte of text.

    A VEVENT that cannot be read faithfully is not guessed at: its whole object (every VEVENT
    with that UID) is left out and a problem names it — whatever went wrong, an exception
    nobody expected included — and the rest of the text is read. :func:`parse_object` turns
    any problem into :class:`~calsyncd.errors.MalformedObject`.

    The VEVENTs of one UID then become its object (:mod:`calsyncd.model.assemble`), their
    floating times first put in the calendar's ``X-WR-TIMEZONE`` if it names one
    (:mod:`calsyncd.model.floating`).

    What every client tolerates is read as they read it (issue 12, ``tests/fidelity``), and
    where that leaves something out or chooses, a *note* says so (``ParsedCalendar.notes``,
    never a reason to skip; the providers log each as ``item read with a change``):

    * a line that is not a property (``X-APPLE-RADIUS=49.9``, no colon) is left out — unless
      it is one of a property the model reads (``SUMMARY no colon``): that is a problem;
    * an empty ``RRULE:`` is left out (the event is single);
    * of several DTSTART (DTEND, DURATION, RECURRENCE-ID) with different values the first
      counts;
    * of several versions of one event the latest is kept (:mod:`calsyncd.model.assemble`);
    * an RRULE that ends before DTSTART is kept (DTSTART still counts, RFC 5545);
    * a RANGE=THISANDFUTURE applied to 500 occurrences stops there (an endless series);
    * an ``X-WR-TIMEZONE`` that names no zone leaves floating times floating.

Writing
    :mod:`calsyncd.model.serialize` (re-exported here): a pure function of the object, so
    writing an unchanged object twice gives the same bytes (and the same etag).

Mapping decisions
    How one VEVENT's properties and alarms become an event's fields, and what stays in
    ``extra``: :mod:`calsyncd.model.vevent`.

What does not survive a round trip (everything else does: ``tests/model``)
    * parameters of mapped properties other than those the model holds (``LANGUAGE`` on
      SUMMARY, ``RSVP``/``CUTYPE``/``ROLE=CHAIR`` on ATTENDEE, ``LABEL`` on CONFERENCE …);
      adding ``SCHEDULE-AGENT=CLIENT`` to the attendees of copies is the CalDAV provider's job;
    * reminder alarms are rewritten as ``ACTION:DISPLAY`` with ``DESCRIPTION:Reminder``
      (their description, UID and X- properties are not kept);
    * microseconds (iCalendar has none), ``fold=1`` (iCalendar picks the first of two
      ambiguous wall times) and carriage returns in text (iCalendar has one line break);
    * control characters in names (CN) become spaces and in URIs are percent-encoded: those
      lines would be unreadable otherwise. In other text they are written as they are;
    * CREATED and LAST-MODIFIED are written in UTC, as RFC 5545 requires;
    * what a note names as left out (above);
    * an RRULE's UNTIL written as a floating time or a date beside a zoned DTSTART is read in
      DTSTART's zone (a date from its first moment) and written in UTC, as RFC 5545 requires;
    * floating times of a calendar that names its zone in ``X-WR-TIMEZONE`` are read, and
      written, in that zone (:mod:`calsyncd.model.floating`);
    * an RDATE period given as start/duration is written as start/end, in its start's zone;
    * a ``RANGE=THISANDFUTURE`` override is written as the overrides it stands for;
    * ``RSCALE=GREGORIAN`` without SKIP (or with ``SKIP=OMIT``) is left out of an RRULE: that
      rule is plain RFC 5545 (RFC 7529); other rules with RSCALE are kept as written, and one
      of another scale (``RSCALE=HEBREW``) is a problem: it cannot be expanded here;
    * a custom VTIMEZONE becomes the IANA zone with the same offsets over the years the
      calendar uses it, else its times are converted to UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import tzinfo

from calsyncd.errors import MalformedObject
from calsyncd.model.assemble import Reading, assemble
from calsyncd.model.budget import checkpoint
from calsyncd.model.components import Component, ComponentReader, Unreadable, param
from calsyncd.model.event import CalendarObject
from calsyncd.model.floating import calendar_zone, in_zone
from calsyncd.model.serialize import DEFAULT_PRODID, serialize_calendar, serialize_object
from calsyncd.model.values import read_text
from calsyncd.model.vevent import read_event, readable
from calsyncd.model.vtimezone import Zones

__all__ = [
    "DEFAULT_PRODID",
    "ParsedCalendar",
    "parse_calendar",
    "parse_object",
    "serialize_calendar",
    "serialize_object",
]

_DATE_PROPERTIES = ("DTSTART", "DTEND", "RECURRENCE-ID", "RDATE", "EXDATE")


@dataclass(frozen=True, slots=True)
class ParsedCalendar:
    """The objects of one iCalendar text and the problems met while reading it.

    ``objects`` are in the order their UIDs first appear. Each problem is a sentence naming
    the source; an object with a problem is not in ``objects``.
    """

    objects: list[CalendarObject] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What was left out or chosen while reading objects that are kept, one sentence each
    naming the source (and the UID); never a reason to skip."""
    name: str | None = None
    """The calendar's name (``X-WR-CALNAME``), if it gives one."""


def _left_out_lines(component: Component) -> list[str]:
    """Notes for the lines of ``component`` and its subcomponents that are not properties."""
    notes = []
    for part in component.walk():
        notes += [f"the unreadable line {line!r} is left out" for line in part.unreadable]
        if part.unreadable_count > len(part.unreadable):
            more = part.unreadable_count - len(part.unreadable)
            notes.append(f"{more} more unreadable lines are left out")
    return notes


def _zone_years(event: Component, zones: Zones) -> dict[str, set[int]]:
    """The years each TZID only a VTIMEZONE can explain is used in by ``event`` (where a
    custom zone must match an IANA one to be replaced by it)."""
    years: dict[str, set[int]] = {}
    for prop in event.properties:
        tzid = param(prop.params, "TZID")
        if not tzid or not zones.uses_definition(tzid):
            continue
        found = years.setdefault(tzid, set())
        if prop.name in _DATE_PROPERTIES:
            for part in prop.value.split(","):
                if part.strip()[:4].isdigit() and int(part.strip()[:4]) > 0:
                    found.add(int(part.strip()[:4]))
    return years


class _Objects:
    """The VEVENTs of one text, read one at a time and grouped by UID.

    A VEVENT whose TZIDs are all zone names is read as soon as it ends. One that needs a
    VTIMEZONE — which may come later, and must match an IANA zone over every year the text
    uses it in — waits as text (not as a tree) until the whole document is read.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.definitions: dict[str, Component] = {}
        self._by_name = Zones({}, {})
        self._readings: dict[str, list[Reading]] = {}  # by UID, in order of first appearance
        self._broken: dict[str, list[str]] = {}
        self._waiting: list[tuple[int, int, str, bytes, list[str]]] = []
        self._years: dict[str, set[int]] = {}
        self._count = 0

    def add(self, component: Component, calendar: int) -> None:
        """One component of the ``calendar``-th VCALENDAR, as it ends."""
        if component.name == "VTIMEZONE" and (tzid := component.first("TZID")) is not None:
            self.definitions.setdefault(tzid.value.strip(), component)
            self.notes += [f"{self.source}: {note}" for note in _left_out_lines(component)]
        elif component.name == "VEVENT":
            self._count += 1
            uid_prop = component.first("UID")
            uid = read_text(uid_prop) if uid_prop is not None else ""
            years = _zone_years(component, self._by_name)
            notes = _left_out_lines(component)  # made now: a waiting text keeps properties only
            if years and not component.all_errors() and readable(component):
                for name, found in years.items():
                    self._years.setdefault(name, set()).update(found)
                text = "\r\n".join(component.lines()).encode("utf-8", "surrogatepass")
                self._waiting.append((self._count, calendar, uid, text, notes))
                self._readings.setdefault(uid, [])
            else:
                self._read(self._count, calendar, uid, component, zones=self._by_name, notes=notes)

    def objects(self, floating: Sequence[tzinfo | None]) -> list[CalendarObject]:
        """Read the VEVENTs that waited for VTIMEZONEs, then assemble every object.

        ``floating`` is the zone each VCALENDAR means its floating times in, if any."""
        zones = Zones(self.definitions, self._years)
        for number, calendar, uid, text, notes in self._waiting:
            reader = ComponentReader(b"BEGIN:VCALENDAR\r\n" + text + b"\r\nEND:VCALENDAR", "")
            for component in reader:
                self._read(number, calendar, uid, component, zones=zones, notes=notes)
        self._waiting.clear()
        found: list[CalendarObject] = []
        for uid, group in self._readings.items():
            if uid in self._broken:
                reasons = "; ".join(self._broken[uid])
                self.problems.append(f"{self.source}: UID {uid!r}: {reasons}; object skipped")
                continue
            for reading in group:
                zone = floating[reading.calendar] if reading.calendar < len(floating) else None
                if zone is not None:
                    reading.event = in_zone(reading.event, zone)
            try:
                obj, notes = assemble(uid, group)
                found.append(obj)
                self.notes += [f"{self.source}: UID {uid!r}: {note}" for note in notes]
            except Unreadable as exc:
                self.problems.append(f"{self.source}: UID {uid!r}: {exc}; object skipped")
            except Exception as exc:  # unexpected, but about this object only
                why = f"{type(exc).__name__}: {exc}"
                self.problems.append(f"{self.source}: UID {uid!r}: {why}; object skipped")
        self._readings.clear()
        return found

    def _read(
        self,
        number: int,
        calendar: int,
        uid: str,
        component: Component,
        *,
        zones: Zones,
        notes: Sequence[str],
    ) -> None:
        """Read one VEVENT; ``notes`` are those on its lines that are not properties."""
        try:
            reading = read_event(component, zones)
        except Unreadable as exc:
            reason = str(exc)
        except Exception as exc:  # anything icalendar, dateutil or the reader raises
            reason = f"{type(exc).__name__}: {exc}"
        else:
            reading.notes = [f"VEVENT #{number}: {note}" for note in [*notes, *reading.notes]]
            reading.number = number
            reading.calendar = calendar
            self._readings.setdefault(reading.uid, []).append(reading)
            return
        if not uid:
            self.problems.append(f"{self.source}: VEVENT #{number}: {reason}; skipped")
        else:
            self._broken.setdefault(uid, []).append(f"VEVENT #{number}: {reason}")
            self._readings.setdefault(uid, [])


def parse_calendar(data: bytes | str, *, source: str) -> ParsedCalendar:
    """Read every VEVENT of an iCalendar text, grouped by UID into calendar objects.

    ``source`` names the text in problems and errors (a path, an URL, a resource href). An
    object that cannot be read — whatever the reason, even an exception nobody expected —
    is left out and a problem names it; the rest of the text is read. Raises
    :class:`MalformedObject` only if the text is not iCalendar at all.
    """
    reader = ComponentReader(data, source)
    found = _Objects(source)
    for component in reader:
        checkpoint()  # read in a worker thread: stop here once its cycle is cancelled
        found.add(component, len(reader.calendars))
    notes = [f"{source}: {note}" for c in reader.calendars for note in _left_out_lines(c)]
    floating: list[tzinfo | None] = []
    for calendar in reader.calendars:
        name = calendar.first("X-WR-TIMEZONE")
        zone = None if name is None else calendar_zone(read_text(name))
        if name is not None and zone is None:
            notes.append(
                f"{source}: X-WR-TIMEZONE {read_text(name)!r} names no time zone: its floating "
                "times stay floating"
            )
        floating.append(zone)
    objects = found.objects(floating)
    problems = reader.problems
    for calendar in reader.calendars:
        problems += [f"{source}: {error}" for error in calendar.errors]
    problems += found.problems
    name = next((c.first("X-WR-CALNAME") for c in reader.calendars), None)
    return ParsedCalendar(
        objects,
        problems,
        notes + found.notes,
        name=read_text(name) if name is not None else None,
    )


def parse_object(
    data: bytes | str, *, source: str, notes: list[str] | None = None
) -> CalendarObject:
    """Read a text that holds exactly one calendar object (a vdir file, a CalDAV resource).

    Anything short of one object read without problems raises :class:`MalformedObject`. What
    the reader left out or chose (``ParsedCalendar.notes``) is added to ``notes``, if given.
    """
    parsed = parse_calendar(data, source=source)
    if parsed.problems:
        raise MalformedObject("; ".join(parsed.problems), item=source)
    if len(parsed.objects) != 1:
        if not parsed.objects:
            message = f"{source}: no VEVENT (VTODO and VJOURNAL are not synced)"
        else:
            uids = ", ".join(repr(o.uid) for o in parsed.objects)
            message = f"{source}: {len(parsed.objects)} UIDs ({uids}); expected exactly one"
        raise MalformedObject(message, item=source)
    if notes is not None:
        notes += parsed.notes
    return parsed.objects[0]

"""The iCalendar codec: RFC 5545 text to and from the canonical :class:`CalendarObject`.

Reading
    The text is split into unfolded content lines and components with the ``icalendar``
    package's tokenizer (:class:`~icalendar.parser.Contentlines`), and values are decoded with
    its property types. ``Calendar.from_ical`` is deliberately not used for reading: it resolves
    every TZID through a process-wide cache (a custom VTIMEZONE seen once changes how later
    calendars are read; vendor-prefixed TZIDs raise ``GloballyUniqueTZIDGuessed`` warnings), and
    it keeps no source text, which the model needs to carry unknown properties *verbatim*.
    Here every TZID is resolved by :func:`~calsyncd.model.timezones.zone_for_tzid` or by the
    calendar's own VTIMEZONE, so parsing has no hidden state.

    A VEVENT that cannot be read faithfully is not guessed at: its whole object (every VEVENT
    with that UID) is left out and a problem names it. :func:`parse_object` turns any problem
    into :class:`~calsyncd.errors.MalformedObject`.

Writing
    Output is a pure function of the object: properties in a fixed order; VTIMEZONEs from
    ``icalendar``'s ``Timezone.from_tzinfo`` (the generator behind ``add_missing_timezones``,
    called directly so that the years covered follow the object's dates and the result is
    cached); DTSTAMP is the event's LAST-MODIFIED, else its CREATED (else those of the
    object's first event), else 1970-01-01T00:00:00Z — never the wall clock, so writing an
    unchanged object twice gives the same bytes (and the same etag). Datetimes are written as
    wall time plus TZID by this module: ``icalendar`` writes zones it deems equal to UTC
    (Africa/Abidjan, Atlantic/Reykjavik …) with a ``Z``, which would lose their name.

Mapping decisions
    * The marker (``X-CALSYNCD-RULE/ORIGIN/KEY``) is read from the master (or the first
      override) and written on every VEVENT; an incomplete one stays in ``extra``.
    * ``conference_url`` is the first CONFERENCE with FEATURE=VIDEO or no FEATURE, else
      ``X-GOOGLE-CONFERENCE`` / ``X-MICROSOFT-SKYPETEAMSMEETINGURL`` (then consumed); other
      CONFERENCE lines (dial-in numbers) stay in ``extra``.
    * A VALARM is a reminder if it is ``ACTION:DISPLAY`` with one relative TRIGGER at or
      before the start and no REPEAT/DURATION/ATTACH/ATTENDEE/SUMMARY; any other VALARM (and
      any other subcomponent) is kept whole in ``extra``, after the properties.
    * STATUS and TRANSP values the model does not know stay in ``extra``; an unknown CLASS
      reads as PRIVATE (RFC 5545 3.8.1.3). ``RDATE;VALUE=PERIOD`` stays in ``extra``.
    * ``RECURRENCE-ID;RANGE=THISANDFUTURE`` and TZIDs that neither a name nor a VTIMEZONE
      explain are problems, not guesses.

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
    * a custom VTIMEZONE becomes the IANA zone with the same offsets over the years the
      calendar uses it, else its times are converted to UTC.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cache, lru_cache
from typing import Any, Protocol

from dateutil.rrule import rrule, rrulestr
from icalendar import (
    Alarm,
    Calendar,
    Timezone,
    vCalAddress,
    vDDDLists,
    vDDDTypes,
    vDuration,
    vInt,
    vText,
    vUri,
    vUTCOffset,
)
from icalendar.parser import (
    Contentline,
    Contentlines,
    Parameters,
    param_value,
    split_on_unescaped_comma,
    unescape_backslash,
)
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from calsyncd.errors import MalformedObject
from calsyncd.model.event import (
    Attendee,
    CalendarObject,
    Event,
    ExtraProperty,
    Marker,
    Person,
    Response,
    ShowAs,
    Status,
    Visibility,
    When,
    sort_key,
)
from calsyncd.model.recent import by_identity
from calsyncd.model.timezones import (
    Transitions,
    iana_name,
    is_utc_zone,
    similar_transitions,
    zone_for_tzid,
    zone_transitions,
)

__all__ = [
    "DEFAULT_PRODID",
    "ParsedCalendar",
    "parse_calendar",
    "parse_object",
    "serialize_calendar",
    "serialize_object",
]

DEFAULT_PRODID = "-//calsyncd//EN"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MARKER_PROPERTIES = {
    "X-CALSYNCD-RULE": "rule",
    "X-CALSYNCD-ORIGIN": "origin",
    "X-CALSYNCD-KEY": "key",
}
_CONFERENCE_FALLBACKS = ("X-GOOGLE-CONFERENCE", "X-MICROSOFT-SKYPETEAMSMEETINGURL")
_DATE_PROPERTIES = ("DTSTART", "DTEND", "RECURRENCE-ID", "RDATE", "EXDATE")
_DROPPED = frozenset({"DTSTAMP", "PRODID"})
_NOT_REMINDER = frozenset({"REPEAT", "DURATION", "ATTACH", "ATTENDEE", "SUMMARY"})
_STATUS = {
    "CONFIRMED": Status.CONFIRMED,
    "TENTATIVE": Status.TENTATIVE,
    "CANCELLED": Status.CANCELLED,
}
_VISIBILITY = {
    "PUBLIC": Visibility.PUBLIC,
    "PRIVATE": Visibility.PRIVATE,
    "CONFIDENTIAL": Visibility.CONFIDENTIAL,
}
_RESPONSE = {
    "NEEDS-ACTION": Response.NEEDS_ACTION,
    "ACCEPTED": Response.ACCEPTED,
    "DECLINED": Response.DECLINED,
    "TENTATIVE": Response.TENTATIVE,
    "DELEGATED": Response.DELEGATED,
}
_DURATION_RE = re.compile(
    r"^(?P<sign>[+-])?P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
_URI_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_FOLD_BYTES = re.compile(rb"\r?\n[ \t]")
_URI_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PARAM_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


# icalendar is only partly annotated: its untyped calls are wrapped here, nowhere else.


def _split_lines(text: str) -> list[Contentline]:
    lines: list[Contentline] = Contentlines.from_ical(text)  # type: ignore[no-untyped-call]
    return lines


def _decode_ddd(raw: str) -> object:
    return vDDDTypes.from_ical(raw)  # type: ignore[no-untyped-call]


def _decode_duration(raw: str) -> object:
    return vDuration.from_ical(raw)  # type: ignore[no-untyped-call]


def _fold(lines: list[str]) -> bytes:
    content = [Contentline(line) for line in lines]  # type: ignore[no-untyped-call]
    folded: bytes = Contentlines(content).to_ical()  # type: ignore[no-untyped-call]
    return folded


@dataclass(frozen=True, slots=True)
class ParsedCalendar:
    """The objects of one iCalendar text and the problems met while reading it.

    ``objects`` are in the order their UIDs first appear. Each problem is a sentence naming
    the source; an object with a problem is not in ``objects``.
    """

    objects: list[CalendarObject] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- reading: lines


@dataclass(slots=True)
class _Property:
    name: str  # upper case
    params: Parameters
    value: str  # raw: not unescaped
    line: str  # the unfolded content line as it was written


@dataclass(slots=True)
class _Component:
    name: str  # upper case
    properties: list[_Property] = field(default_factory=list)
    children: list[_Component] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # own and children's lines, BEGIN..END
    errors: list[str] = field(default_factory=list)

    def all(self, name: str) -> list[_Property]:
        return [prop for prop in self.properties if prop.name == name]

    def first(self, name: str) -> _Property | None:
        return next((prop for prop in self.properties if prop.name == name), None)


def _decode(data: bytes | str, problems: list[str], source: str) -> str:
    """Text from bytes, unfolded *before* decoding: some writers fold inside a UTF-8 sequence."""
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    data = _FOLD_BYTES.sub(b"", data)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(f"{source}: not valid UTF-8 ({exc.reason}); bad bytes replaced")
        return data.decode("utf-8-sig", errors="replace")


def _read_components(text: str, source: str, problems: list[str]) -> list[_Component]:
    """Split the text into top-level components (normally one VCALENDAR)."""
    try:
        lines = _split_lines(text)
    except ValueError as exc:
        raise MalformedObject(f"{source}: not iCalendar data ({exc})", item=source) from exc
    roots: list[_Component] = []
    stack: list[_Component] = []
    stray = 0
    for line in lines:
        if not line:
            continue
        try:
            name, params, value = line.raw_parts()
        except ValueError:
            if stack:
                stack[-1].errors.append(f"unreadable line {str(line)[:60]!r}")
            else:
                stray += 1
            continue
        name = name.upper()
        if name == "BEGIN":
            stack.append(_Component(value.strip().upper()))
            continue
        if name == "END":
            closing = value.strip().upper()
            if not any(component.name == closing for component in stack):
                if stack:
                    stack[-1].errors.append(f"END:{closing} without BEGIN:{closing}")
                continue
            while stack:
                component = stack.pop()
                if component.name != closing:
                    component.errors.append(f"missing END:{component.name}")
                _close(component, stack, roots)
                if component.name == closing:
                    break
            continue
        if stack:
            stack[-1].properties.append(_Property(name, params, value, str(line)))
            stack[-1].lines.append(str(line))
    while stack:
        component = stack.pop()
        problems.append(f"{source}: BEGIN:{component.name} is never ended")
        component.errors.append(f"missing END:{component.name}")
        _close(component, stack, roots)
    if not any(root.name == "VCALENDAR" for root in roots):
        what = "no BEGIN:VCALENDAR" if not stray else f"{stray} unreadable lines"
        raise MalformedObject(f"{source}: not iCalendar data ({what})", item=source)
    return roots


def _close(component: _Component, stack: list[_Component], roots: list[_Component]) -> None:
    component.lines.insert(0, f"BEGIN:{component.name}")
    component.lines.append(f"END:{component.name}")
    if stack:
        stack[-1].children.append(component)
        if len(stack) > 1:  # nobody needs the text of a whole VCALENDAR
            stack[-1].lines.extend(component.lines)
    else:
        roots.append(component)


# --------------------------------------------------------------------------- reading: zones


class _Skip(Exception):
    """This VEVENT cannot be read faithfully; the message says why."""


def _param(params: Parameters, name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


class _Zones:
    """Resolves the TZIDs of one calendar: by name, else by the calendar's own VTIMEZONE."""

    def __init__(self, definitions: dict[str, _Component], years: dict[str, set[int]]) -> None:
        self._definitions = definitions
        self._years = years
        self._resolved: dict[str, Callable[[datetime], datetime]] = {}
        self._failed: dict[str, str] = {}

    def attach(self, tzid: str, wall: datetime) -> datetime:
        if tzid in self._failed:
            raise _Skip(self._failed[tzid])
        if tzid not in self._resolved:
            try:
                self._resolved[tzid] = self._resolve(tzid)
            except _Skip as exc:
                self._failed[tzid] = str(exc)
                raise
        return self._resolved[tzid](wall)

    def _resolve(self, tzid: str) -> Callable[[datetime], datetime]:
        zone = zone_for_tzid(tzid)
        if zone is not None:
            return _in_zone(zone)
        definition = self._definitions.get(tzid)
        if definition is None:
            raise _Skip(f"unknown TZID {tzid!r} and no VTIMEZONE defines it")
        custom = _CustomZone(definition)
        hints = [
            hint.value.strip()
            for hint in definition.properties
            if hint.name in ("X-LIC-LOCATION", "X-MICROSOFT-CDO-TZID")
        ]
        equivalent = _equivalent_zone(custom, tzid, hints, frozenset(self._years.get(tzid, ())))
        if equivalent is not None:
            return _in_zone(equivalent)
        return custom.to_utc


def _in_zone(zone: zoneinfo.ZoneInfo) -> Callable[[datetime], datetime]:
    target: tzinfo = UTC if is_utc_zone(zone) else zone

    def attach(wall: datetime) -> datetime:
        return wall.replace(tzinfo=target)

    return attach


@dataclass(frozen=True, slots=True)
class _Observance:
    start: datetime  # local wall time, in the offset before
    offset_from: timedelta
    offset_to: timedelta
    rule: str | None
    dates: tuple[datetime, ...]  # DTSTART and RDATEs, local wall times


class _CustomZone:
    """A VTIMEZONE the IANA database does not name, read from its STANDARD/DAYLIGHT rules.

    Onsets are expanded only for the years asked about, so a rule that starts in 1601 (as
    Outlook writes them) costs no more than one that starts last year.
    """

    def __init__(self, definition: _Component) -> None:
        self.name = definition.first("TZID")
        try:
            self._observances = [
                self._observance(child)
                for child in definition.children
                if child.name in ("STANDARD", "DAYLIGHT")
            ]
        except (ValueError, TypeError, KeyError) as exc:
            raise _Skip(f"cannot read the VTIMEZONE of TZID {self._tzid!r}: {exc}") from exc
        if not self._observances:
            raise _Skip(f"the VTIMEZONE of TZID {self._tzid!r} has no STANDARD or DAYLIGHT")
        self._cache: dict[int, list[tuple[datetime, timedelta]]] = {}

    @property
    def _tzid(self) -> str:
        return "" if self.name is None else self.name.value

    @staticmethod
    def _observance(component: _Component) -> _Observance:
        def required(name: str) -> _Property:
            prop = component.first(name)
            if prop is None:
                raise KeyError(f"{component.name} has no {name}")
            return prop

        start = _decode_ddd(required("DTSTART").value.strip())
        if not isinstance(start, datetime):
            raise TypeError(f"{component.name} DTSTART is not a date-time")
        start = start.replace(tzinfo=None)
        offset_from = _decode_offset(required("TZOFFSETFROM").value.strip())
        offset_to = _decode_offset(required("TZOFFSETTO").value.strip())
        rule_prop = component.first("RRULE")
        rule = None
        if rule_prop is not None:
            rule = rule_prop.value.strip()
            _zone_rule(rule, start)  # fail early on a broken rule
        dates = [start]
        for rdate in component.all("RDATE"):
            for part in rdate.value.split(","):
                value = _decode_ddd(part.strip())
                if isinstance(value, datetime):
                    dates.append(value.replace(tzinfo=None))
        return _Observance(start, offset_from, offset_to, rule, tuple(dates))

    def _onsets(self, year: int) -> list[tuple[datetime, timedelta]]:
        """(UTC instant, offset after) of every onset in ``year``, plus the last one before."""
        if year not in self._cache:
            low, high = datetime(year, 1, 1), datetime(year + 1, 1, 1)
            found: list[tuple[datetime, timedelta]] = []
            for obs in self._observances:
                locals_ = [d for d in obs.dates if d < high]
                if obs.rule is not None:
                    rule = _zone_rule(obs.rule, _rule_start(obs.rule, obs.start, year))
                    locals_ += rule.between(low, high, inc=True)
                    before = rule.before(low)
                    if before is not None:
                        locals_.append(before)
                found += [(local - obs.offset_from, obs.offset_to) for local in set(locals_)]
            found.sort()
            first_inside = next((i for i, (u, _) in enumerate(found) if u >= low), len(found))
            self._cache[year] = found[max(first_inside - 1, 0) :]
        return self._cache[year]

    def offset_at(self, instant: datetime) -> timedelta:
        """The offset in effect at a UTC instant (naive or aware)."""
        instant = instant.astimezone(UTC).replace(tzinfo=None) if instant.tzinfo else instant
        onsets = [o for y in (instant.year - 1, instant.year) for o in self._onsets(y)]
        in_effect = [offset for when, offset in sorted(onsets) if when <= instant]
        if in_effect:
            return in_effect[-1]
        earliest = min(self._observances, key=lambda o: o.start)
        return earliest.offset_from

    def to_utc(self, wall: datetime) -> datetime:
        """A wall time in this zone as UTC; ambiguous → the first, skipped → the offset before."""
        wall = wall.replace(tzinfo=None)
        offsets = {o for obs in self._observances for o in (obs.offset_from, obs.offset_to)}
        fitting = [o for o in offsets if self.offset_at(wall - o) == o]
        offset = (
            max(fitting) if fitting else self.offset_at(wall - max(offsets) - timedelta(hours=12))
        )
        return (wall - offset).replace(tzinfo=UTC)

    def transitions(self, start: datetime, end: datetime) -> Transitions:
        initial = current = self.offset_at(start)
        changes: list[tuple[datetime, timedelta | None]] = []
        for year in range(start.year, end.year + 1):
            for when, offset in self._onsets(year):
                aware = when.replace(tzinfo=UTC)
                if start < aware < end and offset != current:
                    changes.append((aware, offset))
                    current = offset
        return initial, tuple(changes)


@lru_cache(maxsize=1024)
def _zone_rule(text: str, start: datetime) -> rrule:
    parsed = rrulestr(text, dtstart=start, ignoretz=True, cache=True)
    if not isinstance(parsed, rrule):
        raise TypeError("RRULE is not a single rule")
    return parsed


def _rule_start(text: str, start: datetime, year: int) -> datetime:
    """The same DTSTART in ``year - 2``, where that gives the same onsets from ``year - 1`` on.

    Outlook starts its zone rules in 1601; moving the start of a plain yearly rule (no COUNT,
    no INTERVAL, no UNTIL before then) spares iterating through four centuries.
    """
    parts = dict(part.partition("=")[::2] for part in text.upper().split(";"))
    if start.year >= year - 2 or parts.get("FREQ") != "YEARLY" or "COUNT" in parts:
        return start
    if parts.get("INTERVAL", "1") != "1" or parts.get("UNTIL", "9999")[:4] < str(year - 2):
        return start
    try:
        return start.replace(year=year - 2)
    except ValueError:  # 29 February
        return start


def _decode_offset(raw: str) -> timedelta:
    offset = vUTCOffset.from_ical(raw)  # type: ignore[no-untyped-call]
    if not isinstance(offset, timedelta):
        raise TypeError(f"not a UTC offset: {raw!r}")
    return offset


@cache
def _candidate_zones() -> tuple[zoneinfo.ZoneInfo, ...]:
    names = sorted(zoneinfo.available_timezones() - {"localtime", "Factory", "posixrules"})
    regions = ("Africa/", "America/", "Asia/", "Atlantic/", "Australia/", "Europe/", "Pacific/")
    preferred = [n for n in names if n.startswith(regions)]
    return tuple(zoneinfo.ZoneInfo(n) for n in preferred + [n for n in names if n not in preferred])


@cache
def _windows_targets() -> tuple[str, ...]:
    """The main IANA zone of every Windows zone, ordered by Windows name."""
    return tuple(WINDOWS_TO_OLSON[name] for name in sorted(WINDOWS_TO_OLSON))


def _equivalent_zone(
    custom: _CustomZone, tzid: str, hints: list[str], years: frozenset[int]
) -> zoneinfo.ZoneInfo | None:
    """An IANA zone with the same offsets as a custom VTIMEZONE in the years it is used.

    Candidates in order: the VTIMEZONE's own hints (``X-LIC-LOCATION``), zones whose city is
    in the TZID, the main zones of Windows zones (``W. Europe`` → Europe/Berlin), then every
    zone. The first exact match wins; failing that, the first whose changes are at most three
    hours off (hand-written VTIMEZONEs often switch at the wrong hour).
    """
    if not years:
        return None
    start = datetime(min(years), 1, 1, tzinfo=UTC)
    end = datetime(max(years) + 2, 1, 1, tzinfo=UTC)
    probes = [datetime(y, m, 15, 12, tzinfo=UTC) for y in sorted(years) for m in (1, 7)]
    offsets = [custom.offset_at(probe) for probe in probes]
    lowered = tzid.lower()
    everything = _candidate_zones()
    names = [*hints, *(z.key for z in everything if z.key.rsplit("/", 1)[-1].lower() in lowered)]
    names += [*_windows_targets(), *(z.key for z in everything)]
    candidates: dict[str, zoneinfo.ZoneInfo] = {}
    for zone in map(zone_for_tzid, names):
        if zone is None or zone.key in candidates:
            continue
        if [probe.astimezone(zone).utcoffset() for probe in probes] == offsets:
            candidates[zone.key] = zone
    expected = custom.transitions(start, end)
    for slack in (timedelta(0), timedelta(hours=3)):
        for zone in candidates.values():
            if similar_transitions(zone_transitions(zone, start, end), expected, slack):
                return zone
    return None


# --------------------------------------------------------------------------- reading: values


def _text(prop: _Property) -> str:
    result: str = unescape_backslash(prop.value)
    return result


def _when(prop: _Property, zones: _Zones, value: str | None = None) -> When:
    raw = (prop.value if value is None else value).strip()
    try:
        parsed = _decode_ddd(raw)
    except ValueError as exc:
        raise _Skip(f"{prop.name} has an invalid date/time {raw!r}") from exc
    if isinstance(parsed, datetime):
        if parsed.tzinfo is not None:  # ...Z
            return parsed.replace(tzinfo=UTC)
        tzid = _param(prop.params, "TZID")
        if tzid:
            return zones.attach(tzid, parsed)
        return parsed
    if isinstance(parsed, date):
        return parsed
    raise _Skip(f"{prop.name} is not a date or date-time: {raw!r}")


def _when_list(prop: _Property, zones: _Zones) -> list[When]:
    return [_when(prop, zones, part) for part in prop.value.split(",") if part.strip()]


def _timestamp(prop: _Property, zones: _Zones) -> datetime:
    value = _when(prop, zones)
    if not isinstance(value, datetime):
        raise _Skip(f"{prop.name} is a date, not a date-time")
    return value


def _duration(raw: str) -> tuple[timedelta, timedelta]:
    """A DURATION as (nominal days, exact time): RFC 5545 adds days on the wall clock."""
    match = _DURATION_RE.match(raw.strip().upper())
    if match is None or raw.strip().upper() in ("P", "PT", "-P", "+P"):
        raise _Skip(f"DURATION is invalid: {raw!r}")
    if match["sign"] == "-":
        raise _Skip(f"DURATION is negative: {raw!r}")
    number = {k: int(v) for k, v in match.groupdict().items() if v is not None and k != "sign"}
    nominal = timedelta(weeks=number.get("weeks", 0), days=number.get("days", 0))
    exact = timedelta(
        hours=number.get("hours", 0),
        minutes=number.get("minutes", 0),
        seconds=number.get("seconds", 0),
    )
    return nominal, exact


def _end_from_duration(start: When, raw: str) -> When:
    nominal, exact = _duration(raw)
    end = start + nominal
    if not isinstance(end, datetime):
        return end + timedelta(days=exact.days)
    if end.tzinfo is None:
        return end + exact
    return (end.astimezone(UTC) + exact).astimezone(end.tzinfo)


def _person(prop: _Property) -> tuple[str, str | None]:
    value = prop.value.strip()
    email = value[7:] if value.lower().startswith("mailto:") else value
    return email, _param(prop.params, "CN")


def _reminder(alarm: _Component) -> timedelta | None:
    """The offset before the start if this VALARM is a plain reminder, else ``None``."""
    if alarm.errors or alarm.children:
        return None
    actions, triggers = alarm.all("ACTION"), alarm.all("TRIGGER")
    if len(actions) != 1 or len(triggers) != 1 or actions[0].value.strip().upper() != "DISPLAY":
        return None
    if any(prop.name in _NOT_REMINDER for prop in alarm.properties):
        return None
    trigger = triggers[0]
    if (_param(trigger.params, "VALUE") or "DURATION").upper() != "DURATION":
        return None
    if (_param(trigger.params, "RELATED") or "START").upper() != "START":
        return None
    try:
        offset = _decode_duration(trigger.value.strip())
    except ValueError:
        return None
    if not isinstance(offset, timedelta) or offset > timedelta(0):
        return None
    return -offset


def _conference_index(event: _Component) -> int | None:
    """Which property becomes ``conference_url``.

    The first CONFERENCE with FEATURE=VIDEO (or no FEATURE), else Google's or Teams' own
    property. Dial-in numbers and chat links stay CONFERENCE lines in ``extra``.
    """
    for i, prop in enumerate(event.properties):
        feature = _param(prop.params, "FEATURE")
        if prop.name == "CONFERENCE" and (feature is None or "VIDEO" in feature.upper()):
            return i
    for name in _CONFERENCE_FALLBACKS:
        for i, prop in enumerate(event.properties):
            if prop.name == name and prop.value.strip():
                return i
    return None


@dataclass(slots=True)
class _Read:
    uid: str
    event: Event
    marker: dict[str, str]


def _errors(component: _Component) -> list[str]:
    return component.errors + [e for child in component.children for e in _errors(child)]


def _read_event(component: _Component, zones: _Zones) -> _Read:
    if errors := _errors(component):
        raise _Skip("; ".join(errors))
    values: dict[str, Any] = {}  # Event fields, each set once by the branch that reads it
    extra: list[ExtraProperty] = []
    categories: list[str] = []
    attendees: list[Attendee] = []
    rrules: list[str] = []
    rdates: list[When] = []
    exdates: list[When] = []
    marker: dict[str, str] = {}
    uid: str | None = None
    duration: str | None = None
    conference = _conference_index(component)

    def once(key: str, prop: _Property, value: Any) -> None:
        if key in values:
            extra.append(ExtraProperty(prop.name, prop.line))
        else:
            values[key] = value

    for index, prop in enumerate(component.properties):
        name = prop.name
        if index == conference:
            values["conference_url"] = prop.value.strip()
        elif name == "UID":
            if uid is not None:
                raise _Skip("several UIDs")
            uid = _text(prop)
        elif name in _DROPPED:
            continue
        elif name in ("DTSTART", "DTEND", "RECURRENCE-ID", "DURATION"):
            if name.lower() in values or (name == "DURATION" and duration is not None):
                raise _Skip(f"several {name} properties")
            if name == "DURATION":
                duration = prop.value
            elif name == "RECURRENCE-ID" and _param(prop.params, "RANGE"):
                raise _Skip("RECURRENCE-ID;RANGE=THISANDFUTURE is not supported")
            else:
                values[name.lower()] = _when(prop, zones)
        elif name in ("SUMMARY", "DESCRIPTION", "LOCATION"):
            once({"SUMMARY": "title"}.get(name, name.lower()), prop, _text(prop))
        elif name == "STATUS" and _text(prop).strip().upper() in _STATUS:
            once("status", prop, _STATUS[_text(prop).strip().upper()])
        elif name == "TRANSP" and _text(prop).strip().upper() in ("OPAQUE", "TRANSPARENT"):
            free = _text(prop).strip().upper() == "TRANSPARENT"
            once("show_as", prop, ShowAs.FREE if free else ShowAs.BUSY)
        elif name == "CLASS":
            # RFC 5545 3.8.1.3: an unknown classification is treated as PRIVATE.
            once(
                "visibility", prop, _VISIBILITY.get(_text(prop).strip().upper(), Visibility.PRIVATE)
            )
        elif name == "CATEGORIES":
            categories += split_on_unescaped_comma(prop.value)
        elif name == "ORGANIZER":
            email, cn = _person(prop)
            once("organizer", prop, Person(email, cn))
        elif name == "ATTENDEE":
            email, cn = _person(prop)
            partstat = (_param(prop.params, "PARTSTAT") or "").upper()
            role = (_param(prop.params, "ROLE") or "").upper()
            response = _RESPONSE.get(partstat, Response.NEEDS_ACTION)
            attendees.append(Attendee(email, cn, response, role == "OPT-PARTICIPANT"))
        elif name == "URL":
            once("url", prop, prop.value.strip())
        elif name == "RRULE":
            if "FREQ=" not in prop.value.upper():
                raise _Skip(f"RRULE has no FREQ: {prop.value!r}")
            rrules.append(prop.value.strip())
        elif name == "RDATE" and (
            (_param(prop.params, "VALUE") or "").upper() == "PERIOD" or "/" in prop.value
        ):
            extra.append(ExtraProperty(name, prop.line))  # periods: the model has no field
        elif name == "RDATE":
            rdates += _when_list(prop, zones)
        elif name == "EXDATE":
            exdates += _when_list(prop, zones)
        elif name == "SEQUENCE":
            try:
                once("sequence", prop, int(prop.value.strip()))
            except ValueError as exc:
                raise _Skip(f"SEQUENCE is not a number: {prop.value!r}") from exc
        elif name in ("CREATED", "LAST-MODIFIED"):
            once(name.lower().replace("-", "_"), prop, _timestamp(prop, zones))
        else:
            if name in _MARKER_PROPERTIES:
                marker.setdefault(_MARKER_PROPERTIES[name], _text(prop))
            extra.append(ExtraProperty(name, prop.line))

    if not uid:
        raise _Skip("no UID")
    start: When | None = values.pop("dtstart", None)
    if start is None:
        raise _Skip("no DTSTART")
    end: When | None = values.pop("dtend", None)
    if end is None and duration is not None:
        end = _end_from_duration(start, duration)
    for line in rrules:
        _check_rrule(line, start)
    reminders: list[timedelta] = []
    for child in component.children:
        offset = _reminder(child) if child.name == "VALARM" else None
        if offset is None:
            extra.append(ExtraProperty(child.name, "\n".join(child.lines)))
        else:
            reminders.append(offset)
    event = Event(
        start=start,
        end=end,
        recurrence_id=values.pop("recurrence-id", None),
        categories=tuple(categories),
        attendees=tuple(attendees),
        reminders=tuple(reminders),
        rrules=tuple(rrules),
        rdates=tuple(rdates),
        exdates=tuple(exdates),
        extra=tuple(extra),
        **values,
    )
    return _Read(uid, event, marker)


def _check_rrule(line: str, start: When) -> None:
    """Skip an event whose RRULE cannot be expanded from its start (unknown FREQ, a bad
    UNTIL, COUNT or BYxxx part) — read the way the sync window expands it — rather than let
    it fail later, away from the object that carries it."""
    dtstart = start if isinstance(start, datetime) else datetime.combine(start, time())
    try:
        rrulestr(line, dtstart=dtstart, ignoretz=dtstart.tzinfo is None)
    except (ValueError, TypeError, OverflowError) as exc:
        raise _Skip(f"RRULE cannot be read: {line!r} ({exc})") from None


def _years(events: Iterable[_Component]) -> dict[str, set[int]]:
    """The years each TZID is used in, to know where a custom VTIMEZONE must match."""
    years: dict[str, set[int]] = {}
    for event in events:
        for prop in event.properties:
            tzid = _param(prop.params, "TZID") if prop.name in _DATE_PROPERTIES else None
            if tzid:
                for part in prop.value.split(","):
                    if part.strip()[:4].isdigit():
                        years.setdefault(tzid, set()).add(int(part.strip()[:4]))
    return years


# --------------------------------------------------------------------------- reading: objects


def parse_calendar(data: bytes | str, *, source: str) -> ParsedCalendar:
    """Read every VEVENT of an iCalendar text, grouped by UID into calendar objects.

    ``source`` names the text in problems and errors (a path, an URL, a resource href). Raises
    :class:`MalformedObject` only if the text is not iCalendar at all.
    """
    problems: list[str] = []
    roots = _read_components(_decode(data, problems, source), source, problems)
    calendars = [root for root in roots if root.name == "VCALENDAR"]
    for calendar in calendars:
        problems += [f"{source}: {error}" for error in calendar.errors]
    definitions: dict[str, _Component] = {}
    events: list[_Component] = []
    for calendar in calendars:
        for child in calendar.children:
            if child.name == "VTIMEZONE" and (tzid := child.first("TZID")) is not None:
                definitions.setdefault(tzid.value.strip(), child)
            elif child.name == "VEVENT":
                events.append(child)
    zones = _Zones(definitions, _years(events))

    readings: dict[str, list[_Read]] = {}
    broken: dict[str, list[str]] = {}
    for number, component in enumerate(events, start=1):
        uid_prop = component.first("UID")
        uid = _text(uid_prop) if uid_prop is not None else ""
        try:
            reading = _read_event(component, zones)
        except _Skip as exc:
            if not uid:
                problems.append(f"{source}: VEVENT #{number}: {exc}; skipped")
            else:
                broken.setdefault(uid, []).append(f"VEVENT #{number}: {exc}")
                readings.setdefault(uid, [])
            continue
        readings.setdefault(reading.uid, []).append(reading)

    objects: list[CalendarObject] = []
    for uid, group in readings.items():
        if uid in broken:
            reasons = "; ".join(broken[uid])
            problems.append(f"{source}: UID {uid!r}: {reasons}; object skipped")
            continue
        try:
            objects.append(_assemble(uid, group))
        except _Skip as exc:
            problems.append(f"{source}: UID {uid!r}: {exc}; object skipped")
    return ParsedCalendar(objects=objects, problems=problems)


def _assemble(uid: str, group: list[_Read]) -> CalendarObject:
    masters = [r for r in group if r.event.recurrence_id is None]
    if len(masters) > 1:
        raise _Skip(f"{len(masters)} VEVENTs without RECURRENCE-ID")
    overrides: dict[When, _Read] = {}
    for reading in group:
        rid = reading.event.recurrence_id
        if rid is not None:
            if rid in overrides:
                raise _Skip(f"two VEVENTs with RECURRENCE-ID {rid.isoformat()}")
            overrides[rid] = reading
    ordered = masters + sorted(overrides.values(), key=lambda r: sort_key(r.event.recurrence_id))
    found = ordered[0].marker
    marker = Marker(**found) if len(found) == len(_MARKER_PROPERTIES) else None

    def clean(event: Event) -> Event:
        if marker is None or not any(x.name in _MARKER_PROPERTIES for x in event.extra):
            return event
        kept = tuple(x for x in event.extra if x.name not in _MARKER_PROPERTIES)
        return replace(event, extra=kept)

    return CalendarObject(
        uid=uid,
        master=clean(masters[0].event) if masters else None,
        overrides={rid: clean(r.event) for rid, r in overrides.items()},
        marker=marker,
    )


def parse_object(data: bytes | str, *, source: str) -> CalendarObject:
    """Read a text that holds exactly one calendar object (a vdir file, a CalDAV resource).

    Anything short of one object read without problems raises :class:`MalformedObject`.
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
    return parsed.objects[0]


# --------------------------------------------------------------------------- writing


@by_identity(64)
def serialize_object(obj: CalendarObject, *, prodid: str = DEFAULT_PRODID) -> bytes:
    """One VCALENDAR with the object's VTIMEZONEs, its master, then its overrides (the last
    few remembered: a write serialises the same object for its body and its state row)."""
    return _serialize([obj], name=None, prodid=prodid)


def serialize_calendar(
    objects: Iterable[CalendarObject],
    *,
    name: str | None = None,
    prodid: str = DEFAULT_PRODID,
) -> bytes:
    """Many objects in one VCALENDAR (an ICS feed); ``name`` becomes NAME and X-WR-CALNAME."""
    return _serialize(list(objects), name=name, prodid=prodid)


def _serialize(objects: list[CalendarObject], *, name: str | None, prodid: str) -> bytes:
    header = Calendar()
    header.add("VERSION", "2.0")
    header.add("PRODID", prodid)
    if name is not None:
        header.calendar_name = name
    lines: list[str] = [line for line in header.content_lines(sorted=False) if line]
    assert lines[-1] == "END:VCALENDAR"
    lines.pop()
    lines += _timezone_lines(objects)
    for obj in objects:
        if not obj.uid:
            raise ValueError("a calendar object needs a UID")
        if obj.master is not None:
            lines += _event_lines(obj, obj.master, None)
        for rid in sorted(obj.overrides, key=_rid_order):
            lines += _event_lines(obj, obj.overrides[rid], rid)
    lines.append("END:VCALENDAR")
    return _fold(lines)


def _rid_order(rid: When) -> tuple[tuple[int, str], str, str]:
    """:func:`sort_key`, made total: a date, a floating and a UTC time can share one."""
    zone = rid.tzinfo if isinstance(rid, datetime) else None
    return sort_key(rid), type(rid).__name__ + ("" if zone is None else "+"), rid.isoformat()


def _events(objects: Iterable[CalendarObject]) -> Iterator[Event]:
    for obj in objects:
        yield from obj.events


def _whens(event: Event) -> Iterator[When]:
    for when in (event.start, event.end, event.recurrence_id, *event.rdates, *event.exdates):
        if when is not None:
            yield when


def _zone_key(tz: tzinfo | None) -> str | None:
    """The TZID to write for an aware datetime, or ``None`` for UTC (written with ``Z``)."""
    if tz is None or is_utc_zone(tz):
        return None
    if isinstance(tz, zoneinfo.ZoneInfo) and tz.key is not None:
        zone = zone_for_tzid(tz.key)
    else:
        name = iana_name(tz)
        zone = zone_for_tzid(name) if name is not None else None
    if zone is None or is_utc_zone(zone):
        return None
    return zone.key


def _timezone_lines(objects: list[CalendarObject]) -> list[str]:
    """VTIMEZONEs for every zone used, covering the years the objects use it in."""
    years: dict[str, list[int]] = {}
    recurring: set[str] = set()
    for event in _events(objects):
        for when in _whens(event):
            if isinstance(when, datetime) and (key := _zone_key(when.tzinfo)) is not None:
                years.setdefault(key, []).append(when.year)
                if event.rrules:
                    recurring.add(key)
    lines: list[str] = []
    for key in sorted(years):
        first = max(min(years[key]), 1900)  # before 1900 zones are local mean time anyway
        last = max(years[key]) + 1
        if key in recurring:  # open-ended series: cover what icalendar covers by default
            last = max(last, Timezone.DEFAULT_LAST_DATE.year)
        lines += _vtimezone(key, first, min(max(last, first), 9998))
    return lines


@lru_cache(maxsize=256)
def _vtimezone(key: str, first_year: int, last_year: int) -> tuple[str, ...]:
    try:
        component = Timezone.from_tzinfo(
            zoneinfo.ZoneInfo(key),
            tzid=key,  # icalendar would write zones it finds equal to UTC as "UTC"
            first_date=date(first_year, 1, 1),
            last_date=date(last_year + 1, 1, 1),
        )
    except ValueError:
        return ()
    return tuple(line for line in component.content_lines() if line)


class _ToIcal(Protocol):
    def to_ical(self) -> bytes | str: ...


class _Text:
    """TEXT values, escaped per RFC 5545 3.3.11; several make a comma-separated list.

    Not ``vText``: icalendar first turns a literal ``\\N`` into a line break, so
    ``C:\\Nutzer`` would come back as ``C:`` and ``utzer`` on a new line.
    """

    def __init__(self, *texts: str) -> None:
        self._texts = texts

    @staticmethod
    def escape(text: str) -> str:
        text = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
        return text.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")

    def to_ical(self) -> str:
        return ",".join(self.escape(text) for text in self._texts)


def _line(name: str, value: _ToIcal, **params: str) -> str:
    """A content line; parameters in the given order, CN always quoted and made safe.

    icalendar leaves a CN unquoted unless it has ``,;:``, so ``CN=a\\`` swallows the next
    parameter, and control characters make the line unreadable: they become spaces.
    """
    encoded = value.to_ical()
    text = encoded.decode("utf-8") if isinstance(encoded, bytes) else encoded
    section = ""
    for key, param in params.items():
        if key == "CN":
            # icalendar's reader unescapes backslashes even in quoted values: double them.
            cn = _PARAM_CONTROL.sub(" ", param).replace("\\", "\\\\")
            section += f";CN={param_value(cn, always_quote=True)}"
        else:
            section += f";{key}={param_value(param)}"
    return f"{name}{section}:{text}"


def _when_value(when: When) -> tuple[str, dict[str, str], When]:
    """(group, parameters, icalendar value) for one date or datetime."""
    if not isinstance(when, datetime):
        return "DATE", {"VALUE": "DATE"}, when
    if when.tzinfo is None:
        return "FLOATING", {}, when.replace(microsecond=0)
    key = _zone_key(when.tzinfo)
    if key is None:
        return "UTC", {}, when.astimezone(UTC).replace(microsecond=0)
    # A naive wall time with an explicit TZID: icalendar would write zones it deems equal to
    # UTC (Africa/Abidjan, …) with a Z and lose the zone name.
    wall = when.astimezone(zoneinfo.ZoneInfo(key)).replace(tzinfo=None, microsecond=0)
    return key, {"TZID": key}, wall


def _when_line(name: str, when: When) -> str:
    _, params, value = _when_value(when)
    return _line(name, vDDDTypes(value), **params)


def _when_list_lines(name: str, whens: tuple[When, ...]) -> list[str]:
    """One property per run of values of the same kind, so that their order is kept."""
    lines: list[str] = []
    run: list[When] = []
    run_group: str | None = None
    run_params: dict[str, str] = {}
    for when in whens:
        group, params, value = _when_value(when)
        if run and group != run_group:
            lines.append(_line(name, vDDDLists(run), **run_params))
            run = []
        run_group, run_params = group, params
        run.append(value)
    if run:
        lines.append(_line(name, vDDDLists(run), **run_params))
    return lines


def _uri(text: str) -> str:
    """A URI value with control characters percent-encoded (a raw one would end the line)."""
    return _URI_CONTROL.sub(lambda m: f"%{ord(m.group()):02X}", text)


def _address(email: str) -> vCalAddress:
    return vCalAddress(_uri(email if _URI_SCHEME_RE.match(email) else f"mailto:{email}"))


def _stamp(value: datetime) -> datetime:
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(microsecond=0)


def _event_lines(obj: CalendarObject, event: Event, rid: When | None) -> list[str]:
    lines = ["BEGIN:VEVENT", _line("UID", _Text(obj.uid))]
    first = obj.first
    stamp = event.last_modified or event.created or first.last_modified or first.created or _EPOCH
    lines.append(_line("DTSTAMP", vDDDTypes(_stamp(stamp))))
    recurrence_id = event.recurrence_id if event.recurrence_id is not None else rid
    if recurrence_id is not None:
        lines.append(_when_line("RECURRENCE-ID", recurrence_id))
    lines.append(_when_line("DTSTART", event.start))
    if event.end is not None:
        lines.append(_when_line("DTEND", event.end))
    if event.sequence:
        lines.append(_line("SEQUENCE", vInt(event.sequence)))
    if event.created is not None:
        lines.append(_line("CREATED", vDDDTypes(_stamp(event.created))))
    if event.last_modified is not None:
        lines.append(_line("LAST-MODIFIED", vDDDTypes(_stamp(event.last_modified))))
    for prop, text in (
        ("SUMMARY", event.title),
        ("DESCRIPTION", event.description),
        ("LOCATION", event.location),
    ):
        if text is not None:
            lines.append(_line(prop, _Text(text)))
    if event.status is not Status.CONFIRMED:
        lines.append(_line("STATUS", vText(event.status.value.upper())))
    if event.show_as is ShowAs.FREE:
        lines.append(_line("TRANSP", vText("TRANSPARENT")))
    if event.visibility is not Visibility.DEFAULT:
        lines.append(_line("CLASS", vText(event.visibility.value.upper())))
    if event.categories:
        lines.append(_line("CATEGORIES", _Text(*event.categories)))
    if event.organizer is not None:
        params = {"CN": event.organizer.name} if event.organizer.name is not None else {}
        lines.append(_line("ORGANIZER", _address(event.organizer.email), **params))
    for attendee in event.attendees:
        params = {"CN": attendee.name} if attendee.name is not None else {}
        params["PARTSTAT"] = attendee.response.value.upper()
        if attendee.optional:
            params["ROLE"] = "OPT-PARTICIPANT"
        lines.append(_line("ATTENDEE", _address(attendee.email), **params))
    if event.conference_url is not None:
        conference = vUri(_uri(event.conference_url))
        lines.append(_line("CONFERENCE", conference, VALUE="URI", FEATURE="VIDEO"))
    if event.url is not None:
        lines.append(_line("URL", vUri(_uri(event.url))))
    lines += [f"RRULE:{_uri(rule)}" for rule in event.rrules]
    lines += _when_list_lines("RDATE", event.rdates)
    lines += _when_list_lines("EXDATE", event.exdates)
    if obj.marker is not None:
        lines.append(_line("X-CALSYNCD-RULE", _Text(obj.marker.rule)))
        lines.append(_line("X-CALSYNCD-ORIGIN", _Text(obj.marker.origin)))
        lines.append(_line("X-CALSYNCD-KEY", _Text(obj.marker.key)))
    blocks = [x for x in event.extra if x.line[:6].upper() == "BEGIN:"]
    for extra in event.extra:
        if extra not in blocks:
            if "\n" in extra.line or "\r" in extra.line:
                raise ValueError(f"extra property {extra.name!r} has a line break: {extra.line!r}")
            lines.append(extra.line)
    for reminder in event.reminders:
        alarm = Alarm()
        alarm.add("ACTION", "DISPLAY")
        alarm.add("DESCRIPTION", "Reminder")
        alarm.add("TRIGGER", -reminder)
        lines += [line for line in alarm.content_lines(sorted=False) if line]
    for block in blocks:
        lines += block.line.split("\n")
    lines.append("END:VEVENT")
    return lines

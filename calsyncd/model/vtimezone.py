"""Time zones of one calendar text: TZIDs resolved by name, else by the text's VTIMEZONE.

A VTIMEZONE the IANA database does not name (:class:`_CustomZone`) is read from its
STANDARD/DAYLIGHT observances and, where an IANA zone has the same offsets in the years the
calendar uses it, replaced by that zone. Only yearly observance rules are read (every real
zone's are): a rule that changes the offset every second would ask for millions of onsets a
year. Expanding them runs under one :class:`~calsyncd.model.budget.Budget` per zone, and a
zone past it, like any zone that cannot be read, makes every event using it unreadable.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cache

from icalendar import vUTCOffset
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from calsyncd.model.budget import Budget, OverBudget
from calsyncd.model.components import Component, Property, Unreadable, decode_ddd
from calsyncd.model.recurrence import Recurrence, parse_rule
from calsyncd.model.timezones import (
    Transitions,
    is_utc_zone,
    similar_transitions,
    zone_for_tzid,
    zone_transitions,
)

__all__ = ["Zones"]

_MAX_MATCHED_YEARS = 100
"""The widest span of years over which a custom VTIMEZONE is compared with IANA zones."""


class Zones:
    """Resolves the TZIDs of one calendar: by name, else by the calendar's own VTIMEZONE.

    ``definitions`` are the VTIMEZONEs by TZID; ``years`` the years each TZID is used in,
    where an IANA zone must match a custom one to replace it.
    """

    def __init__(self, definitions: dict[str, Component], years: dict[str, set[int]]) -> None:
        self._definitions = definitions
        self._years = years
        self._resolved: dict[str, Callable[[datetime], datetime]] = {}
        self._failed: dict[str, str] = {}

    def attach(self, tzid: str, wall: datetime) -> datetime:
        """``wall`` (a naive wall time) in the zone ``tzid`` names."""
        if tzid not in self._resolved and tzid not in self._failed:
            try:
                self._resolved[tzid] = self._resolve(tzid)
            except Unreadable as exc:
                self._failed[tzid] = str(exc)
            except OverBudget as exc:
                self._failed[tzid] = self._over_budget(tzid, exc)
            except Exception as exc:  # a definition that fails in any way fails every time
                why = f"{type(exc).__name__}: {exc}"
                self._failed[tzid] = f"cannot read the VTIMEZONE of TZID {tzid!r} ({why})"
        if tzid in self._failed:
            raise Unreadable(self._failed[tzid])
        try:
            return self._resolved[tzid](wall)
        except OverBudget as exc:  # the zone's budget, spent: so for every later event too
            self._failed[tzid] = self._over_budget(tzid, exc)
            raise Unreadable(self._failed[tzid]) from None

    @staticmethod
    def _over_budget(tzid: str, exc: OverBudget) -> str:
        return f"expanding the VTIMEZONE of TZID {tzid!r} costs {exc}"

    def uses_definition(self, tzid: str) -> bool:
        """Whether ``tzid`` is not a zone name, so only a VTIMEZONE can tell what it is."""
        return zone_for_tzid(tzid) is None

    def _resolve(self, tzid: str) -> Callable[[datetime], datetime]:
        zone = zone_for_tzid(tzid)
        if zone is not None:
            return _in_zone(zone)
        definition = self._definitions.get(tzid)
        if definition is None:
            raise Unreadable(f"unknown TZID {tzid!r} and no VTIMEZONE defines it")
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
    Outlook writes them) costs no more than one that starts last year; all of them under one
    budget.
    """

    def __init__(self, definition: Component) -> None:
        self.name = definition.first("TZID")
        try:
            self._observances = [
                self._observance(child)
                for child in definition.children
                if child.name in ("STANDARD", "DAYLIGHT")
            ]
        except (ValueError, TypeError, KeyError) as exc:
            raise Unreadable(f"cannot read the VTIMEZONE of TZID {self._tzid!r}: {exc}") from exc
        if not self._observances:
            raise Unreadable(f"the VTIMEZONE of TZID {self._tzid!r} has no STANDARD or DAYLIGHT")
        self._cache: dict[int, list[tuple[datetime, timedelta]]] = {}
        self._budget = Budget()

    @property
    def _tzid(self) -> str:
        return "" if self.name is None else self.name.value

    @staticmethod
    def _observance(component: Component) -> _Observance:
        def required(name: str) -> Property:
            prop = component.first(name)
            if prop is None:
                raise KeyError(f"{component.name} has no {name}")
            return prop

        start = decode_ddd(required("DTSTART").value.strip())
        if not isinstance(start, datetime):
            raise TypeError(f"{component.name} DTSTART is not a date-time")
        start = start.replace(tzinfo=None)
        offset_from = _decode_offset(required("TZOFFSETFROM").value.strip())
        offset_to = _decode_offset(required("TZOFFSETTO").value.strip())
        rule_prop = component.first("RRULE")
        rule = None
        if rule_prop is not None:
            rule = rule_prop.value.strip()
            parse_rule(rule, start)  # fail early on a broken rule
            if _parts(rule).get("FREQ") != "YEARLY":
                raise ValueError(f"{component.name} RRULE {rule!r} is not yearly")
        dates = [start]
        for rdate in component.all("RDATE"):
            for part in rdate.value.split(","):
                value = decode_ddd(part.strip())
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
                    start = _rule_start(obs.rule, obs.start, year)
                    rule = Recurrence(start, [obs.rule])
                    with self._budget.active():
                        locals_ += rule.between(low, high)
                        before = rule.last_before(low)
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


def _parts(rule: str) -> dict[str, str]:
    return dict(part.partition("=")[::2] for part in rule.upper().split(";"))


def _rule_start(text: str, start: datetime, year: int) -> datetime:
    """The same DTSTART in ``year - 2``, where that gives the same onsets from ``year - 1`` on.

    Outlook starts its zone rules in 1601; moving the start of a plain yearly rule (no COUNT,
    no INTERVAL, no UNTIL before then) spares iterating through four centuries.
    """
    parts = _parts(text)
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
    hours off (hand-written VTIMEZONEs often switch at the wrong hour). Years further apart
    than :data:`_MAX_MATCHED_YEARS` keep the custom zone: comparing day by day would cost more
    than a match is worth.
    """
    if not years or max(years) - min(years) > _MAX_MATCHED_YEARS:
        return None
    start = datetime(min(years), 1, 1, tzinfo=UTC)
    end = datetime(min(max(years) + 2, 9999), 1, 1, tzinfo=UTC)
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

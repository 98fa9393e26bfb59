"""Time zone names: IANA, Windows and the odd forms calendar software writes into TZID.

The canonical model only holds :class:`zoneinfo.ZoneInfo` zones (or :data:`datetime.UTC`), so
every TZID that arrives from a provider goes through :func:`zone_for_tzid`, and every zone that
leaves goes out under :func:`iana_name`.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import cache, lru_cache

from icalendar.timezone import tzids_from_tzinfo
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

__all__ = [
    "UTC_ALIASES",
    "Transitions",
    "iana_name",
    "is_utc_zone",
    "same_offsets",
    "similar_transitions",
    "transitions",
    "windows_name",
    "zone_for_tzid",
    "zone_transitions",
]

UTC_ALIASES = frozenset(
    {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu"}
)
"""IANA names that are plain UTC; the model writes these as :data:`datetime.UTC`."""

_NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})

# Windows "display names" ("(UTC-05:00) Eastern Time (US & Canada)") are not in the CLDR
# table. The North American ones name no city, so they get a small table; the rest
# name cities, which :func:`_from_display_name` looks up.
_DISPLAY_NAMES = {
    "eastern time (us & canada)": "America/New_York",
    "central time (us & canada)": "America/Chicago",
    "mountain time (us & canada)": "America/Denver",
    "pacific time (us & canada)": "America/Los_Angeles",
    "atlantic time (canada)": "America/Halifax",
    "alaska": "America/Anchorage",
    "hawaii": "Pacific/Honolulu",
    "arizona": "America/Phoenix",
    "coordinated universal time": "UTC",
}
_DISPLAY_RE = re.compile(r"^\((?:UTC|GMT)(?:([+-])(\d{1,2}):?(\d{2}))?\)\s*(.+)$", re.IGNORECASE)


@cache
def _known_zones() -> dict[str, str]:
    """Every IANA zone name on this system, keyed by its lower-case form."""
    return {name.lower(): name for name in zoneinfo.available_timezones() if name not in _NOT_ZONES}


@cache
def _zones_by_city() -> dict[str, tuple[str, ...]]:
    """IANA zones keyed by their last path element ("new york" → America/New_York, …)."""
    by_city: dict[str, list[str]] = {}
    for name in sorted(_known_zones().values()):
        if "/" in name and not name.startswith("Etc/"):
            city = name.rsplit("/", 1)[1].replace("_", " ").lower()
            by_city.setdefault(city, []).append(name)
    return {city: tuple(names) for city, names in by_city.items()}


@cache
def _windows_lower() -> dict[str, str]:
    return {name.lower(): olson for name, olson in WINDOWS_TO_OLSON.items()}


def _iana(name: str) -> zoneinfo.ZoneInfo | None:
    """An IANA zone by exact or case-insensitive name (``posix/`` and ``right/`` dropped)."""
    name = name.strip()
    for prefix in ("posix/", "right/"):
        if name.lower().startswith(prefix):
            name = name[len(prefix) :]
    key = _known_zones().get(name.lower())
    return zoneinfo.ZoneInfo(key) if key is not None else None


def _from_display_name(tzid: str) -> zoneinfo.ZoneInfo | None:
    match = _DISPLAY_RE.match(tzid.strip())
    if match is None:
        return None
    sign, hours, minutes, rest = match.groups()
    rest = rest.strip()
    if (known := _DISPLAY_NAMES.get(rest.lower())) is not None:
        return zoneinfo.ZoneInfo(known)
    if (windows := _windows_lower().get(rest.lower())) is not None:
        return _iana(windows)
    offset = timedelta(0)
    if hours is not None:
        offset = timedelta(hours=int(hours), minutes=int(minutes))
        if sign == "-":
            offset = -offset
    # "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna": the first city whose
    # zone has the stated standard offset in winter or summer (southern hemisphere).
    for city in re.split(r"[,/]", rest):
        for name in _zones_by_city().get(city.strip().lower(), ()):
            zone = zoneinfo.ZoneInfo(name)
            probes = (datetime(2024, 1, 15, tzinfo=zone), datetime(2024, 7, 15, tzinfo=zone))
            if any(probe.utcoffset() == offset for probe in probes):
                return zone
    return None


@lru_cache(maxsize=1024)
def zone_for_tzid(tzid: str) -> zoneinfo.ZoneInfo | None:
    """The IANA zone a TZID names, or ``None`` if it names none we know.

    Understands IANA names (any case), Windows names (``W. Europe Standard Time``, via the
    CLDR table the ``icalendar`` package ships), "globally unique" vendor-prefixed names
    (``/mozilla.org/20050126_1/America/New_York``) and Windows display names
    (``(UTC-05:00) Eastern Time (US & Canada)``).
    """
    tzid = tzid.strip().strip('"').strip()
    if not tzid:
        return None
    if (zone := _iana(tzid)) is not None:
        return zone
    if (windows := _windows_lower().get(tzid.lower())) is not None:
        return _iana(windows)
    parts = [part for part in tzid.split("/") if part]
    if tzid.startswith("/") or len(parts) > 2:
        # Vendor prefix: the longest trailing part that is a zone name wins.
        for start in range(1, len(parts)):
            if (zone := _iana("/".join(parts[start:]))) is not None:
                return zone
    return _from_display_name(tzid)


def is_utc_zone(tz: tzinfo | None) -> bool:
    """Whether ``tz`` is UTC itself (not merely a zone at offset zero, like Africa/Abidjan)."""
    if tz is None:
        return False
    if tz is UTC:
        return True
    if isinstance(tz, zoneinfo.ZoneInfo):
        return tz.key in UTC_ALIASES
    if isinstance(tz, timezone):
        return tz.utcoffset(None) == timedelta(0)
    return False


def iana_name(tz: tzinfo | None) -> str | None:
    """The IANA name of a time zone, or ``None`` if it has none.

    UTC (in any spelling) is ``"UTC"``; a fixed whole-hour offset is ``Etc/GMT±h`` (whose sign
    is inverted, as IANA defines it); pytz and dateutil zones are named via ``icalendar``.
    """
    if tz is None:
        return None
    if is_utc_zone(tz):
        return "UTC"
    if isinstance(tz, zoneinfo.ZoneInfo):
        zone = _iana(tz.key) if tz.key is not None else None
        return zone.key if zone is not None else None
    if isinstance(tz, timezone):
        offset = tz.utcoffset(None)
        hours, rest = divmod(offset, timedelta(hours=1))
        if rest or not -12 <= hours <= 14:
            return None
        return f"Etc/GMT{-hours:+d}"
    # The first of icalendar's names is the zone's own; tzid_from_tzinfo would prefer "UTC"
    # for any zone it finds equivalent to UTC, such as Africa/Abidjan.
    names: tuple[str, ...] = tzids_from_tzinfo(tz)
    if not names:
        return None
    zone = zone_for_tzid(names[0])
    if zone is None:
        return None
    return "UTC" if zone.key in UTC_ALIASES else zone.key


@cache
def _olson_to_windows() -> dict[str, str]:
    return {olson: windows for windows, olson in sorted(WINDOWS_TO_OLSON.items())}


@lru_cache(maxsize=256)
def windows_name(zone: str) -> str | None:
    """The Windows zone name for an IANA name (for Graph), or ``None`` if there is none.

    The CLDR table names one IANA zone per Windows zone; any other IANA zone gets a Windows
    zone with the same rules since 2000, preferring one in the same region
    (``Europe/Amsterdam`` → ``W. Europe Standard Time``).
    """
    table = _olson_to_windows()
    target = zone_for_tzid(zone)
    if target is None:
        return None
    if target.key in UTC_ALIASES:
        return "UTC"
    if target.key in table:
        return table[target.key]
    region = target.key.split("/", 1)[0]
    ordered = sorted(table, key=lambda olson: (olson.split("/", 1)[0] != region, olson))
    start, end = datetime(2000, 1, 1, tzinfo=UTC), datetime(2038, 1, 1, tzinfo=UTC)
    for olson in ordered:
        candidate = zone_for_tzid(olson)
        if candidate is not None and same_offsets(candidate, target, start, end):
            return table[olson]
    return None


Offset = timedelta | None
Transitions = tuple[Offset, tuple[tuple[datetime, Offset], ...]]
"""A zone's offset at the start of a window and its changes in it: (instant, new offset)."""


def transitions(tz: tzinfo, start: datetime, end: datetime) -> Transitions:
    """Where a zone changes its UTC offset in ``[start, end)``, to the minute.

    Samples once a day and bisects the days whose offset changed; two changes within one day
    that cancel out are not seen (no real zone does that).
    """

    def offset(when: datetime) -> Offset:
        return when.astimezone(tz).utcoffset()

    when, end = start.astimezone(UTC), end.astimezone(UTC)
    initial = current = offset(when)
    changes: list[tuple[datetime, Offset]] = []
    while when < end:
        following = min(when + timedelta(days=1), end)
        new = offset(following)
        if new != current:
            low, high = when, following  # offset(low) == current, offset(high) != current
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) // 2
                middle = middle.replace(second=0, microsecond=0)
                if middle <= low:
                    middle = low + timedelta(minutes=1)
                if offset(middle) == current:
                    low = middle
                else:
                    high = middle
            changes.append((high, offset(high)))
            current = offset(high)
            if current != new:  # a second change later that day
                changes.append((following, new))
                current = new
        when = following
    return initial, tuple(changes)


@lru_cache(maxsize=4096)
def _zone_transitions(key: str, start: datetime, end: datetime) -> Transitions:
    return transitions(zoneinfo.ZoneInfo(key), start, end)


def zone_transitions(zone: tzinfo, start: datetime, end: datetime) -> Transitions:
    """:func:`transitions`, cached for IANA zones."""
    if isinstance(zone, zoneinfo.ZoneInfo) and zone.key is not None:
        return _zone_transitions(zone.key, start, end)
    return transitions(zone, start, end)


def similar_transitions(a: Transitions, b: Transitions, slack: timedelta = timedelta(0)) -> bool:
    """Whether two zones have the same offsets, their changes at most ``slack`` apart."""
    if a[0] != b[0] or len(a[1]) != len(b[1]):
        return False
    return all(
        offset_a == offset_b and abs(when_a - when_b) <= slack
        for (when_a, offset_a), (when_b, offset_b) in zip(a[1], b[1], strict=True)
    )


def same_offsets(
    a: tzinfo, b: tzinfo, start: datetime, end: datetime, *, slack: timedelta = timedelta(0)
) -> bool:
    """Whether two zones have the same UTC offset at every instant in ``[start, end)``.

    With ``slack``, offset changes may happen up to that long apart (a hand-made VTIMEZONE
    that switches at 02:00 where the real zone switches at 03:00).
    """
    return similar_transitions(
        zone_transitions(a, start, end), zone_transitions(b, start, end), slack
    )

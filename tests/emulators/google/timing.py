"""Event times and recurrence as the emulator understands them (independent of calsyncd).

An ``EventDateTime`` is ``{date}`` (all-day) or ``{dateTime, timeZone}``; a recurrence is a
list of ``RRULE``/``EXRULE``/``RDATE``/``EXDATE`` lines, expanded with dateutil in the
series' zone. Instance ids are ``{master}_{YYYYMMDD}`` (all-day) or
``{master}_{YYYYMMDDTHHMMSSZ}`` (the original start in UTC).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rruleset, rrulestr

MAX_EXPANSION = 5000


class BadTime(ValueError):
    """A time or recurrence the API rejects with 400."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadTime(f"Invalid time zone definition: {name}") from exc


@dataclass(frozen=True, slots=True)
class When:
    """A parsed start/end: ``value`` is naive midnight for all-day, else aware."""

    value: datetime
    all_day: bool
    zone_name: str | None

    def render(self, calendar_zone: str) -> dict[str, Any]:
        """The API's form: dateTime with the offset of its zone (or the calendar's)."""
        if self.all_day:
            return {"date": self.value.date().isoformat()}
        shown = self.value.astimezone(zone(self.zone_name or calendar_zone))
        out: dict[str, Any] = {"dateTime": shown.isoformat()}
        if self.zone_name:
            out["timeZone"] = self.zone_name
        return out

    @property
    def instant(self) -> datetime:
        return self.value if not self.all_day else self.value.replace(tzinfo=UTC)


def parse_when(value: object, what: str) -> When:
    if not isinstance(value, Mapping):
        raise BadTime(f"Missing {what} time.")
    if value.get("date") is not None:
        try:
            day = date.fromisoformat(str(value["date"]))
        except ValueError as exc:
            raise BadTime(f"Invalid {what} time.") from exc
        return When(datetime.combine(day, time()), True, None)
    raw, name = value.get("dateTime"), value.get("timeZone")
    if not isinstance(raw, str):
        raise BadTime(f"Missing {what} time.")
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise BadTime(f"Invalid {what} time.") from exc
    if name is not None and not isinstance(name, str):
        raise BadTime(f"Invalid time zone definition for {what} time.")
    if parsed.tzinfo is None:
        if not name:
            raise BadTime(f"Missing time zone definition for {what} time.")
        parsed = parsed.replace(tzinfo=zone(name))
    elif name:
        parsed = parsed.astimezone(zone(name))  # recurrence expands in the event's zone
    return When(parsed, False, name or None)


def parse_rfc3339(raw: str, what: str) -> datetime:
    """``timeMin``/``timeMax``/``updatedMin``: an offset is required."""
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise BadTime(f"Invalid value for {what}: {raw}") from exc
    if parsed.tzinfo is None:
        raise BadTime(f"Invalid value for {what}: {raw}")
    return parsed


_VALUE = re.compile(r"(\d{8})(?:T(\d{6})(Z?))?")


def _line_values(line: str, start: When) -> tuple[str, list[datetime]]:
    head, sep, body = line.partition(":")
    if not sep:
        raise BadTime(f"Invalid recurrence rule: {line}")
    name, *params = head.split(";")
    options = {p.partition("=")[0].upper(): p.partition("=")[2] for p in params}
    values = []
    for raw in body.split(","):
        period = options.get("VALUE", "").upper() == "PERIOD"
        match = _VALUE.fullmatch(raw.strip().partition("/")[0] if period else raw.strip())
        if match is None:
            raise BadTime(f"Invalid recurrence rule: {line}")
        day, clock, utc = match.groups()
        wall = datetime.strptime(day + (clock or "000000"), "%Y%m%d%H%M%S")
        if start.all_day:
            values.append(wall)
        elif utc:
            values.append(wall.replace(tzinfo=UTC))
        elif "TZID" in options:
            values.append(wall.replace(tzinfo=zone(options["TZID"])))
        else:
            values.append(wall.replace(tzinfo=start.value.tzinfo))
    return name.upper(), values


def recurrence_set(lines: Sequence[str], start: When) -> rruleset:
    """The occurrences of a series starting at ``start`` (validates every line)."""
    rules = rruleset()
    for line in lines:
        if not isinstance(line, str):
            raise BadTime("Invalid recurrence rule.")
        name = line.partition(":")[0].partition(";")[0].upper()
        try:
            if name in ("RRULE", "EXRULE"):
                rule = rrulestr(line.partition(":")[2], dtstart=start.value)
                (rules.rrule if name == "RRULE" else rules.exrule)(rule)  # type: ignore[arg-type]
            elif name in ("RDATE", "EXDATE"):
                _, values = _line_values(line, start)
                for value in values:
                    (rules.rdate if name == "RDATE" else rules.exdate)(value)
            else:
                raise BadTime(f"Invalid recurrence rule: {line}")
        except (ValueError, TypeError) as exc:
            raise BadTime(f"Invalid recurrence rule: {line}") from exc
    rules.rdate(start.value)  # DTSTART is always the first occurrence
    return rules


def occurrences(
    lines: Sequence[str], start: When, limit: int = MAX_EXPANSION
) -> Iterator[datetime]:
    return islice(iter(recurrence_set(lines, start)), limit)


def is_endless(lines: Sequence[str]) -> bool:
    return any(
        line.upper().startswith("RRULE:")
        and "COUNT=" not in line.upper()
        and "UNTIL=" not in line.upper()
        for line in lines
    )


def is_occurrence(lines: Sequence[str], start: When, when: datetime) -> bool:
    found = recurrence_set(lines, start).after(when - timedelta(seconds=1), inc=True)
    return found is not None and found == when


def instance_stamp(when: datetime, all_day: bool) -> str:
    if all_day:
        return when.strftime("%Y%m%d")
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def parse_instance_id(event_id: str) -> tuple[str, datetime, bool] | None:
    """``(master id, original start, all-day)`` of an instance id, else ``None``."""
    head, sep, tail = event_id.rpartition("_")
    if not sep or not head:
        return None
    if re.fullmatch(r"\d{8}", tail):
        return head, datetime.strptime(tail, "%Y%m%d"), True
    if re.fullmatch(r"\d{8}T\d{6}Z", tail):
        return head, datetime.strptime(tail, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC), False
    return None

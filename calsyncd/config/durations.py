"""Durations as people write them in YAML: ``30s``, ``5m``, ``1h30m``, ``7d``, ``2w`` or seconds.

:data:`Duration` is the pydantic type: it validates to a :class:`~datetime.timedelta` and
serializes back to the short form (``timedelta(minutes=90)`` → ``"1h30m"``), so a dumped
config reads like the file it came from. :data:`PositiveDuration` also rejects zero.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from calsyncd.config.base import custom_error

_UNITS: tuple[tuple[str, int], ...] = (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60))

DURATION_PATTERN = r"^(?=\d)(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+(\.\d+)?s)?$"
"""What the short form looks like (also shown in the JSON Schema); at least one part is needed."""

_DURATION_RE = re.compile(
    r"(?:(?P<w>\d+)w)?(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?"
)
_SECONDS_RE = re.compile(r"\d+(?:\.\d+)?")

_HINT = "expected a duration such as 30s, 5m, 1h30m or 7d, or a number of seconds"


def parse_duration(value: object) -> timedelta:
    """Turn ``"1h30m"``, ``"90"`` (seconds), ``90`` or a timedelta into a timedelta.

    Raises :class:`ValueError` with a message fit for a person.
    """
    try:
        return _parse_duration(value)
    except OverflowError:  # timedelta holds less than a million years
        raise ValueError("a duration cannot be that long") from None


def _parse_duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise ValueError("a duration cannot be negative")
        return value
    if isinstance(value, bool):  # YAML's yes/no/on/off
        raise ValueError(_HINT)
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=value)
    if not isinstance(value, str):
        raise ValueError(_HINT)
    text = value.strip().lower().replace(" ", "")
    if _SECONDS_RE.fullmatch(text):
        return timedelta(seconds=float(text))
    match = _DURATION_RE.fullmatch(text)
    if not text or match is None:
        raise ValueError(_HINT)
    parts = match.groupdict()
    return timedelta(
        weeks=int(parts["w"] or 0),
        days=int(parts["d"] or 0),
        hours=int(parts["h"] or 0),
        minutes=int(parts["m"] or 0),
        seconds=float(parts["s"] or 0),
    )


def format_duration(value: timedelta) -> str:
    """The short form of a duration: ``timedelta(days=1, minutes=5)`` → ``"1d5m"``.

    Weeks are written as days (``14d`` reads better than ``2w`` in a window); sub-second
    parts as decimal seconds.
    """
    micros = round(value.total_seconds() * 1_000_000)
    if micros == 0:
        return "0s"
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    seconds, fraction = divmod(micros, 1_000_000)
    out: list[str] = []
    for unit, size in _UNITS[1:]:
        count, seconds = divmod(seconds, size)
        if count:
            out.append(f"{count}{unit}")
    if seconds or fraction:
        text = f"{seconds}.{fraction:06d}".rstrip("0").rstrip(".") if fraction else str(seconds)
        out.append(f"{text}s")
    return sign + "".join(out)


def _validate(value: Any) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise custom_error("duration", str(exc)) from None


def _validate_positive(value: Any) -> timedelta:
    result = _validate(value)
    if result <= timedelta(0):
        raise custom_error("duration", "must be longer than 0s")
    return result


def _json_schema(number: dict[str, Any]) -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": "string", "pattern": DURATION_PATTERN, "examples": ["30s", "5m", "1h30m"]},
            {"type": "number", **number},
        ],
        "description": "a duration: 30s, 5m, 1h, 7d (combinable: 1h30m) or a number of seconds",
    }


Duration = Annotated[
    timedelta,
    BeforeValidator(_validate),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(_json_schema({"minimum": 0})),
]
"""A duration of zero or more; serialized in the short form."""

PositiveDuration = Annotated[
    timedelta,
    BeforeValidator(_validate_positive),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(_json_schema({"exclusiveMinimum": 0})),
]
"""A duration longer than zero (intervals, timeouts)."""

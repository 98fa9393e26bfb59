"""Stable content hashes: what change detection compares instead of wire bytes or etags.

The hash covers what an event *says*, not how it was stored: the volatile fields
(``created``, ``last_modified``, ``sequence``), unknown properties (``extra``), the copy
marker and the UID (a copy has its own UID but the same content) are left out. Collections
whose order carries no meaning are sorted (categories, attendees by email, reminders,
RDATE/EXDATE, RRULE lines and the parts inside each rule), a missing end counts as the
iCalendar default end, and an empty text counts as no text. Datetimes are encoded with their
zone name, so 09:00 America/New_York and 14:00 UTC hash differently even though they are the
same instant.

The encoding is canonical JSON (sorted keys, no whitespace) hashed with SHA-256; it does not
depend on ``PYTHONHASHSEED`` or dict order. :data:`HASH_VERSION` is part of the input: bump
it whenever the encoding changes, so that stored hashes are recognisably stale.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime, timedelta

from calsyncd.model.event import Attendee, CalendarObject, Event, Period, When, sort_key
from calsyncd.model.recent import by_identity
from calsyncd.model.timezones import iana_name

__all__ = [
    "ALWAYS_HASHED",
    "HASHED_FIELDS",
    "HASH_VERSION",
    "VOLATILE_FIELDS",
    "content_hash",
    "event_hash",
]

HASH_VERSION = 1
VOLATILE_FIELDS = frozenset({"created", "last_modified", "sequence", "extra"})
HASHED_FIELDS = frozenset(f.name for f in dataclass_fields(Event)) - VOLATILE_FIELDS
"""Every :class:`Event` field that counts for the hash."""
ALWAYS_HASHED = frozenset({"start", "end", "recurrence_id"})
"""Fields that count even when ``fields`` does not name them: they say which occurrence."""

_Json = str | int | bool | None | Sequence["_Json"] | Mapping[str, "_Json"]


def _when(value: When | None) -> _Json:
    if value is None:
        return None
    if not isinstance(value, datetime):
        return ["date", value.isoformat()]
    wall = value.replace(tzinfo=None, microsecond=0).isoformat()
    if value.tzinfo is None:
        return ["floating", wall]
    zone = iana_name(value.tzinfo)
    if zone is None:  # a zone without a name: only the instant can be compared
        return ["instant", value.astimezone(UTC).replace(microsecond=0).isoformat()]
    encoded: list[_Json] = ["zoned", wall, zone]
    if value.fold:
        encoded.append("fold")
    return encoded


def _rdate(value: When | Period) -> tuple[tuple[int, str], _Json]:
    """An RDATE's sort key and encoding; a period is ``["period", start, end]`` (an encoding
    that only objects with periods have, so the hash of every other object stays as it was)."""
    if isinstance(value, Period):
        return sort_key(value.start), ["period", _when(value.start), _when(value.end)]
    return sort_key(value), _when(value)


def _whens(values: Sequence[When | Period]) -> _Json:
    encoded = [(key, json.dumps(value, sort_keys=True)) for key, value in map(_rdate, values)]
    return [text for _, text in sorted(encoded)]


def _text(value: str | None) -> _Json:
    return value or None


def _duration(value: timedelta) -> int:
    return value // timedelta(seconds=1)


def _rrule(rule: str) -> str:
    """RRULE parts are unordered and case-insensitive: ``BYDAY=MO;FREQ=WEEKLY`` is canonical."""
    parts = [part.strip() for part in rule.split(";") if part.strip()]
    normalised = []
    for part in parts:
        key, _, value = part.partition("=")
        normalised.append(f"{key.strip().upper()}={value.strip().upper()}")
    return ";".join(sorted(normalised))


def _attendee(attendee: Attendee) -> list[_Json]:
    return [attendee.email, _text(attendee.name), attendee.response.value, attendee.optional]


def _encode_field(event: Event, name: str) -> _Json:
    match name:
        case "start" | "recurrence_id":
            return _when(getattr(event, name))
        case "end":
            return _when(event.effective_end())
        case "title" | "description" | "location" | "conference_url" | "url":
            return _text(getattr(event, name))
        case "status" | "show_as" | "visibility":
            return str(getattr(event, name))  # StrEnum: the value
        case "categories":
            return sorted(event.categories)
        case "organizer":
            person = event.organizer
            return None if person is None else [person.email, _text(person.name)]
        case "attendees":
            return sorted((_attendee(a) for a in event.attendees), key=json.dumps)
        case "reminders":
            return sorted(_duration(r) for r in event.reminders)
        case "rrules":
            return sorted(_rrule(rule) for rule in event.rrules)
        case "rdates" | "exdates":
            return _whens(getattr(event, name))
    raise ValueError(f"{name!r} is not a hashed Event field")  # pragma: no cover


def _selected(fields: Collection[str] | None) -> list[str]:
    if fields is None:
        return sorted(HASHED_FIELDS)
    if isinstance(fields, str):
        raise TypeError("fields must be a collection of field names, not a string")
    unknown = set(fields) - HASHED_FIELDS - VOLATILE_FIELDS
    if unknown:
        raise ValueError(f"not Event fields: {', '.join(sorted(unknown))}")
    return sorted((set(fields) & HASHED_FIELDS) | ALWAYS_HASHED)


def _encode_event(event: Event, names: list[str]) -> dict[str, _Json]:
    return {name: _encode_field(event, name) for name in names}


def _digest(payload: _Json) -> str:
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@by_identity(64)
def content_hash(obj: CalendarObject, *, fields: Collection[str] | None = None) -> str:
    """A 32-hex-digit digest of the object's content (master and overrides).

    ``fields`` limits the hash to those :class:`Event` fields (plus start, end and
    recurrence-id, which always count); naming a volatile field is allowed and has no effect;
    naming a field :class:`Event` does not have raises :class:`ValueError`.
    """
    names = _selected(fields)
    master = None if obj.master is None else _encode_event(obj.master, names)
    overrides = sorted(
        (_encode_event(event, names) for event in obj.overrides.values()),
        key=lambda encoded: json.dumps(encoded, sort_keys=True),
    )
    return _digest({"v": HASH_VERSION, "master": master, "overrides": list(overrides)})


def event_hash(event: Event, *, fields: Collection[str] | None = None) -> str:
    """The digest of one event (an occurrence, an override), as in :func:`content_hash`."""
    return _digest({"v": HASH_VERSION, "event": _encode_event(event, _selected(fields))})

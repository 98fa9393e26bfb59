"""What an event resource may hold: writable fields, patch semantics, the API's checks."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from . import timing
from .failures import bad_request
from .timing import BadTime

Json = dict[str, Any]
MAX_KEY = 44
MAX_VALUE = 1024
MAX_PROPERTIES = 300

WRITABLE = frozenset(
    {
        "anyoneCanAddSelf", "attachments", "attendees", "colorId", "conferenceData",
        "description", "end", "endTimeUnspecified", "extendedProperties", "guestsCanInviteOthers",
        "guestsCanModify", "guestsCanSeeOtherGuests", "location", "originalStartTime",
        "recurrence", "reminders", "sequence", "source", "start", "status", "summary",
        "transparency", "visibility", "eventType", "focusTimeProperties",
        "outOfOfficeProperties", "workingLocationProperties", "birthdayProperties",
    }
)  # fmt: skip
READ_ONLY = frozenset(
    {
        "kind", "etag", "id", "htmlLink", "created", "updated", "creator", "organizer",
        "iCalUID", "recurringEventId", "hangoutLink", "privateCopy", "locked", "gadget",
        "attendeesOmitted", "eventLabelId",
    }
)  # fmt: skip
ENUMS = {
    "status": ("confirmed", "tentative", "cancelled"),
    "transparency": ("opaque", "transparent"),
    "visibility": ("default", "public", "private", "confidential"),
}
RESPONSES = ("needsAction", "declined", "tentative", "accepted")


def without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def merge(current: Any, patch: Any) -> Any:
    """Patch semantics: objects merge member by member, ``null`` removes, arrays replace."""
    if not isinstance(current, dict) or not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = copy.deepcopy(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge(merged.get(key), value)
    return merged


def writable_fields(body: Mapping[str, Any]) -> Json:
    unknown = sorted(k for k in body if k not in WRITABLE and k not in READ_ONLY)
    if unknown:
        raise bad_request(f"Unknown field(s): {', '.join(unknown)}")
    fields = {k: copy.deepcopy(v) for k, v in body.items() if k in WRITABLE}
    ext = fields.get("extendedProperties")
    if isinstance(ext, dict):
        for kind in ("private", "shared"):
            props = ext.get(kind)
            if isinstance(props, dict):  # documented limits: long keys dropped, values cut
                ext[kind] = {k: str(v)[:MAX_VALUE] for k, v in props.items() if len(k) <= MAX_KEY}
        if sum(len(ext.get(kind) or {}) for kind in ("private", "shared")) > MAX_PROPERTIES:
            raise bad_request("Too many extended properties.")
    return fields


def validate(data: Json) -> None:
    """Reject what the API rejects (400), before anything is stored."""
    try:
        start = timing.parse_when(data.get("start"), "start")
        end = timing.parse_when(data.get("end"), "end")
    except BadTime as exc:
        raise bad_request(str(exc), "required" if "Missing" in str(exc) else "invalid") from exc
    if start.all_day != end.all_day:
        raise bad_request("Start and end times must either both be date or both be dateTime.")
    if end.instant < start.instant:
        raise bad_request("The specified time range is empty.", "timeRangeEmpty")
    lines = data.get("recurrence")
    if lines:
        if not isinstance(lines, list):
            raise bad_request("Invalid recurrence rule.")
        if not start.all_day and (start.zone_name is None or end.zone_name is None):
            raise bad_request("Missing time zone definition for start time.", "required")
        try:
            timing.recurrence_set(lines, start)
        except BadTime as exc:
            raise bad_request(str(exc)) from exc
    for name, allowed in ENUMS.items():
        if name in data and data[name] not in allowed:
            raise bad_request(f"Invalid value for: {name}")
    validate_people(data.get("attendees") or [])
    validate_reminders(data.get("reminders") or {})
    source = data.get("source")
    if isinstance(source, dict) and not str(source.get("url", "")).startswith(
        ("http://", "https://")
    ):
        raise bad_request("Invalid source URL.")


def validate_people(attendees: Iterable[Any]) -> None:
    for attendee in attendees:
        if not isinstance(attendee, dict) or not attendee.get("email"):
            raise bad_request("Missing attendee email.", "required")
        if attendee.get("responseStatus", "needsAction") not in RESPONSES:
            raise bad_request("Invalid attendee response status.")


def validate_reminders(reminders: Mapping[str, Any]) -> None:
    overrides = reminders.get("overrides") or []
    if reminders.get("useDefault") and overrides:
        raise bad_request(
            "Cannot specify both default reminders and overrides at the same time.",
            "cannotUseDefaultRemindersAndSpecifyOverride",
        )
    if len(overrides) > 5:
        raise bad_request("Too many reminders.", "tooManyReminders")
    for reminder in overrides:
        minutes = reminder.get("minutes")
        if reminder.get("method") not in ("email", "popup"):
            raise bad_request("Invalid reminder method.")
        if not isinstance(minutes, int) or not 0 <= minutes <= 40320:
            raise bad_request("Invalid reminder minutes.")

"""Another client of the emulated calendar (the Google web UI, a phone): writes events straight
into the emulator's store, encoded here independently of the provider under test.

Covers what the test samples use: times (dates, zoned, UTC), text, status, transparency,
visibility, attendees, reminders, source URL, recurrence and exceptions (moved, cancelled).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from calsyncd.model.event import CalendarObject, Event, ShowAs, Status, When

from .store import Json, Store
from .timing import instance_stamp

OTHER = "other-client@example.com"
_RESPONSES = {
    "needs-action": "needsAction",
    "accepted": "accepted",
    "declined": "declined",
    "tentative": "tentative",
}


def _zone_name(when: datetime) -> str:
    key = getattr(when.tzinfo, "key", None)
    return "UTC" if key is None or when.tzinfo is UTC else str(key)


def when_json(when: When) -> Json:
    if not isinstance(when, datetime):
        return {"date": when.isoformat()}
    if when.tzinfo is None:
        raise ValueError("another client cannot write floating times to Google")
    return {"dateTime": when.isoformat(), "timeZone": _zone_name(when)}


def _recurrence_value(name: str, when: When) -> str:
    if not isinstance(when, datetime):
        return f"{name};VALUE=DATE:{when:%Y%m%d}"
    return f"{name};TZID={_zone_name(when)}:{when:%Y%m%dT%H%M%S}"


def event_json(event: Event) -> Json:
    body: dict[str, Any] = {
        "start": when_json(event.start),
        "end": when_json(event.effective_end()),
        "status": event.status.value,
        "transparency": "transparent" if event.show_as is ShowAs.FREE else "opaque",
        "visibility": event.visibility.value,
        "reminders": {
            "useDefault": False,
            "overrides": [
                {"method": "popup", "minutes": int(r.total_seconds() // 60)}
                for r in event.reminders
            ],
        },
    }
    for name, value in (
        ("summary", event.title),
        ("description", event.description),
        ("location", event.location),
    ):
        if value is not None:
            body[name] = value
    if event.url:
        body["source"] = {"url": event.url, "title": "link"}
    if event.attendees:
        body["attendees"] = [
            {
                "email": a.email,
                **({"displayName": a.name} if a.name else {}),
                "responseStatus": _RESPONSES[a.response.value],
                **({"optional": True} if a.optional else {}),
            }
            for a in event.attendees
        ]
    recurrence = [f"RRULE:{r}" for r in event.rrules]
    recurrence += [_recurrence_value("RDATE", w) for w in event.rdates]
    recurrence += [_recurrence_value("EXDATE", w) for w in event.exdates]
    if recurrence:
        body["recurrence"] = recurrence
    return body


def _instance_id(master_id: str, rid: When) -> str:
    if isinstance(rid, datetime):
        return f"{master_id}_{instance_stamp(rid, False)}"
    return f"{master_id}_{rid:%Y%m%d}"


def seed(store: Store, calendar_id: str, obj: CalendarObject) -> str:
    """Create ``obj`` (with its iCalUID) as another client would; returns the event id."""
    assert obj.master is not None
    made = store.insert(calendar_id, {**event_json(obj.master), "iCalUID": obj.uid}, owner=OTHER)
    write_exceptions(store, calendar_id, made["id"], obj)
    return str(made["id"])


def write_exceptions(store: Store, calendar_id: str, master_id: str, obj: CalendarObject) -> None:
    for rid, event in obj.overrides.items():
        instance = _instance_id(master_id, rid)
        if event.status is Status.CANCELLED:
            store.delete(calendar_id, instance, if_match=None)
        else:
            store.write(calendar_id, instance, event_json(event), patch=True, if_match=None)


def replace(store: Store, calendar_id: str, event_id: str, obj: CalendarObject) -> None:
    """Edit the event the way a well-behaved client does: read, change, write back whole
    (keeping the extended properties it does not know)."""
    assert obj.master is not None
    current = store.get(calendar_id, event_id)
    body = event_json(obj.master)
    if "extendedProperties" in current:
        body["extendedProperties"] = current["extendedProperties"]
    store.write(calendar_id, event_id, body, patch=False, if_match=None)
    write_exceptions(store, calendar_id, event_id, obj)


def add_malformed(store: Store, calendar_id: str) -> str:
    """An event calsyncd cannot read: an RDATE with a period (RFC 5545 allows it; the model
    has only dates and date-times)."""
    body = {
        "summary": "period",
        "start": {"dateTime": "2030-01-01T10:00:00+00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2030-01-01T11:00:00+00:00", "timeZone": "UTC"},
        "recurrence": ["RRULE:FREQ=DAILY;COUNT=2", "RDATE;VALUE=PERIOD:20300105T100000Z/PT2H"],
    }
    return str(store.insert(calendar_id, body, owner=OTHER)["id"])

"""Google Calendar event resources ↔ the canonical model (pure functions, no I/O).

Model field → event resource:

- ``title``/``description``/``location`` → ``summary``/``description``/``location``;
- ``start``/``end`` → ``{dateTime, timeZone}`` or ``{date}`` (all-day, end exclusive);
  ``recurrence_id`` → ``originalStartTime`` of an exception;
- ``rrules``/``rdates``/``exdates`` → ``recurrence`` lines (``EXRULE`` lines, which the model
  has no field for, are kept in ``extra`` and written back);
- ``status``, ``show_as`` → ``transparency``, ``visibility``;
- ``attendees`` → ``attendees`` (email, displayName, responseStatus, optional);
- ``reminders`` → ``reminders.overrides`` (written as popups, ``useDefault: false``; read:
  every method);
- ``url`` → ``source.url``;
- ``uid`` → ``iCalUID``, or the private property ``calsyncd.uid``: an event created with a
  client-chosen id gets the iCalUID ``{id}@google.com``, so the UID travels beside it;
- ``marker`` → the private extended properties ``calsyncd.rule``/``.origin``/``.key`` (an
  anonymous copy's marker: ``calsyncd.key`` alone).

Read only — Google sets them: ``organizer`` (read when the event has attendees; for an event
without any Google names the calendar itself), ``conference_url`` (the video entry point of
``conferenceData``, else ``hangoutLink``), ``sequence``, ``created``, ``last_modified``
(``updated``). Not stored at all: ``categories`` and ``extra`` (but ``EXRULE``).

Google has no floating times: they are written in the calendar's zone and flagged with the
private property ``calsyncd.floating`` (the zone's name), and read back as floating while the
event is still in that zone. A cancelled exception carries only its ids and original start;
it reads as the series' occurrence with status cancelled. An exception identical to its
occurrence is no override and is left out.

Values Google cannot hold (a ``delegated`` response, more than five reminders, a cancelled
single event, an RDATE period …) raise :class:`Unmappable` with the reason: never a silent change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import urlsplit

from calsyncd.model.event import (
    Attendee,
    CalendarObject,
    Event,
    ExtraProperty,
    Marker,
    Period,
    Person,
    Response,
    ShowAs,
    Status,
    Visibility,
    When,
)
from calsyncd.model.timezones import iana_name, is_utc_zone, zone_for_tzid

Resource = dict[str, Any]
"""A JSON object as the API sends and takes it."""

PRIVATE_RULE = "calsyncd.rule"
PRIVATE_ORIGIN = "calsyncd.origin"
PRIVATE_KEY = "calsyncd.key"
PRIVATE_UID = "calsyncd.uid"
PRIVATE_FLOATING = "calsyncd.floating"
PRIVATE_WRITE = "calsyncd.write"
"""Private extended properties (keys ≤ 44 characters, values ≤ 1024 bytes)."""

MAX_PROPERTY_BYTES = 1024
MAX_REMINDERS = 5
MAX_REMINDER = timedelta(weeks=4)

_RESPONSES = {
    "needsAction": Response.NEEDS_ACTION,
    "accepted": Response.ACCEPTED,
    "declined": Response.DECLINED,
    "tentative": Response.TENTATIVE,
}
_RESPONSE_NAMES = {response: name for name, response in _RESPONSES.items()}
_DATE = re.compile(r"\d{8}")
_DATE_TIME = re.compile(r"(\d{8}T\d{6})(Z?)")


class Unmappable(ValueError):
    """An event the model cannot read, or an object Google cannot store as it is."""


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Zones:
    """What reading needs beyond the event: ``calendar``, the zone of date-times without a
    ``timeZone`` (Google's rule); ``floating``, the name of the zone floating times were
    written in (``None``: none were); ``reminders``, the calendar's default reminders (what
    ``useDefault`` means)."""

    calendar: tzinfo = UTC
    floating: str | None = None
    reminders: tuple[timedelta, ...] = ()


def private_properties(resource: Mapping[str, Any]) -> dict[str, str]:
    ext = resource.get("extendedProperties")
    private = ext.get("private") if isinstance(ext, Mapping) else None
    if not isinstance(private, Mapping):
        return {}
    return {k: v for k, v in private.items() if isinstance(k, str) and isinstance(v, str)}


def zone_named(name: str) -> tzinfo:
    zone = zone_for_tzid(name)
    if zone is None:
        raise Unmappable(f"unknown time zone {name!r}")
    return UTC if is_utc_zone(zone) else zone


def read_time(value: object, zones: Zones, *, what: str) -> When:
    """A start, end or original start (``{date}`` or ``{dateTime, timeZone}``)."""
    if not isinstance(value, Mapping):
        raise Unmappable(f"{what} is missing")
    if isinstance(value.get("date"), str):
        try:
            return date.fromisoformat(value["date"])
        except ValueError as exc:
            raise Unmappable(f"{what}: not a date: {value['date']!r}") from exc
    raw, name = value.get("dateTime"), value.get("timeZone")
    if not isinstance(raw, str):
        raise Unmappable(f"{what} has neither date nor dateTime")
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise Unmappable(f"{what}: not a date-time: {raw!r}") from exc
    zone = zone_named(name) if isinstance(name, str) and name else zones.calendar
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    local = parsed.astimezone(zone)
    if zones.floating is not None and name == zones.floating:
        return local.replace(tzinfo=None)
    return local


def _value(text: str, params: Mapping[str, str], default: tzinfo | None, zones: Zones) -> When:
    if params.get("VALUE", "").upper() == "PERIOD" or "/" in text:
        raise Unmappable(f"recurrence periods are not supported: {text!r}")
    if _DATE.fullmatch(text):
        return datetime.strptime(text, "%Y%m%d").date()
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise Unmappable(f"not a recurrence date: {text!r}")
    wall = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S")
    if match.group(2):
        return wall.replace(tzinfo=UTC)
    if "TZID" in params:
        if zones.floating is not None and params["TZID"] == zones.floating:
            return wall
        return wall.replace(tzinfo=zone_named(params["TZID"]))
    return wall if default is None else wall.replace(tzinfo=default)


def _split_line(line: str) -> tuple[str, dict[str, str], str]:
    head, sep, value = line.partition(":")
    if not sep:
        raise Unmappable(f"not a recurrence line: {line!r}")
    name, *raw_params = head.split(";")
    params = {}
    for param in raw_params:
        key, _, val = param.partition("=")
        params[key.strip().upper()] = val.strip().strip('"')
    return name.strip().upper(), params, value.strip()


def read_recurrence(
    lines: Iterable[object], start: When, zones: Zones
) -> tuple[tuple[str, ...], tuple[When, ...], tuple[When, ...], tuple[ExtraProperty, ...]]:
    """``(rrules, rdates, exdates, extra)`` from ``recurrence`` lines. A date-time without
    zone is in the series' zone (floating for a floating series)."""
    rrules: list[str] = []
    rdates: list[When] = []
    exdates: list[When] = []
    extra: list[ExtraProperty] = []
    default = start.tzinfo if isinstance(start, datetime) else None
    for line in lines:
        if not isinstance(line, str):
            raise Unmappable(f"not a recurrence line: {line!r}")
        name, params, value = _split_line(line)
        if name == "RRULE":
            rrules.append(value)
        elif name == "EXRULE":
            extra.append(ExtraProperty("EXRULE", line))
        elif name in ("RDATE", "EXDATE"):
            values = [_value(v.strip(), params, default, zones) for v in value.split(",") if v]
            (rdates if name == "RDATE" else exdates).extend(values)
        else:
            raise Unmappable(f"unsupported recurrence line: {line!r}")
    return tuple(rrules), tuple(rdates), tuple(exdates), tuple(extra)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _stamp(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:
        return None


def _attendee(raw: Mapping[str, Any]) -> Attendee:
    status = raw.get("responseStatus", "needsAction")
    if status not in _RESPONSES:
        raise Unmappable(f"unknown attendee response {status!r}")
    return Attendee(
        email=str(raw["email"]),
        name=_text(raw.get("displayName")),
        response=_RESPONSES[status],
        optional=raw.get("optional") is True,
    )


def read_reminders(value: object, default: tuple[timedelta, ...] = ()) -> tuple[timedelta, ...]:
    """Reminder offsets from ``reminders`` (``useDefault``: the calendar's ``default``) or
    from a calendar's ``defaultReminders`` list."""
    if value is None:
        return default
    if isinstance(value, Mapping):
        if value.get("useDefault") or ("useDefault" not in value and not value.get("overrides")):
            return default
        value = value.get("overrides") or []
    if not isinstance(value, list):
        raise Unmappable(f"not a list of reminders: {value!r}")
    return tuple(timedelta(minutes=int(r["minutes"])) for r in value)


def _conference_url(resource: Mapping[str, Any]) -> str | None:
    conference = resource.get("conferenceData")
    if isinstance(conference, Mapping):
        for entry in conference.get("entryPoints") or ():
            if entry.get("entryPointType") == "video" and isinstance(entry.get("uri"), str):
                return str(entry["uri"])
    return _text(resource.get("hangoutLink"))


def _enum(kind: type[Status] | type[Visibility], value: object, default: str) -> Any:
    try:
        return kind(str(value) if value is not None else default)
    except ValueError as exc:
        raise Unmappable(f"unknown {kind.__name__.lower()} {value!r}") from exc


def read_event(resource: Mapping[str, Any], zones: Zones) -> Event:
    """One event resource as a model event (an exception's ``recurrence_id`` is set by
    :func:`read_object`)."""
    start = read_time(resource.get("start"), zones, what="start")
    end: When | None = None
    if resource.get("end") is not None and not resource.get("endTimeUnspecified"):
        end = read_time(resource["end"], zones, what="end")
    rrules, rdates, exdates, extra = read_recurrence(resource.get("recurrence") or (), start, zones)
    attendees = tuple(_attendee(a) for a in resource.get("attendees") or () if a.get("email"))
    organizer = resource.get("organizer")
    source = resource.get("source")
    return Event(
        start=start,
        end=end,
        title=_text(resource.get("summary")),
        description=_text(resource.get("description")),
        location=_text(resource.get("location")),
        status=_enum(Status, resource.get("status"), "confirmed"),
        show_as=ShowAs.FREE if resource.get("transparency") == "transparent" else ShowAs.BUSY,
        visibility=_enum(Visibility, resource.get("visibility"), "default"),
        organizer=(
            Person(str(organizer["email"]), _text(organizer.get("displayName")))
            if attendees and isinstance(organizer, Mapping) and organizer.get("email")
            else None
        ),
        attendees=attendees,
        reminders=read_reminders(resource.get("reminders"), zones.reminders),
        conference_url=_conference_url(resource),
        url=_text(source.get("url")) if isinstance(source, Mapping) else None,
        rrules=rrules,
        rdates=rdates,
        exdates=exdates,
        sequence=int(resource.get("sequence") or 0),
        created=_stamp(resource.get("created")),
        last_modified=_stamp(resource.get("updated")),
        extra=extra,
    )


def _shifted(end: When, start: When, new_start: When) -> When:
    """``end`` moved as ``start`` moves to ``new_start`` (wall-clock length in one zone)."""
    if isinstance(end, datetime) and isinstance(start, datetime):
        if isinstance(new_start, datetime):
            if end.tzinfo is start.tzinfo:
                return new_start + (end - start)
            moved = new_start.astimezone(UTC) + (end.astimezone(UTC) - start.astimezone(UTC))
            return moved.astimezone(end.tzinfo)
        return new_start + (end.date() - start.date())
    if not isinstance(end, datetime) and not isinstance(start, datetime):
        return new_start + (end - start)
    return end


def occurrence(master: Event, recurrence_id: When) -> Event:
    """The occurrence of ``master`` that starts at ``recurrence_id``, unchanged."""
    end = None if master.end is None else _shifted(master.end, master.start, recurrence_id)
    return replace(
        master,
        start=recurrence_id,
        end=end,
        recurrence_id=recurrence_id,
        rrules=(),
        rdates=(),
        exdates=(),
        extra=(),
    )


_NOT_COMPARED: dict[str, Any] = {
    "sequence": 0,
    "created": None,
    "last_modified": None,
    "extra": (),
    "organizer": None,
    "conference_url": None,
    "categories": (),
}
"""Fields Google sets itself or cannot store: never a reason to write."""


def same_event(a: Event, b: Event) -> bool:
    """Whether two events say the same in everything Google stores."""
    return replace(a, **_NOT_COMPARED) == replace(b, **_NOT_COMPARED)


def read_marker(props: Mapping[str, str]) -> Marker | None:
    """The copy marker: rule, origin and key, or the key alone (an anonymous copy)."""
    rule, origin, key = (props.get(k) for k in (PRIVATE_RULE, PRIVATE_ORIGIN, PRIVATE_KEY))
    if key is None:
        return None
    if rule is None and origin is None:
        return Marker.anonymous(key)
    if rule is None or origin is None:
        return None
    return Marker(rule=rule, origin=origin, key=key)


def read_override(
    resource: Mapping[str, Any], master: Event | None, zones: Zones
) -> tuple[When, Event | None]:
    """An exception as ``(recurrence id, override)``; a cancelled one is the occurrence with
    status cancelled (``None`` without a master to take it from)."""
    rid = read_time(resource.get("originalStartTime"), zones, what="originalStartTime")
    if resource.get("status") == "cancelled":
        if master is None:
            return rid, None
        return rid, replace(occurrence(master, rid), status=Status.CANCELLED)
    event = replace(read_event(resource, zones), recurrence_id=rid)
    return rid, replace(event, rrules=(), rdates=(), exdates=(), extra=())


def object_zones(first: Mapping[str, Any], zones: Zones) -> Zones:
    """``zones`` with the floating zone the object was written with, if any."""
    return replace(zones, floating=private_properties(first).get(PRIVATE_FLOATING))


def read_object(
    master: Mapping[str, Any] | None,
    exceptions: Sequence[Mapping[str, Any]],
    zones: Zones = Zones(),
) -> CalendarObject | None:
    """A series (master + its exceptions), a single event, or an orphan set of exceptions;
    ``None`` when nothing is left (only cancelled exceptions of an unknown series)."""
    live = [r for r in exceptions if r.get("status") != "cancelled"]
    first = master if master is not None else (live[0] if live else None)
    if first is None:
        return None
    props = private_properties(first)
    zones = object_zones(first, zones)
    master_event = read_event(master, zones) if master is not None else None
    overrides: dict[When, Event] = {}
    for resource in exceptions:
        rid, event = read_override(resource, master_event, zones)
        if event is None:
            continue
        if (
            event.status is not Status.CANCELLED
            and master_event is not None
            and same_event(event, occurrence(master_event, rid))
        ):
            continue  # an exception identical to its occurrence overrides nothing
        overrides[rid] = event
    if master_event is None and not overrides:
        return None
    uid = props.get(PRIVATE_UID) or first.get("iCalUID")
    if not isinstance(uid, str) or not uid:
        raise Unmappable("the event has no iCalUID")
    return CalendarObject(uid, master_event, overrides, marker=read_marker(props))


# -- writing ----------------------------------------------------------------------------------


def is_floating(obj: CalendarObject) -> bool:
    """Whether any time of the object is floating (a naive date-time)."""
    for event in obj.events:
        for when in (event.start, event.end, event.recurrence_id, *event.rdates, *event.exdates):
            if isinstance(when, datetime) and when.tzinfo is None:
                return True
    return False


def write_time(when: When, floating: str | None) -> Resource:
    """A start/end/original start; every key present, so a patch replaces the whole value."""
    if not isinstance(when, datetime):
        return {"date": when.isoformat(), "dateTime": None, "timeZone": None}
    if when.tzinfo is None:
        if floating is None:
            raise Unmappable("a floating time needs the calendar's time zone")
        local = when.replace(microsecond=0, tzinfo=zone_named(floating))
        return {"date": None, "dateTime": local.isoformat(), "timeZone": floating}
    name = iana_name(when.tzinfo)
    if name is None:
        when, name = when.astimezone(UTC), "UTC"
    return {"date": None, "dateTime": when.replace(microsecond=0).isoformat(), "timeZone": name}


def _recurrence_value(name: str, when: When) -> str:
    if not isinstance(when, datetime):
        return f"{name};VALUE=DATE:{when:%Y%m%d}"
    if when.tzinfo is None:
        return f"{name}:{when:%Y%m%dT%H%M%S}"
    zone = iana_name(when.tzinfo)
    if zone is None or zone == "UTC":
        return f"{name}:{when.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return f"{name};TZID={zone}:{when:%Y%m%dT%H%M%S}"


def recurrence_lines(event: Event) -> list[str]:
    lines = [f"RRULE:{rule}" for rule in event.rrules]
    for when in event.rdates:
        if isinstance(when, Period):
            raise Unmappable(
                f"Google keeps no RDATE period (an extra occurrence with its own end):"
                f" {when.start.isoformat()}/{when.end.isoformat()}"
            )
        lines.append(_recurrence_value("RDATE", when))
    lines += [_recurrence_value("EXDATE", when) for when in event.exdates]
    lines += [extra.line for extra in event.extra if extra.name == "EXRULE"]
    return lines


def reminders_body(reminders: Sequence[timedelta]) -> Resource:
    if len(reminders) > MAX_REMINDERS:
        raise Unmappable(f"Google keeps at most {MAX_REMINDERS} reminders, not {len(reminders)}")
    overrides = []
    for offset in reminders:
        minutes, rest = divmod(offset, timedelta(minutes=1))
        if rest or offset < timedelta(0) or offset > MAX_REMINDER:
            raise Unmappable(
                f"Google reminders are whole minutes between 0 and 4 weeks before the start,"
                f" not {offset}"
            )
        overrides.append({"method": "popup", "minutes": minutes})
    return {"useDefault": False, "overrides": overrides}


def _attendee_body(attendee: Attendee) -> Resource:
    if attendee.response not in _RESPONSE_NAMES:
        raise Unmappable(f"Google has no attendee response {attendee.response.value!r}")
    body: Resource = {"email": attendee.email, "responseStatus": _RESPONSE_NAMES[attendee.response]}
    if attendee.name:
        body["displayName"] = attendee.name
    if attendee.optional:
        body["optional"] = True
    return body


def _source_body(url: str | None) -> Resource | None:
    if url is None:
        return None
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        raise Unmappable(f"Google keeps only http(s) URLs as the event source, not {url!r}")
    return {"url": url}  # a patch keeps the title another client gave it


def event_body(event: Event, floating: str | None, *, master: bool) -> Resource:
    """Every mapped field of one event (``None`` clears a field when patched)."""
    if master and event.status is Status.CANCELLED:
        raise Unmappable("Google keeps a cancelled event only as a deleted one")
    end = event.effective_end()
    if isinstance(event.start, datetime) != isinstance(end, datetime):
        raise Unmappable("start and end must both be dates or both date-times")
    body: Resource = {
        "summary": event.title,
        "description": event.description,
        "location": event.location,
        "start": write_time(event.start, floating),
        "end": write_time(end, floating),
        "status": event.status.value,
        "transparency": "transparent" if event.show_as is ShowAs.FREE else "opaque",
        "visibility": event.visibility.value,
        "attendees": [_attendee_body(a) for a in event.attendees],
        "reminders": reminders_body(event.reminders),
        "source": _source_body(event.url),
    }
    if master:
        body["recurrence"] = recurrence_lines(event) or None
    return body


def private_body(obj: CalendarObject, floating: str | None, nonce: str) -> dict[str, str | None]:
    """calsyncd's private extended properties for ``obj`` (``None`` removes one)."""
    marker = obj.marker
    props: dict[str, str | None] = {
        PRIVATE_RULE: marker.rule if marker else None,
        PRIVATE_ORIGIN: marker.origin if marker else None,
        PRIVATE_KEY: marker.key if marker else None,
        PRIVATE_UID: obj.uid,
        PRIVATE_FLOATING: floating if is_floating(obj) else None,
        PRIVATE_WRITE: nonce,
    }
    for key, value in props.items():
        if value is not None and len(value.encode()) > MAX_PROPERTY_BYTES:
            raise Unmappable(f"{key} is longer than Google's {MAX_PROPERTY_BYTES} bytes")
    return props


def insert_body(body: Resource) -> Resource:
    """A patch-complete body as an insert takes it: no ``None`` members, a titled source."""
    out: Resource = compact(body)
    if "source" in out:
        out["source"].setdefault("title", out["source"]["url"])
    return out


def compact(value: Any) -> Any:
    """``value`` without ``None`` members (nothing to clear)."""
    if isinstance(value, Mapping):
        return {k: compact(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [compact(v) for v in value]
    return value

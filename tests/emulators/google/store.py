"""The emulator's calendars and events, with the documented semantics of Calendar API v3.

- Every write bumps a global change number (``seq``) and gives the event a new etag.
- Deleted events keep their id as ``status: cancelled`` and are answered with only their ids
  (a cancelled exception also with ``recurringEventId`` and ``originalStartTime``).
- A sync token names a change number; a listing with it returns every event changed since
  (deletions included); a token older than the calendar's horizon, from another emulator run,
  or unreadable gets 410 ``fullSyncRequired``.
- Pages: exactly one of ``nextPageToken``/``nextSyncToken``, the sync token on the last page.
- Client-chosen ids are base32hex, 5–1024 characters; a taken one gets 409 ``duplicate``.
- ``If-Match`` on update/patch/delete: 412 ``conditionNotMet`` on mismatch.
- Series: a master with ``recurrence``; an occurrence is addressable as
  ``{master}_{stamp}``; patching/updating it makes an exception, deleting it a cancelled one.
- Extended property keys longer than 44 characters are dropped, values cut at 1024.

Everything raises :class:`ApiFailure` for the HTTP layer to answer with.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from . import resource, timing
from .failures import ApiFailure, bad_request, not_found
from .timing import BadTime, When

Json = dict[str, Any]
Query = Mapping[str, list[str]]

ID_RE = re.compile(r"[a-v0-9]{5,1024}")
MAX_RESULTS_DEFAULT = 250
MAX_RESULTS_LIMIT = 2500
NOT_WITH_SYNC_TOKEN = (
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
)


def rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@dataclass
class Stored:
    """One event as kept: the full resource (even when cancelled) and its change number."""

    data: Json
    seq: int
    hidden: bool = False
    """Removed with its series' recurrence: only the change feed still tells about it."""

    @property
    def cancelled(self) -> bool:
        return self.data.get("status") == "cancelled"

    @property
    def parent(self) -> str | None:
        parent = self.data.get("recurringEventId")
        return parent if isinstance(parent, str) else None


@dataclass
class Calendar:
    id: str
    summary: str
    time_zone: str = "UTC"
    default_reminders: list[Json] = field(
        default_factory=lambda: [{"method": "popup", "minutes": 10}]
    )
    writable: bool = True
    events: dict[str, Stored] = field(default_factory=dict)
    by_uid: dict[str, str] = field(default_factory=dict)
    """The latest master (or single event) inserted with each iCalUID."""
    horizon: int = 0
    """Sync tokens with a change number below this are expired."""


@dataclass
class _Pages:
    calendar: str
    ids: list[str]
    sync_seq: int
    signature: str
    position: int = 0


class Store:
    """All calendars; thread-safe (one lock; every operation is short)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.calendars: dict[str, Calendar] = {}
        self.seq = 0
        self.epoch = secrets.token_hex(4)
        self._pages: dict[str, _Pages] = {}
        self._clock = datetime.now(UTC)

    # -- bookkeeping -------------------------------------------------------------------------

    def add_calendar(self, calendar_id: str, **options: Any) -> Calendar:
        with self.lock:
            options.setdefault("summary", calendar_id)
            cal = Calendar(calendar_id, **options)
            self.calendars[calendar_id] = cal
            return cal

    def calendar(self, calendar_id: str) -> Calendar:
        cal = self.calendars.get(calendar_id)
        if cal is None:
            raise not_found()
        return cal

    def _next(self) -> tuple[int, str, str]:
        """A new change number, etag and ``updated`` stamp (strictly increasing)."""
        self.seq += 1
        now = max(datetime.now(UTC), self._clock + timedelta(milliseconds=1))
        self._clock = now
        return self.seq, f'"{3000000000000000 + self.seq}"', rfc3339(now)

    def expire_sync_tokens(self, calendar_id: str) -> None:
        """Every sync token issued so far for the calendar gets 410 from now on."""
        with self.lock:
            self.seq += 1  # tokens issued from now on name this change number or later
            self.calendar(calendar_id).horizon = self.seq

    # -- presenting --------------------------------------------------------------------------

    def present(self, stored: Stored, cal: Calendar) -> Json:
        data = stored.data
        if stored.cancelled:
            keep = ("kind", "etag", "id", "status", "recurringEventId", "originalStartTime")
            out = {k: copy.deepcopy(data[k]) for k in keep if k in data}
        else:
            out = copy.deepcopy(data)
        for key in ("start", "end", "originalStartTime"):
            if key in out:
                out[key] = timing.parse_when(out[key], key).render(cal.time_zone)
        return out

    # -- events: read ------------------------------------------------------------------------

    def get(self, calendar_id: str, event_id: str) -> Json:
        with self.lock:
            cal = self.calendar(calendar_id)
            stored = cal.events.get(event_id)
            if stored is not None:
                return self.present(stored, cal)
            return self.present(Stored(self._virtual(cal, event_id), 0), cal)

    def _virtual(self, cal: Calendar, event_id: str) -> Json:
        """An occurrence of a series that has no exception: computed from the master."""
        parsed = timing.parse_instance_id(event_id)
        if parsed is None:
            raise not_found()
        master_id, original, all_day = parsed
        master = cal.events.get(master_id)
        if master is None or master.cancelled or not master.data.get("recurrence"):
            raise not_found()
        start = timing.parse_when(master.data["start"], "start")
        if start.all_day != all_day:
            raise not_found()
        if not all_day:
            original = original.astimezone(start.value.tzinfo)
        if not timing.is_occurrence(master.data["recurrence"], start, original):
            raise not_found()
        return self._instance_of(master.data, original, start)

    @staticmethod
    def _instance_of(master: Json, original: datetime, start: When) -> Json:
        end = timing.parse_when(master["end"], "end")
        length = end.value - start.value
        when = When(original, start.all_day, start.zone_name)
        until = When(original + length, start.all_day, end.zone_name)
        data = copy.deepcopy(master)
        data.pop("recurrence", None)
        stamp = timing.instance_stamp(original, start.all_day)
        data.update(
            id=f"{master['id']}_{stamp}",
            recurringEventId=master["id"],
            originalStartTime=_when_json(when),
            start=_when_json(when),
            end=_when_json(until),
        )
        return data

    # -- events: write -----------------------------------------------------------------------

    def insert(self, calendar_id: str, body: Json, *, owner: str) -> Json:
        with self.lock:
            cal = self._writable(calendar_id)
            body = resource.without_nulls(body)
            event_id = body.get("id")
            ical_uid = body.get("iCalUID")
            if event_id is not None:
                if ical_uid is not None:
                    raise bad_request("Specify either id or iCalUID, not both.")
                if not isinstance(event_id, str) or not ID_RE.fullmatch(event_id):
                    raise bad_request("Invalid resource id value.")
                if event_id in cal.events:
                    raise ApiFailure(409, "duplicate", "The requested identifier already exists.")
            else:
                event_id = _new_id(cal)
            holder = cal.events.get(cal.by_uid.get(ical_uid, "")) if ical_uid else None
            if holder is not None and not holder.cancelled:
                raise ApiFailure(409, "duplicate", "The requested identifier already exists.")
            fields = resource.writable_fields(body)
            fields.setdefault("status", "confirmed")
            fields.setdefault("reminders", {"useDefault": True})
            seq, etag, now = self._next()
            data = {
                "kind": "calendar#event",
                "etag": etag,
                "id": event_id,
                "htmlLink": f"https://calendar.example/event?eid={event_id}",
                "created": now,
                "updated": now,
                "creator": {"email": owner},
                "organizer": {"email": cal.id, "displayName": cal.summary, "self": True},
                "iCalUID": ical_uid or f"{event_id}@google.com",
                "sequence": 0,
                "eventType": "default",
                **fields,
            }
            resource.validate(data)
            stored = Stored(data, seq)
            cal.events[event_id] = stored
            cal.by_uid[data["iCalUID"]] = event_id
            return self.present(stored, cal)

    def write(
        self, calendar_id: str, event_id: str, body: Json, *, patch: bool, if_match: str | None
    ) -> Json:
        """``events.update`` (``patch=False``) or ``events.patch``."""
        with self.lock:
            cal = self._writable(calendar_id)
            stored = cal.events.get(event_id)
            current = stored.data if stored is not None else self._virtual(cal, event_id)
            if if_match is not None and if_match != "*" and if_match != current["etag"]:
                raise ApiFailure(412, "conditionNotMet", "Precondition Failed")
            kept = {k: v for k, v in current.items() if k in resource.READ_ONLY}
            if patch:
                fields = resource.merge(
                    {k: v for k, v in current.items() if k in resource.WRITABLE}, body
                )
                fields = resource.writable_fields(resource.without_nulls(fields))
            else:
                fields = resource.writable_fields(resource.without_nulls(body))
                fields.setdefault("reminders", {"useDefault": True})
                fields.setdefault("status", "confirmed")
            if "originalStartTime" in current:  # immutable
                fields["originalStartTime"] = current["originalStartTime"]
            if "recurringEventId" in current:
                fields.pop("recurrence", None)
            fields.setdefault("status", "confirmed")
            seq, etag, now = self._next()
            data = {**kept, **fields, "etag": etag, "updated": now}
            resource.validate(data)
            cal.events[event_id] = new = Stored(data, seq)
            moved = (current.get(k) != data.get(k) for k in ("recurrence", "start"))
            if "recurringEventId" not in data and current.get("recurrence") and any(moved):
                self._prune_exceptions(cal, data)
            return self.present(new, cal)

    def _prune_exceptions(self, cal: Calendar, master: Json) -> None:
        """After a series' recurrence changed: exceptions that are no occurrence any more go
        (they stay in the change feed as cancelled)."""
        lines = master.get("recurrence")
        start = timing.parse_when(master["start"], "start") if lines else None
        for stored in list(cal.events.values()):
            if stored.parent != master["id"] or stored.hidden:
                continue
            original = timing.parse_when(stored.data["originalStartTime"], "originalStartTime")
            if lines and start is not None and timing.is_occurrence(lines, start, original.value):
                continue
            seq, etag, now = self._next()
            stored.data.update(status="cancelled", etag=etag, updated=now)
            stored.seq, stored.hidden = seq, True

    def delete(self, calendar_id: str, event_id: str, *, if_match: str | None) -> None:
        with self.lock:
            cal = self._writable(calendar_id)
            stored = cal.events.get(event_id)
            if stored is None:
                virtual = self._virtual(cal, event_id)
                if if_match is not None and if_match not in ("*", virtual["etag"]):
                    raise ApiFailure(412, "conditionNotMet", "Precondition Failed")
                seq, etag, now = self._next()
                virtual.update(status="cancelled", etag=etag, updated=now)
                cal.events[event_id] = Stored(virtual, seq)
                return
            if stored.cancelled:
                raise ApiFailure(410, "deleted", "Resource has been deleted")
            if if_match is not None and if_match not in ("*", stored.data["etag"]):
                raise ApiFailure(412, "conditionNotMet", "Precondition Failed")
            seq, etag, now = self._next()
            stored.data.update(status="cancelled", etag=etag, updated=now)
            stored.seq = seq
            if stored.parent is None:
                for other in cal.events.values():
                    if other.parent == event_id and not other.cancelled:
                        seq, etag, now = self._next()
                        other.data.update(status="cancelled", etag=etag, updated=now)
                        other.seq = seq

    def _writable(self, calendar_id: str) -> Calendar:
        cal = self.calendar(calendar_id)
        if not cal.writable:
            raise ApiFailure(
                403, "requiredAccessLevel", "You need to have writer access to this calendar."
            )
        return cal

    # -- listings ----------------------------------------------------------------------------

    def list(self, calendar_id: str, query: Query) -> Json:
        with self.lock:
            cal = self.calendar(calendar_id)
            signature = _signature(calendar_id, query)
            page_token = _one(query, "pageToken")
            if page_token is not None:
                pages = self._pages.get(page_token)
                if pages is None or pages.signature != signature:
                    raise bad_request("Invalid page token value.")
                del self._pages[page_token]
            else:
                pages = self._first(cal, query, signature)
            return self._page(cal, pages, _max_results(query))

    def _first(self, cal: Calendar, query: Query, signature: str) -> _Pages:
        single = _flag(query, "singleEvents")
        if single:
            raise bad_request("singleEvents=true is not supported by this emulator.")
        token = _one(query, "syncToken")
        if token is not None:
            for name in NOT_WITH_SYNC_TOKEN:
                if name in query:
                    raise bad_request(f"Parameter {name} is not allowed with syncToken.")
            since = self._token_seq(cal, token, query)
            ids = [
                i for i, s in sorted(cal.events.items(), key=lambda kv: kv[1].seq) if s.seq > since
            ]
            return _Pages(cal.id, ids, self.seq, signature)
        order = _one(query, "orderBy")
        if order == "startTime":
            raise bad_request("The requested ordering is not available for the particular query.")
        selected = [i for i, s in cal.events.items() if self._selected(cal, s, query)]
        if order == "updated":
            selected.sort(key=lambda i: cal.events[i].seq)
        return _Pages(cal.id, selected, self.seq, signature)

    def _page(self, cal: Calendar, pages: _Pages, size: int) -> Json:
        chunk = pages.ids[pages.position : pages.position + size]
        pages.position += len(chunk)
        items = [self.present(cal.events[i], cal) for i in chunk if i in cal.events]
        answer: Json = {
            "kind": "calendar#events",
            "etag": f'"p{self.seq}"',
            "summary": cal.summary,
            "description": "",
            "updated": rfc3339(self._clock),
            "timeZone": cal.time_zone,
            "accessRole": "owner" if cal.writable else "reader",
            "defaultReminders": copy.deepcopy(cal.default_reminders),
            "items": items,
        }
        if pages.position < len(pages.ids):
            page_token = secrets.token_urlsafe(16)
            self._pages[page_token] = pages
            answer["nextPageToken"] = page_token
        else:
            answer["nextSyncToken"] = self._sync_token(cal, pages.sync_seq, pages.signature)
        return answer

    def _sync_token(self, cal: Calendar, seq: int, signature: str) -> str:
        raw = json.dumps({"e": self.epoch, "c": cal.id, "s": seq, "g": _sync_group(signature)})
        return "CP" + base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def _token_seq(self, cal: Calendar, token: str, query: Query) -> int:
        gone = ApiFailure(
            410,
            "fullSyncRequired",
            "Sync token is no longer valid, a full sync is required.",
            domain="calendar",
        )
        try:
            raw = token.removeprefix("CP")
            payload = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            seq = int(payload["s"])
        except (ValueError, KeyError, TypeError):
            raise gone from None
        if payload.get("e") != self.epoch or payload.get("c") != cal.id or seq < cal.horizon:
            raise gone
        if payload.get("g") != _sync_group(_signature(cal.id, query)):
            raise bad_request("The sync token was issued for a listing with other parameters.")
        return seq

    def _selected(self, cal: Calendar, stored: Stored, query: Query) -> bool:
        data = stored.data
        if stored.hidden:
            return False
        if stored.cancelled and not _flag(query, "showDeleted"):
            parent = cal.events.get(stored.parent) if stored.parent else None
            if parent is None or parent.cancelled:  # cancelled instances of live series stay
                return False
        uid = _one(query, "iCalUID")
        if uid is not None and data.get("iCalUID") != uid:
            return False
        for kind, name in (
            ("private", "privateExtendedProperty"),
            ("shared", "sharedExtendedProperty"),
        ):
            props = (data.get("extendedProperties") or {}).get(kind) or {}
            for condition in query.get(name, []):
                key, _, value = condition.partition("=")
                if props.get(key) != value:
                    return False
        text = _one(query, "q")
        if text and not _matches(data, text):
            return False
        updated_min = _one(query, "updatedMin")
        if updated_min and datetime.fromisoformat(data["updated"]) < _time_param(
            updated_min, "updatedMin"
        ):
            return False
        return self._in_range(cal, stored, query)

    def _in_range(self, cal: Calendar, stored: Stored, query: Query) -> bool:
        low, high = _one(query, "timeMin"), _one(query, "timeMax")
        if low is None and high is None:
            return True
        if stored.cancelled:
            if "originalStartTime" not in stored.data:
                return True
            first = timing.parse_when(stored.data["originalStartTime"], "originalStartTime").instant
            last: datetime | None = first + timedelta(seconds=1)
        else:
            first, last = _span(stored.data)
        if low is not None and last is not None and last <= _time_param(low, "timeMin"):
            return False
        return not (high is not None and first >= _time_param(high, "timeMax"))

    # -- instances ---------------------------------------------------------------------------

    def instances(self, calendar_id: str, event_id: str, query: Query) -> Json:
        with self.lock:
            cal = self.calendar(calendar_id)
            master = cal.events.get(event_id)
            if master is None or master.cancelled:
                raise not_found()
            if not master.data.get("recurrence"):
                raise bad_request("The event is not a recurring event.")
            start = timing.parse_when(master.data["start"], "start")
            original = _one(query, "originalStart")
            items = []
            for when in timing.occurrences(master.data["recurrence"], start, _max_results(query)):
                stamp = timing.instance_stamp(when, start.all_day)
                stored = cal.events.get(f"{event_id}_{stamp}")
                if stored is not None and stored.cancelled and not _flag(query, "showDeleted"):
                    continue
                data = stored.data if stored else self._instance_of(master.data, when, start)
                if original is not None and not _same_start(data, original):
                    continue
                items.append(self.present(Stored(data, 0), cal))
            return {
                "kind": "calendar#events",
                "etag": f'"i{self.seq}"',
                "summary": cal.summary,
                "updated": rfc3339(self._clock),
                "timeZone": cal.time_zone,
                "accessRole": "owner" if cal.writable else "reader",
                "defaultReminders": copy.deepcopy(cal.default_reminders),
                "items": items,
                "nextSyncToken": self._sync_token(cal, self.seq, "instances"),
            }

    # -- calendars ---------------------------------------------------------------------------

    def calendar_resource(self, calendar_id: str) -> Json:
        with self.lock:
            cal = self.calendar(calendar_id)
            return {
                "kind": "calendar#calendar",
                "etag": f'"c{len(cal.id)}"',
                "id": cal.id,
                "summary": cal.summary,
                "timeZone": cal.time_zone,
            }

    def calendar_list_entry(self, calendar_id: str) -> Json:
        with self.lock:
            cal = self.calendar(calendar_id)
            return {
                **self.calendar_resource(calendar_id),
                "kind": "calendar#calendarListEntry",
                "accessRole": "owner" if cal.writable else "reader",
                "defaultReminders": copy.deepcopy(cal.default_reminders),
            }


# -- helpers ----------------------------------------------------------------------------------


def _when_json(when: When) -> Json:
    if when.all_day:
        return {"date": when.value.date().isoformat()}
    out: Json = {"dateTime": when.value.isoformat()}
    if when.zone_name:
        out["timeZone"] = when.zone_name
    return out


def _span(data: Json) -> tuple[datetime, datetime | None]:
    start = timing.parse_when(data["start"], "start")
    end = timing.parse_when(data["end"], "end")
    length = end.instant - start.instant
    lines = data.get("recurrence")
    if not lines:
        return start.instant, end.instant
    if timing.is_endless(lines):
        return start.instant, None
    last = start.value
    for last in timing.occurrences(lines, start):  # noqa: B007 - the last one is wanted
        pass
    last_start = When(last, start.all_day, start.zone_name).instant
    return start.instant, last_start + length


def _same_start(data: Json, original: str) -> bool:
    wanted = timing.parse_rfc3339(original, "originalStart")
    when = timing.parse_when(data["originalStartTime"], "originalStartTime")
    return when.instant == wanted


def _matches(data: Json, text: str) -> bool:
    haystack = [data.get(k) or "" for k in ("summary", "description", "location")]
    for attendee in data.get("attendees") or ():
        haystack += [attendee.get("email", ""), attendee.get("displayName", "")]
    return all(any(word.lower() in h.lower() for h in haystack) for word in text.split())


def _time_param(raw: str, name: str) -> datetime:
    try:
        return timing.parse_rfc3339(raw, name)
    except BadTime as exc:
        raise bad_request(str(exc)) from exc


def _one(query: Query, name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _flag(query: Query, name: str) -> bool:
    return (_one(query, name) or "false").lower() == "true"


def _max_results(query: Query) -> int:
    raw = _one(query, "maxResults")
    if raw is None:
        return MAX_RESULTS_DEFAULT
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"Invalid value for maxResults: {raw}") from None
    if value < 1:
        raise bad_request(f"Invalid value for maxResults: {raw}")
    return min(value, MAX_RESULTS_LIMIT)


_PAGE_INDEPENDENT = frozenset({"pageToken", "maxResults", "alt", "prettyPrint", "fields"})


def _signature(calendar_id: str, query: Query) -> str:
    kept = {k: v for k, v in sorted(query.items()) if k not in _PAGE_INDEPENDENT}
    return json.dumps([calendar_id, kept])


def _sync_group(signature: str) -> str:
    """What a sync token must be used with again: the parameters a token does not replace."""
    try:
        _, kept = json.loads(signature)
    except ValueError:
        return signature
    carried = {
        k: v
        for k, v in kept.items()
        if k not in NOT_WITH_SYNC_TOKEN and k not in ("syncToken", "showDeleted")
    }
    return json.dumps(carried, sort_keys=True)


def _new_id(cal: Calendar) -> str:
    alphabet = "0123456789abcdefghijklmnopqrstuv"
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(26))
        if candidate not in cal.events:
            return candidate

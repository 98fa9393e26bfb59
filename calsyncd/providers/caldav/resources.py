"""Calendar object resources: hrefs, and the iCalendar bodies calsyncd PUTs and reads.

- Item ids are the resource's absolute path (``/alice/calendars/work/x.ics``), percent-encoded
  one canonical way whatever the server wrote, so the id a create returns is the id a later
  listing reports.
- A create's href comes from its idempotency key (``{collection}{key}.ics``), so a create
  retried after a crash names the resource the first attempt made.
- Copies (objects with a marker) are written with ``SCHEDULE-AGENT=CLIENT`` on ORGANIZER and
  ATTENDEE lines (RFC 6638): a scheduling server sends no invitations or replies for them.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote, unquote, urljoin, urlsplit

import structlog

from calsyncd.errors import MalformedObject
from calsyncd.model.event import CalendarObject
from calsyncd.model.ical import parse_object, serialize_object
from calsyncd.providers.base import Item, Skipped

log = structlog.get_logger("calsyncd.caldav")

_SAFE_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,150}")
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_UNFOLD = re.compile(rb"\r?\n[ \t]")
_VEVENT = re.compile(rb"^BEGIN:VEVENT\s*$", re.IGNORECASE | re.MULTILINE)
_SCHEDULED = (b"ATTENDEE", b"ORGANIZER")
_FOLD_OCTETS = 75


class NotAnEvent:
    """A resource that holds no VEVENT (a task, a journal entry): not calsyncd's business."""


NOT_AN_EVENT = NotAnEvent()


def canonical_path(href: str, base: str) -> str:
    """The id of the resource ``href`` (relative or absolute, as a server wrote it)."""
    path = urlsplit(urljoin(base, href.strip())).path
    return quote(unquote(path), safe=_PATH_SAFE)


def item_url(item_id: str, base: str) -> str | None:
    """The URL of the resource with id ``item_id``; ``None`` if it cannot be one of ours."""
    if not item_id.startswith("/") or item_id.startswith("//"):
        return None
    return urljoin(base, item_id)


def name_for(key: str) -> str:
    """The resource name a create with ``key`` uses: the key itself when it is URL-safe."""
    if _SAFE_KEY.fullmatch(key):
        return f"{key}.ics"
    return f"k-{hashlib.sha256(key.encode()).hexdigest()[:40]}.ics"


# -- bodies -----------------------------------------------------------------------------------


def render(obj: CalendarObject) -> bytes:
    """The body to PUT for ``obj``: its serialization, client-scheduled if it is a copy."""
    data = serialize_object(obj)
    if obj.marker is None or not any(e.attendees or e.organizer for e in obj.events):
        return data
    lines = _UNFOLD.sub(b"", data).split(b"\r\n")
    out: list[bytes] = []
    in_event, nested = False, 0  # nested: components open inside the VEVENT (alarms)
    for line in lines:
        upper = line.upper()
        if upper == b"BEGIN:VEVENT":
            in_event, nested = True, 0
        elif upper == b"END:VEVENT":
            in_event = False
        elif in_event and upper.startswith(b"BEGIN:"):
            nested += 1
        elif in_event and upper.startswith(b"END:"):
            nested -= 1
        out.append(_client_scheduled(line) if in_event and nested == 0 else line)
    return b"".join(_fold(line) + b"\r\n" for line in out if line)


def _client_scheduled(line: bytes) -> bytes:
    upper = line.upper()
    for name in _SCHEDULED:
        if upper.startswith(name) and upper[len(name) : len(name) + 1] in (b";", b":"):
            if b";SCHEDULE-AGENT=" in upper:
                return line
            return line[: len(name)] + b";SCHEDULE-AGENT=CLIENT" + line[len(name) :]
    return line


def _fold(line: bytes) -> bytes:
    """Fold a content line at 75 octets without splitting a UTF-8 sequence (RFC 5545 3.1)."""
    if len(line) <= _FOLD_OCTETS:
        return line
    parts: list[bytes] = []
    limit = _FOLD_OCTETS
    while len(line) > limit:
        cut = limit
        while cut > 0 and (line[cut] & 0xC0) == 0x80:
            cut -= 1
        parts.append(line[:cut])
        line = line[cut:]
        limit = _FOLD_OCTETS - 1
    parts.append(line)
    return b"\r\n ".join(parts)


def read(item_id: str, etag: str, data: bytes) -> Item | Skipped | NotAnEvent:
    """Parse one resource body (blocking: callers batch it into worker threads)."""
    notes: list[str] = []
    try:
        obj = parse_object(data, source=item_id, notes=notes)
    except MalformedObject as exc:
        if not _VEVENT.search(_UNFOLD.sub(b"", data)):
            return NOT_AN_EVENT
        return Skipped(item_id, str(exc))
    except Exception as exc:  # one broken resource must never abort a listing
        return Skipped(item_id, f"{item_id}: {type(exc).__name__}: {exc}")
    for note in notes:  # kept, read with a change: said, never skipped
        log.warning("item read with a change", problem=note)
    return Item(item_id, etag, obj)

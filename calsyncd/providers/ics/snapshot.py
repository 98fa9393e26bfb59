"""One parsed version of an iCalendar document, shared by the feed and the single file.

Every object is an item whose id is its UID and whose etag is a hash of its serialization
(:func:`object_etag`). An object the reader could not read is a skip, under its UID when the
raw text shows one (so the engine does not take it for deleted), else under ``label#n``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import structlog

from calsyncd.errors import MalformedObject, NotFound, TemporaryError
from calsyncd.model.components import content_lines
from calsyncd.model.event import CalendarObject
from calsyncd.model.ical import parse_calendar, serialize_object
from calsyncd.model.values import unescape_text
from calsyncd.providers import _files
from calsyncd.providers.base import Changes, Item, Skipped

__all__ = [
    "EMPTY",
    "Snapshot",
    "TooManyEvents",
    "not_ical",
    "object_etag",
    "read_snapshot",
]

log = structlog.get_logger("calsyncd.providers.ics")

_UID_LINE = re.compile(r"UID(?:;[^:]*)?:(.*)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One parsed version of the document.

    ``version`` identifies it (body hash or stat etag); ``seen`` is the ``{uid: etag}`` map a
    cursor carries, with unreadable UIDs as :data:`_files.SKIPPED`.
    """

    version: str
    items: dict[str, Item]
    skipped: list[Skipped]
    seen: dict[str, str]
    name: str | None = None

    def changes(self, previous: Mapping[str, str] | None, cursor: str) -> Changes:
        """The listing since the ``{uid: etag}`` map ``previous`` (whole for ``None``): items
        new or changed, UIDs deleted, every skip."""
        changed, deleted = _files.diff_ids(previous, self.seen)
        return Changes(
            items=[self.items[uid] for uid in changed if uid in self.items],
            cursor=cursor,
            full=previous is None,
            deleted=deleted,
            skipped=list(self.skipped),
        )

    def find(self, uid: str, *, where: str, label: str) -> Item:
        if uid in self.items:
            return self.items[uid]
        for skip in self.skipped:
            if skip.id == uid:
                raise MalformedObject(skip.reason, where=where, item=uid)
        raise NotFound(f"{label}: no object with UID {uid!r}", where=where, item=uid)


EMPTY = Snapshot(version=_files.ABSENT, items={}, skipped=[], seen={})
"""The snapshot of a file that does not exist."""


def object_etag(obj: CalendarObject) -> str:
    """The etag of one object of a document: a hash of its (deterministic) serialization.

    Not :func:`~calsyncd.model.hashing.content_hash`: that leaves out the marker, unknown
    properties and SEQUENCE by design, but an etag must move whenever anything stored does.
    Serializing a parsed object again gives the same bytes, so the etag a write returns is
    the one later listings report.
    """
    return hashlib.sha256(serialize_object(obj)).hexdigest()[:32]


class TooManyEvents(Exception):
    """A feed holds more events than it may; the argument is how many."""


def read_snapshot(
    data: bytes, *, label: str, version: str, max_events: int | None = None
) -> Snapshot:
    """Parse a whole document (blocking; run in a worker thread).

    Raises :class:`MalformedObject` when the document is not iCalendar at all, and
    :class:`TooManyEvents` when it holds more than ``max_events`` objects.
    """
    parsed = parse_calendar(data, source=label)
    if max_events is not None and len(parsed.objects) > max_events:
        raise TooManyEvents(len(parsed.objects))
    for note in parsed.notes:  # objects kept, read with a change: said, never skipped
        log.warning("item read with a change", problem=note)
    problems = list(parsed.problems)
    items: dict[str, Item] = {}
    for obj in parsed.objects:
        if obj.uid in items:
            problems.append(f"UID {obj.uid!r} appears twice; the later copy is ignored")
            continue
        items[obj.uid] = Item(obj.uid, object_etag(obj), obj)
    skipped = _skips(data, problems, items, label) if problems else []
    seen = {uid: item.etag for uid, item in items.items()}
    seen.update({s.id: _files.SKIPPED for s in skipped if not s.id.startswith(f"{label}#")})
    return Snapshot(version, items, skipped, seen, parsed.name)


def not_ical(label: str, exc: Exception, where: str) -> TemporaryError:
    """A whole document that is not iCalendar (an HTML error page, a half-written file)."""
    return TemporaryError(f"{label}: not an iCalendar document ({exc})", where=where)


def _skips(
    data: bytes, problems: list[str], items: Mapping[str, Item], label: str
) -> list[Skipped]:
    """Turn parse problems into skips: one per UID present in the text but not parsed (so the
    engine does not take it for deleted), then one ``label#n`` per problem naming no such UID."""
    lost = [uid for uid in _vevent_uids(data) if uid not in items]
    skipped: list[Skipped] = []
    for uid in lost:
        reason = next((p for p in problems if _mentions(p, uid)), "; ".join(problems))
        skipped.append(Skipped(uid, _name_source(reason, label, uid)))
    for n, problem in enumerate(problems, start=1):
        if not any(_mentions(problem, uid) for uid in lost):
            skipped.append(Skipped(f"{label}#{n}", _name_source(problem, label)))
    return skipped


def _mentions(problem: str, uid: str) -> bool:
    return repr(uid) in problem or uid in problem


def _name_source(text: str, label: str, uid: str | None = None) -> str:
    """``text``, prefixed so that it names the document and (if given) the UID."""
    if uid is not None and not _mentions(text, uid):
        text = f"UID {uid!r}: {text}"
    return text if label in text else f"{label}: {text}"


def _vevent_uids(data: bytes) -> Iterator[str]:
    """UIDs of the VEVENTs in raw text, found without the codec (which failed on some) but
    decoded as it decodes them, each once, a line at a time."""
    uids: set[str] = set()
    in_event, depth = False, 0  # depth: components open inside the VEVENT (alarms)
    for line in content_lines(data):
        upper = line.strip().upper()
        if upper == "BEGIN:VEVENT":
            in_event, depth = True, 0
        elif in_event and upper.startswith("BEGIN:"):
            depth += 1
        elif in_event and upper.startswith("END:"):
            in_event = depth > 0
            depth -= 1
        elif in_event and depth == 0 and (m := _UID_LINE.fullmatch(line.strip())):
            uid = unescape_text(m.group(1))
            if uid not in uids:
                uids.add(uid)
                yield uid

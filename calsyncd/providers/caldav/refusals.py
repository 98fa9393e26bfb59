"""What a refused write means: the preconditions a server names in the ``<DAV:error>`` body
of a ``403``, ``409``, ``412`` or ``507`` answer to a ``PUT`` or ``DELETE``.

Each known condition (RFC 4791 §5.3.2.1, RFC 6638 §3.2.4, RFC 4918 §16, RFC 3744 §7.1.1,
RFC 4331) becomes the error that says what happened, in words, with the condition's name in
brackets and the object named by its UID (a copy also by its original's) — so "HTTP 403
Forbidden" no longer reads as "access denied" for the whole calendar when the server only
refused one object:

- a UID already used — in this calendar (``no-uid-conflict``; Cyrus says
  ``unique-scheduling-object-resource`` with the other object's href): :class:`PreconditionFailed`,
  so the engine re-plans and adopts that object; in *another* calendar of the account (Cyrus
  and iCloud allow a UID once per account): an :class:`ItemError` naming the other object;
- data the server will not store (invalid, too large, dates or occurrences out of its
  range): :class:`MalformedObject`;
- a scheduling change the server does not allow, a full quota, or a condition calsyncd does
  not know: an :class:`ItemError` of the object;
- a calendar calsyncd may not write, or that takes no events: :class:`ReadOnlyError`;
  a server out of disk space: :class:`TemporaryError`.

The server's own ``responsedescription`` is never repeated (``docs/security.md``); an href
it names is shown in canonical form.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from calsyncd.errors import (
    ItemError,
    MalformedObject,
    PreconditionFailed,
    ProviderError,
    ReadOnlyError,
    TemporaryError,
)
from calsyncd.model.event import CalendarObject
from calsyncd.providers._http import standard_reason
from calsyncd.providers.caldav import davxml, resources

STATUSES = frozenset({403, 409, 412, 507})
"""The answers to a write whose ``DAV:error`` body is read."""

_UID_CONDITIONS = (davxml.cal("no-uid-conflict"), davxml.cal("unique-scheduling-object-resource"))

_REFUSED_DATA = {
    davxml.cal("valid-calendar-data"): "the server found its iCalendar data invalid",
    davxml.cal("supported-calendar-data"): (
        "the server does not take its media type or iCalendar version"
    ),
    davxml.cal("valid-calendar-object-resource"): (
        "the server's rules for calendar objects refused it"
    ),
    davxml.cal("max-resource-size"): "it is larger than the server accepts",
    davxml.cal("min-date-time"): "it has a date earlier than the server accepts",
    davxml.cal("max-date-time"): "it has a date later than the server accepts",
    davxml.cal("max-instances"): "its recurrence has more occurrences than the server accepts",
    davxml.cal("max-attendees-per-instance"): "it has more attendees than the server accepts",
    davxml.cal("same-organizer-in-all-components"): (
        "its occurrences do not all have the same organizer"
    ),
}
_REFUSED_ITEM = {
    davxml.cal("allowed-attendee-scheduling-object-change"): (
        "the server does not let an attendee make this change to a scheduled event"
    ),
    davxml.cal("allowed-organizer-scheduling-object-change"): (
        "the server does not let the organizer make this change to a scheduled event"
    ),
    davxml.dav("quota-not-exceeded"): "the account's storage quota is full",
}
_REFUSED_CALENDAR = {
    davxml.dav("need-privileges"): "the account may not write to this calendar",
    davxml.cal("supported-calendar-component"): "the calendar takes no events (VEVENT)",
}
_SERVER_TROUBLE = {
    davxml.dav("sufficient-disk-space"): "the server is out of disk space",
}
_SHOWN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,63}")


def refused_write(
    *,
    method: str,
    item_id: str,
    subject: str | None,
    status: int,
    body: bytes,
    collection: str,
    where: str,
) -> ProviderError | None:
    """The error a write answered with ``status`` and ``body`` means; ``None`` when the
    answer names no condition (the status alone then says what happened). ``subject`` names
    the object written (:func:`subject`; ``None`` for a delete); ``collection`` is the
    calendar's URL."""
    if status not in STATUSES:
        return None
    found = davxml.dav_error(body).conditions
    if not found:
        return None
    head = f"{method} {item_id}: HTTP {status} {standard_reason(status)}".rstrip()
    named = f"{subject}: " if subject is not None else ""

    def message(words: str, name: str) -> str:
        return f"{head}: {named}{words} ({_local(name)})"

    for name in _UID_CONDITIONS:
        if name in found:
            return _uid_taken(
                name,
                found[name],
                head=head,
                subject=subject,
                collection=collection,
                item_id=item_id,
                where=where,
            )
    table: list[tuple[dict[str, str], Callable[[str], ProviderError]]] = [
        (_REFUSED_CALENDAR, lambda text: ReadOnlyError(text, where=where)),
        (_SERVER_TROUBLE, lambda text: TemporaryError(text, where=where)),
        (_REFUSED_DATA, lambda text: MalformedObject(text, where=where, item=item_id)),
        (_REFUSED_ITEM, lambda text: ItemError(text, where=where, item=item_id)),
    ]
    for words_of, error in table:
        for name in found:
            if name in words_of:
                return error(message(words_of[name], name))
    shown = _shown(next(iter(found)))
    what = f"precondition {shown} failed" if shown else "an unnamed precondition failed"
    return ItemError(f"{head}: {named}the server refused it: {what}", where=where, item=item_id)


def _uid_taken(
    name: str,
    hrefs: tuple[str, ...],
    *,
    head: str,
    subject: str | None,
    collection: str,
    item_id: str,
    where: str,
) -> ProviderError:
    """A UID another object holds: here (adopt it) or in another calendar (say where)."""
    label = _local(name)
    taken = subject or "its UID"
    others = [resources.canonical_path(href, collection) for href in hrefs]
    here = _path(collection)
    elsewhere = [o for o in others if o.rpartition("/")[0] + "/" != here]
    if others and not elsewhere:
        return PreconditionFailed(
            f"{head}: {taken} is used by another object of the calendar ({others[0]}) ({label})",
            where=where,
            item=item_id,
        )
    if not others and name == davxml.cal("no-uid-conflict"):
        return PreconditionFailed(
            f"{head}: {taken} is used by another object of the calendar ({label})",
            where=where,
            item=item_id,
        )
    if elsewhere:
        words = (
            f"{taken} is already used by {elsewhere[0]}, in another calendar of this account: "
            "the server allows each UID once per account"
        )
    else:
        words = f"{taken} is already used by another event of this account"
    return ItemError(f"{head}: {words} ({label})", where=where, item=item_id)


def subject(obj: CalendarObject) -> str:
    """How a refusal names the object written: its UID, and a copy its original's too (a
    copy's own UID means nothing to whoever reads the message)."""
    origin = obj.marker.origin if obj.marker is not None else None
    if origin is not None and origin != obj.uid:
        return f"UID {obj.uid!r} (copy of {origin!r})"
    return f"UID {obj.uid!r}"


def _path(collection: str) -> str:
    return resources.canonical_path(urlsplit(collection).path, collection)


def _local(name: str) -> str:
    """The local name of a Clark name (``{DAV:}need-privileges`` → ``need-privileges``)."""
    return name.rpartition("}")[2]


def _shown(name: str) -> str | None:
    """The local name of a condition calsyncd does not know, when it is fit to print."""
    local = _local(name)
    return local if _SHOWN_NAME.fullmatch(local) else None

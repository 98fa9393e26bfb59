"""Google event ids: client-chosen ids from idempotency keys, instance ids, object etags.

Google accepts client-chosen event ids of 5–1024 characters of base32hex (``a-v`` and
``0-9``). The engine's keys (``cs`` + base32hex, see :mod:`calsyncd.sync.keys`) already are
such ids and are used as they are; any other key is hashed into one, so a create retried
with the same key always names the same event (Google answers ``409 duplicate``).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo

from calsyncd.model.event import When

_EVENT_ID = re.compile(r"[a-v0-9]{5,1024}")
_COMPOSITE = "calsyncd-series:"


def is_event_id(value: str) -> bool:
    """Whether ``value`` is a valid client-chosen Google event id."""
    return _EVENT_ID.fullmatch(value) is not None


def event_id_for_key(key: str) -> str:
    """The event id a create with ``key`` uses: the key itself when Google accepts it."""
    if is_event_id(key):
        return key
    digest = hashlib.sha256(key.encode()).digest()[:25]
    return "ck" + base64.b32hexencode(digest).decode("ascii").lower()


def instance_id(master_id: str, original_start: When, floating_zone: tzinfo | None) -> str:
    """The id of one occurrence of a series: ``{master}_{YYYYMMDD}`` for all-day series,
    ``{master}_{YYYYMMDDTHHMMSSZ}`` (the original start in UTC) otherwise (as Google forms
    them). A floating original start is read in ``floating_zone``."""
    if not isinstance(original_start, datetime):
        return f"{master_id}_{original_start:%Y%m%d}"
    when = original_start
    if when.tzinfo is None:
        when = when.replace(tzinfo=floating_zone or UTC)
    return f"{master_id}_{when.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def master_of(event_id: str) -> str | None:
    """The series id an instance id names (``abc_20300101T090000Z`` → ``abc``), else ``None``."""
    head, sep, tail = event_id.partition("_")
    if not sep or not head or not re.fullmatch(r"\d{8}(T\d{6}Z)?", tail):
        return None
    return head


def object_etag(master_etag: str, exceptions: Iterable[tuple[str, str]]) -> str:
    """The etag of a whole object: the master's own etag while the series has no exceptions,
    else a digest of the master's and every exception's ``(id, etag)``."""
    parts = sorted(exceptions)
    if not parts:
        return master_etag
    text = "\n".join([master_etag, *(f"{i} {e}" for i, e in parts)])
    return _COMPOSITE + hashlib.sha256(text.encode()).hexdigest()[:32]


def is_composite(etag: str) -> bool:
    """Whether an object etag covers exceptions (and so cannot be sent as ``If-Match``)."""
    return etag.startswith(_COMPOSITE)

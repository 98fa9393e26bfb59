"""The ``caldav`` provider: one calendar collection on a CalDAV server (RFC 4791, RFC 6578).

A focused client over the shared :class:`httpx.AsyncClient` — PROPFIND, REPORT, GET, PUT,
DELETE and XML from the standard library — rather than a CalDAV library, to keep one async
HTTP stack and full control of sync-collection. Modules: :mod:`.client` (auth, retries,
bounded concurrency, bounded answers, error translation), :mod:`.discovery` (finding the
collection), :mod:`.davxml` (request bodies, multistatus and ``DAV:error`` parsing),
:mod:`.listings` (what is kept of each multistatus), :mod:`.resources` (hrefs and bodies),
:mod:`.refusals` (what a refused write means), :mod:`.calendar` (the
:class:`~calsyncd.providers.base.Calendar`).

Tested against Radicale, Xandikos and Cyrus IMAP 3.6 (the server Fastmail runs).

Ids, etags, cursors
    The item id is the resource's absolute path on the server (canonically percent-encoded);
    the etag is the server's ``getetag``/``ETag`` verbatim. The cursor carries the collection
    URL (so a cycle with a cursor needs no discovery), the RFC 6578 sync token (for a server
    without sync-collection, the etag of every member) and the collection's ``getctag``.

Listings
    With a cursor: first the ``getctag`` (``PROPFIND``, ``Depth: 0``); when it has not moved
    since the cursor's listing the calendar has not changed and that is all. The ctag is read
    *before* the listing it is stored with, so a change made meanwhile shows as a moved ctag
    next time rather than being missed. Otherwise one ``sync-collection`` REPORT (``Depth:
    0``, no ``<limit>``, which Xandikos honours by cutting the answer while returning the
    current token); a ``507`` on
    the collection means the answer was truncated and is continued from the new token — as
    long as each round brings a new token and a new member: three rounds in a row without
    progress, or 1,000 rounds in all, fail the listing (a temporary error). A
    rejected token (``valid-sync-token``: Radicale and Cyrus 403, Xandikos 412) or a collection gone
    from its remembered URL gives a full listing. Without a cursor: ``sync-collection`` from
    the empty token lists every member with the token in one answer. Bodies come by
    ``calendar-multiget`` in batches of 200 hrefs (Radicale answers no REPORT carrying more
    than 10,000 VEVENTs; a refused batch is split in two), run concurrently and parsed in
    worker threads. Resources without a VEVENT (tasks) are ignored; unreadable ones are
    reported as skipped on every listing until fixed. The sync window is *not* applied to
    full listings: the engine takes a paired object missing from a full listing for deleted,
    and a windowed ``calendar-query`` cannot tell "deleted" from "outside the window".

Writes
    A create PUTs ``{collection}{key}.ics`` with ``If-None-Match: *``; a ``412`` means the
    resource exists (an earlier attempt made it) and the existing object is returned.
    Updates and deletes send ``If-Match``: ``412`` is :class:`PreconditionFailed` (or
    :class:`NotFound` when the resource is gone — read right after; if that read fails, the
    write is still :class:`PreconditionFailed`, a problem of the object), ``404``
    :class:`NotFound`. Reads of one object (``GET``, ``HEAD``) ask for the identity encoding:
    Cyrus gives a gzipped answer a weak ETag no ``If-Match`` matches, and fails a gzipped
    ``HEAD``. A write refused with a precondition (``DAV:error`` body of a 403, 409, 412 or
    507) is reported as that precondition, in words, about the object (:mod:`.refusals`): a
    UID already used in the calendar (``no-uid-conflict``: Radicale 409, Xandikos 412; Cyrus
    403 ``unique-scheduling-object-resource``) is :class:`PreconditionFailed`, so the engine
    re-plans and adopts the object; one used in another calendar of the account (Cyrus allows
    a UID once per account) is an :class:`ItemError` naming the other object. A PUT answered
    without ``ETag`` (the server altered the data) is read back. Copies carry
    ``SCHEDULE-AGENT=CLIENT`` on ORGANIZER and ATTENDEE so servers send no invitations.

HTTP
    Basic or Bearer auth from the connection (secrets are read only when a request is
    sent); at most ``max_concurrency`` requests in flight per server and shared client.
    Connection errors, 429, 5xx and 423 are retried with jittered exponential backoff,
    honouring ``Retry-After`` up to a minute (longer: :class:`RateLimited` for the
    supervisor); Xandikos answers 423 or 500 to a write that meets another one holding its
    git index. Redirects are followed by hand during discovery (same method; never https to
    http). 401/403 are :class:`AuthError`, a missing collection :class:`CalendarNotFound`,
    both naming the connection and calendar (``where``).

Hostile servers
    The connection's ``timeout`` (default 60 s) bounds each request whole — connect, send,
    and the entire answer; past it the request is a :class:`TemporaryError` naming it, not
    retried within the cycle. No answer is read past 64 MiB (twice a 100,000-event sync
    listing): reading stops and the listing fails naming the request. Multistatus answers
    are parsed as they stream, keeping only what the listing needs; a DTD (the carrier of
    entity bombs) is refused. Credentials go only to the origin of the connection's ``url``
    (or its ``https`` upgrade): a redirect, principal, home or href on another origin is
    followed without them and a warning says so; a 401 from there explains it. Messages
    carry the standard reason phrase of a status, never the server's own, nor a header
    value quoted by the HTTP library.
"""

from calsyncd.providers.caldav.calendar import CaldavCalendar
from calsyncd.providers.caldav.client import Auth, Retry

__all__ = ["Auth", "CaldavCalendar", "Retry"]

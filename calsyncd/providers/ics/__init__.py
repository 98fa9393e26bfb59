"""The ``ics`` provider: one iCalendar document as a calendar.

- :class:`IcsFeed` (:mod:`.feed`) reads a feed, read-only: an ``http(s)://`` URL or a file
  (a path or ``file://`` URL), within :data:`MAX_FEED_BYTES` and :data:`MAX_FEED_EVENTS`.
- :class:`IcsFile` (:mod:`.file`) is a writable single file (e.g. a published busy feed)
  that every write rewrites whole, atomically.

In both the item id is the UID and the etag a hash of the object's serialization
(:mod:`.snapshot`, the parsed document both share), so a changed document yields exactly the
UIDs whose objects changed. The cursor carries what identifies the document version (HTTP
validators and a body hash, or the file's stat etag) plus the ``{uid: etag}`` map of the
previous listing.
"""

from calsyncd.providers._http import parse_retry_after, redact_url
from calsyncd.providers.ics.feed import MAX_FEED_BYTES, MAX_FEED_EVENTS, IcsFeed, http_status_error
from calsyncd.providers.ics.file import IcsFile

__all__ = [
    "MAX_FEED_BYTES",
    "MAX_FEED_EVENTS",
    "IcsFeed",
    "IcsFile",
    "http_status_error",
    "parse_retry_after",
    "redact_url",
]

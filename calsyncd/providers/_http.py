"""HTTP helpers every HTTP provider shares: ``Retry-After`` and URLs fit for messages."""

from __future__ import annotations

import email.utils
import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

_TOKEN = re.compile(r"(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{16,}")


def redact_url(url: str) -> str:
    """``url`` fit for messages: no credentials, no query, no token-like path segments.

    Published calendar addresses often carry their secret in the path (Google's
    ``private-<hex>``, Outlook's ``<guid>/<hex>``), not only in the query.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    host = parts.netloc.rpartition("@")[2]
    path = "/".join(_TOKEN.sub("***", segment) for segment in parts.path.split("/"))
    query = "?***" if parts.query else ""
    return f"{parts.scheme}://{host}{path}{query}"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())

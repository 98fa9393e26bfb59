"""HTTP helpers every HTTP provider shares: URLs fit for messages, ``Retry-After``, and the
bounds of one request.

A server calsyncd does not control must not be able to hang a cycle or exhaust memory:

- :func:`deadline` bounds a request *whole* — connect, send, redirects and reading the entire
  answer — by the connection's ``timeout`` (:data:`DEFAULT_TIMEOUT` when unset). httpx's own
  timeouts apply per read, so an answer dripping a byte a second would never end.
- :func:`read_capped` reads an answer as it streams and stops past a size limit, so an answer
  is never larger in memory than the limit (less when the caller parses it on the way).
- :func:`credentials_allowed` says where a connection's credentials may go: its own origin.
- :func:`transport_detail` and :func:`standard_reason` keep what a library or a server says
  about a request from carrying header values (credentials) into messages.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from http import HTTPStatus
from urllib.parse import urlsplit

import anyio
import httpx

from calsyncd.errors import PermanentError, TemporaryError

DEFAULT_TIMEOUT = 60.0
"""Seconds one request may take, whole, when the connection sets no ``timeout``: five times
what Radicale needs to list a 100,000-event calendar (a 30 MB sync REPORT)."""

_MIB = 1024 * 1024
_TOKEN = re.compile(r"(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{16,}")
_QUOTED = re.compile(r"""b?(['"]).*?(?<!\\)\1""")
_DEFAULT_PORTS = {"http": 80, "https": 443}


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


# -- the bounds of one request ----------------------------------------------------------------


def timed_out(what: str, seconds: float, where: str) -> TemporaryError:
    """The error of a request that did not complete within the connection's timeout."""
    return TemporaryError(
        f"{what}: no complete answer within {seconds:g}s (the connection's timeout)",
        where=where,
    )


@asynccontextmanager
async def deadline(seconds: float, what: str, where: str) -> AsyncIterator[None]:
    """Cancel the request made inside after ``seconds`` and raise :class:`TemporaryError`
    naming it (``what``: ``"GET https://host/path"``). Also pass ``httpx.Timeout(seconds)``
    to the request, so that no single phase waits longer either."""
    try:
        with anyio.fail_after(seconds):
            yield
    except TimeoutError:
        raise timed_out(what, seconds, where) from None


def _size(limit: int) -> str:
    return f"{limit} bytes ({limit // _MIB} MiB)" if limit % _MIB == 0 else f"{limit} bytes"


async def read_capped(
    response: httpx.Response,
    limit: int,
    *,
    what: str,
    where: str,
    feed: Callable[[bytes], None] | None = None,
) -> bytes:
    """The body of a streamed ``response``; past ``limit`` bytes (decoded) reading stops with
    :class:`PermanentError` naming the request. With ``feed``, each chunk goes there as it
    arrives instead of being kept, and ``b""`` is returned."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(what, limit, where)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise _too_large(what, limit, where)
        if feed is not None:
            feed(chunk)
        else:
            chunks.append(chunk)
    return b"".join(chunks)


def _too_large(what: str, limit: int, where: str) -> PermanentError:
    return PermanentError(
        f"{what}: answer larger than {_size(limit)}; stopped reading", where=where
    )


# -- credentials and messages -----------------------------------------------------------------


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port


def credentials_allowed(configured: str, url: str) -> bool:
    """Whether a request to ``url`` may carry the credentials of a connection configured
    with URL ``configured``: the same origin (scheme, host, port), or its upgrade from
    ``http`` on port 80 to ``https`` on 443 — the rule httpx applies to redirects."""
    home, there = _origin(configured), _origin(url)
    if home == there:
        return True
    return home == ("http", there[1], 80) and there == ("https", home[1], 443)


def standard_reason(status: int) -> str:
    """The standard reason phrase of ``status`` (``""`` if none). Messages use it rather
    than the server's own, which a careless server fills with what it was sent."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def transport_detail(exc: Exception, url: str, label: str) -> str:
    """What a transport error says, fit for messages: ``url`` shown as ``label``, and
    without the values h11 quotes in protocol errors (an illegal header value is quoted
    whole: it may be a credential)."""
    detail = str(exc).replace(url, label) or type(exc).__name__
    if isinstance(exc, httpx.ProtocolError):
        detail = _QUOTED.sub("(value not shown)", detail)
    return detail

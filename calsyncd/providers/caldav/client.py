"""HTTP for CalDAV over the shared :class:`httpx.AsyncClient`.

One :class:`DavClient` per calendar adds what every request needs: the connection's
credentials (read from their :class:`~pydantic.SecretStr` only here, when a request is sent),
a bound on requests in flight per server, writes (PUT, DELETE) to one server one at a time —
the servers serialise them anyway (Radicale behind one storage lock, Xandikos behind its git
index lock, which refuses a write meeting another with 423), so writes in parallel only
collide —, retries with backoff (honouring ``Retry-After``) on connection errors, 429, 5xx
and 423 (another client's write may hold the lock; every request calsyncd sends is safe to
repeat), redirects followed by hand (httpx would turn a redirected PROPFIND into a GET),
and the translation of HTTP failures into the error tree.

What a server can do to a request is bounded: the connection's ``timeout`` bounds each
attempt whole, answer included (:func:`~calsyncd.providers._http.deadline`; a request that
ran out of time is not retried within the cycle), and no answer is read past
:data:`MAX_ANSWER_BYTES`. A ``207`` answer is parsed while it streams, into the
:class:`~calsyncd.providers.caldav.davxml.Multistatus` the caller chose, which keeps only
what it needs. Credentials go only to the connection's own origin (scheme, host, port of
its ``url``; an upgrade from ``http`` to ``https`` on the same host counts as the same):
a redirect or an href leading elsewhere is followed without them, and a warning says so
once per origin. Messages use the standard reason phrase of a status, never the server's.
"""

from __future__ import annotations

import base64
import contextlib
import random
import re
import weakref
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import anyio
import httpx
import structlog
from pydantic import SecretStr

from calsyncd.errors import (
    AuthError,
    CalendarNotFound,
    PermanentError,
    ProviderError,
    RateLimited,
    TemporaryError,
)
from calsyncd.log import register_secrets
from calsyncd.providers._http import (
    DEFAULT_TIMEOUT,
    credentials_allowed,
    deadline,
    parse_retry_after,
    read_capped,
    standard_reason,
    timed_out,
    transport_detail,
)
from calsyncd.providers.caldav import davxml

log = structlog.get_logger("calsyncd.caldav")

XML = "application/xml; charset=utf-8"
MAX_ANSWER_BYTES = 64 * 1024 * 1024
"""The most calsyncd reads of one answer. A sync REPORT listing 100,000 events is about
30 MB (267 bytes a member on Radicale, 301 on Xandikos; longer hrefs elsewhere), so this
leaves twice that; a calendar-multiget answer holds 200 events at most."""
_REDIRECTS = frozenset({301, 302, 307, 308})
_MAX_REDIRECTS = 5
_RETRIED = frozenset({423, 429, 500, 502, 503, 504})
"""Throttling and server trouble. Xandikos answers a write that meets another write holding
its git index lock with 423 (PUT) or 500 (DELETE): both pass when tried again."""

_limiters: weakref.WeakKeyDictionary[httpx.AsyncClient, dict[str, anyio.CapacityLimiter]] = (
    weakref.WeakKeyDictionary()
)
"""Per shared client (one per process and event loop), one limiter per server origin."""

_write_turns: weakref.WeakKeyDictionary[httpx.AsyncClient, dict[str, anyio.Lock]] = (
    weakref.WeakKeyDictionary()
)
"""Per shared client, one lock per server origin that its writes take turns on."""
_WRITES = frozenset({"PUT", "DELETE"})


@dataclass(frozen=True, slots=True)
class Retry:
    """How often and how long to retry a throttled or failed request.

    A ``Retry-After`` longer than ``max_wait`` is not slept through: the request fails with
    :class:`RateLimited` carrying it, so the supervisor backs the rule off instead.
    """

    attempts: int = 4
    base: float = 0.5
    cap: float = 8.0
    max_wait: float = 60.0

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter for retry number ``attempt`` (0-based)."""
        return random.uniform(0, min(self.cap, self.base * 2**attempt))


_SENDABLE_TOKEN = re.compile(r"[\x21-\x7e]+")
"""A bearer token an HTTP header can carry: visible ASCII, no space, no line break."""


class Auth:
    """A connection's credentials: Basic (username + password), Bearer (token) or none."""

    def __init__(
        self,
        username: str | None = None,
        password: SecretStr | None = None,
        token: SecretStr | None = None,
    ) -> None:
        self._username = username
        self._password = password
        self._token = token
        self._header: str | None = None

    @property
    def kind(self) -> str:
        if self._token is not None:
            return "bearer"
        return "basic" if self._password is not None else "none"

    def header(self) -> str | None:
        """The ``Authorization`` value; the only place a secret is read.

        The forms it derives (the header value; Basic's Base64 ``user:password``) are
        registered with the log scrubber. A credential no header can carry raises
        :class:`AuthError` saying why, never showing it (callers add ``where``).
        """
        if self._header is None and self.kind != "none":
            self._header = self._build()
        return self._header

    def _build(self) -> str:
        if self._token is not None:
            token = self._token.get_secret_value()
            if not _SENDABLE_TOKEN.fullmatch(token):
                raise AuthError(
                    "the token cannot be sent in an HTTP header: it is empty or holds a "
                    "space, line break, control or non-ASCII character"
                )
            value = f"Bearer {token}"
            register_secrets([value])
            return value
        assert self._password is not None
        pair = f"{self._username or ''}:{self._password.get_secret_value()}"
        try:
            encoded = base64.b64encode(pair.encode("utf-8")).decode("ascii")
        except UnicodeEncodeError:
            raise AuthError("the username or password is not valid Unicode text") from None
        value = f"Basic {encoded}"
        register_secrets([encoded, value])
        return value

    def __repr__(self) -> str:
        return f"Auth({self.kind})"


def label(url: str) -> str:
    """``url`` fit for messages: no user info, no query, no fragment."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}" if host else parts.path


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}".lower()


M = TypeVar("M", bound=davxml.Multistatus)


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer: status, headers, body, and the URL that gave it (after redirects).

    A ``207`` to a request made with ``listing`` has no ``body``: it was parsed as it came,
    into ``multistatus``. ``reason`` is the status's standard phrase, not the server's.
    """

    status: int
    reason: str
    headers: httpx.Headers
    body: bytes
    url: str
    multistatus: davxml.Multistatus | None = None

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag") or None

    def folded(self, kind: type[M]) -> M:
        """The parsed multistatus, as the ``listing`` of the request (a ``kind``) kept it."""
        if not isinstance(self.multistatus, kind):
            raise TypeError(f"HTTP {self.status} answer holds no {kind.__name__}")
        return self.multistatus


class DavClient:
    """Sends requests for one calendar; see the module docstring."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        where: str,
        home: str,
        auth: Auth | None = None,
        timeout: float | None = None,
        max_concurrency: int = 4,
        retry: Retry | None = None,
        max_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.http = http
        self.where = where
        self.home = home
        """The connection's URL: credentials go to its origin only."""
        self.auth = auth or Auth()
        self.timeout = timeout or DEFAULT_TIMEOUT
        self.max_concurrency = max_concurrency
        self.retry = retry or Retry()
        self.max_bytes = max_bytes
        self._withheld: set[str] = set()

    def _limiter(self, url: str) -> anyio.CapacityLimiter:
        per_origin = _limiters.setdefault(self.http, {})
        key = origin(url)
        limiter = per_origin.get(key)
        if limiter is None:
            limiter = per_origin[key] = anyio.CapacityLimiter(self.max_concurrency)
        return limiter

    async def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        accept: Collection[int] = (),
        follow: bool = False,
        listing: Callable[[], davxml.Multistatus] | None = None,
    ) -> Answer:
        """Send a request; answers that are 2xx or in ``accept`` are returned, others raise.

        With ``follow`` redirects are followed with the same method and body (discovery).
        With ``listing``, a ``207`` answer is parsed as it streams into a new
        ``listing()`` (see :meth:`Answer.folded`).
        """
        for _ in range(_MAX_REDIRECTS + 1):
            answer = await self._with_retries(method, url, body, headers, listing)
            if not follow or answer.status not in _REDIRECTS:
                break
            url = self._redirect_target(method, answer)
        else:
            raise PermanentError(f"{method} {label(url)}: too many redirects", where=self.where)
        if listing is not None and 200 <= answer.status < 300 and answer.status != 207:
            raise TemporaryError(
                f"{method} {label(answer.url)}: HTTP {answer.status} where a 207 Multi-Status "
                "was expected",
                where=self.where,
            )
        if answer.status in accept or 200 <= answer.status < 300:
            return answer
        raise self.status_error(method, answer)

    def _redirect_target(self, method: str, answer: Answer) -> str:
        location = answer.headers.get("location")
        if not location:
            raise PermanentError(
                f"{method} {label(answer.url)}: HTTP {answer.status} without Location",
                where=self.where,
            )
        target = str(urljoin(answer.url, location))
        if urlsplit(answer.url).scheme == "https" and urlsplit(target).scheme != "https":
            raise PermanentError(
                f"{method} {label(answer.url)}: refusing a redirect from https to {label(target)}",
                where=self.where,
            )
        return target

    async def _with_retries(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str] | None,
        listing: Callable[[], davxml.Multistatus] | None,
    ) -> Answer:
        last = self.retry.attempts - 1
        for attempt in range(self.retry.attempts):
            try:
                answer = await self._send(method, url, body, headers, listing)
            except httpx.TimeoutException:
                raise timed_out(f"{method} {label(url)}", self.timeout, self.where) from None
            except (httpx.TransportError, httpx.InvalidURL) as exc:
                if attempt == last or not _transient(exc):
                    raise self.transport_error(method, url, exc) from exc
                await self._pause(method, url, attempt, None, type(exc).__name__)
                continue
            if answer.status not in _RETRIED or attempt == last:
                return answer
            wait = parse_retry_after(answer.headers.get("retry-after"))
            if wait is not None and wait > self.retry.max_wait:
                return answer
            await self._pause(method, url, attempt, wait, f"HTTP {answer.status}")
        raise AssertionError("unreachable")  # pragma: no cover

    def _write_turn(self, url: str) -> anyio.Lock:
        per_origin = _write_turns.setdefault(self.http, {})
        return per_origin.setdefault(origin(url), anyio.Lock())

    async def _pause(
        self, method: str, url: str, attempt: int, wait: float | None, why: str
    ) -> None:
        delay = wait if wait is not None else self.retry.backoff(attempt)
        log.info(
            "caldav request retried",
            where=self.where,
            method=method,
            url=label(url),
            reason=why,
            attempt=attempt + 1,
            delay=round(delay, 3),
        )
        await anyio.sleep(delay)

    def _authorization(self, url: str) -> str | None:
        """The ``Authorization`` value for a request to ``url``: none to another origin."""
        if self.auth.kind == "none":
            return None
        if not credentials_allowed(self.home, url):
            there = origin(url)
            if there not in self._withheld:
                self._withheld.add(there)
                log.warning(
                    "caldav credentials withheld",
                    where=self.where,
                    url=label(url),
                    reason=f"{there} is not the connection's origin {origin(self.home)}",
                )
            return None
        try:
            return self.auth.header()
        except AuthError as exc:
            raise AuthError(str(exc), where=self.where) from None

    async def _send(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str] | None,
        listing: Callable[[], davxml.Multistatus] | None,
    ) -> Answer:
        sent = dict(headers or {})
        authorization = self._authorization(url)
        if authorization is not None:
            sent["Authorization"] = authorization
        what = f"{method} {label(url)}"
        turn = self._write_turn(url) if method in _WRITES else contextlib.nullcontext()
        try:
            request = self.http.build_request(
                method, url, content=body, headers=sent, timeout=httpx.Timeout(self.timeout)
            )
        except UnicodeEncodeError:
            raise PermanentError(
                f"{what}: a request header is not ASCII (value not shown)", where=self.where
            ) from None
        async with turn, self._limiter(url), deadline(self.timeout, what, self.where):
            response = await self.http.send(request, stream=True, follow_redirects=False)
            try:
                into = listing() if listing is not None and response.status_code == 207 else None
                data = await self._read(response, what, into)
            finally:
                await response.aclose()
        return Answer(
            status=response.status_code,
            reason=standard_reason(response.status_code),
            headers=response.headers,
            body=data,
            url=str(response.url),
            multistatus=into,
        )

    async def _read(
        self, response: httpx.Response, what: str, into: davxml.Multistatus | None
    ) -> bytes:
        """The body, or ``b""`` once parsed into ``into``; both bounded in size."""
        if into is None:
            return await read_capped(response, self.max_bytes, what=what, where=self.where)
        reader = davxml.MultistatusReader(into)
        try:
            await read_capped(
                response, self.max_bytes, what=what, where=self.where, feed=reader.feed
            )
            reader.close()
        except davxml.XmlError as exc:
            raise TemporaryError(f"{what}: unreadable answer: {exc}", where=self.where) from None
        return b""

    # -- errors ----------------------------------------------------------------------------

    def status_error(self, method: str, answer: Answer) -> ProviderError:
        """The error-tree exception for an answer the caller did not expect."""
        code = answer.status
        message = f"{method} {label(answer.url)}: HTTP {code} {answer.reason}".rstrip()
        retry_after = parse_retry_after(answer.headers.get("retry-after"))
        if (
            code == 401
            and self.auth.kind != "none"
            and not credentials_allowed(self.home, answer.url)
        ):
            return AuthError(
                f"{message}: {origin(answer.url)} asks for credentials, which calsyncd sends "
                f"only to the connection's origin {origin(self.home)}; if that server is the "
                "same service, make it the connection's url",
                where=self.where,
            )
        if code == 401:
            return AuthError(
                f"{message}: the server refused the credentials ({self.auth.kind} auth); "
                "check the connection's username and password or token",
                where=self.where,
            )
        if code == 403:
            return AuthError(f"{message}: access denied", where=self.where)
        if code in (404, 410):
            return CalendarNotFound(f"{message}: no such calendar or resource", where=self.where)
        if code == 429 or (code == 503 and retry_after is not None):
            return RateLimited(message, where=self.where, retry_after=retry_after)
        if code >= 500 or code in (408, 423):
            return TemporaryError(message, where=self.where, retry_after=retry_after)
        return PermanentError(message, where=self.where)

    def transport_error(self, method: str, url: str, exc: Exception) -> ProviderError:
        message = f"{method} {label(url)}: {transport_detail(exc, url, label(url))}"
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
            return PermanentError(message, where=self.where)
        return TemporaryError(message, where=self.where)


def _transient(exc: Exception) -> bool:
    return not isinstance(
        exc,
        httpx.UnsupportedProtocol | httpx.ProxyError | httpx.InvalidURL | httpx.LocalProtocolError,
    )

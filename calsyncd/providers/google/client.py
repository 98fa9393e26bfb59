"""The HTTP side of the Google provider: one request at a time, retried, errors translated.

google-api-python-client is synchronous (httplib2), and an httplib2 connection must not be
shared between threads. So one service object, built from the discovery document the library
ships (``client_options={"api_endpoint": base_url}``, no network), only *builds* requests;
each attempt runs in a worker thread (``anyio.to_thread``, bounded by the client's
:class:`~anyio.CapacityLimiter`) on an ``AuthorizedHttp`` of its own from a small pool. The
wait between attempts is an ``anyio.sleep`` on the event loop: cancellable, holding no
thread.

httplib2's ``timeout`` applies to each socket operation, so an answer dripping a byte at a
time would never end, and a worker thread cannot be cancelled. So the connection's
``timeout`` bounds each attempt whole on the event loop: when it runs out (or the cycle is
cancelled, e.g. at shutdown) the attempt is abandoned and its sockets are shut down, which
ends the thread's blocked read (:mod:`.inflight`); a timed-out attempt is a
:class:`~calsyncd.errors.TemporaryError` naming the operation, not retried here.

Retried (:class:`RetryPolicy`): 429, 403 ``rateLimitExceeded``/``userRateLimitExceeded``,
5xx and connection errors, honouring ``Retry-After``. 403 ``quotaExceeded`` (the per-user
usage limit) is not retried: it becomes :class:`~calsyncd.errors.RateLimited` with a long
``retry_after`` so the supervisor backs the rule off. Any other error answer becomes
:class:`ApiError` for the calendar to translate (404 on a listing means something else than
on an event). Messages name the operation and Google's reason, never a URL or a token.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
import google.auth.exceptions
import google_auth_httplib2
import httplib2
import structlog
from googleapiclient import discovery_cache
from googleapiclient.discovery import build_from_document
from googleapiclient.errors import HttpError

from calsyncd.errors import AuthError, RateLimited, TemporaryError
from calsyncd.providers._http import parse_retry_after
from calsyncd.providers.google.credentials import Credentials, shared_credentials
from calsyncd.providers.google.inflight import Abandoned, Http, InFlight

log = structlog.get_logger("calsyncd.providers.google")

DEFAULT_BASE_URL = "https://www.googleapis.com/calendar/v3/"
DEFAULT_TIMEOUT = 60.0
RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

Build = Callable[[Any], Any]
"""Makes one ``HttpRequest`` from the service object (``lambda s: s.events().get(...)``)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry a request that may succeed later.

    Waits grow as ``base·2ⁿ`` (capped at ``cap``, with jitter) unless the server says
    ``Retry-After``; a server asking for more than ``max_retry_after`` seconds is not waited
    for here — the error goes up with that ``retry_after`` for the supervisor to honour.
    """

    attempts: int = 6
    base: float = 1.0
    cap: float = 32.0
    max_retry_after: float = 120.0
    quota_backoff: float = 3600.0

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait after failed attempt number ``attempt``; ``None``: give up."""
        if attempt >= self.attempts:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        ceiling = min(self.cap, self.base * 2.0 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


DEFAULT_RETRY = RetryPolicy()


class ApiError(Exception):
    """An error answer that is not retried here; the caller translates it."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(message)


class _Retry(Exception):
    """One attempt failed in a way a later attempt may not (internal)."""

    def __init__(self, message: str, *, rate: bool, retry_after: float | None = None) -> None:
        self.rate = rate
        self.retry_after = retry_after
        super().__init__(message)


def error_details(content: bytes) -> tuple[str, str]:
    """``(reason, message)`` of a Google JSON error body (``("", "")`` if it is none)."""
    try:
        error = json.loads(content.decode("utf-8"))["error"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return "", ""
    if not isinstance(error, dict):
        return "", str(error)
    errors = error.get("errors")
    reason = ""
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        reason = str(errors[0].get("reason", ""))
    return reason or str(error.get("status", "")), str(error.get("message", ""))


def service_root(base_url: str) -> str:
    """``base_url`` with one trailing slash (the library joins paths onto it)."""
    return base_url.rstrip("/") + "/"


class GoogleClient:
    """Requests against one Google account (one connection); safe to share between tasks."""

    def __init__(
        self,
        credentials_path: Path,
        *,
        where: str,
        subject: str | None = None,
        auth_url: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_concurrency: int = 4,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.where = where
        self.retry = retry or DEFAULT_RETRY
        self.limiter = anyio.CapacityLimiter(max_concurrency)
        self._path = Path(credentials_path)
        self._subject = subject
        self._auth_url = auth_url
        self._base_url = service_root(base_url or DEFAULT_BASE_URL)
        self._timeout = timeout or DEFAULT_TIMEOUT
        self._lock = threading.Lock()
        self._auth_lock = threading.Lock()
        self._credentials: Credentials | None = None
        self._service: Any = None
        self._pool: list[Any] = []
        self._closed = False

    @property
    def base_url(self) -> str:
        """The API base requests go to (ends with ``/``)."""
        return self._base_url

    # -- the pieces, made on first use in a worker thread ------------------------------------

    def _setup(self) -> tuple[Credentials, Any]:
        with self._lock:
            if self._credentials is None:
                self._credentials = shared_credentials(
                    self._path, subject=self._subject, auth_url=self._auth_url, where=self.where
                )
            if self._service is None:
                document = discovery_cache.get_static_doc("calendar", "v3")
                self._service = build_from_document(
                    document,
                    http=httplib2.Http(),  # never used: every request runs on a pooled one
                    client_options={"api_endpoint": self._base_url},
                )
            return self._credentials, self._service

    def _new_http(self, credentials: Credentials) -> Any:
        host = urlsplit(self._base_url).hostname or ""
        proxy: Any = None if host in _LOOPBACK else httplib2.proxy_info_from_environment
        return google_auth_httplib2.AuthorizedHttp(
            credentials, http=Http(timeout=self._timeout, proxy_info=proxy)
        )

    def _acquire(self, credentials: Credentials) -> Any:
        with self._lock:
            if self._pool:
                return self._pool.pop()
        return self._new_http(credentials)

    def _release(self, authed: Any, *, broken: bool) -> None:
        with self._lock:
            if not broken and not self._closed:
                self._pool.append(authed)
                return
        authed.close()

    def _ensure_token(self, credentials: Credentials, authed: Any) -> None:
        """Refresh an expired access token once, not once per thread."""
        with self._auth_lock:
            if not credentials.valid:
                credentials.refresh(google_auth_httplib2.Request(authed.http))

    # -- one attempt (worker thread) ---------------------------------------------------------

    def _attempt(self, build: Build, headers: Mapping[str, str] | None, in_flight: InFlight) -> Any:
        credentials, service = self._setup()
        authed = self._acquire(credentials)
        broken = False
        try:
            with in_flight.running(authed.http):
                self._ensure_token(credentials, authed)
                request = build(service)
                if headers:
                    request.headers.update(headers)
                return request.execute(http=authed, num_retries=0)
        except Abandoned:
            raise _Retry("abandoned before it started", rate=False) from None
        except HttpError as exc:
            raise self._classify(exc) from None
        except google.auth.exceptions.RefreshError as exc:
            if getattr(exc, "retryable", False):
                raise _Retry(f"token refresh failed: {exc}", rate=False) from None
            raise AuthError(f"Google refused the credentials: {exc}", where=self.where) from None
        except google.auth.exceptions.TransportError as exc:
            broken = True
            raise _Retry(f"token endpoint unreachable: {exc}", rate=False) from None
        except (OSError, http.client.HTTPException, httplib2.HttpLib2Error) as exc:
            broken = True
            raise _Retry(f"connection failed: {type(exc).__name__}: {exc}", rate=False) from None
        finally:
            self._release(authed, broken=broken or in_flight.aborted)

    def _classify(self, exc: HttpError) -> Exception:
        status = int(exc.resp.status)
        reason, message = error_details(exc.content or b"")
        text = (
            f"HTTP {status}"
            + (f" {reason}" if reason else "")
            + (f": {message}" if message else "")
        )
        retry_after = parse_retry_after(exc.resp.get("retry-after"))
        if status == 429 or (status == 403 and reason in RATE_LIMIT_REASONS):
            return _Retry(text, rate=True, retry_after=retry_after)
        if status >= 500 and status != 501:
            return _Retry(
                text, rate=status == 503 and retry_after is not None, retry_after=retry_after
            )
        if status == 403 and reason == "quotaExceeded":
            hours = self.retry.quota_backoff / 3600
            return RateLimited(
                f"Google Calendar usage limit exceeded for this account ({text});"
                f" backing off for {hours:g} h",
                where=self.where,
                retry_after=self.retry.quota_backoff,
            )
        if status == 401:
            return AuthError(f"Google refused the credentials ({text})", where=self.where)
        return ApiError(status, reason, text)

    # -- the async face ----------------------------------------------------------------------

    async def call(
        self, what: str, build: Build, *, headers: Mapping[str, str] | None = None
    ) -> Any:
        """Run one API request (retrying what may succeed later); its decoded JSON answer.

        ``what`` names the operation in messages (``events.patch``). Raises
        :class:`ApiError` for answers the caller must interpret, and the error tree's
        ``TemporaryError``/``RateLimited``/``AuthError`` otherwise.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._bounded(what, build, headers)
            except _Retry as failure:
                delay = self.retry.delay(attempt, failure.retry_after)
                if delay is None:
                    raise self._gave_up(what, failure, attempt) from None
                log.info(
                    "google request retried",
                    where=self.where,
                    operation=what,
                    problem=str(failure),
                    attempt=attempt,
                    delay=round(delay, 3),
                )
                await anyio.sleep(delay)

    async def _bounded(self, what: str, build: Build, headers: Mapping[str, str] | None) -> Any:
        """One attempt in a worker thread, abandoned and cut off at the timeout or when
        cancelled; waiting for a turn (``max_concurrency``) does not count."""
        in_flight = InFlight()
        async with self.limiter:
            try:
                with anyio.fail_after(self._timeout):
                    try:
                        return await anyio.to_thread.run_sync(
                            self._attempt, build, headers, in_flight, abandon_on_cancel=True
                        )
                    except BaseException:
                        in_flight.abort()
                        raise
            except TimeoutError:
                raise TemporaryError(
                    f"{what}: no complete answer within {self._timeout:g}s "
                    "(the connection's timeout)",
                    where=self.where,
                ) from None

    def _gave_up(self, what: str, failure: _Retry, attempts: int) -> TemporaryError:
        message = f"{what}: {failure} (after {attempts} attempts)"
        if failure.rate:
            return RateLimited(message, where=self.where, retry_after=failure.retry_after)
        return TemporaryError(message, where=self.where, retry_after=failure.retry_after)

    def close(self) -> None:
        """Close every pooled connection (idempotent; blocking only briefly)."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, []
        for authed in pool:
            authed.close()

"""The read-only ICS feed: an ``http(s)://`` URL (conditional GET with the previous answer's
``ETag``/``Last-Modified``) or a file (a path or ``file://`` URL).

The cursor carries the download's validators (HTTP validators and a body hash, or the file's
stat etag and body hash) plus the ``{uid: etag}`` map of the previous listing; a body that did
not change is not parsed again.

A feed is someone else's document: it is read only up to :data:`MAX_FEED_BYTES` and
:data:`MAX_FEED_EVENTS` (settable per connection, ``max_size`` and ``max_events``). Reading
costs a few bytes of memory per byte of feed; what a cycle then costs is mostly per event —
both sides' objects, the pairs, the plan — so the count is bounded as well as the bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import anyio.to_thread
import httpx

from calsyncd.errors import (
    AuthError,
    CalendarNotFound,
    MalformedObject,
    PermanentError,
    ProviderError,
    RateLimited,
    TemporaryError,
)
from calsyncd.model.budget import in_worker_thread
from calsyncd.providers import _files
from calsyncd.providers._files import os_errors
from calsyncd.providers._http import (
    DEFAULT_TIMEOUT,
    deadline,
    parse_retry_after,
    read_capped,
    redact_url,
    standard_reason,
    timed_out,
    transport_detail,
)
from calsyncd.providers.base import Calendar, Capabilities, Changes, Item, Window
from calsyncd.providers.ics.snapshot import Snapshot, TooManyEvents, not_ical, read_snapshot

__all__ = ["MAX_FEED_BYTES", "MAX_FEED_EVENTS", "IcsFeed", "http_status_error"]

MAX_FEED_BYTES = 6 * 1024 * 1024
"""The largest feed read. Measured with ``calsyncd sync``, a feed of ordinary events costs
about 5 bytes of RSS per byte when few of its events are in the window, and a feed at this
cap with every event in the window (the cycle after the first, which reads every new copy
back) some 270 MiB: the daemon stays under 300 MiB."""
MAX_FEED_EVENTS = 10_000
"""The most events (UIDs) a feed may hold. A cycle costs some 10 KiB per event in the window
whatever its size: a few bytes each, 6 MiB would be 100,000 events and over a GiB."""
_FEED_KIND = "icsfeed"


def http_status_error(response: httpx.Response, *, where: str, label: str) -> ProviderError:
    """The error-tree exception for a non-success HTTP answer."""
    code = response.status_code
    message = f"GET {label}: HTTP {code} {standard_reason(code)}".rstrip()
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if code in (401, 403):
        return AuthError(message, where=where)
    if code in (404, 410):
        return CalendarNotFound(message, where=where)
    if code == 429 or (code == 503 and retry_after is not None):
        return RateLimited(message, where=where, retry_after=retry_after)
    if code >= 500 or code == 408:
        return TemporaryError(message, where=where, retry_after=retry_after)
    return PermanentError(message, where=where)


def _file_source(source: str) -> Path | None:
    """The path of a file source; ``None`` for ``http(s)://``; other schemes are refused."""
    scheme = urlsplit(source).scheme.lower()
    if scheme in ("http", "https"):
        return None
    if scheme == "file":
        return Path(url2pathname(unquote(urlsplit(source).path)))
    if "://" in source:
        raise PermanentError(f"unsupported feed URL scheme {scheme!r}")
    return Path(source)


# -- the read-only feed -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Fetched:
    """A download: the body, or ``None`` when the document did not change since ``validators``
    of the request; ``validators`` are those to send next time (``sha``: the body hash)."""

    body: bytes | None
    validators: dict[str, str]


class IcsFeed(Calendar):
    """A read-only ICS feed from an ``http(s)://`` URL, a ``file://`` URL or a file path.

    ``http`` is the shared client to fetch with; without one the feed makes (and closes) its
    own. Messages name the URL without credentials or secrets.
    """

    capabilities = Capabilities(
        read_only=True, incremental=True, series=True, markers=True, max_concurrency=1
    )

    def __init__(
        self,
        source: str,
        *,
        where: str,
        http: httpx.AsyncClient | None = None,
        max_bytes: int = MAX_FEED_BYTES,
        max_events: int = MAX_FEED_EVENTS,
        timeout: float | None = None,
    ) -> None:
        super().__init__(where)
        try:
            self._path = _file_source(source)
        except PermanentError as exc:
            raise PermanentError(str(exc), where=where) from None
        self._url = source
        self._label = str(self._path) if self._path is not None else redact_url(source)
        self._http = http
        self._own_http: httpx.AsyncClient | None = None
        self._max_bytes = max_bytes
        self._max_events = max_events
        self._timeout = timeout or DEFAULT_TIMEOUT
        self._tag = _files.source_tag(source)
        self._snapshot: Snapshot | None = None
        self._validators: dict[str, str] = {}

    async def aclose(self) -> None:
        if self._own_http is not None:
            client, self._own_http = self._own_http, None
            await client.aclose()

    async def list_changes(self, cursor: str | None, window: Window | None = None) -> Changes:
        previous = self._decode(cursor)
        fetched = await self._download(previous[0] if previous else None)
        if fetched.body is None and previous is not None:
            return Changes([], self._cursor(fetched.validators, previous[1]), full=False)
        snapshot = await self._parse(fetched)
        cursor = self._cursor(fetched.validators, snapshot.seen)
        return snapshot.changes(previous[1] if previous else None, cursor)

    async def get(self, item_id: str) -> Item:
        cached = self._snapshot
        fetched = await self._download(self._validators if cached is not None else None)
        snapshot = cached if fetched.body is None and cached is not None else None
        if snapshot is None:
            snapshot = await self._parse(fetched)
        return snapshot.find(item_id, where=self.where, label=self._label)

    def _cursor(self, validators: Mapping[str, str], seen: Mapping[str, str]) -> str:
        payload = {"src": self._tag, "val": dict(validators), "uids": dict(seen)}
        return _files.encode_cursor(_FEED_KIND, payload)

    def _decode(self, cursor: str | None) -> tuple[dict[str, str], dict[str, str]] | None:
        payload = _files.decode_cursor(_FEED_KIND, cursor)
        if payload is None or payload.get("src") != self._tag:
            return None
        validators, seen = _files.str_map(payload.get("val")), _files.str_map(payload.get("uids"))
        if validators is None or seen is None:
            return None
        return validators, seen

    async def _parse(self, fetched: _Fetched) -> Snapshot:
        """The snapshot of a downloaded body, re-using the cached one for identical bytes."""
        sha = fetched.validators["sha"]
        cached = self._snapshot
        if cached is None or cached.version != sha:
            if fetched.body is None:  # pragma: no cover - a 304 to an unconditional GET
                raise TemporaryError(f"GET {self._label}: unexpected 304", where=self.where)
            try:
                cached = await in_worker_thread(
                    _feed_snapshot, fetched.body, self._label, sha, self._max_events
                )
            except MalformedObject as exc:
                raise not_ical(self._label, exc, self.where) from exc
            except TooManyEvents as exc:
                raise PermanentError(
                    f"{self._label}: {exc.args[0]} events, more than {self._max_events}; "
                    "not read (raise max_events to read it)",
                    where=self.where,
                ) from None
        self._snapshot, self._validators = cached, fetched.validators
        return cached

    async def _download(self, validators: Mapping[str, str] | None) -> _Fetched:
        if self._path is not None:
            return await anyio.to_thread.run_sync(self._read_file, validators)
        fetched = await self._get(validators)
        if (
            fetched.body is not None
            and validators
            and validators.get("sha") == fetched.validators["sha"]
        ):
            return _Fetched(None, fetched.validators)  # new validators, same bytes
        return fetched

    def _read_file(self, validators: Mapping[str, str] | None) -> _Fetched:
        path = self._path
        assert path is not None
        with os_errors(self.where, path):
            try:
                st = path.stat()
                stat = _files.stat_etag(st)
                if validators and validators.get("stat") == stat:
                    return _Fetched(None, dict(validators))
                if st.st_size > self._max_bytes:
                    raise PermanentError(
                        f"{path}: feed larger than {_size(self._max_bytes)}; not read "
                        "(raise max_size to read it)",
                        where=self.where,
                    )
                data, stat = _files.read_versioned(path)
            except FileNotFoundError as exc:
                raise CalendarNotFound(f"{path} does not exist", where=self.where) from exc
        sha = hashlib.sha256(data).hexdigest()
        unchanged = validators is not None and validators.get("sha") == sha
        return _Fetched(None if unchanged else data, {"stat": stat, "sha": sha})

    async def _get(self, validators: Mapping[str, str] | None) -> _Fetched:
        """One conditional GET, bounded whole (redirects and body included) by the
        connection's timeout. A validator no header can carry (a server sent a non-ASCII
        ``ETag``) is not sent back: the GET is then unconditional."""
        headers = {}
        if validators:
            if "etag" in validators:
                headers["If-None-Match"] = validators["etag"]
            if "lm" in validators:
                headers["If-Modified-Since"] = validators["lm"]
        headers = {name: value for name, value in headers.items() if value.isascii()}
        what = f"GET {self._label}"
        try:
            async with (
                deadline(self._timeout, what, self.where),
                self._client().stream(
                    "GET",
                    self._url,
                    headers=headers,
                    follow_redirects=True,
                    timeout=httpx.Timeout(self._timeout),
                ) as response,
            ):
                if response.status_code == 304 and validators:
                    return _Fetched(None, dict(validators))
                if not response.is_success:
                    raise http_status_error(response, where=self.where, label=self._label)
                body = await self._read_capped(response)
        except httpx.TimeoutException:
            raise timed_out(what, self._timeout, self.where) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self._transport_error(exc) from exc
        return _Fetched(body, _validators(response, body))

    def _client(self) -> httpx.AsyncClient:
        if self._http is not None:
            return self._http
        if self._own_http is None:
            self._own_http = httpx.AsyncClient(timeout=httpx.Timeout(30.0))
        return self._own_http

    async def _read_capped(self, response: httpx.Response) -> bytes:
        return await read_capped(
            response, self._max_bytes, what=f"GET {self._label}", where=self.where
        )

    def _transport_error(self, exc: Exception) -> ProviderError:
        message = f"GET {self._label}: {transport_detail(exc, self._url, self._label)}"
        if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol | httpx.TooManyRedirects):
            return PermanentError(message, where=self.where)
        return TemporaryError(message, where=self.where)


def _validators(response: httpx.Response, body: bytes) -> dict[str, str]:
    found = {"etag": response.headers.get("etag"), "lm": response.headers.get("last-modified")}
    validators = {k: v for k, v in found.items() if v}
    validators["sha"] = hashlib.sha256(body).hexdigest()
    return validators


def _size(limit: int) -> str:
    mib = 1024 * 1024
    return f"{limit} bytes ({limit // mib} MiB)" if limit % mib == 0 else f"{limit} bytes"


def _feed_snapshot(body: bytes, label: str, sha: str, max_events: int) -> Snapshot:
    return read_snapshot(body, label=label, version=sha, max_events=max_events)

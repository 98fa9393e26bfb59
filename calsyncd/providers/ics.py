"""The ``ics`` provider: one iCalendar document as a calendar.

- :class:`IcsFeed` reads a feed, read-only: an ``http(s)://`` URL (conditional GET with the
  previous answer's ``ETag``/``Last-Modified``) or a file (a path or ``file://`` URL).
- :class:`IcsFile` is a writable single file (e.g. a published busy feed) that every write
  rewrites whole, atomically. It is calsyncd's to write: what the codec does not model (to-dos,
  unknown components) does not survive a rewrite, so writes are refused while the file holds
  objects that cannot be read. It is *published* (others read it): the engine writes only
  anonymous copies into it.

In both the item id is the UID and the etag a hash of the object's serialization, so a
changed document yields exactly the UIDs whose objects changed. The cursor carries what
identifies the document version (HTTP validators and a body hash, or the file's stat etag)
plus the ``{uid: etag}`` map of the previous listing.

A feed is someone else's document: it is read only up to :data:`MAX_FEED_BYTES` and
:data:`MAX_FEED_EVENTS` (settable per connection, ``max_size`` and ``max_events``). Reading
costs a few bytes of memory per byte of feed; what a cycle then costs is mostly per event —
both sides' objects, the pairs, the plan — so the count is bounded as well as the bytes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import anyio.to_thread
import httpx
import structlog

from calsyncd.errors import (
    AuthError,
    CalendarNotFound,
    MalformedObject,
    NotFound,
    PermanentError,
    PreconditionFailed,
    ProviderError,
    RateLimited,
    TemporaryError,
)
from calsyncd.model.budget import in_worker_thread
from calsyncd.model.components import content_lines
from calsyncd.model.event import CalendarObject
from calsyncd.model.ical import parse_calendar, serialize_calendar, serialize_object
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
from calsyncd.providers.base import Calendar, Capabilities, Changes, Item, Skipped, Window

log = structlog.get_logger("calsyncd.providers.ics")

MAX_FEED_BYTES = 6 * 1024 * 1024
"""The largest feed read. Measured with ``calsyncd sync``, a feed of ordinary events costs
about 5 bytes of RSS per byte when few of its events are in the window, and a feed at this
cap with every event in the window (the cycle after the first, which reads every new copy
back) some 270 MiB: the daemon stays under 300 MiB."""
MAX_FEED_EVENTS = 10_000
"""The most events (UIDs) a feed may hold. A cycle costs some 10 KiB per event in the window
whatever its size: a few bytes each, 6 MiB would be 100,000 events and over a GiB."""
_FEED_KIND = "icsfeed"
_FILE_KIND = "icsfile"


# -- the parsed document ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """One parsed version of the document.

    ``version`` identifies it (body hash or stat etag); ``seen`` is the ``{uid: etag}`` map a
    cursor carries, with unreadable UIDs as :data:`_files.SKIPPED`.
    """

    version: str
    items: dict[str, Item]
    skipped: list[Skipped]
    seen: dict[str, str]
    name: str | None = None

    def changes(self, previous: Mapping[str, str] | None) -> tuple[list[Item], list[str]]:
        """Items new or changed since ``previous`` and UIDs deleted since (all for ``None``)."""
        changed, deleted = _files.diff_ids(previous, self.seen)
        return [self.items[uid] for uid in changed if uid in self.items], deleted

    def find(self, uid: str, *, where: str, label: str) -> Item:
        if uid in self.items:
            return self.items[uid]
        for skip in self.skipped:
            if skip.id == uid:
                raise MalformedObject(skip.reason, where=where, item=uid)
        raise NotFound(f"{label}: no object with UID {uid!r}", where=where, item=uid)


_EMPTY = _Snapshot(version=_files.ABSENT, items={}, skipped=[], seen={})


def object_etag(obj: CalendarObject) -> str:
    """The etag of one object of a document: a hash of its (deterministic) serialization.

    Not :func:`~calsyncd.model.hashing.content_hash`: that leaves out the marker, unknown
    properties and SEQUENCE by design, but an etag must move whenever anything stored does.
    Serializing a parsed object again gives the same bytes, so the etag a write returns is
    the one later listings report.
    """
    return hashlib.sha256(serialize_object(obj)).hexdigest()[:32]


class _TooManyEvents(Exception):
    """A feed holds more events than it may; the argument is how many."""


def _snapshot(data: bytes, *, label: str, version: str, max_events: int | None = None) -> _Snapshot:
    """Parse a whole document (blocking; run in a worker thread).

    Raises :class:`MalformedObject` when the document is not iCalendar at all, and
    :class:`_TooManyEvents` when it holds more than ``max_events`` objects.
    """
    parsed = parse_calendar(data, source=label)
    if max_events is not None and len(parsed.objects) > max_events:
        raise _TooManyEvents(len(parsed.objects))
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
    return _Snapshot(version, items, skipped, seen, parsed.name)


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


_UID_LINE = re.compile(r"UID(?:;[^:]*)?:(.*)", re.IGNORECASE)


def _vevent_uids(data: bytes) -> Iterator[str]:
    """UIDs of the VEVENTs in raw text, found without the codec (which failed on some),
    each once, a line at a time."""
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
            uid = _unescape(m.group(1))
            if uid not in uids:
                uids.add(uid)
                yield uid


def _unescape(text: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), text)


def _not_ical(label: str, exc: Exception, where: str) -> TemporaryError:
    """A whole document that is not iCalendar (an HTML error page, a half-written file)."""
    return TemporaryError(f"{label}: not an iCalendar document ({exc})", where=where)


# -- URLs and HTTP errors ---------------------------------------------------------------------


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
        self._snapshot: _Snapshot | None = None
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
        items, deleted = snapshot.changes(previous[1] if previous else None)
        return Changes(
            items=items,
            cursor=self._cursor(fetched.validators, snapshot.seen),
            full=previous is None,
            deleted=deleted,
            skipped=list(snapshot.skipped),
        )

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

    async def _parse(self, fetched: _Fetched) -> _Snapshot:
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
                raise _not_ical(self._label, exc, self.where) from exc
            except _TooManyEvents as exc:
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


def _feed_snapshot(body: bytes, label: str, sha: str, max_events: int) -> _Snapshot:
    return _snapshot(body, label=label, version=sha, max_events=max_events)


# -- the writable single file -----------------------------------------------------------------


class IcsFile(Calendar):
    """A writable single-file ICS; a missing file is an empty calendar, made on first write.

    Writes rewrite the whole file (temp file, fsync, rename) one at a time; the parsed file is
    cached by its stat etag, so a run of writes parses it once. ``name`` becomes the calendar's
    ``X-WR-CALNAME`` (default: the one the file has).
    """

    capabilities = Capabilities(
        read_only=False,
        incremental=True,
        series=True,
        markers=True,
        max_concurrency=1,
        published=True,
    )

    def __init__(self, path: Path, *, where: str, name: str | None = None) -> None:
        super().__init__(where)
        self.path = Path(path)
        self._name = name
        self._tag = _files.source_tag(str(self.path.absolute()))
        self._cache: _Snapshot = _EMPTY
        self._lock = anyio.Lock()

    # -- listing -----------------------------------------------------------------------------

    async def list_changes(self, cursor: str | None, window: Window | None = None) -> Changes:
        previous = self._decode(cursor)
        if previous is not None:
            version = await anyio.to_thread.run_sync(self._stat)
            if version == previous[0]:  # untouched since: nothing read at all
                return Changes([], cursor, full=False)
        snapshot = await self._load()
        items, deleted = snapshot.changes(previous[1] if previous else None)
        return Changes(
            items=items,
            cursor=self._cursor(snapshot),
            full=previous is None,
            deleted=deleted,
            skipped=list(snapshot.skipped),
        )

    async def get(self, item_id: str) -> Item:
        snapshot = await self._load()
        return snapshot.find(item_id, where=self.where, label=str(self.path))

    def _cursor(self, snapshot: _Snapshot) -> str:
        payload = {"src": self._tag, "ver": snapshot.version, "uids": snapshot.seen}
        return _files.encode_cursor(_FILE_KIND, payload)

    def _decode(self, cursor: str | None) -> tuple[str, dict[str, str]] | None:
        payload = _files.decode_cursor(_FILE_KIND, cursor)
        if payload is None or payload.get("src") != self._tag:
            return None
        version, seen = payload.get("ver"), _files.str_map(payload.get("uids"))
        if not isinstance(version, str) or seen is None:
            return None
        return version, seen

    # -- reading the file --------------------------------------------------------------------

    async def _load(self) -> _Snapshot:
        self._cache = await in_worker_thread(self._refresh, self._cache)
        return self._cache

    def _stat(self) -> str:
        with os_errors(self.where, self.path):
            version = _files.current_etag(self.path)
            if version == _files.ABSENT and not self.path.parent.is_dir():
                raise CalendarNotFound(
                    f"{self.path}: neither the file nor its folder exists", where=self.where
                )
            return version

    def _refresh(self, cached: _Snapshot) -> _Snapshot:
        """The snapshot of the file as it is now; ``cached`` if the file did not change."""
        version = self._stat()
        if version == cached.version:
            return cached
        if version == _files.ABSENT:
            return _EMPTY
        with os_errors(self.where, self.path):
            try:
                data, version = _files.read_versioned(self.path)
            except FileNotFoundError:
                return _EMPTY
        try:
            return _snapshot(data, label=str(self.path), version=version)
        except MalformedObject as exc:
            raise _not_ical(str(self.path), exc, self.where) from exc

    # -- writes ------------------------------------------------------------------------------

    async def _create(self, obj: CalendarObject, key: str) -> Item:
        async with self._lock:
            snapshot = self._writable(await self._load())
            for item in snapshot.items.values():
                if item.obj.marker is not None and item.obj.marker.key == key:
                    return item
            if obj.uid in snapshot.items:
                raise PreconditionFailed(
                    f"{self.path}: UID {obj.uid!r} exists already", where=self.where, item=obj.uid
                )
            new = Item(obj.uid, object_etag(obj), obj)
            await self._write(snapshot, {**snapshot.items, obj.uid: new})
            return new

    async def _update(self, item_id: str, obj: CalendarObject, etag: str) -> Item:
        if obj.uid != item_id:
            raise MalformedObject(
                f"UID {obj.uid!r} cannot replace UID {item_id!r}", where=self.where, item=item_id
            )
        async with self._lock:
            snapshot = self._writable(await self._load())
            self._check_etag(snapshot, item_id, etag)
            new = Item(obj.uid, object_etag(obj), obj)
            await self._write(snapshot, {**snapshot.items, item_id: new})
            return new

    async def _delete(self, item_id: str, etag: str) -> None:
        async with self._lock:
            snapshot = self._writable(await self._load())
            self._check_etag(snapshot, item_id, etag)
            items = {uid: item for uid, item in snapshot.items.items() if uid != item_id}
            await self._write(snapshot, items)

    def _writable(self, snapshot: _Snapshot) -> _Snapshot:
        if snapshot.skipped:
            raise PermanentError(
                f"{self.path} holds objects that cannot be read ({snapshot.skipped[0].reason}); "
                "not rewriting it, which would lose them",
                where=self.where,
            )
        return snapshot

    def _check_etag(self, snapshot: _Snapshot, item_id: str, etag: str) -> None:
        current = snapshot.items.get(item_id)
        if current is None:
            raise NotFound(
                f"{self.path}: no object with UID {item_id!r}", where=self.where, item=item_id
            )
        if current.etag != etag:
            raise PreconditionFailed(
                f"{self.path}: UID {item_id!r} changed since it was read",
                where=self.where,
                item=item_id,
            )

    async def _write(self, snapshot: _Snapshot, items: dict[str, Item]) -> None:
        """Write ``items`` as the whole file, if it is still the version ``snapshot`` read."""
        name = self._name if self._name is not None else snapshot.name
        objects = [item.obj for item in items.values()]
        version = await anyio.to_thread.run_sync(self._write_sync, objects, name, snapshot.version)
        seen = {uid: item.etag for uid, item in items.items()}
        self._cache = _Snapshot(version, items, [], seen, name)

    def _write_sync(self, objects: list[CalendarObject], name: str | None, expected: str) -> str:
        data = serialize_calendar(objects, name=name)
        with os_errors(self.where, self.path):
            try:
                st = _files.write_atomic(self.path, data, if_match=expected)
            except _files.StaleFile as exc:
                raise PreconditionFailed(
                    f"{self.path} changed while it was being written", where=self.where
                ) from exc
        return _files.stat_etag(st)


__all__ = ["IcsFeed", "IcsFile", "http_status_error", "parse_retry_after", "redact_url"]

"""The CalDAV calendar: listings, reads and conditional writes of one calendar collection."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import httpx

from calsyncd.config.endpoints import normalize_url
from calsyncd.errors import (
    CalendarNotFound,
    MalformedObject,
    NotFound,
    PreconditionFailed,
    ProviderError,
    TemporaryError,
)
from calsyncd.model.event import CalendarObject
from calsyncd.providers import _files
from calsyncd.providers.base import Calendar, Capabilities, Changes, Item, Skipped, Window
from calsyncd.providers.caldav import davxml, discovery, refusals, resources
from calsyncd.providers.caldav.client import XML, Answer, Auth, DavClient, Retry, label
from calsyncd.providers.caldav.listings import Etags, First, Members, Wanted
from calsyncd.providers.caldav.resources import NotAnEvent

if TYPE_CHECKING:
    from calsyncd.config.connections import CaldavConnection

_KIND = "caldav"
MULTIGET_BATCH = 200
"""Hrefs per ``calendar-multiget``: well under Radicale's 10,000 VEVENTs per answer even for
long series with many overrides; a batch the server refuses anyway is split in two."""
DEFAULT_CONCURRENCY = 4
MAX_SYNC_ROUNDS = 1000
"""Rounds of one sync-collection listing a server may truncate (``507``) and have continued:
100,000 members at a page of 100."""
STALLED_ROUNDS = 3
"""Truncated rounds in a row that bring neither a new sync token nor a new member, after
which the listing fails: the server is not going anywhere."""
_REFUSED_BATCH = frozenset({400, 413, 507})
_NO_SYNC = frozenset({400, 405, 415, 501})
_BAD_TOKEN = frozenset({403, 409, 412})
_WRITE_ACCEPT = frozenset({400, 403, 404, 409, 412, 413, 415, 507})
_TEXT_CALENDAR = "text/calendar; charset=utf-8"
_IDENTITY = {"Accept-Encoding": "identity"}
"""Sent with reads of one object (GET, HEAD): a compressed representation may carry another
ETag than the one writes match — Cyrus 3.6 gives a gzipped GET a weak ``W/`` ETag, which no
``If-Match`` matches, and answers a HEAD accepting gzip with 500 (its worker dies)."""


class _TokenRejected(Exception):
    """The server refused our sync token (``valid-sync-token``): list in full."""


class _NoSyncCollection(Exception):
    """The server does not do RFC 6578 sync-collection on this collection."""


@dataclass(frozen=True, slots=True)
class _State:
    """What a cursor carries: the collection, then either the sync token or (servers without
    sync-collection) the etag of every member; the collection's ctag as read *before* that
    listing (``""``: the server has none); and the reasons of the resources that could not be
    read, reported again on every listing."""

    collection: str
    token: str | None = None
    etags: dict[str, str] | None = None
    ctag: str | None = None
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Delta:
    """Members changed (href → etag if known) and deleted since a cursor, and the new state."""

    changed: dict[str, str | None]
    deleted: list[str]
    state: _State


@dataclass(slots=True)
class _Fetched:
    items: list[Item] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    """Listed but deleted before their bodies were read, or not events at all."""

    def add(self, href: str, result: Item | Skipped | NotAnEvent) -> None:
        if isinstance(result, Item):
            self.items.append(result)
        elif isinstance(result, Skipped):
            self.skipped.append(result)
        else:
            self.gone.append(href)


class CaldavCalendar(Calendar):
    """One calendar collection on a CalDAV server (see :mod:`calsyncd.providers.caldav`)."""

    def __init__(
        self,
        url: str,
        calendar: str | None,
        *,
        where: str,
        http: httpx.AsyncClient,
        auth: Auth | None = None,
        username: str | None = None,
        timeout: float | None = None,
        max_concurrency: int = DEFAULT_CONCURRENCY,
        retry: Retry | None = None,
        batch_size: int = MULTIGET_BATCH,
    ) -> None:
        super().__init__(where)
        self.capabilities = Capabilities(
            read_only=False,
            incremental=True,
            series=True,
            markers=True,
            max_concurrency=max_concurrency,
        )
        self._start = url
        self._calendar = calendar
        self._dav = DavClient(
            http,
            where=where,
            home=url,
            auth=auth,
            timeout=timeout,
            max_concurrency=max_concurrency,
            retry=retry,
        )
        self._tag = _files.source_tag(f"{url}\0{calendar or ''}\0{username or ''}")
        self._collection: str | None = None
        self._batch = max(1, batch_size)

    @classmethod
    def from_connection(
        cls,
        connection: CaldavConnection,
        calendar: str | None,
        *,
        where: str,
        http: httpx.AsyncClient,
    ) -> CaldavCalendar:
        """The calendar ``calendar`` of a configured connection (``base_url`` wins over
        ``url`` as the place discovery starts from)."""
        timeout = connection.timeout
        return cls(
            connection.base_url or connection.url,
            calendar,
            where=where,
            http=http,
            auth=Auth(connection.username, connection.password, connection.token),
            username=connection.username,
            timeout=timeout.total_seconds() if isinstance(timeout, timedelta) else None,
            max_concurrency=connection.max_concurrency or DEFAULT_CONCURRENCY,
        )

    @property
    def identity(self) -> str | None:
        """The collection's normalised URL, once discovery (or a cursor) told it."""
        return normalize_url(self._collection) if self._collection is not None else None

    async def collection_url(self) -> str:
        """The collection's URL, found by discovery on first use (cursors carry it)."""
        if self._collection is None:
            self._collection = await discovery.collection_url(
                self._dav, self._start, self._calendar
            )
        return self._collection

    # -- cursors ---------------------------------------------------------------------------

    def _encode(self, state: _State) -> str:
        payload: dict[str, Any] = {"src": self._tag, "col": state.collection}
        if state.token is not None:
            payload["tok"] = state.token
        else:
            payload["etags"] = state.etags or {}
        if state.ctag is not None:
            payload["ctag"] = state.ctag
        if state.skipped:
            payload["skip"] = state.skipped
        return _files.encode_cursor(_KIND, payload)

    def _decode(self, cursor: str | None) -> _State | None:
        payload = _files.decode_cursor(_KIND, cursor)
        if payload is None or payload.get("src") != self._tag:
            return None
        collection, token, ctag = payload.get("col"), payload.get("tok"), payload.get("ctag")
        etags = _files.str_map(payload.get("etags")) if "etags" in payload else None
        skipped = _files.str_map(payload.get("skip", {}))
        if not isinstance(collection, str) or skipped is None:
            return None
        if ctag is not None and not isinstance(ctag, str):
            return None
        if isinstance(token, str) and token:
            return _State(collection, token=token, ctag=ctag, skipped=skipped)
        if etags is not None:
            return _State(collection, etags=etags, ctag=ctag, skipped=skipped)
        return None

    # -- listings --------------------------------------------------------------------------

    async def list_changes(self, cursor: str | None, window: Window | None = None) -> Changes:
        """Incremental with a cursor (one sync-collection REPORT when nothing changed), else
        a full listing of every member. ``window`` is not applied: see the package docs."""
        state = self._decode(cursor)
        if state is not None:
            if self._collection is None:
                self._collection = state.collection
            delta = await self._delta(state)
            if delta is not None:
                return await self._changes(delta, state.skipped, full=False)
        return await self._full()

    async def _delta(self, state: _State) -> _Delta | None:
        """What changed since ``state``; ``None`` when only a full listing can tell.

        A collection whose ctag has not moved since the cursor's listing has not changed:
        that one ``PROPFIND`` (``Depth: 0``) is all a quiet cycle asks. Xandikos answers it in
        about a millisecond at any size, where its sync-collection REPORT walks the calendar;
        Radicale needs ~70 % of its REPORT's time. A server without a ctag gets the REPORT
        straight away."""
        try:
            ctag = await self._ctag(state.collection) if state.ctag != "" else ""
            if ctag and ctag == state.ctag:
                return _Delta({}, [], state)
            if state.token is not None:
                delta = await self._sync(state.collection, state.token)
            else:
                delta = await self._etag_delta(state)
            delta.state = replace(delta.state, ctag=ctag)
            return delta
        except (_TokenRejected, _NoSyncCollection):
            return None
        except CalendarNotFound:
            if _found_by_name(self._calendar):
                self._collection = None  # moved or re-created: find it again
                return None
            raise

    async def _full(self) -> Changes:
        collection = await self.collection_url()
        ctag = await self._ctag(collection)
        try:
            delta = await self._sync(collection, "")
        except (_TokenRejected, _NoSyncCollection):
            delta = await self._etag_delta(_State(collection, etags={}))
        delta.state = replace(delta.state, ctag=ctag)
        return await self._changes(delta, {}, full=True)

    async def _changes(self, delta: _Delta, skipped: Mapping[str, str], *, full: bool) -> Changes:
        fetched = await self._fetch(delta.state.collection, delta.changed)
        deleted = [] if full else [*delta.deleted, *fetched.gone]
        still = {
            href: reason
            for href, reason in skipped.items()
            if href not in delta.changed and href not in delta.deleted
        }
        reported = [Skipped(href, reason) for href, reason in sorted(still.items())]
        reported += fetched.skipped
        etags = delta.state.etags
        if etags is not None:
            etags = {h: e for h, e in etags.items() if h not in fetched.gone}
        state = replace(delta.state, etags=etags, skipped={s.id: s.reason for s in reported})
        return Changes(
            items=fetched.items,
            cursor=self._encode(state),
            full=full,
            deleted=deleted,
            skipped=reported,
        )

    async def _report(
        self,
        url: str,
        body: bytes,
        depth: str,
        accept: Iterable[int],
        listing: Callable[[], davxml.Multistatus],
    ) -> Answer:
        return await self._dav.request(
            "REPORT",
            url,
            body=body,
            headers={"Depth": depth, "Content-Type": XML},
            accept=frozenset(accept),
            listing=listing,
        )

    async def _propfind(self, url: str, name: str, accept: Iterable[int] = ()) -> Answer:
        """``PROPFIND`` of one property of ``url`` alone (``Depth: 0``); a 207 holds its
        :class:`First` response."""
        return await self._dav.request(
            "PROPFIND",
            url,
            body=davxml.propfind(name),
            headers={"Depth": "0", "Content-Type": XML},
            accept=frozenset(accept),
            listing=First,
        )

    async def _sync(self, collection: str, token: str) -> _Delta:
        """An RFC 6578 sync-collection from ``token`` ("" = every member), following 507
        truncation until the server says it is complete — as long as it makes progress
        (see :data:`STALLED_ROUNDS`, :data:`MAX_SYNC_ROUNDS`)."""
        changed: dict[str, str | None] = {}
        deleted: dict[str, None] = {}
        stalled = 0
        for _ in range(MAX_SYNC_ROUNDS):
            answer = await self._report(
                collection,
                davxml.sync_collection(token),
                "0",
                _NO_SYNC | _BAD_TOKEN,
                partial(Members, collection),
            )
            self._check_sync_answer(answer, token)
            members = answer.folded(Members)
            if members.sync_token is None:
                raise _NoSyncCollection
            news = any(
                h not in changed and h not in deleted for h in [*members.changed, *members.deleted]
            )
            for href in members.deleted:
                changed.pop(href, None)
                deleted[href] = None
            for href, etag in members.changed.items():
                deleted.pop(href, None)
                changed[href] = etag
            progress = news and members.sync_token != token
            token = members.sync_token
            if not members.truncated:
                return _Delta(changed, list(deleted), _State(collection, token=token))
            stalled = 0 if progress else stalled + 1
            if stalled == STALLED_ROUNDS:
                raise TemporaryError(
                    f"REPORT {label(collection)}: the server answered 507 (truncated) "
                    f"{stalled} times in a row without progress (no new sync token or member)",
                    where=self.where,
                )
        raise TemporaryError(
            f"REPORT {label(collection)}: the listing was still truncated after "
            f"{MAX_SYNC_ROUNDS} rounds",
            where=self.where,
        )

    def _check_sync_answer(self, answer: Answer, token: str) -> None:
        if answer.status == 207:
            return
        found = davxml.conditions(answer.body)
        if answer.status in _NO_SYNC or davxml.dav("supported-report") in found:
            raise _NoSyncCollection
        if token and (answer.status == 412 or davxml.dav("valid-sync-token") in found):
            raise _TokenRejected
        raise self._dav.status_error("REPORT", answer)

    async def _etag_delta(self, state: _State) -> _Delta:
        """For servers without sync-collection: a calendar-query lists every VEVENT member's
        etag to compare with the cursor's."""
        collection = state.collection
        previous = state.etags or {}
        answer = await self._report(
            collection, davxml.calendar_query_etags(), "1", (), partial(Etags, collection)
        )
        now = answer.folded(Etags).etags
        changed: dict[str, str | None] = {h: e for h, e in now.items() if previous.get(h) != e}
        deleted = [h for h in previous if h not in now]
        return _Delta(changed, deleted, _State(collection, etags=now))

    async def _ctag(self, collection: str) -> str:
        """The collection's ``getctag``; ``""`` when the server does not keep one."""
        first = (await self._propfind(collection, davxml.GETCTAG)).folded(First).first
        return (first.text(davxml.GETCTAG) if first is not None else None) or ""

    # -- bodies ----------------------------------------------------------------------------

    async def _fetch(self, collection: str, members: Mapping[str, str | None]) -> _Fetched:
        """The bodies of ``members``, by calendar-multiget in bounded, concurrent batches."""
        fetched = _Fetched()
        hrefs = sorted(members)
        batches = [hrefs[i : i + self._batch] for i in range(0, len(hrefs), self._batch)]
        await _run_all([partial(self._multiget, collection, b, members, fetched) for b in batches])
        fetched.items.sort(key=lambda item: item.id)
        fetched.skipped.sort(key=lambda skip: skip.id)
        return fetched

    async def _multiget(
        self,
        collection: str,
        hrefs: list[str],
        members: Mapping[str, str | None],
        into: _Fetched,
    ) -> None:
        """One batch; a batch the server refuses (too big an answer) is split in two."""
        answer = await self._report(
            collection,
            davxml.calendar_multiget(hrefs),
            "1",
            _REFUSED_BATCH,
            partial(Wanted, collection, hrefs),
        )
        if answer.status not in _REFUSED_BATCH:
            bodies = self._bodies(answer.folded(Wanted).found, hrefs, members, into)
            for href, result in await anyio.to_thread.run_sync(_read_all, bodies):
                into.add(href, result)
        elif len(hrefs) > 1:
            half = len(hrefs) // 2
            await self._multiget(collection, hrefs[:half], members, into)
            await self._multiget(collection, hrefs[half:], members, into)
        else:
            reason = f"{hrefs[0]}: the server refused to return it (HTTP {answer.status})"
            into.skipped.append(Skipped(hrefs[0], reason))

    def _bodies(
        self,
        found: Mapping[str, davxml.Response],
        hrefs: list[str],
        members: Mapping[str, str | None],
        into: _Fetched,
    ) -> list[tuple[str, str, bytes]]:
        """``(href, etag, body)`` of each href a multiget answered (``found``); the others
        go to ``into`` as gone (404) or skipped (no data)."""
        bodies: list[tuple[str, str, bytes]] = []
        for href in hrefs:
            response = found.get(href)
            if response is not None and response.status in (404, 410):
                into.gone.append(href)
                continue
            data = response.text(davxml.CALENDAR_DATA) if response is not None else None
            etag = (response.text(davxml.GETETAG) if response else None) or members.get(href)
            if data is None or not etag:
                into.skipped.append(Skipped(href, f"{href}: calendar-multiget returned no data"))
            else:
                bodies.append((href, etag, data.encode("utf-8")))
        return bodies

    # -- reads -----------------------------------------------------------------------------

    async def _url_of(self, item_id: str) -> str:
        url = resources.item_url(item_id, await self.collection_url())
        if url is None:
            raise NotFound(f"{item_id!r} is not a resource path", where=self.where, item=item_id)
        return url

    async def get(self, item_id: str) -> Item:
        url = await self._url_of(item_id)
        answer = await self._dav.request(
            "GET", url, headers={"Accept": "text/calendar", **_IDENTITY}, accept={404, 410}
        )
        if answer.status in (404, 410):
            raise NotFound(f"{item_id} does not exist", where=self.where, item=item_id)
        etag = answer.etag or await self._etag_of(url, item_id)
        result = await anyio.to_thread.run_sync(resources.read, item_id, etag, answer.body)
        if isinstance(result, Skipped):
            raise MalformedObject(result.reason, where=self.where, item=item_id)
        if isinstance(result, NotAnEvent):
            raise MalformedObject(
                f"{item_id}: no VEVENT (VTODO and VJOURNAL are not synced)",
                where=self.where,
                item=item_id,
            )
        return result

    async def _etag_of(self, url: str, item_id: str) -> str:
        """The etag from a PROPFIND, for servers that send none with GET or PUT."""
        answer = await self._propfind(url, davxml.GETETAG, {404, 410})
        if answer.status == 207:
            first = answer.folded(First).first
            if first is None or first.status not in (404, 410):
                etag = first.text(davxml.GETETAG) if first is not None else None
                if etag is None:
                    raise TemporaryError(f"{item_id}: the server gives no etag", where=self.where)
                return etag
        raise NotFound(f"{item_id} does not exist", where=self.where, item=item_id)

    async def _exists(self, url: str) -> bool:
        answer = await self._dav.request("HEAD", url, headers=_IDENTITY, accept={404, 405, 410})
        if answer.status == 405:  # HEAD not allowed: ask for the etag instead
            answer = await self._propfind(url, davxml.GETETAG, {404, 410})
            if answer.status == 207:
                first = answer.folded(First).first
                return first is None or first.status not in (404, 410)
        return answer.status < 300

    # -- writes ----------------------------------------------------------------------------

    async def _put(self, url: str, obj: CalendarObject, precondition: dict[str, str]) -> Answer:
        return await self._dav.request(
            "PUT",
            url,
            body=resources.render(obj),
            headers={"Content-Type": _TEXT_CALENDAR, **precondition},
            accept=_WRITE_ACCEPT,
        )

    async def _create(self, obj: CalendarObject, key: str) -> Item:
        collection = await self.collection_url()
        name = resources.name_for(key)
        item_id = resources.canonical_path(name, collection)
        url = resources.item_url(item_id, collection)
        assert url is not None
        for _ in range(2):
            answer = await self._put(url, obj, {"If-None-Match": "*"})
            if answer.status < 300:
                return await self._written(answer, item_id, url, obj)
            if answer.status != 412 or davxml.conditions(answer.body):
                raise self._write_error("PUT", item_id, answer, refusals.subject(obj))
            try:  # made before, by us or an earlier attempt of this create
                return await self.get(item_id)
            except NotFound:
                continue  # deleted in between: try again
        raise TemporaryError(f"{item_id}: created and deleted concurrently", where=self.where)

    async def _update(self, item_id: str, obj: CalendarObject, etag: str) -> Item:
        url = await self._url_of(item_id)
        answer = await self._put(url, obj, {"If-Match": etag})
        if answer.status < 300:
            return await self._written(answer, item_id, url, obj)
        raise await self._conditional_error("PUT", item_id, url, answer, refusals.subject(obj))

    async def _delete(self, item_id: str, etag: str) -> None:
        url = await self._url_of(item_id)
        answer = await self._dav.request(
            "DELETE", url, headers={"If-Match": etag}, accept=_WRITE_ACCEPT
        )
        if answer.status >= 300:
            raise await self._conditional_error("DELETE", item_id, url, answer)

    async def _written(self, answer: Answer, item_id: str, url: str, obj: CalendarObject) -> Item:
        """The item a successful PUT made; re-read when the server sent no ETag (it may
        have altered the data, RFC 4791 5.3.4)."""
        if answer.etag:
            return Item(item_id, answer.etag, obj)
        try:
            return await self.get(item_id)
        except MalformedObject:
            return Item(item_id, await self._etag_of(url, item_id), obj)

    async def _conditional_error(
        self, method: str, item_id: str, url: str, answer: Answer, subject: str | None = None
    ) -> ProviderError:
        """A failed If-Match write: a bare 412 is a stale etag if the resource still exists,
        else the resource is gone. That is read right away; when the read fails, the write is
        still a problem of this object (re-planned next cycle), not of the calendar."""
        if answer.status != 412 or davxml.conditions(answer.body):
            return self._write_error(method, item_id, answer, subject)
        try:
            exists = await self._exists(url)
        except ProviderError as exc:
            why = str(exc).removeprefix(f"{exc.where}: ")
            return PreconditionFailed(
                f"{method} {item_id}: HTTP 412 Precondition Failed: changed since it was read "
                f"or deleted; whether it still exists could not be read ({why})",
                where=self.where,
                item=item_id,
            )
        if not exists:
            return NotFound(f"{item_id} does not exist", where=self.where, item=item_id)
        return self._write_error(method, item_id, answer, subject)

    def _write_error(
        self, method: str, item_id: str, answer: Answer, subject: str | None = None
    ) -> ProviderError:
        """What a refused write means: the preconditions its body names (see
        :mod:`.refusals`), else its status."""
        where, item = self.where, item_id
        refused = refusals.refused_write(
            method=method,
            item_id=item_id,
            subject=subject,
            status=answer.status,
            body=answer.body,
            collection=self._collection or "",
            where=where,
        )
        if refused is not None:
            return refused
        status = f"HTTP {answer.status} {answer.reason}".rstrip()
        if answer.status == 412:
            return PreconditionFailed(
                f"{method} {item_id}: {status}: changed since it was read", where=where, item=item
            )
        if answer.status == 404:
            return NotFound(f"{item_id} does not exist", where=where, item=item)
        if answer.status in (400, 413, 415):
            return MalformedObject(
                f"{method} {item_id}: {status}: the server refused the object",
                where=where,
                item=item,
            )
        if answer.status == 409:
            return CalendarNotFound(f"{method} {item_id}: {status}", where=where)
        return self._dav.status_error(method, answer)


def _found_by_name(calendar: str | None) -> bool:
    """Whether the collection was found by name (so a 404 may mean it moved)."""
    return calendar is None or not (calendar.startswith("/") or discovery.is_url(calendar))


def _read_all(
    bodies: list[tuple[str, str, bytes]],
) -> list[tuple[str, Item | Skipped | NotAnEvent]]:
    return [(href, resources.read(href, etag, data)) for href, etag, data in bodies]


async def _run_all(jobs: list[Callable[[], Awaitable[None]]]) -> None:
    """Run ``jobs`` concurrently (the client bounds requests in flight); the first provider
    error cancels the rest and is raised as itself, not inside an exception group."""
    errors: list[ProviderError] = []

    async def guarded(job: Callable[[], Awaitable[None]], scope: anyio.CancelScope) -> None:
        try:
            await job()
        except ProviderError as exc:
            errors.append(exc)
            scope.cancel()

    async with anyio.create_task_group() as tasks:
        for job in jobs:
            tasks.start_soon(guarded, job, tasks.cancel_scope)
    if errors:
        raise errors[0]

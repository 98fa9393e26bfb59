"""One Google calendar as a :class:`~calsyncd.providers.base.Calendar`.

**Objects.** An item is a whole series: its id is the master event's id, and its exceptions
(``recurringEventId`` + ``originalStartTime``; cancelled ones are cancelled occurrences) are
folded into it as overrides. Its etag is the master's own while the series has no exceptions,
else a digest of every member's etag (see :func:`~.ids.object_etag`), so it moves whenever
any member does. Exceptions of an event without ``recurrence`` count for nothing.

**Listing.** A full listing asks for every event (``singleEvents=false``: masters and
exceptions) — not only the window: an event beyond ``timeMax`` would never be listed again
once the sync token takes over (nothing changes it), so it could never enter the window, and
past exceptions cut off by ``timeMin`` would make the listing disagree with :meth:`get`. The
last page's ``nextSyncToken`` is the cursor; later listings pass it and get only changes
(``status: cancelled`` = deleted). A changed member of a series is read again with its
siblings in one ``iCalUID`` listing. 410 ``fullSyncRequired`` (or any cursor not ours) gives
one full listing. Unreadable events are carried in the cursor and reported on every listing.

**Writes.** A create inserts with the event id derived from its key: a retried create gets
409 ``duplicate`` and adopts what the first one made (completing any exception it did not get
to write; a deleted event keeps its id and is restored). Updates and deletes send
``If-Match``; a 412 is read again and is ours when the event carries this write's nonce
(``calsyncd.write``): httplib2 resends a request whose connection dropped, so the first send
may have been applied. Every write says ``sendUpdates=none``. A series is written master
first, then each exception that differs (an occurrence no longer overridden is set back to
the series' values, which makes it no override).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, timedelta, tzinfo
from functools import partial
from typing import Any

import anyio
import structlog

from calsyncd.errors import (
    MalformedObject,
    NotFound,
    PreconditionFailed,
    ProviderError,
    TemporaryError,
)
from calsyncd.model.event import CalendarObject, Status
from calsyncd.providers import _files
from calsyncd.providers.base import Calendar, Capabilities, Changes, Item, Skipped, Window
from calsyncd.providers.google import mapping
from calsyncd.providers.google.client import ApiError, GoogleClient
from calsyncd.providers.google.failures import calendar_error, item_error
from calsyncd.providers.google.ids import event_id_for_key, is_composite, object_etag
from calsyncd.providers.google.mapping import Resource, Unmappable, Zones
from calsyncd.providers.google.series import (
    ExceptionWrite,
    Series,
    applied,
    counted,
    group,
    plan_exceptions,
)

log = structlog.get_logger("calsyncd.providers.google")

_KIND = "google"
PAGE_SIZE = 2500
"""``maxResults`` of listings: Google's maximum."""
_READ_ERRORS = (Unmappable, KeyError, TypeError, ValueError, AttributeError)


class _SyncTokenGone(Exception):
    """410: the sync token expired; a full listing is needed (internal)."""


def _nonce() -> str:
    return secrets.token_hex(8)


class GoogleCalendar(Calendar):
    """One calendar (``calendar_id``: an id/address or ``primary``) of a Google account."""

    def __init__(
        self,
        client: GoogleClient,
        calendar_id: str = "primary",
        *,
        where: str,
        page_size: int = PAGE_SIZE,
        owns_client: bool = True,
    ) -> None:
        super().__init__(where)
        self.capabilities = Capabilities(
            read_only=False,
            incremental=True,
            series=True,
            markers=True,
            max_concurrency=int(client.limiter.total_tokens),
        )
        self.client = client
        self.calendar_id = calendar_id
        self._page_size = page_size
        self._owns_client = owns_client
        self._tag = _files.source_tag(f"{client.base_url}|{calendar_id}")
        self._zone: tzinfo | None = None
        self._zone_name: str | None = None
        self._default_reminders: tuple[timedelta, ...] = ()

    async def aclose(self) -> None:
        if self._owns_client:
            self.client.close()

    # -- calendar-level facts ----------------------------------------------------------------

    def _note_calendar(self, answer: Mapping[str, Any]) -> None:
        name = answer.get("timeZone")
        if isinstance(name, str) and name and name != self._zone_name:
            try:
                self._zone = mapping.zone_named(name)
            except Unmappable:
                self._zone = UTC
            self._zone_name = name
        if answer.get("accessRole") in ("reader", "freeBusyReader"):
            self.capabilities = replace(self.capabilities, read_only=True)
        if "defaultReminders" in answer:
            try:
                self._default_reminders = mapping.read_reminders(answer["defaultReminders"])
            except _READ_ERRORS:
                self._default_reminders = ()

    async def _calendar_info(self) -> None:
        """The calendar's zone and default reminders, unless a listing told them already."""
        if self._zone_name is not None:
            return
        cal = self.calendar_id
        try:
            answer = await self.client.call(
                "calendarList.get", lambda s: s.calendarList().get(calendarId=cal)
            )
        except ApiError as exc:
            if exc.status != 404:
                raise self._calendar_error(exc, "calendarList.get") from exc
            try:  # a calendar shared with the account but not in its list
                answer = await self.client.call(
                    "calendars.get", lambda s: s.calendars().get(calendarId=cal)
                )
            except ApiError as inner:
                raise self._calendar_error(inner, "calendars.get") from inner
        self._note_calendar(answer)

    def _zones(self) -> Zones:
        return Zones(self._zone or UTC, None, self._default_reminders)

    def _calendar_error(self, exc: ApiError, what: str) -> ProviderError:
        return calendar_error(exc, what, calendar=self.calendar_id, where=self.where)

    def _item_error(self, exc: ApiError, what: str, item: str) -> ProviderError:
        return item_error(exc, what, item=item, where=self.where)

    # -- listing -----------------------------------------------------------------------------

    async def _list(self, **params: Any) -> tuple[list[Resource], str | None]:
        """Every page of one listing: its events and the final ``nextSyncToken``."""
        items: list[Resource] = []
        page_token: str | None = None
        while True:
            query = {
                "calendarId": self.calendar_id,
                "maxResults": self._page_size,
                "singleEvents": False,
                "showDeleted": False,
                **params,
            }
            if page_token:
                query["pageToken"] = page_token
            try:
                page = await self.client.call("events.list", partial(_list_request, query))
            except ApiError as exc:
                if exc.status == 410 and "syncToken" in params:
                    raise _SyncTokenGone from exc
                raise self._calendar_error(exc, "events.list") from exc
            self._note_calendar(page)
            items.extend(page.get("items") or ())
            page_token = page.get("nextPageToken")
            if not page_token:
                return items, page.get("nextSyncToken")

    async def list_changes(self, cursor: str | None, window: Window | None = None) -> Changes:
        del window  # every event is listed; see the module docstring
        previous = self._decode(cursor)
        if previous is not None:
            token, skipped = previous
            try:
                listed, next_token = await self._list(syncToken=token)
            except _SyncTokenGone:
                log.info("google sync token expired: full listing", where=self.where)
            else:
                return await self._incremental(listed, next_token, skipped)
        listed, next_token = await self._list()
        return self._full(listed, next_token)

    def _full(self, listed: list[Resource], token: str | None) -> Changes:
        masters, exceptions = group(listed)
        results: list[Item | Skipped] = []
        for event_id, master in masters.items():
            if master.get("status") != "cancelled":
                series = Series(master, list(exceptions.pop(event_id, {}).values()))
                results.append(self._build(event_id, series))
        for event_id, orphans in exceptions.items():  # instances of someone else's series
            if event_id not in masters:
                results.append(self._build(event_id, Series(None, list(orphans.values()))))
        items = [r for r in results if isinstance(r, Item)]
        skipped = [r for r in results if isinstance(r, Skipped)]
        return Changes(items, self._cursor(token, skipped), full=True, skipped=skipped)

    async def _incremental(
        self, listed: list[Resource], token: str | None, known_skips: Mapping[str, str]
    ) -> Changes:
        masters, exceptions = group(listed)
        results: dict[str, Item | Skipped | None] = {}
        to_read: dict[str, str | None] = {}  # series to read whole: id → iCalUID if known
        for event_id, master in masters.items():
            if master.get("status") == "cancelled":
                results[event_id] = None
            elif master.get("recurrence"):
                to_read[event_id] = master.get("iCalUID")
            else:
                results[event_id] = self._build(event_id, Series(master))
        for event_id, changed in exceptions.items():
            if event_id not in masters:
                uids = [r.get("iCalUID") for r in changed.values() if r.get("iCalUID")]
                to_read[event_id] = uids[0] if uids else None
        read = await self._read_many(to_read)
        for event_id, series in read.items():
            results[event_id] = self._build(event_id, series) if series is not None else None
        items = [r for r in results.values() if isinstance(r, Item)]
        deleted = [i for i, r in results.items() if r is None]
        skipped = [r for r in results.values() if isinstance(r, Skipped)]
        fresh = {s.id for s in skipped}
        skipped += [
            Skipped(i, reason)
            for i, reason in known_skips.items()
            if i not in results and i not in fresh
        ]
        return Changes(
            items, self._cursor(token, skipped), full=False, deleted=deleted, skipped=skipped
        )

    async def _read_many(self, wanted: Mapping[str, str | None]) -> dict[str, Series | None]:
        """Read several series concurrently (bounded by the client's limiter)."""
        found: dict[str, Series | None] = {}

        async def one(event_id: str, uid: str | None) -> None:
            series = await self._read_series(event_id, uid)
            if not series.live:
                series.master = None
            live = [e for e in series.exceptions if e.get("status") != "cancelled"]
            found[event_id] = series if series.master is not None or live else None

        async with anyio.create_task_group() as tasks:
            for event_id, uid in wanted.items():
                tasks.start_soon(one, event_id, uid)
        return found

    def _build(self, event_id: str, series: Series) -> Item | Skipped:
        try:
            return self._item(event_id, series)
        except _READ_ERRORS as exc:
            return Skipped(event_id, f"Google event {event_id}: cannot read: {exc}")

    def _item(self, event_id: str, series: Series) -> Item:
        """The item of a series (raises what mapping raises, or ``ValueError`` for nothing)."""
        members = counted(series.master, series.exceptions)
        obj = mapping.read_object(series.master, members, self._zones())
        if obj is None:
            raise ValueError("only cancelled occurrences of an unknown series")
        return Item(event_id, _etag(series), obj)

    # -- cursors -----------------------------------------------------------------------------

    def _cursor(self, token: str | None, skipped: Sequence[Skipped]) -> str | None:
        if token is None:
            return None
        skips = {s.id: s.reason for s in skipped}
        return _files.encode_cursor(_KIND, {"src": self._tag, "sync": token, "skip": skips})

    def _decode(self, cursor: str | None) -> tuple[str, dict[str, str]] | None:
        payload = _files.decode_cursor(_KIND, cursor)
        if payload is None or payload.get("src") != self._tag:
            return None
        token, skips = payload.get("sync"), _files.str_map(payload.get("skip"))
        if not isinstance(token, str) or not token or skips is None:
            return None
        return token, skips

    # -- reading one object ------------------------------------------------------------------

    async def _fetch(self, event_id: str) -> Resource | None:
        """One event resource as stored (deleted ones too); ``None`` if there is none."""
        cal = self.calendar_id
        try:
            answer: Resource = await self.client.call(
                "events.get", lambda s: s.events().get(calendarId=cal, eventId=event_id)
            )
        except ApiError as exc:
            if exc.status in (404, 410):
                return None
            raise self._item_error(exc, "events.get", event_id) from exc
        return answer

    async def _read_series(self, event_id: str, ical_uid: str | None = None) -> Series:
        """A master and its exceptions; a deleted or unknown master is kept as it is."""
        master: Resource | None = None
        if ical_uid is None:
            master = await self._fetch(event_id)
            if master is None or master.get("status") == "cancelled":
                return Series(master)
            if not master.get("recurrence") or master.get("recurringEventId"):
                return Series(master)
            ical_uid = master.get("iCalUID")
            if not isinstance(ical_uid, str):
                return Series(master)
        listed, _ = await self._list(iCalUID=ical_uid)
        found = next((r for r in listed if r.get("id") == event_id), master)
        exceptions = [r for r in listed if r.get("recurringEventId") == event_id]
        return Series(found, exceptions)

    async def get(self, item_id: str) -> Item:
        await self._calendar_info()
        series = await self._read_series(item_id)
        master = series.master
        if master is None or master.get("status") == "cancelled":
            raise NotFound(f"no event {item_id!r}", where=self.where, item=item_id)
        if master.get("recurringEventId"):
            raise NotFound(
                f"{item_id!r} is an occurrence of series {master['recurringEventId']!r}",
                where=self.where,
                item=item_id,
            )
        try:
            return self._item(item_id, series)
        except _READ_ERRORS as exc:
            raise MalformedObject(
                f"Google event {item_id}: cannot read: {exc}", where=self.where, item=item_id
            ) from exc

    # -- writing -----------------------------------------------------------------------------

    async def _floating_zone(self, obj: CalendarObject) -> str | None:
        if not mapping.is_floating(obj):
            return None
        await self._calendar_info()
        return self._zone_name or "UTC"

    def _bodies(self, obj: CalendarObject, floating: str | None, nonce: str, item: str) -> Resource:
        if obj.master is None:
            raise MalformedObject(
                "Google cannot store occurrences without their series", where=self.where, item=item
            )
        try:
            body = mapping.event_body(obj.master, floating, master=True)
            body["extendedProperties"] = {"private": mapping.private_body(obj, floating, nonce)}
            for event in obj.overrides.values():  # fail before the first write, not half-way
                if event.status is not Status.CANCELLED:
                    mapping.event_body(event, floating, master=False)
        except Unmappable as exc:
            raise MalformedObject(
                f"Google cannot store this: {exc}", where=self.where, item=item
            ) from exc
        return body

    async def _create(self, obj: CalendarObject, key: str) -> Item:
        event_id = event_id_for_key(key)
        floating = await self._floating_zone(obj)
        nonce = _nonce()
        body = self._bodies(obj, floating, nonce, event_id)
        insert = {**mapping.insert_body(body), "id": event_id}
        cal = self.calendar_id
        try:
            master: Resource = await self.client.call(
                "events.insert",
                lambda s: s.events().insert(calendarId=cal, body=insert, sendUpdates="none"),
            )
        except ApiError as exc:
            if exc.status != 409:
                raise self._item_error(exc, "events.insert", event_id) from exc
            return await self._adopt(event_id, obj, body, floating, nonce)
        series = await self._converge(event_id, obj, Series(master), floating, nonce)
        return self._written(event_id, series)

    async def _adopt(
        self, event_id: str, obj: CalendarObject, body: Resource, floating: str | None, nonce: str
    ) -> Item:
        """A create whose id exists: made before (retried create) → return it, completing the
        exceptions it lacks; deleted since (deleted events keep their id) → restore it."""
        series = await self._read_series(event_id)
        master = series.master
        if master is None:
            raise TemporaryError(
                f"events.insert {event_id}: 409 duplicate, yet the event cannot be read",
                where=self.where,
            )
        if master.get("status") == "cancelled":
            log.info("google restores a deleted event", where=self.where, item=event_id)
            restored = await self._patch(event_id, body, str(master.get("etag", "")) or None)
            series = await self._read_series(event_id, restored.get("iCalUID"))
            series.master = restored
            series = await self._converge(event_id, obj, series, floating, nonce)
        else:
            series = await self._converge(event_id, obj, series, floating, nonce, only_missing=True)
        return self._written(event_id, series)

    async def _update(self, item_id: str, obj: CalendarObject, etag: str) -> Item:
        floating = await self._floating_zone(obj)
        nonce = _nonce()
        body = self._bodies(obj, floating, nonce, item_id)
        master = obj.master
        assert master is not None
        if not is_composite(etag) and not obj.overrides and not master.recurring:
            written = await self._patch(item_id, body, etag)
            return self._written(item_id, Series(written))
        series = await self._current(item_id, etag)
        current_etag = str(series.master.get("etag", "")) if series.master else ""
        series.master = await self._patch(item_id, body, current_etag)
        series = await self._converge(item_id, obj, series, floating, nonce)
        return self._written(item_id, series)

    async def _delete(self, item_id: str, etag: str) -> None:
        master_etag = etag
        if is_composite(etag):
            series = await self._current(item_id, etag)
            master_etag = str(series.master.get("etag", "")) if series.master else ""
        cal = self.calendar_id
        try:
            await self.client.call(
                "events.delete",
                lambda s: s.events().delete(calendarId=cal, eventId=item_id, sendUpdates="none"),
                headers={"If-Match": master_etag},
            )
        except ApiError as exc:
            if exc.status != 412:
                raise self._item_error(exc, "events.delete", item_id) from exc
            current = await self._fetch(item_id)
            if current is None or current.get("status") == "cancelled":
                raise NotFound(
                    f"events.delete {item_id}: gone", where=self.where, item=item_id
                ) from exc
            raise self._stale(item_id) from exc

    async def _current(self, item_id: str, etag: str) -> Series:
        """The series ``item_id`` as stored, if its object etag is still ``etag``."""
        await self._calendar_info()
        series = await self._read_series(item_id)
        if not series.live:
            raise NotFound(f"no event {item_id!r}", where=self.where, item=item_id)
        if _etag(series) != etag:
            raise self._stale(item_id)
        return series

    def _stale(self, item_id: str) -> PreconditionFailed:
        return PreconditionFailed(
            f"Google event {item_id} changed since it was read", where=self.where, item=item_id
        )

    async def _patch(self, event_id: str, body: Resource, etag: str | None) -> Resource:
        """``events.patch`` with ``If-Match``; a 412 caused by our own dropped-and-resent
        request (recognised by the write nonce, or a cancel that is done) counts as done."""
        cal = self.calendar_id
        try:
            answer: Resource = await self.client.call(
                "events.patch",
                lambda s: s.events().patch(
                    calendarId=cal, eventId=event_id, body=body, sendUpdates="none"
                ),
                headers={"If-Match": etag} if etag else None,
            )
        except ApiError as exc:
            if exc.status != 412:
                raise self._item_error(exc, "events.patch", event_id) from exc
            current = await self._fetch(event_id)
            if current is not None and applied(current, body):
                return current
            if current is None or (
                current.get("status") == "cancelled" and body.get("status") != "cancelled"
            ):
                raise NotFound(
                    f"events.patch {event_id}: gone", where=self.where, item=event_id
                ) from exc
            raise self._stale(event_id) from exc
        return answer

    async def _converge(
        self,
        event_id: str,
        obj: CalendarObject,
        series: Series,
        floating: str | None,
        nonce: str,
        *,
        only_missing: bool = False,
    ) -> Series:
        """Make the series' exceptions say what ``obj.overrides`` say (only add the missing
        ones with ``only_missing``); returns the series as stored afterwards."""
        try:
            writes = plan_exceptions(
                event_id,
                obj,
                series,
                zones=self._zones(),
                floating=floating,
                nonce=nonce,
                only_missing=only_missing,
            )
        except _READ_ERRORS as exc:
            raise MalformedObject(
                f"Google event {event_id}: cannot write its occurrences: {exc}",
                where=self.where,
                item=event_id,
            ) from exc
        after = {str(e["id"]): e for e in series.exceptions}
        for write in writes:
            after[write.target] = await self._write_instance(write)
        return Series(series.master, list(after.values()))

    async def _write_instance(self, write: ExceptionWrite) -> Resource:
        etag = str(write.existing.get("etag", "")) if write.existing is not None else None
        try:
            return await self._patch(write.target, write.body, etag or None)
        except NotFound as exc:
            if write.existing is not None:
                raise
            raise MalformedObject(
                f"{write.original_start} is not an occurrence of the series;"
                " Google keeps no override there",
                where=self.where,
                item=write.target,
            ) from exc

    def _written(self, event_id: str, series: Series) -> Item:
        try:
            return self._item(event_id, series)
        except _READ_ERRORS as exc:
            raise MalformedObject(
                f"Google event {event_id} as written cannot be read: {exc}",
                where=self.where,
                item=event_id,
            ) from exc


def _list_request(query: Mapping[str, Any], service: Any) -> Any:
    return service.events().list(**query)


def _etag(series: Series) -> str:
    """The object etag of a series as stored (see :func:`~.ids.object_etag`)."""
    master = str(series.master.get("etag", "")) if series.master is not None else ""
    members = counted(series.master, series.exceptions)
    return object_etag(master, [(str(e.get("id")), str(e.get("etag", ""))) for e in members])

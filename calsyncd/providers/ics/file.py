"""The writable single ICS file (e.g. a published busy feed): every write rewrites it whole,
atomically.

It is calsyncd's to write: what the codec does not model (to-dos, unknown components) does not
survive a rewrite, so writes are refused while the file holds objects that cannot be read. It
is *published* (others read it): the engine writes only anonymous copies into it. The cursor
carries the file's stat etag plus the ``{uid: etag}`` map of the previous listing.
"""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread

from calsyncd.errors import (
    CalendarNotFound,
    MalformedObject,
    NotFound,
    PermanentError,
    PreconditionFailed,
)
from calsyncd.model.budget import in_worker_thread
from calsyncd.model.event import CalendarObject
from calsyncd.model.ical import serialize_calendar
from calsyncd.providers import _files
from calsyncd.providers._files import os_errors
from calsyncd.providers.base import Calendar, Capabilities, Changes, Item, Window
from calsyncd.providers.ics.snapshot import EMPTY, Snapshot, not_ical, object_etag, read_snapshot

__all__ = ["IcsFile"]

_FILE_KIND = "icsfile"


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
        self._cache: Snapshot = EMPTY
        self._lock = anyio.Lock()

    # -- listing -----------------------------------------------------------------------------

    async def list_changes(self, cursor: str | None, window: Window | None = None) -> Changes:
        previous = self._decode(cursor)
        if previous is not None:
            version = await anyio.to_thread.run_sync(self._stat)
            if version == previous[0]:  # untouched since: nothing read at all
                return Changes([], cursor, full=False)
        snapshot = await self._load()
        return snapshot.changes(previous[1] if previous else None, self._cursor(snapshot))

    async def get(self, item_id: str) -> Item:
        snapshot = await self._load()
        return snapshot.find(item_id, where=self.where, label=str(self.path))

    def _cursor(self, snapshot: Snapshot) -> str:
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

    async def _load(self) -> Snapshot:
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

    def _refresh(self, cached: Snapshot) -> Snapshot:
        """The snapshot of the file as it is now; ``cached`` if the file did not change."""
        version = self._stat()
        if version == cached.version:
            return cached
        if version == _files.ABSENT:
            return EMPTY
        with os_errors(self.where, self.path):
            try:
                data, version = _files.read_versioned(self.path)
            except FileNotFoundError:
                return EMPTY
        try:
            return read_snapshot(data, label=str(self.path), version=version)
        except MalformedObject as exc:
            raise not_ical(str(self.path), exc, self.where) from exc

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

    def _writable(self, snapshot: Snapshot) -> Snapshot:
        if snapshot.skipped:
            raise PermanentError(
                f"{self.path} holds objects that cannot be read ({snapshot.skipped[0].reason}); "
                "not rewriting it, which would lose them",
                where=self.where,
            )
        return snapshot

    def _check_etag(self, snapshot: Snapshot, item_id: str, etag: str) -> None:
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

    async def _write(self, snapshot: Snapshot, items: dict[str, Item]) -> None:
        """Write ``items`` as the whole file, if it is still the version ``snapshot`` read."""
        name = self._name if self._name is not None else snapshot.name
        objects = [item.obj for item in items.values()]
        version = await anyio.to_thread.run_sync(self._write_sync, objects, name, snapshot.version)
        seen = {uid: item.etag for uid, item in items.items()}
        self._cache = Snapshot(version, items, [], seen, name)

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

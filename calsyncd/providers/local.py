"""The ``local`` provider: a vdir folder holding one ``.ics`` file per calendar object.

The layout of vdirsyncer and khal: the item id is the file name, the etag a stamp from
``stat`` (so an unchanged folder is listed without reading a single file), and the cursor the
``{file name: etag}`` map of the previous listing. Hidden files, temp files and files not
ending in ``.ics`` are not calendar objects and are ignored.

A calendar folder that does not exist is an error naming the calendars that do (a mistyped
name must not read as an empty calendar) — unless the opener says ``if_missing="create"``: then
it lists as empty and the first object written makes it (a new target; see
:data:`IfMissing`).

Writes are crash-safe: the new content goes to a temp file in the same folder, is fsynced, and
is then hard-linked (create: fails if the name exists, which makes create idempotent per key)
or renamed (update) into place. Between the etag check of an update/delete and the write
there is a window of microseconds in which another program's write could be overwritten;
file systems offer no compare-and-swap to close it.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import os
import re
import stat
from pathlib import Path
from typing import Literal

import anyio.to_thread
import structlog

from calsyncd.errors import (
    CalendarNotFound,
    MalformedObject,
    NotFound,
    PreconditionFailed,
    TemporaryError,
)
from calsyncd.model.event import CalendarObject
from calsyncd.model.ical import parse_object, serialize_object
from calsyncd.providers import _files
from calsyncd.providers._files import Listing, os_errors
from calsyncd.providers.base import Calendar, Capabilities, Changes, Item, Skipped, Window

log = structlog.get_logger("calsyncd.providers.local")

IfMissing = Literal["error", "create"]
"""As :data:`calsyncd.providers.registry.IfMissing` (providers do not import the registry)."""

_KIND = "local"
_BATCH = 256
"""Files read and parsed per worker-thread hop (a cancelled listing stops between batches)."""

_SAFE_KEY = re.compile(r"[A-Za-z0-9_.-]{1,200}")
_NAMES_SHOWN = 20
"""At most this many existing calendars are named in a "no such calendar" message…"""
_ENTRIES_READ = 10_000
"""…chosen among at most this many entries of the connection's folder."""


def file_name_for(key: str) -> str:
    """The file name a create with ``key`` uses: the key itself when it is a safe file name."""
    if _SAFE_KEY.fullmatch(key) and not key.startswith("."):
        return f"{key}.ics"
    return f"k-{hashlib.sha256(key.encode()).hexdigest()[:40]}.ics"


def _valid_id(item_id: str) -> bool:
    return _files.is_candidate(item_id) and not any(c in item_id for c in "/\\\0")


class LocalCalendar(Calendar):
    """One vdir calendar folder; ``if_missing`` says what happens when it does not exist."""

    capabilities = Capabilities(
        read_only=False, incremental=True, series=True, markers=True, max_concurrency=8
    )

    def __init__(self, path: Path, *, where: str, if_missing: IfMissing = "create") -> None:
        super().__init__(where)
        self.path = Path(path)
        self.if_missing: IfMissing = if_missing
        self._tag = _files.source_tag(str(self.path.absolute()))

    @property
    def identity(self) -> str:
        """The folder's real path (symlinks resolved) as a ``file:`` URI."""
        return Path(os.path.realpath(self.path)).as_uri()

    # -- listing -----------------------------------------------------------------------------

    async def list_changes(self, cursor: str | None, window: Window | None = None) -> Changes:
        previous = self._decode(cursor)
        current = await anyio.to_thread.run_sync(self._scan)
        changed, deleted = _files.diff_ids(previous, current)
        listing = Listing(deleted=deleted, seen=dict(current))
        for start in range(0, len(changed), _BATCH):
            batch = changed[start : start + _BATCH]
            loaded = await anyio.to_thread.run_sync(self._load_many, batch)
            for name, result in zip(batch, loaded, strict=True):
                self._collect(listing, name, result, previous)
        return Changes(
            items=listing.items,
            cursor=_files.encode_cursor(_KIND, {"src": self._tag, "files": listing.seen}),
            full=previous is None,
            deleted=listing.deleted,
            skipped=listing.skipped,
        )

    def _decode(self, cursor: str | None) -> dict[str, str] | None:
        payload = _files.decode_cursor(_KIND, cursor)
        if payload is None or payload.get("src") != self._tag:
            return None
        return _files.str_map(payload.get("files"))

    @staticmethod
    def _collect(
        listing: Listing, name: str, result: Item | Skipped | None, previous: dict[str, str] | None
    ) -> None:
        if result is None:  # removed between the scan and the read
            del listing.seen[name]
            if previous is not None and name in previous:
                listing.deleted.append(name)
        elif isinstance(result, Skipped):
            listing.skipped.append(result)
            listing.seen[name] = _files.SKIPPED
        else:
            listing.items.append(result)
            listing.seen[name] = result.etag

    def _scan(self) -> dict[str, str]:
        """``{file name: stat etag}`` of every calendar file; reads no contents."""
        found: dict[str, str] = {}
        with os_errors(self.where, self.path):
            if not self._folder_exists():
                return found
            with os.scandir(self.path) as entries:
                for entry in entries:
                    if _files.is_candidate(entry.name) and entry.is_file():
                        self._note(entry, found)
                    elif entry.name.endswith(_files.TEMP_SUFFIX):
                        self._sweep(entry)
        return found

    @staticmethod
    def _note(entry: os.DirEntry[str], found: dict[str, str]) -> None:
        try:
            found[entry.name] = _files.stat_etag(entry.stat())
        except FileNotFoundError:
            return

    def _sweep(self, entry: os.DirEntry[str]) -> None:
        """Remove a temp file a killed write of ours left behind (after an hour)."""
        try:
            if _files.is_stale_temp(entry.name, entry.stat(follow_symlinks=False)):
                _files.remove_quietly(self.path / entry.name)
        except FileNotFoundError:
            return

    def _folder_exists(self) -> bool:
        """Whether the folder exists; ``False`` for one ``if_missing="create"`` may make;
        :class:`CalendarNotFound` when it cannot be used."""
        try:
            if stat.S_ISDIR(self.path.stat().st_mode):
                return True
            raise CalendarNotFound(f"{self.path} is not a folder", where=self.where)
        except FileNotFoundError:
            pass
        if not self.path.parent.is_dir():
            raise CalendarNotFound(
                f"{self.path}: neither the calendar folder nor its parent exists",
                where=self.where,
            )
        if self.if_missing == "create":
            return False
        raise CalendarNotFound(self._missing(), where=self.where)

    def _ensure_folder(self) -> None:
        """Before a create: make the folder if it is missing and may be made."""
        if not self._folder_exists():
            self.path.mkdir(exist_ok=True)

    def _missing(self) -> str:
        """``no calendar folder "wrok" in PARENT; did you mean "work"? (calendars: …)``."""
        name, parent = self.path.name, self.path.parent
        with os.scandir(parent) as entries:
            first = itertools.islice(entries, _ENTRIES_READ)
            names = sorted(e.name for e in first if not e.name.startswith(".") and e.is_dir())
        text = f"no calendar folder {_quoted(name)} in {parent}"
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        if close:
            text += f"; did you mean {_quoted(close[0])}?"
        shown = ", ".join(_quoted(n) for n in names[:_NAMES_SHOWN]) or "none"
        more = f" and {len(names) - _NAMES_SHOWN} more" if len(names) > _NAMES_SHOWN else ""
        return f"{text} (calendars: {shown}{more})"

    def _load_many(self, names: list[str]) -> list[Item | Skipped | None]:
        return [self._load(name) for name in names]

    def _load(self, name: str) -> Item | Skipped | None:
        """Read and parse one file; ``None`` if it does not exist (any more)."""
        path = self.path / name
        try:
            data, etag = _files.read_versioned(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            return Skipped(name, f"{path}: cannot read: {exc.strerror or exc}")
        notes: list[str] = []
        try:
            obj = parse_object(data, source=str(path), notes=notes)
        except Exception as exc:  # one broken file must never abort a listing
            return Skipped(name, _reason(path, exc))
        for note in notes:  # kept, read with a change: said, never skipped
            log.warning("item read with a change", problem=note)
        return Item(name, etag, obj)

    # -- reads and writes ---------------------------------------------------------------------

    async def get(self, item_id: str) -> Item:
        name = self._check_id(item_id)
        result = await anyio.to_thread.run_sync(self._load, name)
        if result is None:
            raise NotFound(f"{self.path / name} does not exist", where=self.where, item=name)
        if isinstance(result, Skipped):
            raise MalformedObject(result.reason, where=self.where, item=name)
        return result

    async def _create(self, obj: CalendarObject, key: str) -> Item:
        return await anyio.to_thread.run_sync(self._create_sync, obj, file_name_for(key))

    def _create_sync(self, obj: CalendarObject, name: str) -> Item:
        path = self.path / name
        data = serialize_object(obj)
        with os_errors(self.where, path):
            self._ensure_folder()
            st = _files.create_exclusive(path, data)
        if st is not None:
            return Item(name, _files.stat_etag(st), obj)
        existing = self._load(name)  # made before, by us or a retried earlier attempt
        if existing is None:
            raise TemporaryError(f"{path} vanished during create", where=self.where)
        if isinstance(existing, Skipped):
            raise MalformedObject(existing.reason, where=self.where, item=name)
        return existing

    async def _update(self, item_id: str, obj: CalendarObject, etag: str) -> Item:
        name = self._check_id(item_id)
        return await anyio.to_thread.run_sync(self._update_sync, name, obj, etag)

    def _update_sync(self, name: str, obj: CalendarObject, etag: str) -> Item:
        path = self.path / name
        data = serialize_object(obj)
        with os_errors(self.where, path):
            self._check_etag(path, name, etag)
            try:
                st = _files.write_atomic(path, data, if_match=etag)
            except _files.StaleFile as exc:
                raise self._stale(name) from exc
        return Item(name, _files.stat_etag(st), obj)

    async def _delete(self, item_id: str, etag: str) -> None:
        name = self._check_id(item_id)
        await anyio.to_thread.run_sync(self._delete_sync, name, etag)

    def _delete_sync(self, name: str, etag: str) -> None:
        path = self.path / name
        with os_errors(self.where, path):
            self._check_etag(path, name, etag)
            try:
                path.unlink()
            except FileNotFoundError as exc:
                raise self._stale(name) from exc
            _files.fsync_dir(self.path)

    def _check_id(self, item_id: str) -> str:
        if not _valid_id(item_id):
            raise NotFound(
                f"{item_id!r} is not a calendar file name", where=self.where, item=item_id
            )
        return item_id

    def _check_etag(self, path: Path, name: str, etag: str) -> None:
        current = _files.current_etag(path)
        if current == _files.ABSENT:
            raise NotFound(f"{path} does not exist", where=self.where, item=name)
        if current != etag:
            raise self._stale(name)

    def _stale(self, name: str) -> PreconditionFailed:
        return PreconditionFailed(
            f"{self.path / name} changed since it was read", where=self.where, item=name
        )


def _quoted(name: str) -> str:
    """A folder name in double quotes, control characters escaped (one line, always)."""
    return json.dumps(name, ensure_ascii=False)


def _reason(path: Path, exc: Exception) -> str:
    """A skip reason that names the file and the problem, whatever the exception says."""
    text = str(exc) or type(exc).__name__
    if not isinstance(exc, MalformedObject):
        text = f"{type(exc).__name__}: {text}"
    return text if str(path) in text else f"{path}: {text}"

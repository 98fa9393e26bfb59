"""The provider protocol: what the sync engine may ask of any calendar.

A provider module turns one calendar of one connection into a :class:`Calendar`. The engine
sees only this class. Calendars are identified per object by a provider-chosen ``id`` (a file
name, an href, a Google event id …) and versioned by an opaque ``etag``.

Contract every provider keeps (checked by ``tests/conformance``):

- ``list_changes(None)`` is a full listing (``Changes.full``); with a cursor from a previous
  call it returns only objects changed and ids deleted since, or — when the cursor is rejected
  or unknown — a full listing again, never an error.
- ``create(obj, key)`` is idempotent per ``key``: a second call with the same key returns the
  object the first one made and makes nothing new.
- ``update``/``delete`` take the etag last seen and raise :class:`PreconditionFailed` when the
  object changed since, :class:`NotFound` when it is gone.
- A malformed object is reported in ``Changes.skipped`` and never aborts a listing.
- Writes on a read-only calendar raise :class:`ReadOnlyError` — enforced here, once, for all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Self

from calsyncd.errors import ReadOnlyError
from calsyncd.model.event import CalendarObject


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a calendar can do; the conformance suite turns missing ones into explicit skips.

    ``incremental``: a cursor yields only changes (otherwise every listing is full).
    ``series``: recurring series are stored natively (master + overrides).
    ``markers``: copy markers survive a round trip.
    ``max_concurrency``: writes the engine may run at once against this calendar.
    ``published``: the calendar is a document for others to read (a published feed), so the
    copies written into it are anonymous.
    """

    read_only: bool = False
    incremental: bool = True
    series: bool = True
    markers: bool = True
    max_concurrency: int = 4
    published: bool = False


@dataclass(frozen=True, slots=True)
class Window:
    """The time range a full listing may be limited to (providers may return more)."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Item:
    """One object as stored: its provider id, its current etag and its content."""

    id: str
    etag: str
    obj: CalendarObject


@dataclass(frozen=True, slots=True)
class Skipped:
    """An object the listing could not read; it exists, so it must not count as deleted."""

    id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Changes:
    """The answer of :meth:`Calendar.list_changes`.

    With ``full`` set, ``items`` (plus ``skipped``) is the whole calendar and anything not in it
    is gone; otherwise ``items`` are the objects created or changed since the cursor and
    ``deleted`` the ids removed since. Unreadable objects are reported in ``skipped`` on every
    listing, incremental ones included, until they are fixed or removed; a skipped id may be a
    label that matches no item (``feed.ics#3``) when the object's id could not be read.
    """

    items: list[Item]
    cursor: str | None
    full: bool
    deleted: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


class Calendar(ABC):
    """One calendar of one connection. Subclasses implement the ``_``-prefixed methods.

    ``where`` names the calendar in messages (``connection/calendar``); it never contains a
    secret.
    """

    capabilities: Capabilities = Capabilities()

    def __init__(self, where: str) -> None:
        self.where = where

    @property
    def identity(self) -> str | None:
        """The calendar itself, the same however it was reached (a folder's real path as a
        ``file:`` URI, a CalDAV collection's normalised URL), or ``None`` while the provider
        cannot tell (CalDAV knows it after discovery: after the first listing). A rule whose
        two sides have one identity is refused before any write."""
        return None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:  # noqa: B027 - a hook; most calendars hold nothing
        """Release what the calendar holds (connections, file handles). Idempotent."""

    @abstractmethod
    async def list_changes(self, cursor: str | None, window: Window | None = None) -> Changes:
        """Objects changed since ``cursor`` (``None``: a full listing, limited to ``window``)."""

    @abstractmethod
    async def get(self, item_id: str) -> Item:
        """One object by id; :class:`NotFound` if it does not exist."""

    async def create(self, obj: CalendarObject, key: str) -> Item:
        """Store a new object; idempotent per ``key`` (see the module docstring)."""
        self._check_writable()
        return await self._create(obj, key)

    async def update(self, item_id: str, obj: CalendarObject, etag: str) -> Item:
        """Replace an object if it still has ``etag``."""
        self._check_writable()
        return await self._update(item_id, obj, etag)

    async def delete(self, item_id: str, etag: str) -> None:
        """Remove an object if it still has ``etag``."""
        self._check_writable()
        await self._delete(item_id, etag)

    def _check_writable(self) -> None:
        if self.capabilities.read_only:
            raise ReadOnlyError("calendar is read-only", where=self.where)

    async def _create(self, obj: CalendarObject, key: str) -> Item:
        raise ReadOnlyError("calendar is read-only", where=self.where)

    async def _update(self, item_id: str, obj: CalendarObject, etag: str) -> Item:
        raise ReadOnlyError("calendar is read-only", where=self.where)

    async def _delete(self, item_id: str, etag: str) -> None:
        raise ReadOnlyError("calendar is read-only", where=self.where)

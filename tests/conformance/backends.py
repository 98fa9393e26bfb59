"""Conformance backends of the file-based providers: how "another client" edits their store."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import anyio.to_thread

from calsyncd.model.event import CalendarObject
from calsyncd.model.ical import parse_calendar, serialize_calendar, serialize_object
from calsyncd.providers.base import Calendar
from calsyncd.providers.ics import IcsFile
from calsyncd.providers.local import LocalCalendar
from conformance.contract import Backend

BROKEN_UID = "broken-1@contract.example"
BROKEN_EVENT = (
    "BEGIN:VEVENT\r\n"
    f"UID:{BROKEN_UID}\r\n"
    "DTSTAMP:20300101T000000Z\r\n"
    "DTSTART:this-is-not-a-date\r\n"
    "SUMMARY:broken\r\n"
    "END:VEVENT\r\n"
)
EMPTY_CALENDAR = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//other client//EN\r\nEND:VCALENDAR\r\n"


def write_file(path: Path, data: bytes) -> None:
    """Replace a file as a careful editor would (temp file + rename: a new inode)."""
    tmp = path.with_name(f".{path.name}.other-client")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class LocalBackend(Backend):
    """A vdir folder; other clients name their files after a hash of the UID."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def open(self) -> Calendar:
        return LocalCalendar(self.folder, where="contract/local")

    async def seed(self, objects: Sequence[CalendarObject]) -> None:
        def work() -> None:
            self.folder.mkdir(exist_ok=True)
            for obj in objects:
                name = hashlib.sha256(obj.uid.encode()).hexdigest()[:16] + ".ics"
                write_file(self.folder / name, serialize_object(obj))

        await anyio.to_thread.run_sync(work)

    async def replace(self, item_id: str, obj: CalendarObject) -> None:
        await anyio.to_thread.run_sync(write_file, self.folder / item_id, serialize_object(obj))

    async def remove(self, item_id: str) -> None:
        await anyio.to_thread.run_sync((self.folder / item_id).unlink)

    async def add_malformed(self) -> str:
        def work() -> None:
            self.folder.mkdir(exist_ok=True)
            write_file(self.folder / "broken.ics", b"this is not an iCalendar object\n")

        await anyio.to_thread.run_sync(work)
        return "broken.ics"


class IcsDocumentBackend(Backend):
    """One ICS document on disk, edited whole by another client; ids are UIDs.

    ``factory`` makes the provider under test on it (an :class:`IcsFile`, or an
    :class:`~calsyncd.providers.ics.IcsFeed` reading the file directly or over HTTP).
    """

    def __init__(self, path: Path, factory: Callable[[], Calendar] | None = None) -> None:
        self.path = path
        self.factory = factory or (lambda: IcsFile(path, where="contract/ics-file"))

    def open(self) -> Calendar:
        return self.factory()

    async def seed(self, objects: Sequence[CalendarObject]) -> None:
        await self._edit(lambda current: [*current, *objects])

    async def replace(self, item_id: str, obj: CalendarObject) -> None:
        await self._edit(lambda current: [obj if o.uid == item_id else o for o in current])

    async def remove(self, item_id: str) -> None:
        await self._edit(lambda current: [o for o in current if o.uid != item_id])

    async def add_malformed(self) -> str:
        def work() -> None:
            text = self.path.read_text("utf-8") if self.path.exists() else EMPTY_CALENDAR
            head, _, tail = text.rpartition("END:VCALENDAR")
            write_file(self.path, (head + BROKEN_EVENT + "END:VCALENDAR" + tail).encode())

        await anyio.to_thread.run_sync(work)
        return BROKEN_UID

    async def _edit(self, change: Callable[[list[CalendarObject]], list[CalendarObject]]) -> None:
        def work() -> None:
            current = []
            if self.path.exists():
                current = parse_calendar(self.path.read_bytes(), source=str(self.path)).objects
            write_file(self.path, serialize_calendar(change(current)))

        await anyio.to_thread.run_sync(work)

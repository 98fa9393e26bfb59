"""The conformance suite against the in-memory provider the sync tests use (tests/sync/memory.py).

The engine's property tests are only as good as this stand-in: it must keep the same protocol
as the real providers do.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sync.memory import MemoryCalendar, MemoryServer

from calsyncd.model.event import CalendarObject
from calsyncd.providers.base import Calendar
from conformance.contract import Backend, ProviderContract


class MemoryBackend(Backend):
    def __init__(self) -> None:
        self.server = MemoryServer("contract")

    def open(self) -> Calendar:
        return MemoryCalendar(self.server)

    async def seed(self, objects: Sequence[CalendarObject]) -> None:
        for obj in objects:
            self.server.add(obj)

    async def replace(self, item_id: str, obj: CalendarObject) -> None:
        self.server.put(item_id, obj)

    async def remove(self, item_id: str) -> None:
        self.server.remove(item_id)

    async def add_malformed(self) -> str:
        return self.server.add_malformed()


class TestMemoryCalendar(ProviderContract):
    @pytest.fixture
    def backend(self) -> Backend:
        return MemoryBackend()

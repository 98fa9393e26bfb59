"""The conformance suite against the ``google`` provider on the loopback Google emulator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import pytest
from emulators.fixtures import GoogleSetup, google, google_emulator
from emulators.google import foreign

from calsyncd.model.event import CalendarObject
from calsyncd.providers.base import Calendar
from conformance.contract import Backend, ProviderContract

__all__ = ["google", "google_emulator"]  # fixtures used below


class GoogleBackend(Backend):
    """The emulated calendar; "another client" writes straight into the emulator's store."""

    def __init__(self, setup: GoogleSetup) -> None:
        self.setup = setup
        self.store = setup.emulator.store

    def open(self) -> Calendar:
        return self.setup.calendar()

    async def seed(self, objects: Sequence[CalendarObject]) -> None:
        for obj in objects:
            foreign.seed(self.store, self.setup.calendar_id, obj)

    async def replace(self, item_id: str, obj: CalendarObject) -> None:
        foreign.replace(self.store, self.setup.calendar_id, item_id, obj)

    async def remove(self, item_id: str) -> None:
        self.store.delete(self.setup.calendar_id, item_id, if_match=None)

    async def add_malformed(self) -> str:
        return foreign.add_malformed(self.store, self.setup.calendar_id)


class TestGoogleCalendar(ProviderContract):
    unsupported_fields: ClassVar[frozenset[str]] = frozenset(
        {
            "organizer",  # set by Google (the calendar), writable only by events.import
            "categories",  # Google has colours, not categories
            "conference_url",  # read from conferenceData/hangoutLink; made only by add-ons
            "sequence",  # Google keeps its own
            "created",  # set by Google
            "last_modified",  # set by Google (updated)
            "extra",  # no place for unknown properties (EXRULE lines excepted)
        }
    )

    @pytest.fixture
    def backend(self, google: GoogleSetup) -> Backend:
        return GoogleBackend(google)

"""Fixtures that start emulators (imported by the conftests and test modules that use them)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from calsyncd.providers.google import GoogleCalendar, GoogleClient, RetryPolicy
from emulators.google import GoogleEmulator
from emulators.google.oauth import new_rsa_key

USER = "user@example.com"
FAST_RETRY = RetryPolicy(attempts=8, base=0.01, cap=0.05, max_retry_after=2.0)
"""Backoff for tests: real ``Retry-After`` values are honoured, guessed waits are tiny."""


@cache
def rsa_key() -> tuple[str, str]:
    """One RSA key pair per test session (generating one takes a while)."""
    return new_rsa_key()


def write_json(path: Path, info: dict[str, Any]) -> Path:
    path.write_text(json.dumps(info, indent=2))
    os.chmod(path, 0o600)
    return path


@dataclass
class GoogleSetup:
    """An emulator with the user's calendar and a service-account key file for it."""

    emulator: GoogleEmulator
    key_file: Path
    calendar_id: str = USER
    subject: str = USER

    def client(self, **options: Any) -> GoogleClient:
        options.setdefault("retry", FAST_RETRY)
        options.setdefault("subject", self.subject)
        return GoogleClient(
            self.key_file, where="test/google", base_url=self.emulator.base_url, **options
        )

    def calendar(self, calendar_id: str | None = None, **options: Any) -> GoogleCalendar:
        page_size = options.pop("page_size", 2500)
        return GoogleCalendar(
            self.client(**options),
            calendar_id or self.calendar_id,
            where="test/google",
            page_size=page_size,
        )


@pytest.fixture
def google_emulator() -> Iterator[GoogleEmulator]:
    """A running emulator; it must end with no thread left, no answer and no request body
    that differs from the discovery document."""
    with GoogleEmulator() as emulator:
        yield emulator
    assert not emulator.alive
    assert emulator.violations == []
    assert emulator.bad_requests == []


@pytest.fixture
def google(google_emulator: GoogleEmulator, tmp_path: Path) -> GoogleSetup:
    """The emulator, the user's calendar (Europe/Berlin) and a delegated service account."""
    google_emulator.add_calendar(USER, time_zone="Europe/Berlin", default_reminders=[])
    info = google_emulator.service_account(key=rsa_key())
    return GoogleSetup(google_emulator, write_json(tmp_path / "service-account.json", info))

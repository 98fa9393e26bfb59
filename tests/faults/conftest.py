"""Fixtures of the fault suite."""

from __future__ import annotations

from caldav.fixtures import radicale_server, xandikos_server
from cli.conftest import project
from conformance.fixtures import no_leaked_threads
from emulators.fixtures import google, google_emulator

__all__ = [
    "google",
    "google_emulator",
    "no_leaked_threads",
    "project",
    "radicale_server",
    "xandikos_server",
]

"""A loopback emulator of the Google Calendar API v3 (and its OAuth token endpoint).

Start it in a test with the ``google_emulator`` fixture (:mod:`emulators.fixtures`) or by
hand with ``python -m tests.emulators.google`` (from the repository root). See
:mod:`.server` for the HTTP side and the test hooks, :mod:`.store` for the semantics.
"""

from .server import FAULT_KINDS, Faults, GoogleEmulator, Request
from .store import ApiFailure, Store

__all__ = ["FAULT_KINDS", "ApiFailure", "Faults", "GoogleEmulator", "Request", "Store"]

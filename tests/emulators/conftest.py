"""Fixtures of the emulator tests."""

from conformance.fixtures import no_leaked_threads

from emulators.fixtures import google, google_emulator

__all__ = ["google", "google_emulator", "no_leaked_threads"]

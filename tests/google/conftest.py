"""Fixtures of the Google provider tests: the emulator, a CLI project, the thread check."""

from cli.conftest import project
from conformance.fixtures import no_leaked_threads
from emulators.fixtures import google, google_emulator

__all__ = ["google", "google_emulator", "no_leaked_threads", "project"]

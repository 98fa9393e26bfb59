"""Fixtures of the fault suite, and the session summary of its figures."""

from __future__ import annotations

import pytest
from caldav.fixtures import radicale_server, xandikos_server
from cli.conftest import project
from conformance.fixtures import no_leaked_threads
from emulators.fixtures import google, google_emulator

from faults.support import FIGURES

__all__ = [
    "google",
    "google_emulator",
    "no_leaked_threads",
    "project",
    "radicale_server",
    "xandikos_server",
]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The figure line of every fault test that ran (``docs/reliability.md`` quotes them)."""
    if FIGURES:
        terminalreporter.section("fault-injection figures")
        for line in FIGURES:
            terminalreporter.write_line(line)

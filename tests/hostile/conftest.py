"""Fixtures of the hostile-input suite, and the session summary of its figures."""

from __future__ import annotations

import pytest
from caldav.fixtures import radicale_server, xandikos_server
from cli.conftest import project
from conformance.fixtures import no_leaked_threads

from hostile.support import FIGURES

__all__ = ["no_leaked_threads", "project", "radicale_server", "xandikos_server"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The figure line of every hostile-input test that ran (``docs/reliability.md`` quotes
    them)."""
    if FIGURES:
        terminalreporter.section("hostile-input figures")
        for line in FIGURES:
            terminalreporter.write_line(line)

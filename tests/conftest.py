"""Shared test configuration."""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import figures
import pytest
from hypothesis import settings

# Under CI (CI=true, as in .ci/run and fresh-check) property tests explore a fixed set of
# examples, so a run is reproducible; locally they search anew each time and remember
# failures in .hypothesis/.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (the daemon's event loop)."""
    return "asyncio"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """Attach the figure lines a test phase recorded to its report (see ``figures.py``)."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    report.user_properties.extend(("figure", taken) for taken in figures.take())


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Every figure line of the session, per section (``docs/reliability.md`` quotes them)."""
    properties = [
        prop
        for reports in terminalreporter.stats.values()
        for report in reports
        if isinstance(report, pytest.TestReport)
        for prop in report.user_properties
    ]
    for section, lines in figures.by_section(properties).items():
        terminalreporter.section(section)
        for line in lines:
            terminalreporter.write_line(line)

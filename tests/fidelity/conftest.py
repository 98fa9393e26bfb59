"""Fixtures of the fidelity suite, and the session summary of its figure line."""

from __future__ import annotations

import pytest
from cli.conftest import project

__all__ = ["FIGURES", "project"]

FIGURES: list[str] = []
"""The figure lines of this session, repeated in the terminal summary."""


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("fidelity figures")
        for line in FIGURES:
            terminalreporter.write_line(line)

"""Shared test configuration."""

from __future__ import annotations

import os

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

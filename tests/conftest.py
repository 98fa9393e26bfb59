"""Shared test configuration."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (the daemon's event loop)."""
    return "asyncio"

"""Fixtures of the sync tests."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
import structlog


@pytest.fixture(autouse=True)
def quiet_logs() -> Iterator[list[MutableMapping[str, Any]]]:
    """Capture the engine's log events (instead of printing them); tests may inspect them."""
    with structlog.testing.capture_logs() as logs:
        yield logs
